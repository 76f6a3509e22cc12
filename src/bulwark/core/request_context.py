"""The address of the request being served, for the audit log (set by middleware)."""

from contextvars import ContextVar

_client_ip: ContextVar[str | None] = ContextVar("bulwark_client_ip", default=None)


def current_ip() -> str | None:
    return _client_ip.get()


def set_ip(ip: str | None) -> object:
    return _client_ip.set(ip)


def reset_ip(token: object) -> None:
    _client_ip.reset(token)  # type: ignore[arg-type]

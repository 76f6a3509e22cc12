"""Indicators reported with an incident: type detection and normalisation (pure module).

The intelligence store (issue 4) will take these values as they are normalised here.
"""

import ipaddress
import re
from urllib.parse import urlsplit, urlunsplit

from bulwark.constituency.networks import InvalidClaim, parse_domain
from bulwark.core.fanging import read_defanged

KINDS = ("ipv4", "ipv6", "domain", "url", "md5", "sha1", "sha256", "email")
_HEX = re.compile(r"\A[0-9a-fA-F]+\Z")
_HASH_LENGTHS = {32: "md5", 40: "sha1", 64: "sha256"}
MAX_LENGTH = 2048


class InvalidIndicator(ValueError):
    pass


def detect(value: str) -> str:
    text = value.strip()
    if not text:
        raise InvalidIndicator("empty value")
    if len(text) > MAX_LENGTH:
        raise InvalidIndicator(f"longer than {MAX_LENGTH} characters")
    try:
        return "ipv4" if ipaddress.ip_address(text).version == 4 else "ipv6"
    except ValueError:
        pass
    if len(text) in _HASH_LENGTHS and _HEX.match(text):
        return _HASH_LENGTHS[len(text)]
    if "://" in text:
        return "url"
    if "@" in text:
        return "email"
    return "domain"


def normalise(kind: str, value: str) -> str:
    text = value.strip()
    if kind not in KINDS:
        raise InvalidIndicator(f"unknown indicator type {kind!r}")
    if len(text) > MAX_LENGTH:
        raise InvalidIndicator(f"longer than {MAX_LENGTH} characters")
    try:
        if kind in ("ipv4", "ipv6"):
            ip = ipaddress.ip_address(text)
            if (ip.version == 4) != (kind == "ipv4"):
                raise InvalidIndicator(f"{text} is not an {kind.upper()} address")
            return str(ip)
        if kind in ("md5", "sha1", "sha256"):
            expected = {"md5": 32, "sha1": 40, "sha256": 64}[kind]
            if len(text) != expected or not _HEX.match(text):
                raise InvalidIndicator(f"an {kind.upper()} is {expected} hexadecimal digits")
            return text.lower()
        if kind == "domain":
            return parse_domain(text)
        if kind == "email":
            local, sep, domain = text.rpartition("@")
            if not sep or not local or len(local) > 64 or any(c.isspace() for c in local):
                raise InvalidIndicator(f"{text!r} is not an e-mail address")
            return f"{local}@{parse_domain(domain)}"
        parts = urlsplit(text)
        if parts.scheme.lower() not in ("http", "https", "ftp") or not parts.hostname:
            raise InvalidIndicator(f"{text!r} is not an http(s) or ftp URL")
        host = parts.hostname
        try:
            address = ipaddress.ip_address(host)
            host = f"[{address}]" if address.version == 6 else str(address)
        except ValueError:
            host = parse_domain(host)
        netloc = host if parts.port is None else f"{host}:{parts.port}"
        return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", parts.query, ""))
    except InvalidClaim as exc:
        raise InvalidIndicator(str(exc)) from None
    except ValueError as exc:
        if isinstance(exc, InvalidIndicator):
            raise
        raise InvalidIndicator(f"{text!r} is not a valid {kind}") from None


def detected(value: str) -> tuple[str, str]:
    """(kind, normalised value) of a bare value."""
    kind = detect(value)
    return kind, normalise(kind, value)


def parse_lines(text: str, limit: int = 1000) -> list[tuple[str, str]]:
    """One indicator per line (type detected, defanged spellings read); blank lines and '#'
    comments skipped.
    Raises InvalidIndicator naming the first bad line."""
    found: list[tuple[str, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        value = line.strip()
        if not value or value.startswith("#"):
            continue
        if len(found) >= limit:
            raise InvalidIndicator(f"more than {limit} indicators")
        try:
            found.append(read_defanged(detected, value))
        except InvalidIndicator as exc:
            raise InvalidIndicator(f"line {number}: {exc}") from None
    return list(dict.fromkeys(found))

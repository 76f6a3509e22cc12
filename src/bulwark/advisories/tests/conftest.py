import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bulwark.advisories.tests.world import World


@pytest.fixture
def world(db: Any) -> World:
    return World()


class Inbox:
    """A real SMTP server's handler (aiosmtpd): keeps what arrives, refuses some addresses."""

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.refuse: set[str] = set()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 Message accepted for delivery"

    def parsed(self) -> list[Any]:
        from email import message_from_bytes, policy

        return [message_from_bytes(e.content, policy=policy.default) for e in self.messages]


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp(settings: Any) -> Iterator[Inbox]:
    """A real SMTP server on loopback, with Django's SMTP backend pointed at it."""
    from aiosmtpd.controller import Controller

    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_TIMEOUT = 5
    try:
        yield inbox
    finally:
        controller.stop()


# --- BSI's csaf-validator-lib (tools/csaf-validator, a pinned node project) ---

VALIDATOR_DIR = Path(__file__).resolve().parents[4] / "tools" / "csaf-validator"
VALIDATOR_LIB = VALIDATOR_DIR / "node_modules" / "@secvisogram" / "csaf-validator-lib"


def _unavailable(reason: str) -> None:
    if os.environ.get("BULWARK_REQUIRE_CSAF_VALIDATOR") == "1":
        pytest.fail(f"BULWARK_REQUIRE_CSAF_VALIDATOR=1 but {reason}")
    pytest.skip(f"{reason}: CSAF validator test skipped (cd tools/csaf-validator && npm ci)")


@pytest.fixture(scope="session")
def csaf_validator_lib() -> Callable[[list[Path]], dict[str, Any]]:
    """Runs `tools/csaf-validator/validate.mjs` (BSI's csaf-validator-lib: strict schema,
    mandatory, optional and offline informative tests) over files; installs the pinned
    package with `npm ci` when it is missing. CI sets BULWARK_REQUIRE_CSAF_VALIDATOR=1, so
    a missing node or package fails there instead of skipping."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None:
        _unavailable("node is not installed")
    if not VALIDATOR_LIB.is_dir():
        if npm is None:
            _unavailable("npm is not installed")
        done = subprocess.run(
            [str(npm), "ci", "--no-audit", "--no-fund"],
            cwd=VALIDATOR_DIR,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode != 0 or not VALIDATOR_LIB.is_dir():
            _unavailable(f"npm ci failed: {done.stderr[-2000:]}")

    def validate(files: list[Path]) -> dict[str, Any]:
        done = subprocess.run(
            [str(node), str(VALIDATOR_DIR / "validate.mjs"), *map(str, files)],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        result: dict[str, Any] = json.loads(done.stdout)
        return result

    return validate

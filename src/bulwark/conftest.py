"""Fixtures shared by every app's tests."""

import os
import re
import shutil
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connections
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from bulwark.constituency import rules, services
from bulwark.constituency.access import viewer_of
from bulwark.constituency.models import Organisation, User
from bulwark.constituency.tests.factories import OrganisationFactory, UserFactory

ALL_SCOPES = ["constituency:read", "constituency:write", "audit:read", "tokens:manage"]

# Property tests judge answers, not speed: on a shared machine Hypothesis's timing checks
# (per-example deadline, "input generation is slow") failed tests whose answers were right.
hypothesis_settings.register_profile(
    "bulwark", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.load_profile("bulwark")


# --- Real browser (Debian's Chromium driven by Playwright; never a downloaded browser) ---

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BROWSER_TIMEOUT_MS = 15_000


def chromium_path() -> str | None:
    found = shutil.which("chromium")
    if found:
        return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


@pytest.fixture
def new_page(live_server: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], Any]]:
    """Opens a page in a fresh browser context (its own cookies: one per user).

    Playwright's sync API marks an asyncio loop as running in this thread between its
    calls. Django then (1) refuses ORM calls as async-unsafe, so the guard is lifted while
    the browser runs, and (2) keeps this thread's database connections in a separate,
    context-local slot, so they are closed here before the loop goes away; otherwise the
    connection leaks and PostgreSQL refuses to drop the test database."""
    executable = chromium_path()
    if executable is None:
        if os.environ.get("BULWARK_REQUIRE_BROWSER") == "1":
            pytest.fail(
                "BULWARK_REQUIRE_BROWSER=1 but no Chromium was found (apt-get install chromium)"
            )
        pytest.skip("no Chromium installed: browser test skipped (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        contexts: list[Any] = []

        def open_page(timezone_id: str | None = None) -> Any:
            context = browser.new_context(
                locale="en-GB",
                timezone_id=timezone_id or django_settings.TIME_ZONE,
                viewport={"width": 1280, "height": 900},
            )
            context.set_default_timeout(BROWSER_TIMEOUT_MS)
            contexts.append(context)
            return context.new_page()

        try:
            yield open_page
            for context in contexts:
                context.close()
        finally:
            browser.close()
    finally:
        connections.close_all()
        playwright.stop()


# --- NATS JetStream (the monitoring stream; CI runs a nats-server like it installs Chromium) ---

NATS_URL = "nats://127.0.0.1:4222"


def nats_running() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 4222), timeout=1):
            return True
    except OSError:
        return False


def require_nats() -> str:
    """The URL of a running nats-server. Without one the test is skipped, unless
    BULWARK_REQUIRE_NATS=1 (CI), where that is a failure."""
    if not nats_running():
        if os.environ.get("BULWARK_REQUIRE_NATS") == "1":
            pytest.fail("BULWARK_REQUIRE_NATS=1 but no nats-server answers on 127.0.0.1:4222")
        pytest.skip("nats-server is not running on 127.0.0.1:4222: NATS test skipped")
    return NATS_URL


@pytest.fixture
def nats_url() -> str:
    """Only tests that take this fixture depend on NATS (see `require_nats`)."""
    return require_nats()


def totp_code(device: Any, drift: int = 0) -> str:
    """The device's current one-time code (or the next one with drift=1)."""
    from django_otp.oath import totp

    value = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=drift)
    return f"{value:0{device.digits}d}"


def browser_sign_in(
    page: Any, base: str, username: str, password: str, device: TOTPDevice | None = None
) -> Any:
    """Sign in through the real pages as a person does: the login form, then the
    second-factor form when the account has a device. Returns the page, on the dashboard."""
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("main button[type=submit]")
    if device is not None:
        page.wait_for_url(re.compile(r"/accounts/otp/"))
        page.fill("#id_token", totp_code(device))
        page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/")
    return page


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    """SQLite leaves its WAL and shared-memory files beside a destroyed test database."""
    from django.conf import settings

    name = str(settings.DATABASES["default"].get("TEST", {}).get("NAME") or "")
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3") and name:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(name + suffix).unlink(missing_ok=True)


@pytest.fixture(autouse=True)
def _audit_anchor_per_test(settings: Any, tmp_path: Path) -> None:
    """Each test's audit checkpoints go to a file of its own, never to var/."""
    settings.AUDIT_ANCHOR_FILE = tmp_path / "audit-anchor.jsonl"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """Argon2 is deliberately slow; tests that are not about hashing use a fast hasher
    (test_auth checks that production settings hash with Argon2)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def sign_in(client: Client, user: User) -> Client:
    """A browser session that has passed both factors."""
    client.force_login(user)
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="test", confirmed=True)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def bearer(
    user: User, scopes: list[str] | None = None, *, within_role: bool = False
) -> dict[str, str]:
    """A token with the given scopes (by default ALL_SCOPES); `within_role` (always, for
    the default) keeps only those the user's roles allow: a token can never carry more."""
    if scopes is None or within_role:
        allowed = rules.token_scopes(viewer_of(user))
        scopes = [s for s in (scopes or ALL_SCOPES) if s in allowed]
    _token, secret = services.create_api_token(None, user, name="test", scopes=scopes, days=1)
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def run_queued_tasks() -> int:
    """Run every ready task with the real worker's `run_task`, in this process and this
    test's transaction (the worker command's loop would close the test's connection)."""
    from django_tasks_db.management.commands.db_worker import Worker
    from django_tasks_db.models import DBTaskResult

    worker = Worker(
        queue_names=["*"], interval=0, batch=True, backend_name="default",
        startup_delay=False, max_tasks=None, worker_id="test", excluded_queue_names=[],
    )  # fmt: skip
    ran = 0
    while (result := DBTaskResult.objects.ready().first()) is not None:
        result.claim("test")
        worker.run_task(result)
        ran += 1
    return ran


@pytest.fixture
def cert(db: Any) -> Organisation:
    return OrganisationFactory(name="National CERT", kind="national_cert")


@pytest.fixture
def platform_admin(cert: Organisation) -> User:
    user = UserFactory(username="root-admin")
    services.add_membership(None, user, cert, "platform_admin")
    return user


@pytest.fixture
def admin_client(client: Client, platform_admin: User) -> Client:
    return sign_in(client, platform_admin)

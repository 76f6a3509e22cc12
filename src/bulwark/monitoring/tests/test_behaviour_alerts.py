"""Behavioural findings on the platform: the periodic run over the archived logs raises
alerts with evidence, a false-positive mark feeds the agency's allow list, the alert
page shows the evidence charts and the raw lines, promotion opens an incident and tells
the agency."""

import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from django.test import Client

from bulwark.conftest import bearer, sign_in
from bulwark.constituency.models import User
from bulwark.core.models import Notification
from bulwark.incidents.models import Incident
from bulwark.incidents.tests.test_journey import People
from bulwark.monitoring import archive, behaviour, services
from bulwark.monitoring.models import Alert, AlertRule, DetectionRun, FirstSeen, Suppression

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def _archive_samples(ref: str) -> float:
    """The bundled behaviour samples, moved to the last 24 hours and archived as the
    stream workers archive batches; returns the newest timestamp."""
    conn = [orjson.loads(x) for x in (SAMPLES / "taipower-conn.json").read_bytes().splitlines()]
    dns = [
        orjson.loads(x) for x in (SAMPLES / "taipower-dns-behaviour.json").read_bytes().splitlines()
    ]
    shift = time.time() - 300 - max(r["ts"] for r in conn + dns)
    for fmt, rows in (("zeek-conn-json", conn), ("zeek-dns-json", dns)):
        for r in rows:
            r["ts"] += shift
        data = b"\n".join(orjson.dumps(r) for r in rows) + b"\n"
        archive.store(ref, fmt, f"{fmt}-batch-1", data)
    return time.time()


@pytest.fixture
def people(db: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> People:
    monkeypatch.setenv("BULWARK_MONITOR_ARCHIVE", str(tmp_path / "archive"))
    AlertRule.objects.create(name="scored", min_score=50)
    return People()


def _run(people: People) -> DetectionRun:
    run = behaviour.run(force=True)
    assert run is not None
    return run


def test_periodic_run_raises_alerts_with_evidence_once_per_interval(people: People) -> None:
    _archive_samples(str(people.agency.pk))
    run = _run(people)
    assert run.records == 1439 and run.findings == 4 and run.alerts == 4
    alerts = {a.indicator: a for a in Alert.objects.filter(organisation=people.agency)}
    assert set(alerts) == {
        "beacon:45.77.12.9",
        "beacon:update-check.cdn-telemetry.net",
        "dns-tunnel:exfil-sync.info",
        "long-connection:185.220.101.7",
    }
    beacon = alerts["beacon:45.77.12.9"]
    assert beacon.detector == "beacon" and beacon.score and beacon.score >= 90
    assert beacon.evidence["sources"] == ["10.20.1.23"]
    assert len(beacon.evidence["interval_histogram"]["counts"]) == 20
    assert behaviour.run() is None  # the last run is younger than the interval
    _run(people)  # again: the open alerts are updated, none raised twice
    assert Alert.objects.filter(organisation=people.agency).count() == 4


def test_false_positive_feeds_the_allow_list(people: People) -> None:
    _archive_samples(str(people.agency.pk))
    _run(people)
    duty = User.objects.get(username="duty")
    alert = Alert.objects.get(indicator="beacon:45.77.12.9")
    services.mark_false_positive(duty, alert, reason="the vendor's update service")
    assert Suppression.objects.filter(indicator_type="behaviour", indicator="beacon:45.77.12.9")
    _run(people)
    assert not Alert.objects.filter(indicator="beacon:45.77.12.9", status="new").exists()
    assert Alert.objects.filter(indicator="dns-tunnel:exfil-sync.info").count() == 1


def test_alert_page_shows_evidence_chart_and_raw_lines(people: People) -> None:
    _archive_samples(str(people.agency.pk))
    _run(people)
    alert = Alert.objects.get(indicator="beacon:45.77.12.9")
    client = sign_in(Client(), User.objects.get(username="duty"))
    page = client.get(f"/monitoring/alerts/{alert.pk}/").content.decode()
    assert 'id="evidence"' in page and page.count("<svg") == 2
    assert "Intervals between connections" in page and "10.20.1.23" in page
    line = client.get(f"/monitoring/alerts/{alert.pk}/lines/0/").content.decode()
    assert "45.77.12.9" in line and "<mark>" in line
    assert client.get(f"/monitoring/alerts/{alert.pk}/lines/99/").status_code == 404
    # the agency reads its own alert; another agency does not see it
    reporter = sign_in(Client(), User.objects.get(username="reporter"))
    assert reporter.get(f"/monitoring/alerts/{alert.pk}/").status_code == 200
    outsider = sign_in(Client(), User.objects.get(username="outsider"))
    assert outsider.get(f"/monitoring/alerts/{alert.pk}/").status_code == 404
    assert outsider.get(f"/monitoring/alerts/{alert.pk}/lines/0/").status_code == 404


def test_promotion_opens_an_incident_and_tells_the_agency(people: People) -> None:
    _archive_samples(str(people.agency.pk))
    _run(people)
    alert = Alert.objects.get(indicator="dns-tunnel:exfil-sync.info")
    incident = services.promote_alert(User.objects.get(username="duty"), alert, note="tunnel")
    assert "exfil-sync.info" in incident.title and "dns-tunnel" in incident.title
    assert "10.20.1.17" in incident.description
    assert Incident.objects.get().organisation == people.agency
    assert Notification.objects.filter(user__username="reporter").exists()


def test_detector_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BULWARK_BEHAVIOUR_BEACON_THRESHOLD", "0.9")
    assert behaviour.detector_settings().beacon_threshold == 0.9
    monkeypatch.setenv("BULWARK_BEHAVIOUR_BEACON_THRESHOLD", "high")
    with pytest.raises(ValueError, match="not a number"):
        behaviour.detector_settings()


def test_api_lists_the_detector_and_evidence(people: People) -> None:
    _archive_samples(str(people.agency.pk))
    _run(people)

    def api(who: str) -> list[dict[str, Any]]:
        user = User.objects.get(username=who)
        client = Client(**bearer(user, ["monitoring:read"], within_role=True))
        response = client.get("/api/v1/monitoring/alerts/")
        assert response.status_code == 200
        body = response.json()
        return list(body["results"] if isinstance(body, dict) else body)

    beacon = next(r for r in api("reporter") if r["indicator"] == "beacon:45.77.12.9")
    assert beacon["detector"] == "beacon" and beacon["indicator_type"] == "behaviour"
    assert beacon["evidence"]["sources"] == ["10.20.1.23"]
    assert not api("outsider")


def test_runs_keep_the_national_first_seen_history(people: People) -> None:
    now = time.time()
    rows = [
        {"ts": now - 3600 * k, "id.orig_h": "10.1.0.5", "id.resp_h": "203.0.113.9",
         "server_name": "portal.example.org", "ja3": "b" * 32, "issuer": "CN=Some CA"}
        for k in (5, 2)
    ]  # fmt: skip
    archive.store(str(people.agency.pk), "zeek-ssl-json", "ssl-1", orjson.dumps(rows[0]) + b"\n")
    _run(people)
    first = FirstSeen.objects.get(kind="ja3", value="b" * 32).first_seen.timestamp()
    assert abs(first - rows[0]["ts"]) < 1
    assert set(FirstSeen.objects.values_list("kind", flat=True)) == {"ja3", "issuer", "destination"}
    archive.store(str(people.agency.pk), "zeek-ssl-json", "ssl-2", orjson.dumps(rows[1]) + b"\n")
    _run(people)
    assert FirstSeen.objects.count() == 3
    assert abs(FirstSeen.objects.get(kind="ja3").first_seen.timestamp() - first) < 1

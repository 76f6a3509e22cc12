"""Demo data: the bundled sample logs of two demo agencies (samples/) matched against the
sample feed and the platform's indicators, so the demo shows sightings and alerts; and
the behavioural detectors over the bundled Zeek conn and dns samples of one agency
(taipower-conn.json, taipower-dns-behaviour.json: a beacon every five minutes, a DNS
tunnel, a 9.5-hour connection among 30 hosts' browsing), so the demo shows anomaly
alerts with their evidence. Idempotent: runs once per database."""

import time
from pathlib import Path

from bulwark.constituency.models import Organisation
from bulwark.monitoring.engine import FORMATS, Snapshot, load_indicator_file, match_paths
from bulwark.monitoring.indicator_sources import platform_indicators
from bulwark.monitoring.models import Alert, AlertRule, LogSighting
from bulwark.monitoring.services import record_findings, record_hits

SAMPLES = Path(__file__).resolve().parent / "samples"
LOGS = [
    ("Taiwan Power Company (demo)", "zeek-dns-json", "taipower-dns.json"),
    ("Centers for Disease Control", "squid", "cdc-squid.log"),
]


def load() -> None:
    if not AlertRule.objects.exists():
        AlertRule.objects.create(
            name="Score 50 or more, or reported with an incident", min_score=50
        )
    load_behaviour()
    if LogSighting.objects.filter(indicator_ref__startswith="demo:").exists():
        return
    refused: list[tuple[int, str]] = []
    indicators = [
        ind.__class__(ind.type, ind.value, "demo:sample-feed", 70)
        for ind in load_indicator_file(SAMPLES / "indicators.txt", refused)
    ]
    snapshot = Snapshot.build([*indicators, *platform_indicators()])
    for org_name, fmt, filename in LOGS:
        organisation = Organisation.objects.filter(name=org_name).first()
        if organisation is None:
            continue
        summary = match_paths(snapshot, FORMATS[fmt], [str(SAMPLES / filename)], workers=1)
        hits = [hit.as_dict() for hit in summary.result.hits]
        # The samples were captured on one morning; replay them as the last few hours.
        latest = max(float(h["ts"]) for h in hits) if hits else 0.0
        shift = time.time() - 3600 - latest
        for hit in hits:
            hit["ts"] = float(hit["ts"]) + shift
        record_hits(organisation, hits, source="demo")


BEHAVIOUR_LOGS = ("taipower-conn.json", "taipower-dns-behaviour.json")


def load_behaviour() -> None:
    from bulwark.monitoring.engine.behaviour import detect, read_logs

    organisation = Organisation.objects.filter(name=LOGS[0][0]).first()
    if organisation is None or Alert.objects.filter(indicator_type="behaviour").exists():
        return
    ref = organisation.short_name or str(organisation.pk)
    data = read_logs([str(SAMPLES / name) for name in BEHAVIOUR_LOGS], agency=ref)
    findings = detect(data)
    # captured over one day: replay as the last 24 hours
    shift = time.time() - 600 - data.time_range()[1]
    for finding in findings:
        finding.first_seen = (finding.first_seen or 0) + shift
        finding.last_seen = (finding.last_seen or 0) + shift
        timeline = finding.evidence.get("timeline")
        if isinstance(timeline, dict):
            timeline["start"] = float(timeline["start"]) + shift
    record_findings(findings, {ref: organisation})

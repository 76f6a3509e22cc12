"""Demo data for report exchange (idempotent): a country table for the documentation
ranges, and two received reports, a Shadowserver scan and an X-ARF e-mail from JPCERT/CC,
ingested through the real pipeline so their events are routed to the demo agencies, to
foreign CERTs and to the unrouted queue."""

from pathlib import Path

from django.db import transaction

from bulwark.constituency.models import Organisation
from bulwark.exchange import services
from bulwark.exchange.models import CountryNetwork, Feed, RecipientSettings, Report

SAMPLES = Path(__file__).resolve().parent / "samples"
DEMO_REPORTS = ["2026-11-20-scan_ntp-taiwan-geo.csv", "xarf-login-attack-from-jpcert.eml"]
# Documentation ranges stand in for foreign address space (RFC 5737, RFC 3849, RFC 5398).
COUNTRY_NETWORKS = [
    ("cidr", "192.0.2.0/24", "JP"),
    ("cidr", "198.51.100.0/24", "KR"),
    ("cidr", "203.0.113.0/24", "US"),
    ("cidr", "2001:db8:ffff::/48", "DE"),
    ("asn", "64512", "JP"),
    ("asn", "64513", "KR"),
    ("asn", "64514", "US"),
]


# Taiwan Power wants every report at once, in Traditional Chinese; the rest get the default
# (daily, English).
RECIPIENT_SETTINGS = [("Taiwan Power Company (demo)", "immediate", "zh-hant")]


def load() -> list[Report]:
    with transaction.atomic():
        for kind, value, country in COUNTRY_NETWORKS:
            CountryNetwork.objects.get_or_create(
                kind=kind, value=value, defaults={"country": country}
            )
        for name, cadence, language in RECIPIENT_SETTINGS:
            org = Organisation.objects.filter(name=name).first()
            if org is not None:
                RecipientSettings.objects.get_or_create(
                    organisation=org, defaults={"cadence": cadence, "language": language}
                )
        # A configured feed (disabled: the demo makes no outside connections).
        Feed.objects.get_or_create(
            name="shadowserver-scan-ntp",
            defaults={
                "url": "https://reports.example/shadowserver/scan_ntp-taiwan-geo.csv",
                "format": "shadowserver",
                "interval_minutes": 1440,
                "enabled": False,
            },
        )
    reports = []
    for name in DEMO_REPORTS:
        with (SAMPLES / name).open("rb") as stream:
            result = services.ingest(
                None, stream, file_name=name, source=Report.Source.FILE, batch_size=500
            )
        reports.append(result.report)
    services.queue_notices()  # queued; the demo's worker sends them (to the console)
    return reports

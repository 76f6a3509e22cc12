"""Demo intelligence (loaded by `bulwark demo` after the constituency and incidents).

Collections: the community's (members' objects await review), a public one (TLP:CLEAR,
anonymous readers), the Financial ISAC's own, and Taiwan Power Company's own. The CERT
shares a few published indicators; Taiwan Power Company reports an incident whose
indicators match one of them, so the value page shows the correlation. A member signs in
as `reporter` or `isac`, creates an API token with the intel:read and intel:write scopes
(Account -> API tokens) and uses it with taxii2-client (see docs/intel.md).
"""

from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.utils import timezone

from bulwark.constituency.models import Organisation, User
from bulwark.core.tlp import STIX_MARKING_IDS, TLP
from bulwark.incidents import services as incidents
from bulwark.incidents.levels import Answers
from bulwark.incidents.models import Incident
from bulwark.intel import services
from bulwark.intel.models import Collection, StixObject

COMMUNITY = "Community intelligence (demo)"
PUBLIC = "Public feed (demo)"
INCIDENT_TITLE = "Beaconing to a known C2 server (intel demo)"
C2_ADDRESS = "203.0.113.66"
C2_DOMAIN = "c2.demo-malware.example"


def _indicator(n: int, path: str, value: str, tlp: TLP, name: str) -> dict[str, object]:
    now = timezone.now().astimezone(UTC)
    stamp = (now - timedelta(days=n % 5)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--00000000-0000-4000-8000-{n:012d}",
        "created": stamp,
        "modified": stamp,
        "name": name,
        "indicator_types": ["malicious-activity"],
        "pattern": f"[{path} = '{value}']",
        "pattern_type": "stix",
        "valid_from": stamp,
        "confidence": 80,
        "object_marking_refs": [STIX_MARKING_IDS[tlp]],
    }


def load() -> None:
    isac = Organisation.objects.filter(name="Financial ISAC (demo)").first()
    power = Organisation.objects.filter(name="Taiwan Power Company (demo)").first()
    with transaction.atomic():
        community, _ = Collection.objects.get_or_create(
            title=COMMUNITY,
            defaults={"description": "Shared by and with every member.", "requires_review": True},
        )
        public, _ = Collection.objects.get_or_create(
            title=PUBLIC,
            defaults={"public": True, "default_tlp": TLP.CLEAR, "members_can_write": False},
        )
        for org in (isac, power):
            if org is not None:
                Collection.objects.get_or_create(
                    title=f"{org.short_name or org.name} only (demo)",
                    defaults={"organisation": org, "requires_review": False},
                )
    if not StixObject.objects.filter(collection=community).exists():
        shared = [
            _indicator(1, "ipv4-addr:value", C2_ADDRESS, TLP.GREEN, "C2 server of a RAT"),
            _indicator(2, "domain-name:value", "login-bank.example", TLP.GREEN, "Phishing kit"),
            _indicator(3, "url:value", "http://login-bank.example/verify", TLP.GREEN, "Phishing"),
            _indicator(4, "file:hashes.'SHA-256'", "9" * 64, TLP.AMBER, "Loader sample"),
            _indicator(5, "ipv4-addr:value", "198.51.100.0/24", TLP.GREEN, "Scanning network"),
        ]
        services.ingest_objects(None, community, shared, raw="demo", channel="demo")
        services.ingest_objects(
            None,
            public,
            [_indicator(6, "domain-name:value", "malware-download.example", TLP.CLEAR, "Dropper")],
            raw="demo",
            channel="demo",
        )
    reporter = User.objects.filter(username="reporter").first()
    if (
        power is not None
        and reporter is not None
        and not Incident.objects.filter(title=INCIDENT_TITLE).exists()
    ):
        incidents.report_incident(
            reporter,
            power,
            title=INCIDENT_TITLE,
            description="A workstation connects to a known command-and-control address.",
            rsit_class="malicious-code",
            rsit_type="c2-server",
            aware_at=datetime.now(UTC) - timedelta(minutes=30),
            answers=Answers(integrity="minor"),
            indicators=[("ipv4", C2_ADDRESS), ("domain", C2_DOMAIN)],
        )

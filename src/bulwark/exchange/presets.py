"""Column mappings for common public feeds, ready to save as a `ColumnMapping` (and to
adapt: a preset is only a starting point). Data only; each was tried on the feed's sample
from IntelMQ's tests (tests/corpus/feeds/, tests/test_mappings.py)."""

from typing import Any

PRESETS: dict[str, dict[str, Any]] = {
    "spamhaus-drop": {
        "label": "Spamhaus DROP / EDROP (https://www.spamhaus.org/drop/drop.txt)",
        "format": "csv",
        "mapping": {
            "header": False, "delimiter": ";", "comment": ";",
            "columns": {"source.network": "1", "extra.sbl_id": "2"},
            "constants": {
                "classification.type": "other", "classification.identifier": "spamhaus-drop",
                "feed.provider": "Spamhaus",
            },
        },
    },
    "dataplane": {
        "label": "DataPlane.org lists (sshpwauth, sipquery, dnsrd, ...; ASN | AS name | "
        "address | last seen | category)",
        "format": "csv",
        "mapping": {
            "header": False, "delimiter": "|", "comment": "#", "none": ["NA"],
            "columns": {
                "source.asn": "1", "source.as_name": "2", "source.ip": "3",
                "time.source": "4", "classification.identifier": "5",
            },
            "constants": {"classification.type": "brute-force", "feed.provider": "DataPlane.org"},
        },
    },
    "team-cymru-cap": {
        "label": "Team Cymru CAP (category | address | asn | timestamp | information | "
        "AS name)",
        "format": "csv",
        "mapping": {
            "header": False, "delimiter": "|", "comment": "#",
            "columns": {
                "classification.identifier": "1", "source.ip": "2", "source.asn": "3",
                "time.source": "4", "event_description.text": "5", "source.as_name": "6",
            },
            "constants": {"classification.type": "undetermined", "feed.provider": "Team Cymru"},
        },
    },
    "cert-eu": {
        "label": "CERT-EU threat intelligence CSV",
        "format": "csv",
        "mapping": {
            "delimiter": ",",
            "columns": {
                "source.ip": "source ip", "time.source": "source time", "tlp": "tlp",
                "event_description.text": "description", "classification.identifier": "type",
                "source.geolocation.cc": "source cc", "source.geolocation.city": "source city",
                "source.as_name": "source as name", "source.asn": "source asn",
                "feed.code": "feed code",
            },
            "constants": {"classification.type": "undetermined", "feed.provider": "CERT-EU"},
        },
    },
    "generic-csv": {
        "label": "Generic CSV with a header (edit the column names)",
        "format": "csv",
        "mapping": {
            "delimiter": ",",
            "columns": {"source.ip": "ip", "time.source": "time"},
            "constants": {"classification.type": "undetermined"},
        },
    },
}  # fmt: skip

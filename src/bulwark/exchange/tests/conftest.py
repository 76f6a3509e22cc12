"""A small constituency shaped like the demo one (same names, prefixes, AS numbers and
domains), built with plain inserts so each test starts in milliseconds; a real TAXII 2.1
server (medallion) on loopback for deliveries to foreign CERTs."""

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bulwark.constituency.models import Membership, NetworkClaim, Organisation, User
from bulwark.exchange import demo
from bulwark.exchange.models import CountryNetwork

# short name, kind, country, parent short name, claims
ORGANISATIONS: list[tuple[str, str, str, str | None, list[tuple[str, str]]]] = [
    ("NCSC-TW", "national_cert", "TW", None, [("domain", "ncsc.example.gov.tw")]),
    ("MOEA", "authority", "TW", None, [("domain", "moea.gov.tw"), ("cidr", "198.18.16.0/20")]),
    ("ADI", "government_agency", "TW", None, [("cidr", "198.18.0.0/22")]),
    ("CHT", "ci_operator", "TW", None, [("cidr", "198.18.8.0/22"), ("asn", "64498")]),
    (
        "Taipower",
        "ci_operator",
        "TW",
        "MOEA",
        [
            ("cidr", "198.18.12.0/22"),
            ("cidr", "2001:db8:3::/48"),
            ("asn", "64499"),
            ("domain", "taipower.example.com.tw"),
        ],
    ),
    ("CPC", "ci_operator", "TW", "MOEA", [("cidr", "198.18.16.0/22"), ("asn", "64500")]),
    ("WRA", "government_agency", "TW", "MOEA", [("cidr", "198.18.20.0/22")]),
    ("TWC", "ci_operator", "TW", "MOEA", [("domain", "water.example.com.tw")]),
    ("BOE", "government_agency", "TW", "MOEA", [("cidr", "198.18.28.0/22")]),
    ("TWSE", "ci_operator", "TW", None, [("cidr", "198.18.56.0/22")]),
    ("JPCERT/CC", "foreign_cert", "JP", None, []),
    ("KrCERT/CC", "foreign_cert", "KR", None, []),
    ("CISA", "foreign_cert", "US", None, []),
]
USERS = [
    ("analyst", "NCSC-TW", "analyst"),
    ("reporter", "Taipower", "reporter"),
    ("orgadmin", "Taipower", "org_admin"),
    ("cpc", "CPC", "reporter"),
    ("reviewer", "MOEA", "reviewer"),
    ("jpcert", "JPCERT/CC", "reporter"),
]


@pytest.fixture
def constituency(db: Any) -> dict[str, Organisation]:
    orgs: dict[str, Organisation] = {}
    for short, kind, country, parent, claims in ORGANISATIONS:
        org = Organisation.objects.create(
            name=f"{short} (test)",
            short_name=short,
            kind=kind,
            country=country,
            parent=orgs[parent] if parent else None,
        )
        orgs[short] = org
        NetworkClaim.objects.bulk_create(
            [NetworkClaim(organisation=org, kind=k, value=v) for k, v in claims]
        )
    for username, short, role in USERS:
        user = User.objects.create_user(username, f"{username}@test.example", "x" * 16)
        Membership.objects.create(user=user, organisation=orgs[short], role=role)
    CountryNetwork.objects.bulk_create(
        [CountryNetwork(kind=k, value=v, country=c) for k, v, c in demo.COUNTRY_NETWORKS]
    )
    return orgs


class TaxiiServer:
    """A real TAXII 2.1 server (medallion 3.0.0, memory backend) over HTTP on loopback,
    with one writable collection; it can be stopped and started again on the same port
    with its data kept (a foreign CERT's server that goes down for a while)."""

    USER, PASSWORD = "bulwark", "s3cret-taxii-pass"
    COLLECTION = "2f7b6d43-6a4e-4a53-9c0f-3b9de2a1c001"

    def __init__(self, tmp_path: Path) -> None:
        from medallion import (  # type: ignore[import-untyped]
            application_instance,
            register_blueprints,
            set_config,
        )

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.base = f"http://127.0.0.1:{self.port}"
        self.api_root = f"{self.base}/api1/"
        data = {
            "/discovery": {"title": "test", "default": self.api_root, "api_roots": [self.api_root]},
            "api1": {
                "information": {
                    "title": "foreign CERT",
                    "versions": ["application/taxii+json;version=2.1"],
                    "max_content_length": 50_000_000,
                },
                "status": [],
                "collections": [
                    {"id": self.COLLECTION, "title": "inbound reports", "can_read": True,
                     "can_write": True, "media_types": ["application/stix+json;version=2.1"],
                     "objects": [], "manifest": []},
                ],
            },
        }  # fmt: skip
        path = tmp_path / "medallion.json"
        path.write_text(json.dumps(data))
        config = {
            "backend": {
                "module": "medallion.backends.memory_backend",
                "module_class": "MemoryBackend",
                "filename": str(path),
            },
            "users": {self.USER: self.PASSWORD},
            "taxii": {"max_page_size": 1000},
        }
        for part in ("users", "taxii", "backend"):
            set_config(application_instance, part, config)
        if "objects" not in application_instance.blueprints:
            register_blueprints(application_instance)
        self.app = application_instance
        self._server: Any = None

    def start(self) -> None:
        from werkzeug.serving import make_server

        self._server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def statuses(self) -> list[dict[str, Any]]:
        """Every POST the server has accepted (one status resource each)."""
        return list(self.app.medallion_backend.data["api1"]["status"])

    def collection(self) -> Any:
        from taxii2client.v21 import Collection  # type: ignore[import-untyped]

        return Collection(
            f"{self.api_root}collections/{self.COLLECTION}/",
            user=self.USER,
            password=self.PASSWORD,
        )


@pytest.fixture
def taxii_server(tmp_path: Path) -> Iterator[TaxiiServer]:
    server = TaxiiServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()

"""A small constituency shaped like the demo one (same names, prefixes, AS numbers and
domains), built with plain inserts so each test starts in milliseconds."""

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

"""Warning lists: MISP's list types and matching_attributes, the CERT's own lists, and the
published lists of pymispwarninglists."""

import json
from pathlib import Path
from typing import Any

import pytest

from bulwark.intel import warninglists

DOCS = [
    {"name": "resolvers", "type": "cidr", "list": ["8.8.8.0/24", "2001:4860::/32"],
     "matching_attributes": ["ip-src", "ip-dst"]},
    {"name": "top", "type": "hostname", "list": ["google.com", ".gstatic.com"],
     "matching_attributes": ["hostname", "domain", "url"]},
    {"name": "exact", "type": "string", "list": ["Login.Example"],
     "matching_attributes": ["domain"]},
    {"name": "hash", "type": "string", "list": ["d41d8cd98f00b204e9800998ecf8427e"],
     "matching_attributes": ["md5"]},
    {"name": "mail", "type": "substring", "list": ["mailinator"],
     "matching_attributes": ["email-src"]},
    {"name": "re", "type": "regex", "list": ["^sinkhole[0-9]+\\."],
     "matching_attributes": ["domain"]},
]  # fmt: skip


@pytest.mark.parametrize(
    "kind, value, listed",
    [
        ("ipv4", "8.8.8.8", ["resolvers"]),
        ("cidr", "8.8.8.0/25", ["resolvers"]),
        ("cidr", "8.8.0.0/16", []),  # wider than the listed range
        ("ipv4", "8.8.9.1", []),
        ("ipv6", "2001:4860:4860::8888", ["resolvers"]),
        ("domain", "google.com", ["top"]),
        ("domain", "mail.google.com", ["top"]),
        ("domain", "notgoogle.com", []),
        ("domain", "fonts.gstatic.com", ["top"]),
        ("url", "https://www.google.com/search?q=x", ["top"]),
        ("domain", "login.example", ["exact"]),
        ("domain", "www.login.example", []),  # a string list is exact
        ("md5", "d41d8cd98f00b204e9800998ecf8427e", ["hash"]),
        ("sha256", "d41d8cd98f00b204e9800998ecf8427e", ["hash"]),  # same group (hashes)
        ("email", "x@mailinator.com", ["mail"]),
        ("domain", "mailinator.com", []),  # the list applies to e-mail addresses only
        ("domain", "sinkhole12.example", ["re"]),
        ("ipv4", "198.51.100.1", []),
    ],
)
def test_list_types_and_matching_attributes(kind: str, value: str, listed: list[str]) -> None:
    assert warninglists.build(DOCS).hits(kind, value) == listed


def test_the_published_lists_flag_resolvers_top_sites_and_private_ranges() -> None:
    m = warninglists.matcher()
    assert len(m.names) > 100
    for kind, value in [("ipv4", "8.8.8.8"), ("ipv4", "1.1.1.1"), ("domain", "google.com"),
                        ("domain", "www.microsoft.com"), ("ipv4", "10.1.2.3"),
                        ("md5", "d41d8cd98f00b204e9800998ecf8427e")]:  # fmt: skip
        assert m.listed(kind, value), value
    for kind, value in [("domain", "c2.demo-malware.example"), ("ipv4", "198.51.100.23")]:
        assert not m.listed(kind, value), value


def test_a_cert_s_own_list_file_is_read(settings: Any, tmp_path: Path) -> None:
    own = tmp_path / "ours" / "list.json"
    own.parent.mkdir()
    doc = {"name": "CERT partners", "type": "string", "list": ["partner.example"]}
    own.write_text(json.dumps(doc | {"matching_attributes": []}))
    settings.BULWARK_WARNINGLIST_DIRS = [str(tmp_path)]
    try:
        assert warninglists.reload().hits("domain", "partner.example") == ["CERT partners"]
    finally:
        del settings.BULWARK_WARNINGLIST_DIRS
        warninglists.reload()
    assert warninglists.hits("domain", "partner.example") == []

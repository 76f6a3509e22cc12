"""Boundary validation and the bulk write path, with hostile input."""

import random
import uuid

from stix2patterns.validator import run_validator  # type: ignore[import-untyped]

from bulwark.core.tlp import TLP
from bulwark.intel import ingest, patterns, services
from bulwark.intel.models import Indicator, MarkingAlias, Provenance, StixObject, Submission, Value
from bulwark.intel.tests.conftest import Community, indicator

TLP1_WHITE = "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"


def share(c: Community, objs: list[object], user: object = None) -> ingest.Outcome:
    return services.ingest_objects(user or c.sharer, c.community, objs, raw="raw").outcome  # type: ignore[arg-type]


def test_every_refused_object_is_reported_with_its_reason(community: Community) -> None:
    good = indicator("192.0.2.1")
    bad = [
        "not an object",
        {"type": "indicator"},
        dict(indicator(), id="indicator--not-a-uuid"),
        dict(indicator(), id=f"malware--{uuid.uuid4()}"),
        dict(indicator(), spec_version="2.0"),
        dict(indicator(), created="yesterday"),
        dict(indicator(), modified="2025-01-01T00:00:00Z"),
        dict(indicator(), confidence=101),
        dict(indicator(), confidence=True),
        dict(indicator(), pattern="[ipv4-addr:value = '1.2.3.4'"),
        dict(indicator(), pattern="[ipv4-addr:value = 'not-an-address']"),
        dict(indicator(), pattern="[file:hashes.MD5 = 'abc']"),
        dict(indicator(), pattern="x" * 200_000),
        dict(indicator(), valid_until="2025-01-01T00:00:00Z"),
        dict(indicator(), labels="one"),
        {"type": "malware", "spec_version": "2.1", "id": f"malware--{uuid.uuid4()}"},
        {
            "type": "x-unknown-thing",
            "spec_version": "2.1",
            "id": f"x-unknown-thing--{uuid.uuid4()}",
        },
        {
            "type": "nonsense",
            "spec_version": "2.1",
            "id": f"nonsense--{uuid.uuid4()}",
            "created": "2026-01-01T00:00:00Z",
        },
    ]
    outcome = share(community, [good, *bad])
    assert outcome.stored == 1
    assert len(outcome.failures) == len(bad)
    assert all(f["message"] for f in outcome.failures)
    messages = " | ".join(f["message"] for f in outcome.failures)
    for reason in (
        "UUID",
        "spec_version",
        "RFC 3339",
        "earlier than created",
        "0 to 100",
        "invalid pattern",
        "32 hexadecimal",
        "longer than",
        "valid_until",
    ):
        assert reason in messages, reason
    submission = Submission.objects.get()
    assert submission.raw == "raw" and submission.refused == len(bad)
    assert len(submission.report) == len(bad)


def test_a_forged_created_by_ref_is_refused_but_the_cert_may_relay(community: Community) -> None:
    mine = ingest.organisation_identity(community.authority.pk)
    theirs = ingest.organisation_identity(community.other.pk)
    outcome = share(
        community,
        [
            indicator("192.0.2.1", created_by_ref=mine),
            indicator("192.0.2.2", created_by_ref=theirs),
        ],
    )
    assert outcome.stored == 1
    assert "created_by_ref" in outcome.failures[0]["message"]
    relayed = share(
        community, [indicator("192.0.2.3", created_by_ref=theirs)], user=community.analyst
    )
    assert relayed.stored == 1
    assert (
        StixObject.objects.get(stix_id__in=[r["id"] for r in relayed.successes]).source_org
        == community.other
    )


def test_markings_tlp1_aliases_bundle_statements_and_unknown_ids(community: Community) -> None:
    statement = {
        "type": "marking-definition", "spec_version": "2.1",
        "id": f"marking-definition--{uuid.uuid4()}",
        "created": "2026-01-01T00:00:00.000Z", "definition_type": "statement",
        "definition": {"statement": "Copyright Finance ISAC"},
    }  # fmt: skip
    MarkingAlias.objects.create(
        marking_id="marking-definition--0b1f2f43-0b7a-4a3c-8a85-5a0e8c6e3e11",
        tlp=TLP.AMBER_STRICT,
        note="OpenCTI-style AMBER+STRICT",
    )
    white = indicator("192.0.2.1", tlp=None, object_marking_refs=[TLP1_WHITE])
    strict = indicator(
        "192.0.2.2",
        tlp=None,
        object_marking_refs=["marking-definition--0b1f2f43-0b7a-4a3c-8a85-5a0e8c6e3e11"],
    )
    stated = indicator("192.0.2.3", tlp=TLP.GREEN)
    stated["object_marking_refs"].append(statement["id"])
    unknown = indicator(
        "192.0.2.4", tlp=None, object_marking_refs=[f"marking-definition--{uuid.uuid4()}"]
    )
    unmarked = indicator("192.0.2.5", tlp=None)
    outcome = share(community, [statement, white, strict, stated, unknown, unmarked])
    assert outcome.stored == 5
    assert [f["id"] for f in outcome.failures] == [unknown["id"]]
    assert "unknown marking" in outcome.failures[0]["message"]
    level = dict(StixObject.objects.values_list("stix_id", "tlp"))
    assert level[white["id"]] == TLP.CLEAR
    assert level[strict["id"]] == TLP.AMBER_STRICT
    assert level[stated["id"]] == TLP.GREEN
    assert level[unmarked["id"]] == community.community.default_tlp


def test_a_large_bundle_is_stored_in_batches_and_values_once(community: Community) -> None:
    objs = [indicator(f"10.{n // 65536}.{n // 256 % 256}.{n % 256}") for n in range(3000)]
    objs += [indicator("10.0.0.1")]  # the same value from a second indicator
    outcome = share(community, objs)
    assert outcome.stored == 3001 and not outcome.failures
    assert Value.objects.count() == 3000
    assert Provenance.objects.filter(value__value="10.0.0.1").count() == 2
    assert Indicator.objects.count() == 3001


def test_values_are_normalised(community: Community) -> None:
    objs = [
        indicator("2001:DB8:0:0:0:0:0:1", path="ipv6-addr:value"),
        indicator("Bücher.EXAMPLE.", path="domain-name:value"),
        indicator("HTTP://Example.COM:8080", path="url:value"),
        indicator("A" * 64, path="file:hashes.'SHA-256'"),
        indicator("10.1.2.3/8"),
        indicator("192.0.2.9/32"),
        indicator("Mallory@EXAMPLE.com", path="email-addr:value"),
    ]
    outcome = share(community, objs)
    assert outcome.stored == len(objs), outcome.failures
    stored = set(Value.objects.values_list("kind", "value"))
    assert stored == {
        ("ipv6", "2001:db8::1"), ("domain", "xn--bcher-kva.example"), ("url", "http://example.com:8080/"),
        ("sha256", "a" * 64), ("cidr", "10.0.0.0/8"), ("ipv4", "192.0.2.9"),
        ("email", "mallory@example.com"),  # one form with monitoring (issue 21)
    }  # fmt: skip


def test_a_new_version_supersedes_the_old_one(community: Community) -> None:
    v1 = indicator("192.0.2.1", modified="2026-01-02T00:00:00Z")
    v2 = dict(v1, modified="2026-01-05T00:00:00Z")
    share(community, [v2])
    share(community, [v1])  # an older version arriving later stays old
    latest = StixObject.objects.filter(is_latest=True).values_list("modified", flat=True)
    assert [m.day for m in latest] == [5]


RANDOM_VALUES = ["192.0.2.1", "10.0.0.0/8", "example.org", "http://a.example/x?y=1",
                 "a" * 32, "b" * 40, "c" * 64, "x@example.org", "2001:db8::1"]  # fmt: skip


FITTING = {"ipv4": "192.0.2.1", "ipv6": "2001:db8::1", "domain": "example.org",
           "url": "http://a.example/x?y=1", "email": "x@example.org", "asn": "3462",
           "md5": "a" * 32, "sha1": "b" * 40, "sha256": "c" * 64}  # fmt: skip


def test_the_fast_path_accepts_only_what_the_oasis_validator_accepts() -> None:
    rng = random.Random(7)
    paths = list(patterns.PATHS)
    literals = [*RANDOM_VALUES, "", "it's", "back\\slash", "3462"]
    checked = 0
    for _ in range(400):
        parts = []
        for _c in range(rng.randint(1, 3)):
            path = rng.choice(paths)
            lit = rng.choice(literals) if rng.random() < 0.2 else FITTING[patterns.PATHS[path]]
            literal = lit if path.endswith("number") and lit.isdigit() else f"'{lit}'"
            parts.append(f"{path} = {literal}")
        joiner = rng.choice([" OR ", " AND "])
        text = "[" + joiner.join(parts) + "]"
        if rng.random() < 0.3:
            text = text + " OR " + text
        verdict = run_validator(text, stix_version="2.1")
        try:
            _found, fast = patterns.observables(text)
        except patterns.InvalidPattern:
            continue  # refusing more than the validator is allowed (values must be real)
        assert verdict == [], text  # accepted here means accepted by OASIS
        checked += fast
    assert checked > 50  # the fast path really was exercised

"""Boundary validation of STIX 2.1 objects (pure module, no Django import).

The fast path checks an indicator's envelope by hand (required properties, identifier and
timestamp formats, confidence range, the pattern through `patterns.observables`); every
other object, and any indicator with properties outside the common set, is checked by the
`stix2` library. The result is a `Checked` record with the columns the store indexes.
"""

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson

from bulwark.core import jsondoc
from bulwark.core.tlp import TLP, parse_tlp
from bulwark.intel.patterns import InvalidPattern, Observable, _observable, observables

STIX_ID = re.compile(
    r"\A([a-z0-9][a-z0-9-]{0,62})--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z"
)
TIMESTAMP = re.compile(r"\A\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z\Z")
FAST_INDICATOR_PROPERTIES = frozenset(
    {
        "type", "spec_version", "id", "created", "modified", "created_by_ref", "revoked",
        "labels", "confidence", "lang", "object_marking_refs", "name", "description",
        "indicator_types", "pattern", "pattern_type", "pattern_version", "valid_from",
        "valid_until",
    }
)  # fmt: skip
SCO_VALUE_PROPERTY = {
    "ipv4-addr": ("value", "ipv4"),
    "ipv6-addr": ("value", "ipv6"),
    "domain-name": ("value", "domain"),
    "url": ("value", "url"),
    "email-addr": ("value", "email"),
    "autonomous-system": ("number", "asn"),
}
SCO_TYPES = frozenset(
    {
        "artifact", "autonomous-system", "directory", "domain-name", "email-addr",
        "email-message", "file", "ipv4-addr", "ipv6-addr", "mac-addr", "mutex",
        "network-traffic", "process", "software", "url", "user-account", "windows-registry-key",
        "x509-certificate",
    }
)  # fmt: skip
MAX_OBJECT_BYTES = 1_000_000


class Refused(ValueError):
    """The object is refused; the message is shown to the sender."""


@dataclass
class Checked:
    stix_id: str
    type: str
    spec_version: str
    created: datetime | None
    modified: datetime | None
    version: datetime | None
    raw: str
    marking_refs: list[str]
    created_by_ref: str | None
    observables: list[Observable] = field(default_factory=list)
    indicator: dict[str, Any] | None = None
    confidence: int | None = None
    valid_until: datetime | None = None
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    fast: bool = True


def parse_timestamp(value: Any, name: str) -> datetime:
    # Shared bundles repeat a few timestamps: a text already parsed skips the checks (only
    # valid texts are remembered, and the result does not depend on `name`).
    found = _SEEN_TIMESTAMPS.get(value) if type(value) is str else None
    if found is not None:
        return found
    if not isinstance(value, str) or not TIMESTAMP.match(value):
        raise Refused(f"{name} must be an RFC 3339 UTC timestamp such as 2026-01-31T08:00:00Z")
    found = _parse_timestamp(value, name)
    if len(_SEEN_TIMESTAMPS) >= 65_536:
        _SEEN_TIMESTAMPS.clear()
    _SEEN_TIMESTAMPS[value] = found
    return found


_SEEN_TIMESTAMPS: dict[str, datetime] = {}


@lru_cache(maxsize=65_536)
def _parse_timestamp(value: str, name: str) -> datetime:
    text = value[:-1]
    if "." in text:
        whole, fraction = text.split(".")
        text = f"{whole}.{fraction[:6].ljust(6, '0')}"
    try:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    except ValueError:
        raise Refused(f"{name} is not a real date and time: {value}") from None


def check(obj: Any) -> Checked:
    """Validate one object as received. Raises Refused with the reason."""
    if not isinstance(obj, dict):
        raise Refused("an object must be a JSON object")
    kind = obj.get("type")
    stix_id = obj.get("id")
    if not isinstance(kind, str) or not isinstance(stix_id, str):
        raise Refused("type and id are required strings")
    match = STIX_ID.match(stix_id)
    if not match or match.group(1) != kind:
        raise Refused(f"id {stix_id[:120]!r} must be '{kind}--' followed by a UUID")
    spec_version = obj.get("spec_version", "2.1" if kind in SCO_TYPES else None)
    if spec_version != "2.1":
        raise Refused("spec_version must be 2.1")
    raw = orjson.dumps(obj).decode()
    if len(raw) > MAX_OBJECT_BYTES:
        raise Refused(f"object larger than {MAX_OBJECT_BYTES} bytes")
    if "\\u0000" in raw and jsondoc.defect(obj) == "nul":  # PostgreSQL refuses NUL
        raise Refused("text must not contain NUL characters (\\u0000)")
    if kind == "indicator" and obj.keys() <= FAST_INDICATOR_PROPERTIES:
        checked = _fast_indicator(obj, stix_id, raw)
    else:
        checked = _library_check(obj, kind, stix_id, raw)
    refs = obj.get("object_marking_refs", [])
    if not isinstance(refs, list) or not all(isinstance(r, str) for r in refs):
        raise Refused("object_marking_refs must be a list of marking-definition ids")
    granular = obj.get("granular_markings", [])
    if isinstance(granular, list):
        refs = refs + [
            g["marking_ref"] for g in granular if isinstance(g, dict) and "marking_ref" in g
        ]
    checked.marking_refs = refs
    creator = obj.get("created_by_ref")
    if creator is not None and (
        not isinstance(creator, str) or not creator.startswith("identity--")
    ):
        raise Refused("created_by_ref must be an identity id")
    checked.created_by_ref = creator
    return checked


def _fast_indicator(obj: dict[str, Any], stix_id: str, raw: str) -> Checked:
    created = parse_timestamp(obj.get("created"), "created")
    modified = parse_timestamp(obj.get("modified"), "modified")
    if modified < created:
        raise Refused("modified is earlier than created")
    valid_from = parse_timestamp(obj.get("valid_from"), "valid_from")
    valid_until = None
    if "valid_until" in obj:
        valid_until = parse_timestamp(obj["valid_until"], "valid_until")
        if valid_until <= valid_from:
            raise Refused("valid_until must be later than valid_from")
    confidence = obj.get("confidence")
    if confidence is not None and (
        not isinstance(confidence, int)
        or isinstance(confidence, bool)
        or not 0 <= confidence <= 100
    ):
        raise Refused("confidence must be an integer from 0 to 100")
    for name in ("name", "description", "lang", "pattern_version"):
        if name in obj and not isinstance(obj[name], str):
            raise Refused(f"{name} must be a string")
    for name in ("labels", "indicator_types"):
        if name in obj:
            value = obj[name]
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                raise Refused(f"{name} must be a list of non-empty strings")
    if "revoked" in obj and not isinstance(obj["revoked"], bool):
        raise Refused("revoked must be true or false")
    pattern = obj.get("pattern")
    pattern_type = obj.get("pattern_type")
    if not isinstance(pattern, str) or not pattern:
        raise Refused("pattern is required")
    if not isinstance(pattern_type, str) or not pattern_type:
        raise Refused("pattern_type is required")
    found: list[Observable] = []
    fast = True
    if pattern_type == "stix":
        try:
            found, fast = observables(pattern)
        except InvalidPattern as exc:
            raise Refused(f"invalid pattern: {exc}") from None
    return Checked(
        stix_id=stix_id,
        type="indicator",
        spec_version="2.1",
        created=created,
        modified=modified,
        version=modified,
        raw=raw,
        marking_refs=[],
        created_by_ref=None,
        observables=found,
        indicator={
            "name": obj.get("name", "")[:500],
            "pattern": pattern,
            "pattern_type": pattern_type,
            "valid_from": valid_from,
            "valid_until": valid_until,
            "confidence": confidence,
        },
        confidence=confidence,
        valid_until=valid_until,
        fast=fast,
    )


def _library_check(obj: dict[str, Any], kind: str, stix_id: str, raw: str) -> Checked:
    import stix2  # type: ignore[import-untyped]
    from stix2.exceptions import STIXError  # type: ignore[import-untyped]

    try:
        stix2.parse(obj, allow_custom=kind.startswith("x-"), version="2.1")
    except (STIXError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise Refused(str(exc).splitlines()[0][:500] or type(exc).__name__) from None
    confidence = obj.get("confidence")
    if confidence is not None and (
        not isinstance(confidence, int)
        or isinstance(confidence, bool)
        or not 0 <= confidence <= 100
    ):  # STIX 2.1 section 3.2; stix2 3.0.2 does not check the range, the fast path does
        raise Refused("confidence must be an integer from 0 to 100")
    if kind.startswith("x-") and not ("created" in obj and "modified" in obj):
        raise Refused("a custom object needs created and modified timestamps")
    created = parse_timestamp(obj["created"], "created") if "created" in obj else None
    modified = parse_timestamp(obj["modified"], "modified") if "modified" in obj else None
    checked = Checked(
        stix_id=stix_id,
        type=kind,
        spec_version="2.1",
        created=created,
        modified=modified,
        version=modified or created,
        raw=raw,
        marking_refs=[],
        created_by_ref=None,
        fast=False,
    )
    if kind == "indicator":
        valid_until = (
            parse_timestamp(obj["valid_until"], "valid_until") if "valid_until" in obj else None
        )
        if obj.get("pattern_type") == "stix":
            try:
                checked.observables, _fast = observables(obj["pattern"])
            except InvalidPattern as exc:
                raise Refused(f"invalid pattern: {exc}") from None
        checked.indicator = {
            "name": str(obj.get("name", ""))[:500],
            "pattern": obj["pattern"],
            "pattern_type": obj["pattern_type"],
            "valid_from": parse_timestamp(obj["valid_from"], "valid_from"),
            "valid_until": valid_until,
            "confidence": obj.get("confidence"),
        }
        checked.confidence = obj.get("confidence")
        checked.valid_until = valid_until
    elif kind in SCO_VALUE_PROPERTY:
        prop, value_kind = SCO_VALUE_PROPERTY[kind]
        try:
            checked.observables = [_observable(value_kind, str(obj[prop]))]
        except InvalidPattern as exc:
            raise Refused(f"{prop}: {exc}") from None
    elif kind == "file" and isinstance(obj.get("hashes"), dict):
        names = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256"}
        for name, digest in obj["hashes"].items():
            if name in names and isinstance(digest, str):
                try:
                    checked.observables.append(_observable(names[name], digest))
                except InvalidPattern as exc:
                    raise Refused(f"hashes.{name}: {exc}") from None
    elif kind == "observed-data":
        checked.first_seen = parse_timestamp(obj["first_observed"], "first_observed")
        checked.last_seen = parse_timestamp(obj["last_observed"], "last_observed")
        checked.confidence = obj.get("confidence")
    return checked


def tlp_of(refs: list[str], aliases: dict[str, int], known: set[str]) -> tuple[TLP | None, str]:
    """The strictest TLP among the marking refs, and the first unknown ref ('' if none).
    `aliases` maps other tools' ids to levels; `known` holds non-TLP marking ids defined
    in the store or the same bundle (statements), which are accepted and kept."""
    level: TLP | None = None
    for ref in refs:
        found: TLP | None
        try:
            found = parse_tlp(ref) if ref.startswith("marking-definition--") else None
        except ValueError:
            found = TLP(aliases[ref]) if ref in aliases else None
        if found is None:
            if ref in known:
                continue
            return level, ref
        level = found if level is None else max(level, found)
    return level, ""

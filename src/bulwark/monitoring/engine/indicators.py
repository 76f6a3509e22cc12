"""Indicator sources for the engine: plain lists (type detected per line) and STIX 2.1
bundles. Loaders stream: a 1 M line list never exists as 1 M Python objects."""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson

from bulwark.core import observables

TYPES = ("ipv4", "ipv6", "cidr", "domain", "url", "md5", "sha1", "sha256", "email")
MAX_STIX_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Indicator:
    type: str
    value: bytes  # canonical form (see bulwark.core.observables)
    id: str | None = None
    score: int | None = None


class IndicatorFileError(ValueError):
    """The indicator file cannot be read at all (not a list, not a bundle)."""


def from_text(value: str | bytes, id: str | None = None, score: int | None = None) -> Indicator:
    """One indicator from its text, type detected; ValueError if it is none of TYPES."""
    raw = value.encode("utf-8") if isinstance(value, str) else value
    found = observables.detect_kind(raw)
    if found is None:
        raise ValueError(f"{raw[:80]!r} is not an address, prefix, domain, URL, hash or e-mail")
    return Indicator(found[0], found[1], id, score)


def from_typed(
    kind: str, value: str, id: str | None = None, score: int | None = None
) -> Indicator | None:
    """An indicator whose type is already known (platform data); None if it does not
    normalise to that type (the platform's own types: ipv4, ipv6, cidr, domain, url, md5,
    sha1, sha256, email)."""
    try:
        ind = from_text(value, id, score)
    except ValueError:
        return None
    addresses = ("ipv4", "ipv6", "cidr")
    if ind.type == kind or (kind in addresses and ind.type in addresses):
        return ind
    return None


def read_list(path: Path, refused: list[tuple[int, str]]) -> Iterator[Indicator]:
    """One value per line; blank lines and '#' comments skipped; refused lines are
    appended to `refused` as (line number, reason) and never stop the load."""
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            value = line.strip()
            if not value or value.startswith(b"#"):
                continue
            found = observables.detect_kind(value)
            if found is None:
                refused.append(
                    (number, f"not an indicator: {value[:80].decode('utf-8', 'replace')}")
                )
                continue
            yield Indicator(found[0], found[1])


# A STIX pattern we can match field by field: one or more equality comparisons joined by
# OR, on the object paths below. AND / FOLLOWEDBY / qualifiers need correlation across
# fields and are refused (reported), never approximated.
_COMPARISON = re.compile(
    r"""\s*(?P<path>[a-z0-9-]+:[A-Za-z0-9_.'\-]+)\s*=\s*'(?P<value>(?:[^'\\]|\\.)*)'\s*"""
)
_PATHS = {
    "ipv4-addr:value": "addr",
    "ipv6-addr:value": "addr",
    "domain-name:value": "domain",
    "url:value": "url",
    "email-addr:value": "email",
    "email-message:from_ref.value": "email",
    "email-message:sender_ref.value": "email",
    "file:hashes.md5": "hash",
    "file:hashes.'md5'": "hash",
    "file:hashes.sha1": "hash",
    "file:hashes.'sha-1'": "hash",
    "file:hashes.sha256": "hash",
    "file:hashes.'sha-256'": "hash",
    "file:hashes.'sha256'": "hash",
}
_SCO = {"ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr"}


def parse_pattern(pattern: str) -> list[bytes]:
    """Values of a simple STIX pattern; ValueError (with the reason) otherwise."""
    text = pattern.strip()
    observations = re.findall(r"\[([^\[\]]*)\]", text)
    rest = re.sub(r"\[[^\[\]]*\]", "", text).strip()
    if not observations or (rest and set(rest.split()) - {"OR"}):
        raise ValueError("only OR-combined equality comparisons are matched")
    values: list[bytes] = []
    for observation in observations:
        for part in re.split(r"\s+OR\s+", observation):
            match = _COMPARISON.fullmatch(part)
            if match is None:
                raise ValueError(f"comparison not supported: {part.strip()[:80]}")
            if match.group("path").lower() not in _PATHS:
                raise ValueError(f"object path not matched in logs: {match.group('path')}")
            raw = match.group("value").replace("\\'", "'").replace("\\\\", "\\")
            values.append(raw.encode("utf-8"))
    return values


def _score(obj: dict[str, object]) -> int | None:
    for key in ("x_bulwark_score", "confidence"):
        value = obj.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return max(0, min(100, value))
    return None


def _expired(obj: dict[str, object], now: datetime) -> bool:
    until = obj.get("valid_until")
    if not isinstance(until, str):
        return False
    try:
        return datetime.fromisoformat(until.replace("Z", "+00:00")) <= now
    except ValueError:
        return False


def read_stix(path: Path, refused: list[tuple[int, str]]) -> Iterator[Indicator]:
    """Indicators (pattern_type stix) and cyber-observables of a STIX 2.1 bundle. Revoked
    and expired indicators are skipped; unusable patterns are refused with their index."""
    if path.stat().st_size > MAX_STIX_BYTES:
        raise IndicatorFileError(f"{path}: bundle larger than {MAX_STIX_BYTES} bytes")
    try:
        bundle = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise IndicatorFileError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(bundle, dict) or bundle.get("type") != "bundle":
        raise IndicatorFileError(f"{path}: not a STIX 2.1 bundle")
    objects = bundle.get("objects") or []
    if not isinstance(objects, list):
        raise IndicatorFileError(f"{path}: bundle objects is not a list")
    now = datetime.now(UTC)
    for number, obj in enumerate(objects, start=1):
        if not isinstance(obj, dict):
            refused.append((number, "object is not a JSON object"))
            continue
        kind = obj.get("type")
        ident = obj.get("id") if isinstance(obj.get("id"), str) else None
        if kind == "indicator":
            if obj.get("revoked") is True or _expired(obj, now):
                continue
            if obj.get("pattern_type", "stix") != "stix" or not isinstance(obj.get("pattern"), str):
                refused.append((number, f"{ident}: pattern type {obj.get('pattern_type')!r}"))
                continue
            try:
                raws = parse_pattern(str(obj["pattern"]))
            except ValueError as exc:
                refused.append((number, f"{ident}: {exc}"))
                continue
            for raw in raws:
                found = observables.detect_kind(raw)
                if found is None:
                    refused.append((number, f"{ident}: {raw[:80]!r} is not matchable"))
                    continue
                yield Indicator(found[0], found[1], str(ident), _score(obj))
        elif kind in _SCO and isinstance(obj.get("value"), str):
            found = observables.detect_kind(str(obj["value"]).encode("utf-8"))
            if found is None:
                refused.append((number, f"{ident}: value is not matchable"))
                continue
            yield Indicator(found[0], found[1], ident, _score(obj))


def load_indicator_file(path: Path, refused: list[tuple[int, str]]) -> Iterator[Indicator]:
    """A plain list or a STIX bundle, told apart by the first non-blank byte."""
    with path.open("rb") as handle:
        head = handle.read(4096).lstrip()
    if head.startswith(b"{"):
        yield from read_stix(path, refused)
    else:
        yield from read_list(path, refused)

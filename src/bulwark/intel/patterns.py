"""STIX patterns: a fast path for the common shape, the OASIS validator for the rest.

Pure module (no Django import). Most shared indicators are one observable, or a few
joined by OR: `[ipv4-addr:value = '192.0.2.1']`, `[file:hashes.'SHA-256' = '...']`.
Those are recognised by one regular expression whose language is a strict subset of the
STIX 2.1 pattern grammar (equality on a known property, a literal without quotes or
backslashes, OR only), so a pattern accepted here is also accepted by `stix2-patterns`
(tests/test_patterns.py checks this on generated patterns). Anything else goes through the
ANTLR validator, about 1,300 patterns/s on this machine.
"""

import re
from dataclasses import dataclass

from bulwark.core.observables import InvalidIndicator, normalise

# pattern path -> value kind
PATHS = {
    "ipv4-addr:value": "ipv4",
    "ipv6-addr:value": "ipv6",
    "domain-name:value": "domain",
    "url:value": "url",
    "email-addr:value": "email",
    "autonomous-system:number": "asn",
    "file:hashes.MD5": "md5",
    "file:hashes.'MD5'": "md5",
    "file:hashes.'SHA-1'": "sha1",
    "file:hashes.'SHA-256'": "sha256",
}
MAX_PATTERN_LENGTH = 100_000

_PATH = "|".join(re.escape(p) for p in sorted(PATHS, key=len, reverse=True))
_COMPARISON = rf"(?:{_PATH})\s*=\s*(?:'[^'\\\n]*'|\d{{1,10}})"
# re.ASCII: \d and \s are the grammar's digits and blanks only (U+0660 is a Unicode digit
# that the grammar refuses; the differential test in test_fast_paths.py found it).
_FAST = re.compile(rf"\[\s*{_COMPARISON}(?:\s+OR\s+{_COMPARISON})*\s*\]", re.ASCII)
_FAST_ALL = re.compile(rf"\A{_FAST.pattern}(?:\s+OR\s+{_FAST.pattern})*\Z", re.ASCII)
_EACH = re.compile(rf"({_PATH})\s*=\s*(?:'([^'\\\n]*)'|(\d{{1,10}}))", re.ASCII)


class InvalidPattern(ValueError):
    pass


@dataclass(frozen=True)
class Observable:
    kind: str
    value: str  # normalised


def observables(pattern: str) -> tuple[list[Observable], bool]:
    """The observable values a pattern compares for equality, normalised, and whether the
    fast path took it. Raises InvalidPattern with the validator's reason."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise InvalidPattern(f"pattern longer than {MAX_PATTERN_LENGTH} characters")
    if _FAST_ALL.match(pattern):
        found = []
        for path, literal, number in _EACH.findall(pattern):
            found.append(_observable(PATHS[path], literal if literal or not number else number))
        return list(dict.fromkeys(found)), True
    return _slow(pattern), False


def _observable(kind: str, value: str) -> Observable:
    if kind == "ipv4" and "/" in value:
        kind = "cidr"
    if kind == "ipv6" and "/" in value:
        kind = "cidr"
    try:
        return Observable(*normalise(kind, value))
    except InvalidIndicator as exc:
        raise InvalidPattern(f"{value!r}: {exc}") from None


def validate(pattern: str) -> None:
    """The OASIS validator's verdict (raises InvalidPattern)."""
    from stix2patterns.validator import run_validator  # type: ignore[import-untyped]

    try:
        errors = run_validator(pattern, stix_version="2.1")
    except Exception as exc:  # the ANTLR runtime raises assorted errors on hostile input
        raise InvalidPattern(f"pattern could not be parsed: {exc}") from None
    if errors:
        raise InvalidPattern("; ".join(e.removeprefix("FAIL: ") for e in errors))


def _slow(pattern: str) -> list[Observable]:
    from stix2patterns.v21.pattern import Pattern  # type: ignore[import-untyped]

    validate(pattern)
    found: list[Observable] = []
    data = Pattern(pattern).inspect()
    for object_type, comparisons in data.comparisons.items():
        for path_parts, operator, literal in comparisons:
            if operator != "=" or not isinstance(literal, str):
                continue
            path = (
                object_type
                + ":"
                + ".".join(
                    p if isinstance(p, str) and "-" not in p else f"'{p}'" for p in path_parts
                )
            )
            kind = PATHS.get(path) or PATHS.get(path.replace("'", ""))
            if kind is None and path.startswith("file:hashes."):
                name = path.removeprefix("file:hashes.").strip("'").upper().replace("-", "")
                kind = {"MD5": "md5", "SHA1": "sha1", "SHA256": "sha256"}.get(name)
            if kind is None:
                continue
            text = literal[1:-1] if literal.startswith("'") else literal
            text = text.replace("\\'", "'").replace("\\\\", "\\")
            found.append(_observable(kind, text))
    return list(dict.fromkeys(found))

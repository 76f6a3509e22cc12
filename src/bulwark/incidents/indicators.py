"""Indicators reported with an incident: the kinds an incident takes, and reading them from
typed lines (pure module). Detection and the canonical form are
`bulwark.core.observables`'s, the same as the intelligence store's and monitoring's, so
values correlate across the apps by plain equality.
"""

from bulwark.core.fanging import read_defanged
from bulwark.core.observables import InvalidIndicator, detect, normalise

# Prefixes and AS numbers are the intelligence store's, not an incident's.
KINDS = ("ipv4", "ipv6", "domain", "url", "md5", "sha1", "sha256", "email")


def normalised(kind: str | None, value: str) -> tuple[str, str]:
    """(kind, canonical text) of an indicator of an incident, its kind detected when not
    given; InvalidIndicator for anything else."""
    if kind and kind not in KINDS:
        raise InvalidIndicator(f"unknown indicator type {kind!r}")
    found, text = normalise(kind or detect(value), value)
    if found not in KINDS:
        raise InvalidIndicator(
            f"{value.strip()!r} is not an address, domain name, URL, hash or e-mail address"
        )
    return found, text


def parse_lines(text: str, limit: int = 1000) -> list[tuple[str, str]]:
    """One indicator per line (type detected, defanged spellings read); blank lines and '#'
    comments skipped.
    Raises InvalidIndicator naming the first bad line."""
    found: list[tuple[str, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        value = line.strip()
        if not value or value.startswith("#"):
            continue
        if len(found) >= limit:
            raise InvalidIndicator(f"more than {limit} indicators")
        try:
            found.append(read_defanged(lambda v: normalised(None, v), value))
        except InvalidIndicator as exc:
            raise InvalidIndicator(f"line {number}: {exc}") from None
    return list(dict.fromkeys(found))

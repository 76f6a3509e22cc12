"""STIX timestamps that compare as the OASIS validator compares them (pure module).

stix2-validator checks `modified >= created` (and valid_until > valid_from, last_seen >=
first_seen, ...) by comparing the strings. The stix2 library writes fractions without
their trailing zeros (`.35964Z` for .359640), so two times of one object can have
fractions of different widths and compare wrongly as text (".35964Z" > ".359649Z").
`comparable` pads the fractions of each such pair to one width: the same instants,
written so that text order is time order.
"""

import re
from typing import Any

PAIRS = (
    ("modified", "created"),
    ("valid_until", "valid_from"),
    ("last_seen", "first_seen"),
    ("last_observed", "first_observed"),
    ("stop_time", "start_time"),
    ("end_time", "start_time"),
)
_TIMESTAMP = re.compile(r"\A(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?Z\Z")


def comparable(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rewrite, in place, each pair of an object whose texts differ in width."""
    for obj in objects:
        for later, earlier in PAIRS:
            first, second = obj.get(later), obj.get(earlier)
            if not (isinstance(first, str) and isinstance(second, str)):
                continue
            a, b = _TIMESTAMP.match(first), _TIMESTAMP.match(second)
            if a is None or b is None or len(first) == len(second):
                continue
            width = max(3, len(a.group(2) or ""), len(b.group(2) or ""))
            obj[later] = f"{a.group(1)}.{(a.group(2) or '').ljust(width, '0')}Z"
            obj[earlier] = f"{b.group(1)}.{(b.group(2) or '').ljust(width, '0')}Z"
    return objects

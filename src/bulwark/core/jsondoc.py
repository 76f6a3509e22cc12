"""What a parsed JSON document holds that no database column takes (pure module, no Django
import, so the STIX boundary check shares it)."""

from typing import Any

# JSON nested deeper than this is refused: Python's recursion limit is 1000, and
# serialisers and JSON columns recurse; no STIX, MISP or API document comes close.
MAX_JSON_DEPTH = 100


def defect(value: Any, max_depth: int = MAX_JSON_DEPTH) -> str | None:
    """ "nul" when a key or string holds a NUL character (PostgreSQL refuses it in text and
    JSON), "depth" when lists and objects nest deeper than `max_depth`, else None.
    Walks without recursion."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return "nul"
        elif isinstance(item, dict | list):
            if depth > max_depth:
                return "depth"
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return None

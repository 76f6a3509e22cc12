"""Input that no database column can hold, refused at the edge with a message naming it.

Python's `str.isdigit()` accepts a superscript 1 (which `int()` refuses) and an
Arabic-Indic 1 (which `int()` reads as 1); `int()` reads numbers no 64-bit id column can
hold (SQLite raises OverflowError, PostgreSQL "out of range"); PostgreSQL refuses NUL
characters in text and JSON. Query parameters that name a row and JSON bodies go through
here."""

from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from bulwark.core import jsondoc

# The largest id a (big) integer primary key holds.
MAX_ROW_ID = 2**63 - 1


class BadParameter(ValidationError):
    """A query parameter that cannot mean anything; `message_dict` names it."""


def whole_number(text: Any, *, maximum: int = MAX_ROW_ID) -> int | None:
    """`text` as an integer from 0 to `maximum` written in ASCII digits, else None."""
    text = str(text).strip()
    if not text or len(text) > 19 or not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if value <= maximum else None


def id_param(params: Any, name: str) -> int | None:
    """The row id in query parameter `name`; None when absent or empty. Raises
    BadParameter for anything else, so a filter is never silently dropped or crashes."""
    raw = params.get(name)
    if raw is None or str(raw).strip() == "":
        return None
    value = whole_number(raw)
    if value is None:
        raise BadParameter(
            {name: [_("Enter an id: a whole number from 0 to %(max)d.") % {"max": MAX_ROW_ID}]}
        )
    return value


def json_problem(value: Any) -> str | None:
    """Why a parsed JSON document cannot be stored (see `jsondoc.defect`), or None."""
    found = jsondoc.defect(value)
    if found == "nul":
        return _("Text must not contain NUL characters (\\u0000).")
    if found == "depth":
        return _("JSON nested deeper than %(n)d levels.") % {"n": jsondoc.MAX_JSON_DEPTH}
    return None

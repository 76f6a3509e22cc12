"""The platform's one CSV writer: every CSV that leaves Bulwark (the incident queue,
statistics, detection exports, exchange notifications) is written here.

A spreadsheet runs a cell that starts with = + - @ (or their full-width forms, which
Excel also accepts) as a formula, and a leading TAB or CR hides one; text that outsiders
choose (titles, organisation and feed names, indicator values) reaches these cells, so
such a cell gets a leading apostrophe, which spreadsheets show as text and CSV readers
keep as an ordinary character. Files for people start with a UTF-8 byte-order mark, the
only way Excel recognises UTF-8 (Chinese names are otherwise garbled); times are local
time, to the second, with the zone named. Files for machines (`for_machines=True`: the
detection export) are defused the same way but have no byte-order mark and keep times
in ISO 8601 UTC, so parsers read them as before.
"""

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.http import StreamingHttpResponse
from django.utils.translation import gettext as _

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
BOM = "\ufeff"


def defuse(text: str) -> str:
    """Text a spreadsheet will show, never run."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def cell(value: Any, *, for_machines: bool = False) -> str:
    """One value as the text of a cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        if for_machines:
            return "true" if value else "false"
        return _("yes") if value else _("no")
    if isinstance(value, datetime):
        if for_machines:
            return value.astimezone(UTC).replace(microsecond=0).isoformat()
        zone = ZoneInfo(settings.TIME_ZONE)
        return f"{value.astimezone(zone):%Y-%m-%d %H:%M:%S} {settings.TIME_ZONE}"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | float):
        return f"{value:g}" if isinstance(value, float) else str(value)
    return defuse(str(value))


class _Line:
    """A file-like object that hands back what csv.writer writes (one line a call)."""

    def write(self, value: str) -> str:
        return value


def lines(
    header: Sequence[Any], rows: Iterable[Sequence[Any]], *, for_machines: bool = False
) -> Iterator[str]:
    """The CSV text line by line, header first (for streaming responses)."""
    writer = csv.writer(_Line(), lineterminator="\n" if for_machines else "\r\n")
    first = writer.writerow([cell(str(h), for_machines=for_machines) for h in header])
    yield first if for_machines else BOM + first
    for row in rows:
        yield writer.writerow([cell(v, for_machines=for_machines) for v in row])


def text(
    header: Sequence[Any], rows: Iterable[Sequence[Any]], *, for_machines: bool = False
) -> str:
    """The whole CSV as one string (attachments, small exports)."""
    out = io.StringIO()
    for line in lines(header, rows, for_machines=for_machines):
        out.write(line)
    return out.getvalue()


def response(
    filename: str, header: Sequence[Any], rows: Iterable[Sequence[Any]]
) -> StreamingHttpResponse:
    """A download for people, streamed as it is read from the database."""
    reply = StreamingHttpResponse(lines(header, rows), content_type="text/csv; charset=utf-8")
    reply["Content-Disposition"] = f'attachment; filename="{filename}"'
    return reply

"""Shared input in any of the four formats (STIX 2.1 bundle, MISP event JSON, CSV, plain
list) turned into objects and handed to the services: one path for the Share page and
the REST API, so both store, refuse and report the same way."""

import csv
import functools
import io
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from django.utils.translation import gettext as _

from bulwark.constituency.models import User
from bulwark.core import bulk
from bulwark.core import observables as obs
from bulwark.core.fanging import read_defanged
from bulwark.core.stixpattern import pattern_for
from bulwark.core.tlp import TLP
from bulwark.intel import misp, services
from bulwark.intel.models import Collection, Submission

FORMATS = ("stix", "misp", "csv", "plain")
MAX_UPLOAD = 2 * 1024 * 1024
MAX_LINES = 10_000


class InvalidInput(ValueError):
    """The input as a whole cannot be read (not JSON, no objects list, too many lines)."""


def _normalised(kind: str, value: str) -> tuple[str, str]:
    return obs.normalise(kind or obs.detect(value), value)


def rows_from_text(text: str, fmt: str) -> tuple[list[tuple[str, str]], list[dict[str, str]]]:
    """(kind, value) pairs from a CSV (type,value or value) or plain list, and the refusals."""
    found: list[tuple[str, str]] = []
    refused: list[dict[str, str]] = []
    lines = text.splitlines()
    if len(lines) > MAX_LINES:
        raise InvalidInput(_("At most %(n)d lines per upload.") % {"n": MAX_LINES})
    reader: Any = csv.reader(io.StringIO(text)) if fmt == "csv" else ([line] for line in lines)
    for number, row in enumerate(reader, start=1):
        cells = [c.strip() for c in row if c.strip()]
        if not cells or cells[0].startswith("#") or cells[0].lower() in ("type", "value"):
            continue
        kind, text_value = (cells[0].lower(), cells[1]) if len(cells) > 1 else ("", cells[0])
        try:
            found.append(read_defanged(functools.partial(_normalised, kind), text_value))
        except ValueError as exc:
            refused.append({"id": f"line {number}", "message": str(exc)})
    return list(dict.fromkeys(found)), refused


def indicators_for(pairs: list[tuple[str, str]]) -> list[dict[str, Any]]:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"
    return [
        {
            "type": "indicator",
            "spec_version": "2.1",
            "id": f"indicator--{uuid.uuid4()}",
            "created": stamp,
            "modified": stamp,
            "name": f"{kind}: {value}"[:500],
            "pattern": pattern_for(kind, value),
            "pattern_type": "stix",
            "valid_from": stamp,
        }
        for kind, value in pairs
    ]


def share_text(
    user: User,
    collection: Collection,
    fmt: str,
    text: str,
    level: TLP | None = None,
    *,
    channel: str = "upload",
) -> services.Shared:
    """Store `text` in `fmt` as shared by `user` into the review flow of `collection`.
    Raises InvalidInput (or misp.InvalidMisp) when the input as a whole is unreadable,
    PermissionDenied when the user may not add to the collection."""
    if fmt not in FORMATS:
        raise InvalidInput(_("Unknown format; use one of: %(f)s.") % {"f": ", ".join(FORMATS)})
    if not text.strip():
        raise InvalidInput(_("Paste or upload something to share."))
    if "\x00" in text:  # PostgreSQL cannot store it, and no format carries it
        raise InvalidInput(_("The text holds NUL characters (\\u0000); remove them."))
    if fmt == "misp":
        return misp.import_event(user, collection, text, channel=channel)
    if fmt == "stix":
        with bulk.collector_paused():  # parsed and stored, then freed (bulwark.core.bulk)
            try:
                bundle = orjson.loads(text)
            except orjson.JSONDecodeError as exc:
                raise InvalidInput(_("Not JSON: %(e)s") % {"e": exc}) from None
            if not isinstance(bundle, dict) or not isinstance(bundle.get("objects"), list):
                raise InvalidInput(_("A STIX bundle has an objects list."))
            shared = services.ingest_objects(
                user, collection, bundle["objects"], raw=text, channel=channel, tlp=level
            )
            del bundle
            return shared
    pairs, refused = rows_from_text(text, fmt)
    return services.ingest_objects(
        user,
        collection,
        indicators_for(pairs),
        raw=text,
        channel=channel,
        format=Submission.Format.CSV if fmt == "csv" else Submission.Format.PLAIN,
        tlp=level if level is not None else TLP(collection.default_tlp),
        extra_report=refused,
    )

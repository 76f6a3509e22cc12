"""Severity data from outside: CVSS vectors scored by the maintained `cvss` library
(RedHat's, v2, v3.0/3.1 and v4.0), FIRST's EPSS scores (CSV) and CISA's Known Exploited
Vulnerabilities catalogue (JSON).

Pure module (no Django import).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import ijson  # type: ignore[import-untyped]
from cvss import CVSS2, CVSS3, CVSS4, CVSSError  # type: ignore[import-untyped]

from .model import ParseError, Severity, clean, cwes_in, severity_from_score
from .streams import Readable, json_events, read_head, text_lines

_CVE_ID = re.compile(r"^CVE-\d{4}-\d{4,}$")


def cvss_score(vector: str) -> tuple[float, Severity] | None:
    """(base score, severity) of a CVSS vector: "CVSS:4.0/...", "CVSS:3.1/...",
    "CVSS:3.0/..." or a bare v2 vector ("AV:N/AC:L/Au:N/..."). None if the vector is
    invalid. A 0.0 score is "info" (CVSS's "None")."""
    vector = (vector or "").strip()
    if not vector or len(vector) > 512:
        return None
    try:
        if vector.startswith("CVSS:4.0/"):
            v4 = CVSS4(vector)
            score = float(v4.base_score)
        elif vector.startswith(("CVSS:3.0/", "CVSS:3.1/")):
            score = float(CVSS3(vector).scores()[0])
        else:
            if vector.startswith("CVSS2#"):
                vector = vector[len("CVSS2#") :]
            if vector.startswith("(") and vector.endswith(")"):
                vector = vector[1:-1]
            score = float(CVSS2(vector).scores()[0])
    except (CVSSError, ValueError, KeyError, IndexError, TypeError):
        return None
    severity = severity_from_score(score)
    assert severity is not None
    return score, severity


def read_epss(stream: Readable) -> Iterator[tuple[str, float, float]]:
    """(CVE, EPSS probability, percentile) rows of FIRST's epss_scores-YYYY-MM-DD.csv, plain
    or gzip. The first line may be the "#model_version:...,score_date:..." comment."""
    head, replay = read_head(stream)
    if not head.strip():
        raise ParseError("The EPSS file is empty.")
    reader = csv.reader(text_lines(replay))
    header: list[str] | None = None
    try:
        for row in reader:
            if not row or (row[0].startswith("#") and header is None):
                continue
            if header is None:
                header = [cell.strip().lower() for cell in row]
                if header[:1] != ["cve"] or "epss" not in header or "percentile" not in header:
                    raise ParseError(
                        "Not an EPSS file: the header must be cve,epss,percentile "
                        f"(found {','.join(header)[:100]})."
                    )
                epss_at, percentile_at = header.index("epss"), header.index("percentile")
                continue
            cve = row[0].strip().upper()
            if not _CVE_ID.match(cve):
                raise ParseError(f"EPSS line {reader.line_num}: {row[0][:40]!r} is not a CVE id.")
            try:
                epss, percentile = float(row[epss_at]), float(row[percentile_at])
            except (ValueError, IndexError):
                raise ParseError(
                    f"EPSS line {reader.line_num}: the scores are not numbers."
                ) from None
            if not (0.0 <= epss <= 1.0 and 0.0 <= percentile <= 1.0):
                raise ParseError(f"EPSS line {reader.line_num}: scores must be between 0 and 1.")
            yield cve, epss, percentile
    except csv.Error as exc:
        raise ParseError(f"The EPSS file is not valid CSV: {exc}.") from None
    if header is None:
        raise ParseError("Not an EPSS file: no header line.")


@dataclass(frozen=True, slots=True)
class KevEntry:
    """One entry of CISA's Known Exploited Vulnerabilities catalogue."""

    cve: str
    vendor: str
    product: str
    name: str
    date_added: date
    due_date: date | None = None
    description: str = ""
    required_action: str = ""
    ransomware: bool = False
    notes: str = ""
    cwes: tuple[int, ...] = ()


def read_kev(stream: Readable) -> Iterator[KevEntry]:
    """The entries of known_exploited_vulnerabilities.json (plain or gzip), streamed."""
    head, replay = read_head(stream)
    if not head.strip().startswith(b"{"):
        raise ParseError("Not a KEV catalogue: the file is not a JSON object.")
    events = json_events(replay)
    saw_list = False
    for prefix, event, value in events:
        if prefix == "vulnerabilities" and event == "start_array":
            saw_list = True
        elif prefix == "vulnerabilities.item" and event == "start_map":
            builder = ijson.ObjectBuilder()
            builder.event(event, value)
            depth = 1
            for _, inner_event, inner_value in events:
                builder.event(inner_event, inner_value)
                if inner_event in ("start_map", "start_array"):
                    depth += 1
                elif inner_event in ("end_map", "end_array"):
                    depth -= 1
                    if depth == 0:
                        break
            yield _kev_entry(builder.value)
    if not saw_list:
        raise ParseError('Not a KEV catalogue: there is no "vulnerabilities" list.')


def _date(value: Any, field: str, cve: str) -> date:
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise ParseError(f"KEV entry {cve}: {field} {str(value)[:20]!r} is not a date.") from None


def _kev_entry(item: Any) -> KevEntry:
    if not isinstance(item, dict):
        raise ParseError("A KEV entry is not a JSON object.")
    cve = str(item.get("cveID") or "").strip().upper()
    if not _CVE_ID.match(cve):
        raise ParseError(f"A KEV entry has no valid cveID ({cve[:40]!r}).")
    due = item.get("dueDate")
    cwes = item.get("cwes") or []
    return KevEntry(
        cve=cve,
        vendor=clean(str(item.get("vendorProject") or ""), 200),
        product=clean(str(item.get("product") or ""), 200),
        name=clean(str(item.get("vulnerabilityName") or ""), 500),
        date_added=_date(item.get("dateAdded"), "dateAdded", cve),
        due_date=_date(due, "dueDate", cve) if due else None,
        description=clean(str(item.get("shortDescription") or "")),
        required_action=clean(str(item.get("requiredAction") or "")),
        ransomware=str(item.get("knownRansomwareCampaignUse") or "").lower() == "known",
        notes=clean(str(item.get("notes") or "")),
        cwes=cwes_in(*[str(c) for c in cwes if isinstance(c, (str, int, Decimal))]),
    )

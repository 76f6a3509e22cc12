"""A CSV file mapped to findings: each row one finding, the columns named by a mapping
(our field -> the file's column) or, without one, recognised by name.

Recognised column names (case and blanks ignored) cover Tenable's and Greenbone's CSV
exports and plain spreadsheets: see ALIASES. Required: a title, a severity and a host or
URL. Severity is a word (critical, high, medium/moderate, low, info/none/log) or a 0-10
CVSS score. Pure module (no Django import).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo

from .model import (
    Asset,
    ParsedFinding,
    ParseError,
    Severity,
    asset_from_url,
    clean,
    cves_in,
    cwes_in,
    evidence,
    iso_time,
    prose,
    references_in,
    severity_from_score,
    severity_from_word,
    to_float,
    to_port,
    zone,
)
from .streams import Readable, read_head, text_lines

TOOL = "csv"
FIELDS = (
    "title",
    "severity",
    "host",
    "port",
    "protocol",
    "service",
    "url",
    "rule_id",
    "location",
    "cves",
    "cwes",
    "cvss_vector",
    "cvss_score",
    "description",
    "solution",
    "references",
    "evidence",
    "observed_at",
)
#: Column names recognised without a mapping (normalised: lower-case, no blanks/_/-).
ALIASES: dict[str, tuple[str, ...]] = {
    "title": ("title", "name", "pluginname", "nvtname", "vulnerability", "finding", "issue"),
    "severity": ("severity", "risk", "riskfactor", "threat", "level"),
    "host": ("host", "ip", "ipaddress", "hostname", "dnsname", "asset", "target"),
    "port": ("port",),
    "protocol": ("protocol", "portprotocol"),
    "service": ("service", "svcname"),
    "url": ("url", "uri", "endpoint"),
    "rule_id": ("ruleid", "plugin", "pluginid", "nvtoid", "id", "checkid"),
    "location": ("location", "parameter", "param", "path", "file"),
    "cves": ("cves", "cve", "cveid"),
    "cwes": ("cwes", "cwe", "cweid"),
    "cvss_vector": ("cvssvector", "cvssv3vector", "cvss3vector", "vector"),
    "cvss_score": ("cvssscore", "cvssv3basescore", "cvss3basescore", "cvss", "score"),
    "description": ("description", "summary", "details", "synopsis"),
    "solution": ("solution", "remediation", "recommendation", "fix"),
    "references": ("references", "reference", "seealso", "links"),
    "evidence": ("evidence", "plugintext", "pluginoutput", "specificresult", "output"),
    "observed_at": ("observedat", "lastobserved", "timestamp", "date", "seen"),
}
MAX_FIELD = 1024 * 1024


def _norm(name: str) -> str:
    return re.sub(r"[\s_\-./?]+", "", name.strip().lower())


def _columns(header: list[str], mapping: Mapping[str, str] | None) -> dict[str, int]:
    by_name = {_norm(name): index for index, name in enumerate(header)}
    columns: dict[str, int] = {}
    if mapping:
        unknown = sorted(set(mapping) - set(FIELDS))
        if unknown:
            raise ParseError(
                f"Unknown field(s) in the column mapping: {', '.join(unknown)}; "
                f"fields are {', '.join(FIELDS)}."
            )
        for field, column in mapping.items():
            if not column:
                continue
            if _norm(column) not in by_name:
                raise ParseError(
                    f"The CSV has no column {column!r} (mapped to {field}); its columns are: "
                    f"{', '.join(header)[:500]}."
                )
            columns[field] = by_name[_norm(column)]
    else:
        for field, names in ALIASES.items():
            for name in names:
                if name in by_name:
                    columns[field] = by_name[name]
                    break
    missing = [f for f in ("title", "severity") if f not in columns]
    if "host" not in columns and "url" not in columns:
        missing.append("host or url")
    if missing:
        raise ParseError(
            f"The CSV has no column for {', '.join(missing)}; map them to columns of the "
            f"file ({', '.join(header)[:500]})."
        )
    return columns


def _severity(value: str, line: int) -> Severity:
    word = severity_from_word(value)
    if word:
        return word
    score = severity_from_score(to_float(value))
    if score:
        return score
    raise ParseError(
        f"CSV line {line}: severity {value[:40]!r} is not critical, high, medium, low, info "
        "or a 0-10 score."
    )


def _when(value: str) -> datetime | None:
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return datetime.fromtimestamp(int(value), tz=UTC)
    when_zone: tzinfo = UTC
    words = value.rsplit(" ", 1)
    if len(words) == 2 and zone(words[1]):
        value, when_zone = words[0], zone(words[1]) or UTC
    for pattern in ("%b %d, %Y %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(value, pattern).replace(tzinfo=when_zone)
        except ValueError:
            continue
    return iso_time(value)


def recognised(header: list[str]) -> dict[str, str]:
    """The columns found by name without a mapping (our field -> the file's column)."""
    by_name = {_norm(name): name for name in header}
    found: dict[str, str] = {}
    for name, aliases in ALIASES.items():
        for alias in aliases:
            if alias in by_name:
                found[name] = by_name[alias]
                break
    return found


@dataclass
class Preview:
    """What a mapping makes of a CSV file's first rows, for the import page."""

    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    #: our field -> the file's column: the mapping given, else the columns recognised
    columns: dict[str, str] = field(default_factory=dict)
    findings: list[ParsedFinding] = field(default_factory=list)
    #: why the file or the mapping cannot be imported ("" when the rows read)
    error: str = ""


def preview(stream: Readable, mapping: Mapping[str, str] | None = None, limit: int = 5) -> Preview:
    """The header, the first `limit` rows as they are and as findings (gzip undone); the
    first problem in `error` instead of an exception."""
    result = Preview()
    try:
        _head, replay = read_head(stream)
        source = text_lines(replay)
        first = next(source, None)
        if first is None:
            raise ParseError("The CSV file is empty.")
        delimiter = max(",;\t", key=first.count)

        def lines() -> Iterator[str]:
            yield first
            yield from source

        reader = csv.reader(lines(), delimiter=delimiter)
        result.header = next(reader)
        for row in reader:
            if any(cell.strip() for cell in row):
                result.rows.append(row)
                if len(result.rows) >= limit:
                    break
        given = {k: v for k, v in (mapping or {}).items() if v}
        result.columns = dict(given) if given else recognised(result.header)
        columns = _columns(result.header, given or None)
        for number, row in enumerate(result.rows, start=2):
            result.findings.append(_finding(row, columns, number))
    except ParseError as exc:
        result.error = str(exc)
    except csv.Error as exc:
        result.error = f"CSV: {exc}."
    return result


def parse(stream: Readable, mapping: Mapping[str, str] | None = None) -> Iterator[ParsedFinding]:
    csv.field_size_limit(MAX_FIELD)
    source = text_lines(stream)
    first = next(source, None)
    if first is None:
        raise ParseError("The CSV file is empty.")
    delimiter = max(",;\t", key=first.count)

    def rows() -> Iterator[str]:
        yield first
        yield from source

    reader = csv.reader(rows(), delimiter=delimiter)
    try:
        header = next(reader)
        columns = _columns(header, mapping)
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            yield _finding(row, columns, reader.line_num)
    except csv.Error as exc:
        raise ParseError(f"CSV line {reader.line_num}: {exc}.") from None


def _finding(row: list[str], columns: dict[str, int], line: int) -> ParsedFinding:
    def get(field: str) -> str:
        index = columns.get(field)
        return row[index].strip() if index is not None and index < len(row) else ""

    title = clean(get("title"), 500)
    if not title:
        raise ParseError(f"CSV line {line}: the title is empty.")
    url = get("url")
    host = get("host").lower()
    if url and "://" in url:
        asset = asset_from_url(url, get("service").lower())
        if host:
            asset = Asset(host, asset.port, asset.protocol, asset.service, asset.url)
    else:
        protocol = get("protocol").lower()
        asset = Asset(
            host=host,
            port=to_port(get("port")),
            protocol=protocol if protocol in ("tcp", "udp") else "",
            service=get("service").lower(),
        )
    if not asset.host and not asset.url:
        raise ParseError(f"CSV line {line}: no host and no URL.")
    vector = get("cvss_vector")
    return ParsedFinding(
        tool=TOOL,
        rule_id=clean(get("rule_id"), 200) or title,
        title=title,
        severity=_severity(get("severity"), line),
        asset=asset,
        location=clean(get("location"), 2048),
        cves=cves_in(get("cves"), title),
        cwes=cwes_in(*re.split(r"[,;\s]+", get("cwes"))),
        cvss_vector=vector if vector.startswith(("CVSS:", "AV:", "(AV:")) else "",
        cvss_score=to_float(get("cvss_score")),
        description=prose(get("description")),
        solution=prose(get("solution")),
        references=references_in(get("references")),
        evidence=evidence(get("evidence")),
        observed_at=_when(get("observed_at")),
    )

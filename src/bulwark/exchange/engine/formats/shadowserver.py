"""Shadowserver report CSVs (https://www.shadowserver.org/what-we-do/network-reporting/).

Every report type of Shadowserver's published IntelMQ schema (`schemas/shadowserver-
intelmq.json`, data from https://github.com/The-Shadowserver-Foundation/report_schema),
mapped as that schema says: its constant classification, required and optional columns
with their conversions, and every other non-empty column under `extra.`. The report type
comes from the file name (`2026-11-20-scan_ntp-taiwan-geo.csv`, the names Shadowserver
sends), from `Context.report_type` (a report or feed name), or from the header: the
report whose columns the header matches best.

The conversions below are our own code, written from the schema's documented meaning.
"""

import base64
import binascii
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from socket import AF_INET, inet_pton
from typing import Any

import orjson

from bulwark.exchange.engine import fields as harmonised
from bulwark.exchange.engine.formats.base import Context, Item, Readable, ReportError, csv_rows

SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "shadowserver-intelmq.json"


class _Skip(ValueError):
    """A conversion could not read the value (IntelMQ would fail the line)."""


# --- the schema's conversion functions -------------------------------------------------


def _utc(value: str) -> Any:
    return harmonised.parse_time(value)


def _bool(value: str) -> Any:
    text = value.lower()
    if text in ("y", "yes", "true", "enabled", "1"):
        return True
    if text in ("n", "no", "false", "disabled", "0"):
        return False
    return None


def _none_if_blank(value: str) -> Any:
    return None if value in _BLANK else value


_BLANK = frozenset({"", "0", "unknown"})  # what validate_to_none reads as "none"
_IGNORED = frozenset(harmonised.IGNORED)


def _int(value: str) -> Any:
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise _Skip(value) from None


def _float(value: str) -> Any:
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise _Skip(value) from None


def _nonzero(value: str) -> Any:
    number = _int(value)
    return number if number else None


_NO_ADDRESS = ".".join("0000")  # Shadowserver's "no address"


def _ip(value: str) -> Any:
    if not value or value == _NO_ADDRESS or "/" in value:
        return None
    try:
        return harmonised.ip_address(value)
    except harmonised.BadValue:
        return None


def _malformed_ip(value: str) -> bool:
    """Neither an address, nor a network (blocklists name CIDRs in `ip`), nor 0.0.0.0 or
    empty, which Shadowserver writes for "none"."""
    return bool(value) and value != _NO_ADDRESS and _ip(value) is None and _network(value) is None


def _network(value: str) -> Any:
    if "/" not in value:
        return None
    try:
        return harmonised.sanitize("source.network", value)
    except harmonised.BadValue:
        return None


def _fqdn(value: str) -> Any:
    if not value:
        return None
    try:
        return harmonised.sanitize("source.fqdn", value)
    except harmonised.BadValue:
        return None


def _date(value: str) -> Any:
    if not value:
        return None
    try:
        return harmonised.parse_time(value)
    except harmonised.BadValue:
        raise _Skip(value) from None


def _base64(value: str) -> Any:
    if not value:
        return None
    try:
        base64.b64decode(value, validate=True)
    except binascii.Error:
        return base64.b64encode(value.encode()).decode()
    return value


_CVE = re.compile(r"\Acve-[0-9]+-[0-9]+\Z")


def _cves(value: str) -> Any:
    found = sorted({t for t in value.split(";") if _CVE.match(t)})
    return ";".join(found) or None


def _exchange_taxonomy(value: str) -> Any:
    return "intrusions" if "webshell" in value else "vulnerable"


def _exchange_type(value: str) -> Any:
    return "system-compromise" if "webshell" in value else "vulnerable-system"


def _exchange_identifier(value: str) -> Any:
    return "exchange-server-webshell" if "webshell" in value else "vulnerable-exchange-server"


def _host_and_url(value: str, row: dict[str, str]) -> Any:
    """A full URL from the host column (cc_dns, http_host, hostname or ip, the first
    non-empty) and the path column (url or http_url, which may hold the whole request
    line), with the report's application as scheme if it is http or https."""
    host = row.get("cc_dns") or row.get("http_host") or row.get("hostname") or row.get("ip")
    path = row.get("url") if "url" in row else row.get("http_url", "")
    if host and path:
        path = re.sub(r"\s.*\Z", "", re.sub(r"\A[^/]*", "", path, count=1), flags=re.S)
        scheme = row.get("application") if row.get("application") in ("http", "https") else "http"
        return f"{scheme}://{host}{path}"
    return value


def _category_or_detail(value: str, row: dict[str, str]) -> Any:
    return row.get("category") or row.get("detail", "")


CONVERSIONS: dict[str, Callable[..., Any]] = {
    "add_UTC_to_timestamp": _utc, "convert_bool": _bool, "validate_to_none": _none_if_blank,
    "convert_int": _int, "convert_float": _float, "invalidate_zero": _nonzero,
    "validate_ip": _ip, "validate_network": _network, "validate_fqdn": _fqdn,
    "convert_date": _date, "convert_date_utc": _date, "force_base64": _base64,
    "extract_cve_from_tag": _cves, "scan_exchange_taxonomy": _exchange_taxonomy,
    "scan_exchange_type": _exchange_type, "scan_exchange_identifier": _exchange_identifier,
    "convert_http_host_and_url": _host_and_url, "category_or_detail": _category_or_detail,
}  # fmt: skip
NEEDS_ROW = frozenset({"convert_http_host_and_url", "category_or_detail"})

# --- the schema -------------------------------------------------------------------------

_SCHEMA: dict[str, dict[str, Any]] = {}
_BY_NAME: dict[str, str] = {}


def schema() -> dict[str, dict[str, Any]]:
    """Report type (Shadowserver's file name) -> its entry in the schema; loaded once."""
    if not _SCHEMA:
        data = orjson.loads(SCHEMA_PATH.read_bytes())
        for name, entry in data.items():
            if name != "_meta":
                _SCHEMA[entry.get("file_name") or name] = entry
        for name, entry in _SCHEMA.items():
            _BY_NAME[name.lower()] = name
            _BY_NAME[str(entry.get("feed_name", "")).lower()] = name
    return _SCHEMA


def documentation_url(kind: str) -> str:
    """The report type's page at Shadowserver (IntelMQ's feed.documentation)."""
    return str(schema().get(kind, {}).get("url") or "")


def schema_date() -> str:
    return str(orjson.loads(SCHEMA_PATH.read_bytes()).get("_meta", {}).get("date_created", ""))


def columns_of(entry: dict[str, Any]) -> tuple[set[str], set[str]]:
    required = {f[1] for f in entry["required_fields"]}
    return required, required | {f[1] for f in entry["optional_fields"]}


# A report name in a file name: Shadowserver's `YYYY-MM-DD-<report>-<details>.csv`, or
# with no details (`2019-01-01-event4_sinkhole.csv`), or no date.
_NAME = re.compile(r"(?:\A|[/\\])(?:\d{4}-\d{2}-\d{2}-)?([a-z0-9_]+)(?:-[^/\\]*)?\.csv\Z", re.I)
_DATED = re.compile(r"(?:\A|[/\\])\d{4}-\d{2}-\d{2}-[a-z0-9_]+(?:-[^/\\]*)?\.csv\Z", re.I)


def _from_name(file_name: str) -> str:
    match = _NAME.search(file_name)
    if match:
        return _BY_NAME.get(match.group(1).lower(), "")
    return ""


_COMMON = {"event4_sinkhole": 2, "event4_sinkhole_http": 1}


def report_type(file_name: str, header: list[str]) -> str:
    """The schema's report type for a file: by its name, else by its header's columns
    (all required columns present, then the most columns in common, the fewest the
    header lacks)."""
    reports = schema()
    found = _from_name(file_name)
    if found:
        return found
    columns = {c.strip().lower() for c in header if c}
    best, best_score = "", (0.0, 0, 0.0, False)
    for name, entry in reports.items():
        required, known = columns_of(entry)
        if not required <= columns:
            continue
        common = len(columns & known - {"timestamp"})
        # the share of the header the report explains; between reports that explain as
        # much, the most common (the sinkhole reports share their layout with the
        # honeypot ones), then the share of the report the header has, and between
        # twins (scan_ntp / scan6_ntp) the IPv4 one
        score = (common / len(columns), _COMMON.get(name, 0), common / len(known), "6" not in name)
        if common and score > best_score:
            best, best_score = name, score
    if best and best_score[0] >= 0.5 and len(columns) > 2:
        return best
    raise ReportError(
        "Cannot tell which Shadowserver report this is: keep Shadowserver's file name "
        "(YYYY-MM-DD-<report>-<region>.csv, e.g. 2026-11-20-scan_ntp-taiwan-geo.csv)."
    )


def looks_like(file_name: str, head: bytes) -> bool:
    schema()
    if _DATED.search(file_name) and _from_name(file_name):
        return True
    first = head.split(b"\n", 1)[0].strip().lower()
    if not first.startswith((b'"timestamp"', b"timestamp,")):
        return False
    header = [c.strip().strip('"') for c in first.decode("utf-8", "replace").split(",")]
    try:
        report_type("", header)
    except ReportError:
        return False
    return True


# --- the per-file plan ------------------------------------------------------------------

# (field, "" for extra or "-" to ignore; "extra.<name>"; column index; conversion; whether
# it reads the whole row; the field's check; what it made of each value seen, or None)
_Step = tuple[str, str, int, Any, bool, Any, dict[str, tuple[Any, Any]] | None]


class _Plan:
    def __init__(self, entry: dict[str, Any], header: list[str]) -> None:
        index: dict[str, int] = {}
        for i, column in enumerate(header):
            if column and column not in index:
                index[column] = i
        self.width = len(header)
        self.header = header
        self.required: list[_Step] = []
        self.optional: list[_Step] = []
        present = [f for f in entry["required_fields"] if f[1] in index]
        if not present or "timestamp" not in index:
            missing = [f[1] for f in entry["required_fields"] if f[1] not in index]
            raise ReportError(
                f"The header lacks the column(s) {', '.join(missing)} that Shadowserver's "
                f"{entry.get('file_name')} report always has: is this the right report type?"
            )
        # A required column the header lacks (older layouts of a report) is read as empty.
        for item in present:
            self.required.append(self._step(item, index[item[1]]))
        for item in entry["optional_fields"]:
            if item[1] in index:
                self.optional.append(self._step(item, index[item[1]]))
        self.constants = {}
        for key, value in entry.get("constant_fields", {}).items():
            check = harmonised.checker(key)
            if value not in (None, "") and check is not None:
                self.constants[key] = check(value)
            elif value not in (None, ""):
                self.constants["extra." + key] = value
        self.needs_row = any(s[4] for s in self.required + self.optional)
        self.mapped = sorted({s[2] for s in self.required + self.optional})
        mapped = set(self.mapped)
        self.rest = [(i, "extra." + c) for i, c in enumerate(header) if c and i not in mapped]
        # Steps that only copy a text (to extra, or to a text field no other step fills)
        # unless it means "none": done inline, without the per-value memo.
        targets = [s[0] for s in self.optional + self.required if s[0] not in ("", "-")]
        self.simple: list[tuple[int, str, frozenset[str]]] = []
        rest: list[_Step] = []
        for step in self.optional:
            key, extra_key, at, conversion, needs_row, check, _memo = step
            blank = _BLANK if conversion is _none_if_blank else frozenset()
            if key == "-" and conversion is None:
                continue  # ignored column
            if conversion not in (None, _none_if_blank) or needs_row:
                rest.append(step)
            elif key == "":
                self.simple.append((at, extra_key, blank))
            elif check is harmonised.text and targets.count(key) == 1:
                self.simple.append((at, key, blank | _IGNORED))
            else:
                rest.append(step)
        self.optional = rest
        self.memo_steps = [(s, s[2], s[6].get if s[6] is not None else None) for s in rest]

    @staticmethod
    def _step(item: list[Any], column: int) -> _Step:
        key = item[0] or ""
        name = str(item[1])
        conversion = CONVERSIONS.get(item[2]) if len(item) > 2 and item[2] else None
        needs_row = len(item) > 2 and item[2] in NEEDS_ROW
        memo: dict[str, tuple[Any, Any]] | None = None if needs_row else {}
        if not key:
            return ("-", "", column, conversion, needs_row, None, memo)  # column ignored
        if key == "extra.":
            return ("", "extra." + name, column, conversion, needs_row, None, memo)
        if key.startswith("extra."):
            return ("", key, column, conversion, needs_row, None, memo)
        check = harmonised.checker(key)
        if check is None:  # not a harmonised field: IntelMQ keeps it in extra by its name
            return ("", "extra." + key, column, conversion, needs_row, None, memo)
        if (conversion, harmonised.TYPES[key]) in _CANONICAL:
            check = _same  # the conversion gave the field's canonical form already
        return (key, "", column, conversion, needs_row, check, memo)

    def apply(
        self, row: list[str], fixed: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any] | None, str]:
        """The event for one row, or (None, why the row is refused). What a step makes of
        a value is remembered per step (reports repeat countries, cities, tags, ports...),
        up to _MEMO values each: (the key it goes to, or None, _UNUSED or _ERROR; value)."""
        if len(row) < self.width:  # one column short: read as empty
            row = row + [""] * (self.width - len(row))
        whole = dict(zip(self.header, row, strict=False)) if self.needs_row else None
        event: dict[str, Any] = {}
        unused: list[int] | None = None
        for step in self.required:
            raw = row[step[2]]
            if step[3] is _ip and step[0]:  # the address: nearly every value is new
                try:
                    inet_pton(AF_INET, raw)
                    event[step[0]] = raw
                    continue
                except OSError:
                    pass  # IPv6, a network, or not an address: the general way
            memo = step[6]
            found = memo.get(raw) if memo is not None else None
            if found is None:
                found = _required(step, raw, whole)
                if memo is not None and len(memo) < _MEMO:
                    memo[raw] = found
            target = found[0]
            if target is None:
                continue
            if target is _ERROR:
                return None, found[1]
            event[target] = found[1]
        for column, target, blank in self.simple:
            raw = row[column]
            if raw not in blank:
                event[target] = raw
        for step, column, recall in self.memo_steps:
            raw = row[column]
            found = recall(raw) if recall is not None else None
            if found is None:
                found = _optional(step, raw, whole)
                memo = step[6]
                if memo is not None and len(memo) < _MEMO:
                    memo[raw] = found
            target = found[0]
            if target is None:
                continue
            if target is _UNUSED or target in event:  # did not fit, or an earlier column
                unused = (unused or []) + [column]  # filled it: goes to extra, below
            else:
                event[target] = found[1]
        event.update(self.constants if fixed is None else fixed)
        for column, name in self.rest:
            if row[column]:
                event[name] = row[column]
        if unused:  # a mapped column whose value did not fit its field
            header = self.header
            for column in unused:
                if row[column]:
                    event.setdefault("extra." + header[column], row[column])
        return event, ""


def _same(value: Any) -> Any:
    return value


_CANONICAL = {
    (_utc, "DateTime"), (_date, "DateTime"), (_ip, "IPAddress"), (_network, "IPNetwork"),
    (_fqdn, "FQDN"),
}  # fmt: skip
_UNUSED = "<unused>"  # markers: compared by identity, never a key of an event
_ERROR = "<error>"
_MEMO = 4096


def _convert(step: _Step, raw: str, whole: dict[str, str] | None) -> Any:
    conversion = step[3]
    if conversion is None:
        return raw
    return conversion(raw, whole or {}) if step[4] else conversion(raw)


def _required(step: _Step, raw: str, whole: dict[str, str] | None) -> tuple[str | None, Any]:
    key = step[0]
    try:
        value = _convert(step, raw, whole)
    except (_Skip, harmonised.BadValue):
        return _ERROR, f"{key or step[1]} {raw[:80]!r} cannot be read"
    if value is None and key == "source.ip" and _malformed_ip(raw):
        return _ERROR, f"{raw[:80]!r} is not an IPv4 or IPv6 address"
    if value is None or (type(value) is str and value in harmonised.IGNORED) or key == "-":
        return None, None
    if not key:
        return step[1], value
    try:
        return key, step[5](value)
    except harmonised.BadValue as exc:
        return _ERROR, f"{key} {raw[:80]!r}: {exc}"


def _optional(step: _Step, raw: str, whole: dict[str, str] | None) -> tuple[str | None, Any]:
    key = step[0]
    try:
        value = _convert(step, raw, whole)
    except (_Skip, harmonised.BadValue):
        return _UNUSED, None  # kept under extra by its column name
    if value is None:
        return None, None
    if not key:
        return step[1], value
    if key == "-" or (type(value) is str and value in harmonised.IGNORED):
        return None, None
    try:
        return key, step[5](value)
    except harmonised.BadValue:
        return _UNUSED, None  # not a valid value for the field: the column goes to extra


_PLANS: dict[tuple[str, tuple[str, ...]], _Plan] = {}


def plan(kind: str, header: list[str]) -> _Plan:
    key = (kind, tuple(header))
    found = _PLANS.get(key)
    if found is None:
        found = _Plan(schema()[kind], header)
        if len(_PLANS) > 256:
            _PLANS.clear()
        _PLANS[key] = found
    return found


def parse(stream: Readable, ctx: Context) -> Iterator[Item]:
    rows = csv_rows(stream, strict=False)  # as Python's csv (and IntelMQ) reads them
    header: list[str] | None = None
    for number, row, raw, error in rows:
        if error:
            if header is None and row is None and number == 1:
                raise ReportError(f"The header line is unreadable: {error}.")
            yield Item(number, raw, error=error)
            continue
        assert row is not None
        if header is None:
            header = [c.strip().lower() for c in row]
            if "timestamp" not in header:
                raise ReportError("This is not a Shadowserver report: no 'timestamp' column.")
            break
    if header is None:
        raise ReportError("The report is empty (no header line).")
    schema()
    kind = _BY_NAME.get(ctx.report_type.lower(), "") if ctx.report_type else ""
    if not kind and ctx.feed.lower().startswith("shadowserver-"):  # --feed names the report
        kind = _BY_NAME.get(ctx.feed.lower().removeprefix("shadowserver-"), "")
    kind = kind or report_type(ctx.file_name, header)
    ctx.report_type = kind
    ctx.provider = ctx.provider or "Shadowserver"
    steps = plan(kind, header)
    width = steps.width
    # The report's constants and the feed, set on every event at once. The report's page
    # at Shadowserver (IntelMQ's feed.documentation) is not copied into every event: it
    # is one per report type, in the schema (`documentation_url`).
    fixed = {**steps.constants, "feed.name": ctx.feed or f"shadowserver-{kind}"}
    fixed["feed.provider"] = ctx.provider
    for number, row, raw, error in rows:
        if error:
            yield Item(number, raw, error=error)
            continue
        assert row is not None
        if len(row) != width and not (len(row) == width - 1 and width > 1):
            # One column short is read (the last, empty, column lost its comma, as in
            # several of Shadowserver's files); fewer is a cut line, refused.
            yield Item(number, raw, error=f"{len(row)} columns, the header has {width}")
            continue
        fields, problem = steps.apply(row, fixed)
        if fields is None:
            yield Item(number, raw, error=problem)
            continue
        yield Item(number, raw, fields)

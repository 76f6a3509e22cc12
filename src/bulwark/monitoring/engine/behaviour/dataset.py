"""Reading Zeek (JSON and TSV: conn, dns, http, ssl) and Suricata EVE (flow, dns, tls,
http) logs into the columns the detectors need. Other logs are refused with a clear
error; bad lines are counted and reported with their line number, never fatal."""

import datetime as dt
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt
import orjson

from bulwark.monitoring.engine.formats import detect_format

SUPPORTED = (
    "zeek-conn-json", "zeek-dns-json", "zeek-http-json", "zeek-ssl-json",
    "zeek-conn-tsv", "zeek-dns-tsv", "zeek-http-tsv", "zeek-ssl-tsv", "suricata-eve",
)  # fmt: skip
MAX_LINE = 1 << 20


class LogError(ValueError):
    """A log that cannot be read at all (unknown or unsupported format); for the user."""


@dataclass
class Conns:
    ts: list[float] = field(default_factory=list)
    src: list[str] = field(default_factory=list)
    dst: list[str] = field(default_factory=list)
    dport: list[int] = field(default_factory=list)
    proto: list[str] = field(default_factory=list)
    duration: list[float] = field(default_factory=list)
    obytes: list[int] = field(default_factory=list)
    rbytes: list[int] = field(default_factory=list)
    state: list[str] = field(default_factory=list)
    uid: list[str] = field(default_factory=list)
    agency: list[str] = field(default_factory=list)
    ref: list[int] = field(default_factory=list)


@dataclass
class Queries:
    ts: list[float] = field(default_factory=list)
    src: list[str] = field(default_factory=list)
    query: list[str] = field(default_factory=list)
    qtype: list[str] = field(default_factory=list)
    nx: list[bool] = field(default_factory=list)
    counted: list[bool] = field(default_factory=list)  # False: an EVE answer (rcode only)
    agency: list[str] = field(default_factory=list)
    ref: list[int] = field(default_factory=list)


@dataclass
class Names:
    """Names a host contacted over TLS (SNI) or HTTP (Host), with the TLS details."""

    ts: list[float] = field(default_factory=list)
    src: list[str] = field(default_factory=list)
    dst: list[str] = field(default_factory=list)
    name: list[str] = field(default_factory=list)
    ja3: list[str] = field(default_factory=list)
    ja4: list[str] = field(default_factory=list)
    issuer: list[str] = field(default_factory=list)
    agency: list[str] = field(default_factory=list)
    ref: list[int] = field(default_factory=list)


# The DuckDB tables (the default engine, docs/architecture.md "Behavioural detection
# engine"): the same columns as the Python lists above.
TABLES = {
    "conn": "ts DOUBLE, src VARCHAR, dst VARCHAR, dport BIGINT, proto VARCHAR, duration DOUBLE, "
    "obytes BIGINT, rbytes BIGINT, state VARCHAR, uid VARCHAR, agency VARCHAR, ref BIGINT",
    "queries": "ts DOUBLE, src VARCHAR, query VARCHAR, qtype VARCHAR, nx BOOLEAN, "
    "counted BOOLEAN, agency VARCHAR, ref BIGINT",
    "names": "ts DOUBLE, src VARCHAR, dst VARCHAR, name VARCHAR, ja3 VARCHAR, ja4 VARCHAR, "
    "issuer VARCHAR, agency VARCHAR, ref BIGINT",
}
# Zeek JSON read by DuckDB's read_json straight into those tables (no Python per record)
_JSON_COLUMNS = {
    "conn": {"ts": "DOUBLE", "id.orig_h": "VARCHAR", "id.resp_h": "VARCHAR",
             "id.resp_p": "BIGINT", "proto": "VARCHAR", "duration": "DOUBLE",
             "orig_bytes": "BIGINT", "resp_bytes": "BIGINT", "conn_state": "VARCHAR",
             "uid": "VARCHAR"},
    "dns": {"ts": "DOUBLE", "id.orig_h": "VARCHAR", "query": "VARCHAR",
            "qtype_name": "VARCHAR", "rcode_name": "VARCHAR", "rcode": "BIGINT"},
    "ssl": {"ts": "DOUBLE", "id.orig_h": "VARCHAR", "id.resp_h": "VARCHAR",
            "server_name": "VARCHAR", "ja3": "VARCHAR", "ja4": "VARCHAR", "issuer": "VARCHAR"},
    "http": {"ts": "DOUBLE", "id.orig_h": "VARCHAR", "id.resp_h": "VARCHAR", "host": "VARCHAR"},
}  # fmt: skip
# ... normalised as the Python reader does, one table per file (its rowid is the line)
_JSON_SELECT = {
    "conn": """ts, "id.orig_h" AS src, coalesce("id.resp_h", '') AS dst,
        coalesce("id.resp_p", 0) AS dport, coalesce(proto, '') AS proto,
        coalesce(duration, 0) AS duration, coalesce(orig_bytes, 0) AS obytes,
        coalesce(resp_bytes, 0) AS rbytes, coalesce(conn_state, '') AS state,
        coalesce(uid, '') AS uid""",
    "dns": """ts, "id.orig_h" AS src, rtrim(lower(coalesce(query, '')), '.') AS query,
        coalesce(qtype_name, '') AS qtype,
        coalesce(rcode_name = 'NXDOMAIN', rcode = 3, false) AS nx, true AS counted""",
    "ssl": """ts, "id.orig_h" AS src, coalesce("id.resp_h", '') AS dst,
        lower(coalesce(server_name, '')) AS name, coalesce(ja3, '') AS ja3,
        coalesce(ja4, '') AS ja4, coalesce(issuer, '') AS issuer""",
    "http": """ts, "id.orig_h" AS src, coalesce("id.resp_h", '') AS dst,
        lower(coalesce(host, '')) AS name, '' AS ja3, '' AS ja4, '' AS issuer""",
}
_TABLE_OF_LOG = {"conn": "conn", "dns": "queries", "ssl": "names", "http": "names"}


@dataclass
class Dataset:
    files: list[str] = field(default_factory=list)
    conns: Conns = field(default_factory=Conns)
    queries: Queries = field(default_factory=Queries)
    names: Names = field(default_factory=Names)
    lines: int = 0
    bad: list[tuple[str, int, str]] = field(default_factory=list)
    bad_count: int = 0
    formats: dict[str, str] = field(default_factory=dict)
    # DuckDB: records read by read_json (`direct`) and the Python lists copied over
    db: duckdb.DuckDBPyConnection | None = None
    direct: bool = False  # some records exist only in DuckDB (not in the lists)
    copied: dict[str, int] = field(default_factory=dict)  # list rows already in DuckDB
    # table -> (DuckDB table of one file, file index)
    direct_tables: dict[str, list[tuple[str, int]]] = field(default_factory=dict)

    def tables(self) -> duckdb.DuckDBPyConnection:
        """The in-process DuckDB database of this dataset (created on first use)."""
        if self.db is None:
            self.db = duckdb.connect(":memory:")
            # BULWARK_BEHAVIOUR_THREADS (default: the CPU count) and
            # BULWARK_BEHAVIOUR_MEMORY_LIMIT (e.g. 3GB; default DuckDB's, 80 % of RAM): past
            # the limit DuckDB spills to BULWARK_BEHAVIOUR_TEMP_DIR (default the system's)
            threads = os.environ.get("BULWARK_BEHAVIOUR_THREADS", "")
            if threads.isdigit() and int(threads) > 0:
                self.db.execute(f"SET threads = {int(threads)}")
            limit = os.environ.get("BULWARK_BEHAVIOUR_MEMORY_LIMIT", "")
            if limit:
                try:
                    self.db.execute("SET memory_limit = ?", [limit])
                except duckdb.Error:
                    raise LogError(
                        f"BULWARK_BEHAVIOUR_MEMORY_LIMIT={limit!r}: not a size"
                    ) from None
            temp = os.environ.get("BULWARK_BEHAVIOUR_TEMP_DIR") or tempfile.gettempdir()
            self.db.execute(
                "SET temp_directory = ?", [os.path.join(temp, f"bulwark-duckdb-{os.getpid()}")]
            )
            for name, columns in TABLES.items():
                self.db.execute(f"CREATE TABLE {name}_py ({columns})")
            self._views()
        return self.db

    def _views(self) -> None:
        """`conn`, `queries`, `names`: the Python lists' rows and every file DuckDB read
        (its agency, and its file and line as `ref`)."""
        assert self.db is not None
        for name in TABLES:
            parts = [f"SELECT * FROM {name}_py"]  # noqa: S608 (constants only)
            for table, index in self.direct_tables.get(name, []):
                keep = " WHERE query <> ''" if name == "queries" else ""
                parts.append(f"SELECT *, {index << 32} + rowid + 1 AS ref FROM {table}{keep}")  # noqa: S608 (constants only)
            union = " UNION ALL ".join(parts)
            self.db.execute(f"CREATE OR REPLACE VIEW {name} AS {union}")

    def flush(self) -> duckdb.DuckDBPyConnection:
        """Every record in DuckDB: the Python lists' rows not copied yet are appended."""
        con = self.tables()
        for name, part in (("conn", self.conns), ("queries", self.queries),
                           ("names", self.names)):  # fmt: skip
            columns: dict[str, list[Any]] = part.__dict__
            done = self.copied.get(name, 0)
            total = len(part.ts)
            if total > done:
                types = [c.split()[1] for c in TABLES[name].split(", ")]
                batch: dict[str, npt.NDArray[Any]] = {  # numpy columns: DuckDB scans them
                    key: np.asarray(
                        values[done:total],
                        dtype={"DOUBLE": np.float64, "BIGINT": np.int64, "BOOLEAN": np.bool_}.get(
                            kind, object
                        ),
                    )
                    for (key, values), kind in zip(columns.items(), types, strict=True)
                }
                con.register("batch", batch)
                con.execute(f"INSERT INTO {name}_py SELECT * FROM batch")  # noqa: S608 (constants only)
                con.unregister("batch")
                self.copied[name] = total
        return con

    def counts(self) -> dict[str, int]:
        """Records per table: connections, DNS queries, TLS/HTTP names."""
        if not self.direct:
            return {"conn": len(self.conns.ts), "queries": len(self.queries.ts),
                    "names": len(self.names.ts)}  # fmt: skip
        con = self.flush()
        out = {}
        for name in TABLES:
            row = con.execute(f"SELECT count(*) FROM {name}").fetchone()  # noqa: S608 (constants only)
            out[name] = int(row[0]) if row else 0
        return out

    def time_range(self) -> tuple[float, float]:
        """First and last record time (0, 0 when empty)."""
        if not self.direct:
            stamps = self.conns.ts + self.queries.ts + self.names.ts
            return (min(stamps), max(stamps)) if stamps else (0.0, 0.0)
        row = (
            self.flush()
            .execute(
                "SELECT min(ts), max(ts) FROM (SELECT ts FROM conn UNION ALL SELECT ts FROM queries"
                " UNION ALL SELECT ts FROM names)"
            )
            .fetchone()
        )
        if not row or row[0] is None:
            return 0.0, 0.0
        return float(row[0]), float(row[1])

    def where(self, ref: int) -> str:
        """`file:line` of a record, for the evidence's links to the raw lines."""
        return f"{self.files[ref >> 32]}:{ref & 0xFFFFFFFF}"

    def add_bad(self, path: str, number: int, reason: str) -> None:
        self.bad_count += 1
        if len(self.bad) < 50:
            self.bad.append((path, number, reason))


def _ts(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
        text = value.replace("Z", "+00:00")
        if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
            text = text[:-2] + ":" + text[-2:]  # Suricata's +0000
        try:
            stamp = dt.datetime.fromisoformat(text)
        except ValueError:
            return None
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=dt.UTC)
        return stamp.timestamp()
    return None


def _num(value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return 0.0
    return 0.0


def _str(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and isinstance(value[0], str):
        return value[0]
    return "" if value is None else str(value)


def _flat(obj: dict[str, Any]) -> dict[str, Any]:
    """Zeek JSON is flat (`id.orig_h`) or nested (`{"id": {"orig_h": ...}}`)."""
    ident = obj.get("id")
    if isinstance(ident, dict):
        for key, value in ident.items():
            obj["id." + key] = value
    return obj


class _Reader:
    def __init__(
        self, data: Dataset, path: str, fmt: str, agency: str, since: float | None = None
    ) -> None:
        self.data, self.path, self.fmt, self.agency = data, path, fmt, agency
        self.since = since  # records before this time are left out (rolling windows)
        self.file_index = len(data.files)
        data.files.append(path)
        data.formats[path] = fmt
        self.log = fmt.split("-")[1] if fmt.startswith("zeek-") else ""

    def zeek(self, rec: dict[str, Any], ref: int) -> None:
        ts = _ts(rec.get("ts"))
        src = _str(rec.get("id.orig_h"))
        if ts is None or not src:
            raise ValueError("no ts or id.orig_h")
        if self.since is not None and ts < self.since:
            return
        dst = _str(rec.get("id.resp_h"))
        d, agency = self.data, self.agency
        if self.log == "conn":
            c = d.conns
            c.ts.append(ts)
            c.src.append(src)
            c.dst.append(dst)
            c.dport.append(int(_num(rec.get("id.resp_p"))))
            c.proto.append(_str(rec.get("proto")))
            c.duration.append(_num(rec.get("duration")))
            c.obytes.append(int(_num(rec.get("orig_bytes"))))
            c.rbytes.append(int(_num(rec.get("resp_bytes"))))
            c.state.append(_str(rec.get("conn_state")))
            c.uid.append(_str(rec.get("uid")))
            c.agency.append(agency)
            c.ref.append(ref)
        elif self.log == "dns":
            query = _str(rec.get("query"))
            if not query:
                return
            rcode = rec.get("rcode_name")
            nx = rcode == "NXDOMAIN" or (rcode is None and rec.get("rcode") == 3)
            self._query(ts, src, query, _str(rec.get("qtype_name")), nx, True, ref)
        else:
            name = _str(rec.get("server_name") if self.log == "ssl" else rec.get("host"))
            n = d.names
            n.ts.append(ts)
            n.src.append(src)
            n.dst.append(dst)
            n.name.append(name.lower())
            n.ja3.append(_str(rec.get("ja3")))
            n.ja4.append(_str(rec.get("ja4")))
            n.issuer.append(_str(rec.get("issuer")))
            n.agency.append(agency)
            n.ref.append(ref)

    def _query(self, ts: float, src: str, query: str, qtype: str, nx: bool, counted: bool,
               ref: int) -> None:  # fmt: skip
        q = self.data.queries
        q.ts.append(ts)
        q.src.append(src)
        q.query.append(query.lower().rstrip("."))
        q.qtype.append(qtype)
        q.nx.append(nx)
        q.counted.append(counted)
        q.agency.append(self.agency)
        q.ref.append(ref)

    def eve(self, rec: dict[str, Any], ref: int) -> None:
        kind = rec.get("event_type")
        ts = _ts(rec.get("timestamp"))
        if self.since is not None and ts is not None and ts < self.since:
            return
        src = _str(rec.get("src_ip"))
        dst = _str(rec.get("dest_ip"))
        if kind == "flow":
            flow = rec.get("flow") if isinstance(rec.get("flow"), dict) else {}
            assert isinstance(flow, dict)
            start = _ts(flow.get("start"))
            ts = start if start is not None else ts
            if ts is None or not src:
                raise ValueError("flow without timestamp or src_ip")
            end = _ts(flow.get("end"))
            duration = _num(flow.get("age")) if end is None else max(0.0, end - ts)
            c = self.data.conns
            c.ts.append(ts)
            c.src.append(src)
            c.dst.append(dst)
            c.dport.append(int(_num(rec.get("dest_port"))))
            c.proto.append(_str(rec.get("proto")).lower())
            c.duration.append(duration)
            c.obytes.append(int(_num(flow.get("bytes_toserver"))))
            c.rbytes.append(int(_num(flow.get("bytes_toclient"))))
            c.state.append(_str(flow.get("state")))
            c.uid.append(_str(rec.get("flow_id")))
            c.agency.append(self.agency)
            c.ref.append(ref)
        elif kind == "dns" and isinstance(rec.get("dns"), dict):
            dns: dict[str, Any] = rec["dns"]
            if ts is None or not src:
                raise ValueError("dns without timestamp or src_ip")
            typ = dns.get("type")
            name, qtype = _str(dns.get("rrname")), _str(dns.get("rrtype"))
            queries = dns.get("queries")
            if not name and isinstance(queries, list) and queries and isinstance(queries[0], dict):
                name, qtype = _str(queries[0].get("rrname")), _str(queries[0].get("rrtype"))
            if not name:
                return
            if typ in ("query", "request"):
                self._query(ts, src, name, qtype, False, True, ref)
            elif dns.get("rcode") == "NXDOMAIN":
                # an answer goes back to the client: the client is dest_ip
                self._query(ts, dst or src, name, qtype, True, False, ref)
        elif kind in ("tls", "http"):
            if ts is None or not src:
                raise ValueError(f"{kind} without timestamp or src_ip")
            section = rec.get(kind)
            sec: dict[str, Any] = section if isinstance(section, dict) else {}
            name = _str(sec.get("sni") if kind == "tls" else sec.get("hostname"))
            ja3 = sec.get("ja3")
            n = self.data.names
            n.ts.append(ts)
            n.src.append(src)
            n.dst.append(dst)
            n.name.append(name.lower())
            n.ja3.append(_str(ja3.get("hash")) if isinstance(ja3, dict) else "")
            n.ja4.append(_str(sec.get("ja4")))
            n.issuer.append(_str(sec.get("issuerdn")))
            n.agency.append(self.agency)
            n.ref.append(ref)

    def read(self, lines: Iterable[bytes]) -> None:
        data = self.data
        base = self.file_index << 32
        tsv = self.fmt.endswith("-tsv")
        sep, unset, fields = b"\t", b"-", list[bytes]()
        handle = self.eve if self.fmt == "suricata-eve" else self.zeek
        for number, line in enumerate(lines, 1):
            line = line.rstrip(b"\r\n")
            if not line.strip():
                continue
            if tsv and line.startswith(b"#"):
                key, _, value = line.partition(b" " if line.startswith(b"#separator") else b"\t")
                if key == b"#separator":
                    sep = value.decode("unicode_escape").encode()
                elif key == b"#unset_field":
                    unset = value
                elif key == b"#fields":
                    fields = value.split(sep)
                continue
            data.lines += 1
            if len(line) > MAX_LINE:
                data.add_bad(self.path, number, "line longer than 1 MB")
                continue
            try:
                if tsv:
                    if not fields:
                        raise ValueError("data before the #fields header")
                    parts = line.split(sep)
                    if len(parts) != len(fields):
                        raise ValueError(f"{len(parts)} columns, the header names {len(fields)}")
                    rec = {
                        k.decode(): (None if v == unset else v.decode("utf-8", "replace"))
                        for k, v in zip(fields, parts, strict=True)
                    }
                else:
                    obj = orjson.loads(line)
                    if not isinstance(obj, dict):
                        raise ValueError("not a JSON object")
                    rec = obj if self.fmt == "suricata-eve" else _flat(obj)
                handle(rec, base | number)
            except (ValueError, TypeError, orjson.JSONDecodeError) as exc:
                data.add_bad(self.path, number, str(exc)[:200] or type(exc).__name__)


def _newlines(path: str) -> int:
    """Lines in a file (a last line without its newline counted)."""
    count, last = 0, b"\n"
    with open(path, "rb") as handle:
        while chunk := handle.read(4 << 20):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (last != b"\n")


def _read_json_direct(data: Dataset, path: str, fmt: str, agency: str) -> bool:
    """A flat Zeek JSON log read by DuckDB's read_json into the tables, each record keeping
    its file and line. Only when every line is one record with a numeric `ts` and an
    `id.orig_h` (False otherwise: the Python reader then reads it, reporting bad lines)."""
    log = fmt.split("-")[1]
    try:
        with open(path, "rb") as handle:
            first = handle.readline(MAX_LINE)
        sample = orjson.loads(first)
    except (OSError, orjson.JSONDecodeError):
        return False
    if not isinstance(sample, dict) or not isinstance(sample.get("ts"), int | float):
        return False
    if "id.orig_h" not in sample:
        return False  # nested `id` objects: the Python reader flattens them
    con = data.tables()
    columns = "{" + ", ".join(f"'{k}': '{t}'" for k, t in _JSON_COLUMNS[log].items()) + "}"
    index = len(data.files)
    table = f"file_{index}"
    try:
        con.execute(
            f"CREATE TABLE {table} AS SELECT {_JSON_SELECT[log]}, $agency AS agency "  # noqa: S608 (constants only)
            f"FROM read_json($path, format = 'newline_delimited', columns = {columns}, "
            f"maximum_object_size = {MAX_LINE})",
            {"agency": agency, "path": path},
        )
        row = con.execute(
            f"SELECT count(*), count(*) FILTER (ts IS NULL OR coalesce(src, '') = '') FROM {table}"  # noqa: S608 (constants only)
        ).fetchone()
    except duckdb.Error:
        con.execute(f"DROP TABLE IF EXISTS {table}")
        return False
    if row is None or row[1] or row[0] != _newlines(path):
        con.execute(f"DROP TABLE {table}")
        return False  # blank, bad or incomplete lines: line numbers would not match
    data.direct_tables.setdefault(_TABLE_OF_LOG[log], []).append((table, index))
    data._views()
    data.files.append(path)
    data.formats[path] = fmt
    data.lines += int(row[0])
    data.direct = True
    return True


def _lines(path: str) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        yield from handle


def read_logs(
    paths: list[str], fmt: str | None = None, agency: str = "", data: Dataset | None = None,
    skipped: list[str] | None = None, direct: bool = True,
) -> Dataset:  # fmt: skip
    """Read log files into one dataset. `fmt` (one of SUPPORTED) or detected per file;
    with `skipped`, a file detected as another log (files.log, weird.log...) is listed
    there with the reason instead of stopping the run. `direct`: flat Zeek JSON logs are
    read by DuckDB itself (only the DuckDB engine then sees them); False keeps every
    record in the Python lists too (the numpy engine, the engines' comparison test)."""
    data = data if data is not None else Dataset()
    for path in paths:
        name = fmt
        if name is None:
            try:
                with open(path, "rb") as handle:
                    sample = handle.read(64 * 1024)
            except OSError as exc:
                raise LogError(f"{path}: {exc.strerror}") from None
            name = detect_format(sample)
            if name is None and skipped is not None:
                skipped.append(f"{path}: skipped, cannot tell the log format")
                continue
            if name is None:
                raise LogError(f"{path}: cannot tell the log format; give --format")
        if name not in SUPPORTED and skipped is not None and fmt is None:
            skipped.append(
                f"{path}: skipped, a {name} log (the detectors read conn, dns, http, ssl, EVE)"
            )
            continue
        if name not in SUPPORTED:
            raise LogError(
                f"{path}: format {name} is not read by the detectors "
                f"(they read {', '.join(SUPPORTED)})"
            )
        posix = Path(path).as_posix()
        json_zeek = name.startswith("zeek-") and name.endswith("-json")
        if direct and json_zeek and _read_json_direct(data, posix, name, agency):
            continue
        try:
            _Reader(data, posix, name, agency).read(_lines(path))
        except OSError as exc:
            raise LogError(f"{path}: {exc.strerror}") from None
    return data


def read_lines(
    lines: Iterable[bytes], fmt: str, name: str, agency: str = "", data: Dataset | None = None,
    since: float | None = None,
) -> Dataset:  # fmt: skip
    """Read lines already in memory (archived batches, tests); `since` leaves out older
    records (a rolling window over archived batches)."""
    if fmt not in SUPPORTED:
        raise LogError(f"format {fmt} is not read by the detectors")
    data = data if data is not None else Dataset()
    _Reader(data, name, fmt, agency, since).read(lines)
    return data

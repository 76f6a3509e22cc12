"""X-ARF reports in every published form, alone or inside an e-mail, and RFC 5965 ARF.

Versions read:

- **X-ARF 0.1 / 0.2** (x-arf.org, 2009-2014): an e-mail whose second MIME part
  (`text/plain`, usually `report.txt`) is a YAML block (`Reported-From`, `Category`,
  `Report-Type`, `Source`, ...); checked against the specification's mandatory fields
  and value lists.
- **X-ARF JSON 1, 2, 3, alpha, development** (abusix/xarf): `{"Version", "ReporterInfo",
  "Report": {"ReportClass", "ReportType", ...}}`, validated with that version's JSON
  schema (`schemas/xarf/<version>/`).
- **X-ARF v4** (xarf/xarf-spec): `{"xarf_version": "4.x", "category", "type", ...}`,
  validated with `schemas/xarf/v4/xarf-v4-master.json`.

A report the schema refuses is refused with the rule that failed (its schema path) and
where (the JSON path). Each report class maps to an ENISA RSIT type; mapped fields get
their IntelMQ names and every other field is kept under `extra.` (snake_case; objects
and lists as JSON). An e-mail may also carry RFC 5965 feedback reports
(`message/feedback-report`). The sender's ticket number is read from the report
(Report-ID, report_id, ReporterCaseID, TicketNumber) or the Subject line.
"""

import email
import email.policy
import functools
import ipaddress
import re
from collections.abc import Iterator
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import yaml

from bulwark.exchange.engine.formats.base import (
    Context,
    Item,
    Readable,
    ReportError,
    clip,
    read_document,
)

if TYPE_CHECKING:
    from jsonschema import FormatChecker

SCHEMAS = Path(__file__).resolve().parent / "schemas" / "xarf"
MAX_EXTRA_CHARS = 4000  # an event field holds 4,096; the raw report keeps the whole

# X-ARF JSON 1-3 ReportType (lower case) -> RSIT type, as IntelMQ classifies the same
# abuse; (ReportClass, ReportType) where the class changes the meaning.
V3_TYPES = {
    "dos": "ddos",
    "ddos": "ddos",
    "loginattack": "brute-force",
    "portscan": "scanner",
    "webcrawler": "scanner",
    "spam": "spam",
    "phishing": "phishing",
    "botnet": "infected-system",
    "malware": "infected-system",  # Activity/Malware: a host sending malware
    "exploit": "exploit",
    "childabuse": "violence",
    "childsexualabusematerial": "violence",
    "harassment": "harmful-speech",
    "copyright": "copyright",
    "trademark": "masquerade",
    "openservice": "potentially-unwanted-accessible",
    "potentiallycompromisedaccount": "unprivileged-account-compromise",
    "rpz": "other",  # a blocklist entry; IntelMQ's "blacklist"
}
V3_CLASS_TYPES = {("content", "malware"): "malware-distribution"}
# X-ARF v4 (category, type) -> RSIT type
V4_TYPES = {
    ("messaging", "spam"): "spam",
    ("messaging", "bulk_messaging"): "spam",
    ("connection", "login_attack"): "brute-force",
    ("connection", "port_scan"): "scanner",
    ("connection", "ddos"): "ddos",
    ("connection", "infected_host"): "infected-system",
    ("connection", "reconnaissance"): "scanner",
    ("connection", "scraping"): "scanner",
    ("connection", "sql_injection"): "exploit",
    ("connection", "vulnerability_scan"): "scanner",
    ("content", "phishing"): "phishing",
    ("content", "malware"): "malware-distribution",
    ("content", "csam"): "violence",
    ("content", "csem"): "violence",
    ("content", "exposed_data"): "data-leak",
    ("content", "brand_infringement"): "masquerade",
    ("content", "fraud"): "masquerade",
    ("content", "remote_compromise"): "system-compromise",
    ("content", "suspicious_registration"): "other",
    ("infrastructure", "botnet"): "infected-system",
    ("infrastructure", "compromised_server"): "system-compromise",
    ("reputation", "blocklist"): "other",
    ("reputation", "threat_intelligence"): "other",
    ("vulnerability", "cve"): "vulnerable-system",
    ("vulnerability", "open_service"): "potentially-unwanted-accessible",
    ("vulnerability", "misconfiguration"): "vulnerable-system",
}
V4_COPYRIGHT = "copyright"  # every type of category "copyright"
# X-ARF 0.1/0.2 Report-Type (lower case) -> RSIT type
V0_TYPES = {
    "login-attack": "brute-force",
    "malware-attack": "infected-system",
    "portscan": "scanner",
    "port-scan": "scanner",
    "ddos": "ddos",
    "dos": "ddos",
    "spam": "spam",
    "spamvertized": "spam",
    "phishing": "phishing",
    "phishing-website": "phishing",
    "scam": "masquerade",
    "malware": "malware-distribution",
    "copyright": "copyright",
    "harvesting": "scanner",
    "test": "test",
}
V0_MANDATORY = (
    "Reported-From", "Category", "Report-Type", "User-Agent", "Report-ID", "Date",
    "Source-Type", "Source", "Attachment", "Schema-URL",
)  # fmt: skip
V0_CATEGORIES = ("abuse", "fraud", "auth", "info", "private")
V0_SOURCE_TYPES = ("ipv4", "ipv6", "ip-address", "uri", "domain", "email")
# RFC 5965 Feedback-Type -> RSIT type
FEEDBACK_TYPES = {
    "abuse": "spam",
    "fraud": "phishing",
    "virus": "malware-distribution",
    "other": "undetermined",
    "not-spam": "other",
}
TICKET = re.compile(
    r"\[([A-Za-z][\w./-]{0,30}#\s?[\w-]{1,40})\]|\b(?:ticket|ref)[:#\s]+([\w-]{3,40})", re.I
)
_JSON_VERSIONS = ("1", "2", "3", "alpha", "development")
_SNAKE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])|[-\s.]+")


def looks_like_xarf(head: bytes) -> bool:
    start = head.lstrip()[:2000]
    if start.startswith((b"{", b"[")):
        return b'"ReporterInfo"' in start or b'"xarf_version"' in start or b'"Report"' in start
    return b"Reported-From:" in start and b"Report-Type:" in start


def looks_like_mail(head: bytes) -> bool:
    first = head.lstrip()[:4000].lower()
    return first.startswith((b"from ", b"return-path:", b"received:", b"message-id:")) or (
        (b"\nsubject:" in first and b"\nfrom:" in first)
        or first.startswith((b"subject:", b"from:"))
    )


def parse_xarf(stream: Readable, ctx: Context) -> Iterator[Item]:
    """An X-ARF JSON report (one or a list), or an X-ARF 0.x YAML block on its own."""
    data = read_document(stream, "X-ARF report")
    if data.lstrip()[:1] in (b"{", b"["):
        yield from _json_records(data, ctx, 1)
    else:
        yield _yaml_record(data, ctx, 1)


# --- JSON (1, 2, 3, alpha, development, v4) ---------------------------------------------


def _json_records(data: bytes, ctx: Context, number: int) -> Iterator[Item]:
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        yield Item(number, clip(data.decode("utf-8", "backslashreplace")), error=f"not JSON: {exc}")
        return
    reports = document if isinstance(document, list) else [document]
    for offset, report in enumerate(reports):
        raw = clip(orjson.dumps(report).decode())
        try:
            fields = xarf_fields(report, ctx)
        except ValueError as exc:
            yield Item(number + offset, raw, error=str(exc))
            continue
        yield Item(number + offset, raw, fields)


def json_version(document: Any) -> str:
    """The X-ARF JSON version a report claims ("1" .. "3", "alpha", "development", "4"),
    or ValueError naming what is wrong."""
    if not isinstance(document, dict):
        raise ValueError("an X-ARF report is a JSON object")
    if "xarf_version" in document:
        version = str(document["xarf_version"])
        if not version.startswith("4"):
            raise ValueError(f"xarf_version {version[:20]!r} is not an X-ARF version (4.x)")
        return "4"
    if "Version" not in document and "Report" in document:
        return ""  # abusix samples may omit it: the super-schema decides
    version = str(document.get("Version", ""))
    if version not in _JSON_VERSIONS:
        raise ValueError(
            f"X-ARF JSON Version {version[:20]!r} does not exist (published: "
            f"{', '.join(_JSON_VERSIONS)}, or xarf_version 4.x); X-ARF 0.1/0.2 is YAML "
            "in an e-mail"
        )
    return version


def validation_error(document: Any) -> str | None:
    """None if the report is valid X-ARF JSON, else the first broken rule."""
    # Lazy: jsonschema is slow to import and only X-ARF JSON needs it.
    from jsonschema.exceptions import best_match

    version = json_version(document)
    validators = _validators()
    report = document.get("Report")
    report_type = report.get("ReportType") if isinstance(report, dict) else None
    if version in _JSON_VERSIONS and report_type is not None and not isinstance(report_type, str):
        return (
            f"X-ARF {version} schema: Report.ReportType must be a string naming the report "
            f"type, not {orjson.dumps(report_type).decode()[:40]}"
        )
    if version in _JSON_VERSIONS and isinstance(report_type, str):
        # the class's own schema first: the version's oneOf only says "none matched"
        by_type = _class_validators()[version]
        if report_type not in by_type:
            return (
                f"X-ARF {version} schema: Report.ReportType {report_type[:40]!r} is not a "
                f"report type of this version ({', '.join(sorted(by_type))})"
            )
        # The version's schema is a oneOf over its class schemas, and every class schema
        # pins ReportType: only the classes declaring this type can match, so "exactly
        # one of them matches" is that oneOf, at a tenth of its cost. A type may be
        # declared by several classes (Malware: malware and rpz).
        candidates = [(v, best_match(v.iter_errors(document))) for v in by_type[report_type]]
        matching = [v for v, e in candidates if e is None]
        if len(matching) > 1:
            names = [str(v.schema.get("$id", "")).rpartition("/")[2] for v in matching]
            return (
                f"X-ARF {version} schema xarf.schema.json, rule oneOf at $: the report "
                f"matches more than one report class ({', '.join(names)})"
            )
        validator, error = candidates[0] if not matching else (matching[0], None)
    else:
        validator = validators[version]
        error = best_match(validator.iter_errors(document))
    if error is None:
        return None
    schema_file = str(validator.schema.get("$id", "")).rpartition("/")[2]
    rule = "/".join(str(p) for p in error.absolute_schema_path) or "(root)"
    where = error.json_path
    message = error.message if len(error.message) <= 300 else error.message[:300] + "..."
    return f"X-ARF {version or 'JSON'} schema {schema_file}, rule {rule} at {where}: {message}"


@functools.cache
def _validators() -> dict[str, Any]:
    # Lazy (slow imports, X-ARF only); cached: built once per process.
    from jsonschema import FormatChecker
    from jsonschema.validators import validator_for
    from referencing import Registry, Resource

    resources = []
    by_name: dict[str, Any] = {}
    for path in sorted(SCHEMAS.rglob("*.json")):
        contents = orjson.loads(path.read_bytes())
        resources.append((contents["$id"], Resource.from_contents(contents)))
        by_name[path.relative_to(SCHEMAS).as_posix()] = contents
    registry: Registry[Any] = Registry().with_resources(resources)
    checker = _format_checker(FormatChecker())
    roots = {version: f"{version}/xarf.schema.json" for version in _JSON_VERSIONS}
    roots[""] = "xarf.schema.json"
    roots["4"] = "v4/xarf-v4-master.json"
    validators = {}
    for version, name in roots.items():
        schema = by_name[name]
        cls = validator_for(schema)
        validators[version] = cls(schema, registry=registry, format_checker=checker)
    return validators


@functools.cache
def _class_validators() -> dict[str, dict[str, list[Any]]]:
    """Per JSON version 1-3/alpha/development: ReportType -> the validators of the class
    schemas that declare it (`loginattack.schema.json` for "LoginAttack", ...)."""
    validators = _validators()
    out: dict[str, dict[str, list[Any]]] = {}
    for version in _JSON_VERSIONS:
        root = validators[version]
        by_type: dict[str, list[Any]] = {}
        for path in sorted((SCHEMAS / version).glob("*.schema.json")):
            schema = orjson.loads(path.read_bytes())
            for report_type in _declared_types(schema):
                by_type.setdefault(report_type, []).append(root.evolve(schema=schema))
        out[version] = by_type
    return out


def _declared_types(node: Any) -> list[str]:
    """The ReportType values a class schema allows (its `"ReportType": {"enum": [...]}`
    or `{"const": ...}`)."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "ReportType" and isinstance(value, dict):
                found += [str(v) for v in value.get("enum", [])]
                if "const" in value:
                    found.append(str(value["const"]))
            else:
                found += _declared_types(value)
    elif isinstance(node, list):
        for value in node:
            found += _declared_types(value)
    return found


_LABEL = r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)"
_HOSTNAME = re.compile(rf"\A(?=.{{1,253}}\.?\Z){_LABEL}(\.{_LABEL})*\.?\Z")
_DATE_TIME = re.compile(r"\A\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)\Z")
_URI = re.compile(r"\A[A-Za-z][A-Za-z0-9+.-]*:[^\s]+\Z")
_EMAIL = re.compile(r"\A[^@\s]+@[^@\s]+\Z")


def _format_checker(checker: "FormatChecker") -> "FormatChecker":
    """The formats the X-ARF schemas name, checked as ajv-formats (upstream's validator)
    checks them, without optional packages."""

    @checker.checks("date-time")
    def _date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True
        if not _DATE_TIME.match(value):
            return False
        try:
            datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00"))
        except ValueError:
            return False
        return True

    @checker.checks("date")
    def _date(value: object) -> bool:
        if not isinstance(value, str):
            return True
        try:
            date.fromisoformat(value)
        except ValueError:
            return False
        return len(value) == 10

    @checker.checks("hostname")
    def _hostname(value: object) -> bool:
        return not isinstance(value, str) or bool(_HOSTNAME.match(value))

    @checker.checks("uri")
    def _uri(value: object) -> bool:
        return not isinstance(value, str) or bool(_URI.match(value))

    @checker.checks("email")
    def _email(value: object) -> bool:
        return not isinstance(value, str) or bool(_EMAIL.match(value))

    return checker


def xarf_fields(document: Any, ctx: Context) -> dict[str, Any]:
    """The fields of one X-ARF JSON report in IntelMQ names, or ValueError (the schema rule
    it breaks)."""
    error = validation_error(document)
    if error:
        raise ValueError(error)
    if "xarf_version" in document:
        return _v4_fields(document, ctx)
    return _v3_fields(document, ctx)


def _snake(name: str) -> str:
    return _SNAKE.sub("_", name).lower().strip("_")


def _extra(fields: dict[str, Any], name: str, value: Any) -> None:
    if value is None or value == "" or value == [] or value == {}:
        return
    if not isinstance(value, str | int | float | bool):
        value = orjson.dumps(value).decode()
    if isinstance(value, str) and len(value) > MAX_EXTRA_CHARS:
        value = value[:MAX_EXTRA_CHARS] + " [clipped: the whole is in the raw report]"
    fields.setdefault(f"extra.{_snake(name)}", value)


def _address(fields: dict[str, Any], side: str, value: Any) -> None:
    """An identifier into `<side>.ip`, `.url` or `.fqdn`, whichever it is."""
    text = str(value).strip()
    if not text:
        return
    try:
        fields.setdefault(f"{side}.ip", str(ipaddress.ip_address(text)))
        return
    except ValueError:
        pass
    if "://" in text:
        fields.setdefault(f"{side}.url", text)
    elif "@" in text:
        fields.setdefault(f"{side}.fqdn", text.rsplit("@", 1)[1])
        _extra(fields, f"{side}_email", text)
    elif "/" in text:
        fields.setdefault(f"{side}.network", text)
    else:
        fields.setdefault(f"{side}.fqdn", text)


def _ticket(fields: dict[str, Any], ctx: Context, value: Any) -> None:
    if not value:
        return
    ticket = str(value)[:100]
    fields["extra.foreign_ticket"] = ticket
    if not ctx.foreign_ticket:
        ctx.foreign_ticket = ticket


def _provider(fields: dict[str, Any], ctx: Context, org: Any) -> None:
    fields["feed.provider"] = str(org)[:200] if org else ctx.provider
    if org and not ctx.provider:
        ctx.provider = str(org)[:200]


# Report fields of X-ARF JSON 1-3 with an IntelMQ name
_V3_MAP = {
    "Date": "time.source",
    "SourceIp": "source.ip",
    "SourcePort": "source.port",
    "SourceUrl": "source.url",
    "DestinationIp": "destination.ip",
    "DestinationPort": "destination.port",
    "MalwareName": "malware.name",
    "TransportProtocol": "protocol.transport",
    "ServiceName": "protocol.application",
}


def _v3_fields(document: dict[str, Any], ctx: Context) -> dict[str, Any]:
    report = document["Report"]
    reporter = document.get("ReporterInfo") or {}
    report_class = str(report.get("ReportClass", ""))
    report_type = str(report.get("ReportType", ""))
    key = report_type.lower()
    rsit = V3_CLASS_TYPES.get((report_class.lower(), key)) or V3_TYPES.get(key, "undetermined")
    fields: dict[str, Any] = {
        "classification.type": rsit,
        "classification.identifier": _snake(report_type) or rsit,
        "feed.name": ctx.feed or "xarf",
    }
    _provider(fields, ctx, reporter.get("ReporterOrg"))
    for name, value in report.items():
        target = _V3_MAP.get(name)
        if target and value not in (None, ""):
            fields[target] = value
        elif name in ("ReportClass", "ReportType"):
            _extra(fields, f"report_{name[6:]}", value)
        else:
            _extra(fields, name, value)
    if "source.ip" not in fields and report.get("AttackerIp"):
        fields["source.ip"] = report["AttackerIp"]  # an account attacked from there
        if report.get("AttackerPort"):
            fields["source.port"] = report["AttackerPort"]
    if not any(k in fields for k in ("source.ip", "source.url", "destination.ip")):
        for name in ("RpzDomain", "InfringingUrl", "FromAddress"):
            if isinstance(report.get(name), str) and report[name]:
                _address(fields, "source", report[name])
                break
    _ticket(fields, ctx, report.get("ReporterCaseID") or report.get("TicketNumber"))
    for name, value in reporter.items():
        _extra(fields, name, value)
    for name in ("OnBehalfOf", "InternalProcessing", "Disclosure", "Version"):
        if name in document:
            _extra(fields, "xarf_version" if name == "Version" else name, document[name])
    return fields


# X-ARF v4 fields with an IntelMQ name
_V4_MAP = {
    "timestamp": "time.source",
    "source_port": "source.port",
    "destination_ip": "destination.ip",
    "destination_port": "destination.port",
    "url": "source.url",
    "malware_family": "malware.name",
    "service": "protocol.application",
}
_TRANSPORTS = ("tcp", "udp", "icmp", "sctp")


def _v4_fields(document: dict[str, Any], ctx: Context) -> dict[str, Any]:
    category = str(document["category"])
    report_type = str(document["type"])
    rsit = (
        V4_COPYRIGHT
        if category == "copyright"
        else V4_TYPES.get((category, report_type), "undetermined")
    )
    reporter = document.get("reporter") or {}
    fields: dict[str, Any] = {
        "classification.type": rsit,
        "classification.identifier": report_type,
        "feed.name": ctx.feed or "xarf",
    }
    _provider(fields, ctx, reporter.get("org"))
    _address(fields, "source", document.get("source_identifier", ""))
    for name, value in document.items():
        target = _V4_MAP.get(name)
        if target and value not in (None, ""):
            fields.setdefault(target, value)
        elif name == "protocol" and str(value).lower() in _TRANSPORTS:
            fields["protocol.transport"] = str(value).lower()
        elif name == "domain" and value:
            fields.setdefault("source.fqdn", value)
        else:
            _extra(fields, name, value)
    _ticket(fields, ctx, document.get("report_id"))
    return fields


# --- X-ARF 0.1 / 0.2: YAML in an e-mail -------------------------------------------------


def _yaml_record(data: bytes, ctx: Context, number: int) -> Item:
    text = data.decode("utf-8", "replace")
    try:
        fields = v0_fields(text, ctx)
    except ValueError as exc:
        return Item(number, clip(text), error=str(exc))
    return Item(number, clip(text), fields)


def _v0_load(text: str) -> dict[str, Any]:
    body = text.replace("\r\n", "\n").strip()
    if body.startswith("---"):
        body = body[3:]
    try:
        values = yaml.safe_load(body)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ValueError(f"the X-ARF 0.x report is not YAML{where}") from None
    if not isinstance(values, dict):
        raise ValueError("the X-ARF 0.x report is not a YAML mapping of fields")
    out: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, datetime | date):
            value = value.isoformat()
        out[str(name)] = value
    return out


def v0_fields(text: str, ctx: Context) -> dict[str, Any]:
    """An X-ARF 0.1/0.2 YAML report in IntelMQ names, or ValueError naming the rule of the
    specification it breaks (mandatory field, Category, Source-Type)."""
    values = _v0_load(text)
    missing = [name for name in V0_MANDATORY if values.get(name) in (None, "")]
    if missing:
        raise ValueError(
            f"X-ARF 0.x: the mandatory field{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)} {'are' if len(missing) > 1 else 'is'} missing"
        )
    category = str(values["Category"]).lower()
    if category not in V0_CATEGORIES:
        raise ValueError(
            f"X-ARF 0.x: Category {category[:30]!r} is not one of {', '.join(V0_CATEGORIES)}"
        )
    source_type = str(values["Source-Type"]).lower()
    if source_type not in V0_SOURCE_TYPES:
        raise ValueError(
            f"X-ARF 0.x: Source-Type {source_type[:30]!r} is not one of "
            f"{', '.join(V0_SOURCE_TYPES)}"
        )
    report_type = str(values["Report-Type"])
    rsit = V0_TYPES.get(report_type.lower(), "undetermined")
    fields: dict[str, Any] = {
        "classification.type": rsit,
        "classification.identifier": report_type.lower(),
        "feed.name": ctx.feed or "xarf",
        "time.source": _mail_date(str(values["Date"])),
        "protocol.application": values.get("Service"),
    }
    _provider(fields, ctx, ctx.provider or values["Reported-From"])
    source = str(values["Source"]).strip()
    if source_type in ("ipv4", "ipv6", "ip-address"):
        fields["source.ip"] = source
    elif source_type == "uri":
        fields["source.url"] = source
    elif source_type == "domain":
        fields["source.fqdn"] = source
    else:
        _address(fields, "source", source)
    if values.get("Domain"):
        fields.setdefault("source.fqdn", values["Domain"])
    if values.get("Destination"):
        _address(fields, "destination", values["Destination"])
    if values.get("Port") not in (None, ""):
        # an attack (abuse) names the attacked service's port; content its own
        side = "destination" if category == "abuse" else "source"
        fields[f"{side}.port"] = values["Port"]
    _ticket(fields, ctx, values["Report-ID"])
    used = {"Date", "Service", "Source", "Domain", "Destination", "Port", "Report-ID"}
    for name, value in values.items():
        if name not in used:
            _extra(fields, "xarf_version" if name == "Version" else name, value)
    return fields


def _is_v0_part(part: Any, first_text: bool) -> bool:
    """The machine-readable part of an X-ARF 0.x mail: `report.txt`, or a text/plain part
    (not the first, which is for people) that starts like the YAML block."""
    if part.get_content_type() not in ("text/plain", "text/yaml", "application/x-yaml"):
        return False
    name = (part.get_filename() or "").lower()
    if name == "report.txt" or name.endswith((".yaml", ".yml")):
        return True
    if first_text:
        return False
    payload = part.get_payload(decode=True) or b""
    head = bytes(payload[:4000]).lstrip().removeprefix(b"---").lstrip()
    return head.startswith((b"Reported-From:", b"Category:", b"Report-Type:")) or (
        b"\nReported-From:" in head and b"\nReport-Type:" in head
    )


def parse_mail(stream: Readable, ctx: Context) -> Iterator[Item]:
    data = read_document(stream, "e-mail")
    message = email.message_from_bytes(data, policy=email.policy.default)
    if not isinstance(message, EmailMessage) or not message.keys():
        raise ReportError("This is not an e-mail message (no headers).")
    subject = str(message.get("Subject", ""))
    match = TICKET.search(subject)
    if match:
        ctx.foreign_ticket = (match.group(1) or match.group(2)).replace(" ", "")[:100]
    sender = str(message.get("From", ""))
    ctx.provider = ctx.provider or sender[:200]
    number = 0
    found = False
    first_text = True
    for part in message.walk():
        content_type = part.get_content_type()
        if part.get_content_maintype() == "multipart":
            continue
        if content_type == "application/json" or (
            content_type == "text/plain" and (part.get_filename() or "").endswith(".json")
        ):
            payload = part.get_payload(decode=True)
            if not isinstance(payload, bytes):
                continue
            found = True
            for item in _json_records(payload, ctx, number + 1):
                number = item.number
                if item.fields is not None and ctx.foreign_ticket:
                    item.fields.setdefault("extra.foreign_ticket", ctx.foreign_ticket)
                yield item
        elif _is_v0_part(part, first_text):
            found = True
            number += 1
            payload = part.get_payload(decode=True) or b""
            item = _yaml_record(bytes(payload), ctx, number)
            if item.fields is not None:
                item.fields.setdefault("extra.subject", subject[:300])
            yield item
        elif content_type == "message/feedback-report":
            found = True
            number += 1
            raw = _part_text(part)
            try:
                fields = _feedback_fields(raw, ctx)
            except ValueError as exc:
                yield Item(number, clip(raw), error=str(exc))
                continue
            if ctx.foreign_ticket:
                fields["extra.foreign_ticket"] = ctx.foreign_ticket
            fields["extra.subject"] = subject[:300]
            yield Item(number, clip(raw), fields)
        if content_type == "text/plain":
            first_text = False
    if not found:
        raise ReportError(
            "The e-mail carries no X-ARF part (application/json, or the YAML report.txt of "
            "X-ARF 0.1/0.2) and no ARF feedback report (message/feedback-report)."
        )


def _part_text(part: Any) -> str:
    payload = part.get_payload()
    if isinstance(payload, list):  # message/* parts parse into sub-messages
        return "".join(p.as_string() for p in payload)
    if isinstance(payload, str):
        return payload
    data = part.get_payload(decode=True) or b""
    return bytes(data).decode("utf-8", "backslashreplace")


def _feedback_fields(text: str, ctx: Context) -> dict[str, Any]:
    """RFC 5965 section 3.1: header-style fields of the machine-readable part."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip():
            values.setdefault(name.strip().lower(), value.strip())
    feedback_type = values.get("feedback-type", "").lower()
    if not feedback_type:
        raise ValueError("the feedback report has no Feedback-Type field")
    if "source-ip" not in values and "reported-domain" not in values:
        raise ValueError("the feedback report names neither Source-IP nor Reported-Domain")
    return {
        "classification.type": FEEDBACK_TYPES.get(feedback_type, "undetermined"),
        "classification.identifier": f"arf-{feedback_type}",
        "source.ip": values.get("source-ip"),
        "source.fqdn": values.get("reported-domain"),
        "source.url": values.get("reported-uri"),
        "time.source": _mail_date(values.get("arrival-date", "")),
        "feed.name": ctx.feed or "arf",
        "feed.provider": ctx.provider,
        "extra.user_agent": values.get("user-agent"),
        "extra.original_mail_from": values.get("original-mail-from"),
    }


def _mail_date(value: str) -> str | None:
    """An RFC 2822 (or the looser `Feb  3 2014 02:13:35 +0100`) date as ISO 8601; other
    text is returned as it is (RFC 3339 is read by the normaliser)."""
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).isoformat()
    except (TypeError, ValueError, IndexError):
        return value

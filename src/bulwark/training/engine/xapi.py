"""xAPI 1.0.3 statements (pure, no Django): training records written as statements for a
learning record store, statements read back into records, and a validator of the rules of
the xAPI 1.0.3 specification (Part Two, "Experience API Data") a statement must follow.

The rules checked are the spec's MUSTs for the properties we write and read: the
statement's properties and their types, an Agent with exactly one inverse functional
identifier (mbox as a "mailto:" IRI, mbox_sha1sum as 40 hex digits, openid, or account
with homePage and name), a verb with an IRI id and a language map display, an Activity
object with an IRI id, a result score within its bounds (scaled -1..1, raw between min
and max), an ISO 8601 duration, timestamps with a time zone, a UUID id, a version
starting with "1.0", extension keys that are IRIs, and RFC 5646 language tags.
"""

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

VERSION = "1.0.3"
COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
PASSED = "http://adlnet.gov/expapi/verbs/passed"
ACCEPTED_VERBS = {COMPLETED, PASSED}
# Our context extensions: the hours credited and their statutory kind.
EXT_HOURS = "https://bulwark-cert.org/xapi/extensions/hours"
EXT_KIND = "https://bulwark-cert.org/xapi/extensions/hours-kind"

STATEMENT_KEYS = {"id", "actor", "verb", "object", "result", "context", "timestamp", "stored",
                  "authority", "version", "attachments"}  # fmt: skip
_LANG = re.compile(r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")
_DURATION = re.compile(
    r"^P(?!$)(\d+(\.\d+)?Y)?(\d+(\.\d+)?M)?(\d+(\.\d+)?W)?(\d+(\.\d+)?D)?"
    r"(T(?=\d)(\d+(\.\d+)?H)?(\d+(\.\d+)?M)?(\d+(\.\d+)?S)?)?$"
)
_SHA1 = re.compile(r"^[0-9a-f]{40}$")
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$")


def _is_iri(value: Any) -> bool:
    if not isinstance(value, str) or not value or any(c.isspace() for c in value):
        return False
    parts = urlsplit(value)
    return bool(parts.scheme) and re.match(r"^[A-Za-z][A-Za-z0-9+.-]*$", parts.scheme) is not None


def _language_map(value: Any, where: str) -> list[str]:
    if not isinstance(value, dict) or not value:
        return [f"{where} must be a language map (an object of language tags)"]
    return [f"{where}: {key!r} is not an RFC 5646 language tag"
            for key in value if not _LANG.match(str(key))] + [
        f"{where}: the value for {key!r} must be a string"
        for key, text in value.items() if not isinstance(text, str)
    ]  # fmt: skip


def _agent(actor: Any, where: str) -> list[str]:
    if not isinstance(actor, dict):
        return [f"{where} must be an object"]
    errors = []
    if actor.get("objectType", "Agent") not in ("Agent", "Group"):
        errors.append(f"{where}.objectType must be Agent or Group")
    ifis = [key for key in ("mbox", "mbox_sha1sum", "openid", "account") if key in actor]
    if actor.get("objectType") != "Group" and len(ifis) != 1:
        errors.append(f"{where} must have exactly one of mbox, mbox_sha1sum, openid, account")
    mbox = actor.get("mbox")
    if mbox is not None and not (
        isinstance(mbox, str) and re.match(r"^mailto:[^@\s]+@[^@\s]+$", mbox)
    ):
        errors.append(f"{where}.mbox must be a mailto: IRI")
    if "mbox_sha1sum" in actor and not _SHA1.match(str(actor["mbox_sha1sum"])):
        errors.append(f"{where}.mbox_sha1sum must be 40 hex digits")
    if "openid" in actor and not _is_iri(actor["openid"]):
        errors.append(f"{where}.openid must be an IRI")
    account = actor.get("account")
    if account is not None:
        if not isinstance(account, dict) or set(account) != {"homePage", "name"}:
            errors.append(f"{where}.account must have exactly homePage and name")
        elif not _is_iri(account["homePage"]) or not isinstance(account["name"], str):
            errors.append(f"{where}.account.homePage must be an IRL and name a string")
    if "name" in actor and not isinstance(actor["name"], str):
        errors.append(f"{where}.name must be a string")
    return errors


def _extensions(value: Any, where: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{where} must be an object"]
    return [f"{where}: key {key!r} must be an IRI" for key in value if not _is_iri(key)]


def _result(result: Any) -> list[str]:
    if not isinstance(result, dict):
        return ["result must be an object"]
    errors = []
    unknown = set(result) - {"score", "success", "completion", "response", "duration",
                             "extensions"}  # fmt: skip
    if unknown:
        errors.append(f"result has unknown properties: {', '.join(sorted(unknown))}")
    for key in ("success", "completion"):
        if key in result and not isinstance(result[key], bool):
            errors.append(f"result.{key} must be true or false")
    if "duration" in result and not (
        isinstance(result["duration"], str) and _DURATION.match(result["duration"])
    ):
        errors.append("result.duration must be an ISO 8601 duration")
    score = result.get("score")
    if score is not None:
        if not isinstance(score, dict):
            errors.append("result.score must be an object")
        else:
            number = (int, float)
            for key in ("scaled", "raw", "min", "max"):
                if key in score and (
                    isinstance(score[key], bool) or not isinstance(score[key], number)
                ):
                    errors.append(f"result.score.{key} must be a number")
            if isinstance(score.get("scaled"), number) and not -1 <= score["scaled"] <= 1:
                errors.append("result.score.scaled must be between -1 and 1")
            low, high, raw = score.get("min"), score.get("max"), score.get("raw")
            if isinstance(low, number) and isinstance(high, number) and low >= high:
                errors.append("result.score.min must be less than max")
            below = isinstance(low, number) and isinstance(raw, number) and raw < low
            above = isinstance(high, number) and isinstance(raw, number) and raw > high
            if below or above:
                errors.append("result.score.raw must be between min and max")
    if "extensions" in result:
        errors += _extensions(result["extensions"], "result.extensions")
    return errors


def validate(statement: Any) -> list[str]:
    """Every rule of xAPI 1.0.3 the statement breaks (empty: valid)."""
    if not isinstance(statement, dict):
        return ["a statement must be a JSON object"]
    errors = []
    unknown = set(statement) - STATEMENT_KEYS
    if unknown:
        errors.append(f"unknown statement properties: {', '.join(sorted(unknown))}")
    for key in ("actor", "verb", "object"):
        if key not in statement:
            errors.append(f"{key} is required")
    if "id" in statement:
        try:
            uuid.UUID(str(statement["id"]))
            if not re.match(r"^[0-9a-fA-F-]{36}$", str(statement["id"])):
                raise ValueError
        except ValueError:
            errors.append("id must be a UUID")
    if "actor" in statement:
        errors += _agent(statement["actor"], "actor")
    verb = statement.get("verb")
    if verb is not None:
        if not isinstance(verb, dict) or not _is_iri(verb.get("id")):
            errors.append("verb.id must be an IRI")
        elif "display" in verb:
            errors += _language_map(verb["display"], "verb.display")
    obj = statement.get("object")
    if obj is not None:
        if not isinstance(obj, dict):
            errors.append("object must be an object")
        elif obj.get("objectType", "Activity") == "Activity":
            if not _is_iri(obj.get("id")):
                errors.append("object.id must be an IRI")
            definition = obj.get("definition")
            if definition is not None:
                if not isinstance(definition, dict):
                    errors.append("object.definition must be an object")
                else:
                    for key in ("name", "description"):
                        if key in definition:
                            errors += _language_map(definition[key], f"object.definition.{key}")
                    if "type" in definition and not _is_iri(definition["type"]):
                        errors.append("object.definition.type must be an IRI")
    if "result" in statement:
        errors += _result(statement["result"])
    context = statement.get("context")
    if context is not None:
        if not isinstance(context, dict):
            errors.append("context must be an object")
        else:
            if "registration" in context:
                try:
                    uuid.UUID(str(context["registration"]))
                except ValueError:
                    errors.append("context.registration must be a UUID")
            if "language" in context and not _LANG.match(str(context["language"])):
                errors.append("context.language must be an RFC 5646 language tag")
            if "extensions" in context:
                errors += _extensions(context["extensions"], "context.extensions")
            if "instructor" in context:
                errors += _agent(context["instructor"], "context.instructor")
    for key in ("timestamp", "stored"):
        if key in statement and not (
            isinstance(statement[key], str) and _TIMESTAMP.match(statement[key])
        ):
            errors.append(f"{key} must be an ISO 8601 timestamp with a time zone")
    if "version" in statement and not str(statement["version"]).startswith("1.0"):
        errors.append("version must start with 1.0")
    if "authority" in statement:
        errors += _agent(statement["authority"], "authority")
    return errors


@dataclass(frozen=True)
class RecordOut:
    """What a statement says about one completed training record."""

    record_key: str  # stable, so the same record is always the same statement id
    email: str
    name: str
    activity_id: str
    title: str
    title_zh_hant: str
    completed_on: date
    hours: Decimal
    kind: str
    success: bool | None = None
    scaled: float | None = None


def statement_id(namespace: str, record_key: str) -> str:
    """The same record gives the same statement id every export (a store keeps one)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{namespace}#{record_key}"))


def to_statement(record: RecordOut, namespace: str) -> dict[str, Any]:
    stamp = datetime.combine(record.completed_on, time(12), tzinfo=UTC)
    name = {"en-US": record.title}
    if record.title_zh_hant:
        name["zh-TW"] = record.title_zh_hant
    result: dict[str, Any] = {"completion": True}
    if record.success is not None:
        result["success"] = record.success
    if record.scaled is not None:
        result["score"] = {"scaled": max(-1.0, min(1.0, record.scaled))}
    return {
        "id": statement_id(namespace, record.record_key),
        "actor": {"objectType": "Agent", "name": record.name, "mbox": f"mailto:{record.email}"},
        "verb": {"id": COMPLETED, "display": {"en-US": "completed"}},
        "object": {
            "objectType": "Activity",
            "id": record.activity_id,
            "definition": {"name": name, "type": "http://adlnet.gov/expapi/activities/course"},
        },
        "result": result,
        "context": {
            "extensions": {EXT_HOURS: float(record.hours), EXT_KIND: record.kind},
        },
        "timestamp": stamp.isoformat().replace("+00:00", "Z"),
        "version": VERSION,
    }


@dataclass(frozen=True)
class RecordIn:
    statement_id: str
    email: str
    title: str
    completed_on: date
    hours: Decimal
    kind: str


class StatementError(ValueError):
    pass


def _hours_from_duration(duration: str) -> Decimal | None:
    match = re.match(r"^PT(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?$",
                     duration)  # fmt: skip
    if not match or not any(match.groups()):
        return None
    h, m, s = (Decimal(g or 0) for g in match.groups())
    return (h + m / 60 + s / 3600).quantize(Decimal("0.1"))


def from_statement(statement: Mapping[str, Any], default_kind: str = "general") -> RecordIn:
    """A record out of a valid statement that says someone completed or passed something;
    hours from our extension, else from result.duration. Raises StatementError saying why
    a statement is not a training record."""
    errors = validate(statement)
    if errors:
        raise StatementError("; ".join(errors))
    if statement["verb"]["id"] not in ACCEPTED_VERBS:
        raise StatementError(f"verb {statement['verb']['id']} is not a completion")
    result = statement.get("result") or {}
    if result.get("success") is False:
        raise StatementError("the statement records a failure")
    mbox = statement["actor"].get("mbox")
    if not mbox:
        raise StatementError("the actor has no mbox to find the learner by")
    if "id" not in statement:
        raise StatementError("a statement without an id cannot be imported once only")
    extensions = (statement.get("context") or {}).get("extensions") or {}
    hours: Decimal | None = None
    if EXT_HOURS in extensions:
        try:
            hours = Decimal(str(extensions[EXT_HOURS])).quantize(Decimal("0.1"))
        except ArithmeticError as exc:
            raise StatementError("the hours extension is not a number") from exc
    elif "duration" in result:
        hours = _hours_from_duration(result["duration"])
    if not hours or hours <= 0:
        raise StatementError("no hours: neither the hours extension nor a duration in hours")
    kind = str(extensions.get(EXT_KIND, default_kind))
    if kind not in ("general", "professional"):
        raise StatementError(f"unknown kind of hours {kind!r}")
    timestamp = statement.get("timestamp")
    completed = (
        datetime.fromisoformat(timestamp.replace("Z", "+00:00")).date() if timestamp else None
    )
    if completed is None:
        raise StatementError("the statement has no timestamp")
    name = (statement["object"].get("definition") or {}).get("name") or {}
    title = name.get("en-US") or next(iter(name.values()), "") or statement["object"]["id"]
    return RecordIn(str(statement["id"]), mbox.removeprefix("mailto:").lower(), str(title),
                    completed, hours, kind)  # fmt: skip

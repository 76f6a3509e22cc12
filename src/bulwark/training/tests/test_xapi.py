"""xAPI 1.0.3: our statements follow the spec's rules, broken statements are named, and
statements from a learning record store come back as records exactly once."""

import copy
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from bulwark.training import services
from bulwark.training.engine import xapi
from bulwark.training.models import TrainingRecord
from bulwark.training.tests.conftest import World

OUT = xapi.RecordOut(
    record_key="record:1", email="mei@agency-a.gov", name="Lin Mei",
    activity_id="https://cert.example/training/courses/awareness", title="Security awareness",
    title_zh_hant="資安認知", completed_on=date(2026, 5, 4), hours=Decimal("3"), kind="general",
    success=True, scaled=0.9,
)  # fmt: skip


def test_our_statements_are_valid_and_stable() -> None:
    statement = xapi.to_statement(OUT, "https://cert.example/training")
    assert xapi.validate(statement) == []
    assert statement["version"] == "1.0.3"
    assert statement["object"]["definition"]["name"] == {
        "en-US": "Security awareness", "zh-TW": "資安認知"
    }  # fmt: skip
    assert xapi.to_statement(OUT, "https://cert.example/training")["id"] == statement["id"]


def _broken(path: list[str], value: Any) -> dict[str, Any]:
    statement = copy.deepcopy(xapi.to_statement(OUT, "https://cert.example/training"))
    target = statement
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return statement


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["id"], "not-a-uuid", "id must be a UUID"),
        (["actor", "mbox"], "mei@agency-a.gov", "mailto"),
        (["actor", "openid"], "https://id.example/mei", "exactly one of"),
        (["verb", "id"], "completed", "verb.id must be an IRI"),
        (["verb", "display"], {"en US": "done"}, "language tag"),
        (["object", "id"], "awareness course", "object.id must be an IRI"),
        (["result", "score", "scaled"], 1.5, "between -1 and 1"),
        (["result", "duration"], "3 hours", "ISO 8601 duration"),
        (["result", "completion"], "yes", "true or false"),
        (["timestamp"], "2026-05-04 12:00", "time zone"),
        (["version"], "2.0.0", "1.0"),
        (["context", "extensions"], {"hours": 3}, "must be an IRI"),
        (["verb"], KeyError, "verb is required"),
        (["colour"], "blue", "unknown statement properties"),
    ],
)
def test_broken_statements_are_named(path: list[str], value: Any, message: str) -> None:
    errors = xapi.validate(_broken(path, value))
    assert any(message in error for error in errors), errors


def test_hours_from_a_duration_when_there_is_no_extension() -> None:
    statement = _broken(["context"], KeyError)
    statement["result"]["duration"] = "PT1H30M"
    found = xapi.from_statement(statement)
    assert (found.hours, found.kind, found.email) == (Decimal("1.5"), "general", "mei@agency-a.gov")
    statement["verb"]["id"] = "http://adlnet.gov/expapi/verbs/attempted"
    with pytest.raises(xapi.StatementError, match="not a completion"):
        xapi.from_statement(statement)


def test_import_adds_each_statement_once_and_reports_the_rest(world: World) -> None:
    good = xapi.to_statement(OUT, "https://lrs.example/portal")
    stranger = xapi.to_statement(
        xapi.RecordOut(**{**OUT.__dict__, "record_key": "r2", "email": "who@x.gov"}),
        "https://lrs.example/portal",
    )
    broken = _broken(["verb", "id"], "done")
    result = services.import_statements(world.agency_admin, world.agency,
                                        {"statements": [good, stranger, broken]})  # fmt: skip
    assert result.created == 1 and [i for i, _ in result.errors] == [2, 3]
    again = services.import_statements(world.agency_admin, world.agency, [good])
    assert (again.created, again.skipped) == (0, 1)
    record = TrainingRecord.objects.get(learner=world.learner)
    assert (record.hours, record.kind, record.source) == (Decimal("3.0"), "general", "xapi")
    with pytest.raises(services.TrainingError):
        services.import_statements(world.agency_admin, world.agency, "nonsense")


def test_exported_statements_validate(world: World) -> None:
    services.add_record(
        world.learner, completed_on=date(2026, 2, 1), hours=Decimal("2.5"), kind="professional",
        title="Incident handling", source="manual",
    )  # fmt: skip
    statements = services.xapi_statements(TrainingRecord.objects.all(), "https://cert.example/")
    assert len(statements) == 1 and xapi.validate(statements[0]) == []
    back = xapi.from_statement(statements[0])
    assert (back.hours, back.kind) == (Decimal("2.5"), "professional")

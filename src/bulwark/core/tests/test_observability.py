"""Request ids and structured JSON logs."""

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from bulwark.conftest import sign_in
from bulwark.constituency.models import User
from bulwark.core.observability import JsonFormatter, RequestContextFilter

SRC = str(Path(__file__).resolve().parents[3])


class Lines(logging.Handler):
    """Keeps what the JSON formatter writes, one string per record."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.setFormatter(JsonFormatter())
        self.addFilter(RequestContextFilter())

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def json_lines() -> Iterator[Lines]:
    handler = Lines()
    logger = logging.getLogger("bulwark")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def request_lines(handler: Lines) -> list[dict[str, Any]]:
    return [body for body in map(json.loads, handler.lines) if body["logger"] == "bulwark.request"]


def test_response_carries_a_new_request_id(db: None) -> None:
    first = Client().get("/health/")["X-Request-ID"]
    second = Client().get("/health/")["X-Request-ID"]
    assert len(first) == 32 and first != second


def test_valid_client_request_id_is_kept(db: None) -> None:
    response = Client().get("/health/", HTTP_X_REQUEST_ID="lb-7f3a.2026:42_x")
    assert response["X-Request-ID"] == "lb-7f3a.2026:42_x"


@pytest.mark.parametrize(
    "bad",
    ["", "has space", 'x","level":"CRITICAL', "a" * 65, "-starts-with-dash", "tab\there", "é"],
)
def test_invalid_client_request_id_is_replaced(db: None, bad: str) -> None:
    response = Client().get("/health/", HTTP_X_REQUEST_ID=bad)
    assert response.status_code == 200
    assert response["X-Request-ID"] != bad and len(response["X-Request-ID"]) == 32


def test_refused_requests_carry_an_id_too(db: None) -> None:
    """Middleware further down may answer before any view (a body over the limit)."""
    response = Client().post(
        "/api/v1/organisations/", data=b"x", content_type="text/plain",
        CONTENT_LENGTH=str(10 << 30), HTTP_X_REQUEST_ID="big-1",
    )  # fmt: skip
    assert response.status_code == 413 and response["X-Request-ID"] == "big-1"


def test_one_json_line_per_request(db: None, json_lines: Lines) -> None:
    Client().get("/health/", HTTP_X_REQUEST_ID="req-1")
    [line] = request_lines(json_lines)
    assert line["request_id"] == "req-1"
    assert line["path"] == "/health/" and line["status"] == 200
    assert line["level"] == "INFO" and line["logger"] == "bulwark.request"
    assert line["message"] == "GET /health/ 200"
    assert line["user_id"] is None
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["time"].endswith("+00:00")


def test_a_path_cannot_forge_a_log_line(db: None, json_lines: Lines) -> None:
    Client().get("/health/%0aINFO%20forged")
    [line] = request_lines(json_lines)
    assert "\n" not in line["message"] and "\n" not in line["path"]
    assert line["path"] == "/health/%0AINFO%20forged"


def test_log_line_names_the_signed_in_user(platform_admin: User, json_lines: Lines) -> None:
    client = sign_in(Client(), platform_admin)
    assert client.get("/organisations/").status_code == 200
    [line] = request_lines(json_lines)
    assert line["user_id"] == platform_admin.pk and line["path"] == "/organisations/"


def test_records_written_during_a_request_carry_its_id(
    db: None, json_lines: Lines, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bulwark.core import views

    def failing_queue() -> dict[str, object]:
        logging.getLogger("bulwark.core").warning("queue state unavailable")
        raise RuntimeError("no queue")

    monkeypatch.setattr(views, "_task_queue_state", failing_queue)
    Client().get("/health/", HTTP_X_REQUEST_ID="inner-7")
    inner = [json.loads(x) for x in json_lines.lines if "queue state" in x]
    assert inner and inner[0]["request_id"] == "inner-7" and inner[0]["path"] == "/health/"
    assert inner[0]["level"] == "WARNING" and inner[0]["status"] is None


def test_exceptions_are_logged_as_one_json_line(json_lines: Lines) -> None:
    try:
        raise ValueError("broken")
    except ValueError:
        logging.getLogger("bulwark.test").exception("it failed")
    [line] = json_lines.lines
    body = json.loads(line)
    assert "\n" not in line
    assert body["message"] == "it failed" and "ValueError: broken" in body["exc_info"]


def test_log_format_setting_selects_json(tmp_path: Path) -> None:
    """BULWARK_LOG_FORMAT=json, end to end: a process configured from settings."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(BULWARK_DATA_DIR=str(tmp_path), PYTHONPATH=SRC, BULWARK_LOG_FORMAT="json")
    code = "import logging; logging.getLogger('bulwark.x').warning('hello %s', 'there')"
    proc = subprocess.run(
        [sys.executable, "-m", "bulwark.cli", "shell", "-c", code],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    body = json.loads(proc.stderr.strip().splitlines()[-1])
    assert body["message"] == "hello there" and body["level"] == "WARNING"
    assert body["logger"] == "bulwark.x" and body["request_id"] is None

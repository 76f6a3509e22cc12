"""Shared by the training services: the refusal, constants, secret digests and CSV rows."""

import csv
import hashlib
import io
from dataclasses import dataclass, field
from datetime import timedelta

from django.utils.translation import gettext as _

from bulwark.training.models import TrainingRole

# A save sent just before the deadline may arrive a little after it.
ANSWER_GRACE = timedelta(seconds=15)
LINK_LIFETIME = timedelta(days=7)
MAX_IMPORT_ROWS = 50_000


class TrainingError(ValueError):
    """A request the training app refuses, with the reason for the person."""


def secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


LEARNER_COLUMNS = ("staff_id", "name", "email", "role")
ROLE_ALIASES = {
    **{value: value for value in TrainingRole.values},
    "security": "security_staff", "資安專職人員": "security_staff",
    "it": "it_staff", "資訊人員": "it_staff",
    "user": "general", "一般使用者": "general",
    "主管": "supervisor",
}  # fmt: skip


def csv_rows(text: str) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [name.strip().lower() for name in (reader.fieldnames or [])]
    rows = []
    for row in reader:
        clean = {
            (key or "").strip().lower(): (value or "").strip()
            for key, value in row.items()
            if isinstance(value, str)
        }
        rows.append((reader.line_num, clean))
        if len(rows) > MAX_IMPORT_ROWS:
            raise TrainingError(_("At most %(n)d rows per file.") % {"n": MAX_IMPORT_ROWS})
    return header, rows

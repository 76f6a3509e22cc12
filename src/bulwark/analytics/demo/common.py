"""What every part of the demo history shares: the months with their season and trend,
seeded randomness, stable ids, and rows written in bulk exactly as built."""

import calendar
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from django.db import connection
from django.db.models import DateTimeField, ForeignKey, Model

MARKER = "Demo history"
SEED = 20261123
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://bulwark.example/demo-history")
YEARS = 2  # full calendar years before the current one
TREND = 0.08  # growth per year
# Month factors (January first): quiet around the Lunar New Year, busier in spring/autumn.
SEASON = (0.95, 0.75, 1.0, 1.05, 1.1, 1.0, 0.9, 0.95, 1.05, 1.15, 1.1, 0.95)
PER_YEAR = {
    "incidents": 300,
    "foreign_events": 600,
    "shared": 3000,
    "advisories": 300,
    "outbound_events": 2000,
}
COMMUNITY = "Community intelligence (demo)"  # the intel demo's community collection
LEA = "Criminal Investigation Bureau (demo)"
# Used when the constituency demo has fewer foreign CERTs than the report needs.
FOREIGN_CERTS = [
    ("JPCERT/CC", "JP"), ("KrCERT/CC", "KR"), ("CISA", "US"), ("NCSC-UK", "GB"),
    ("CERT-FR", "FR"), ("CERT-Bund", "DE"), ("AusCERT", "AU"), ("SingCERT", "SG"),
]  # fmt: skip

T = TypeVar("T")


def pick(rng: random.Random, table: Sequence[tuple[T, float]]) -> T:
    return rng.choices([item for item, _w in table], [w for _i, w in table])[0]


@dataclass(frozen=True)
class Month:
    start: datetime
    end: datetime  # exclusive; `now` for the current month
    factor: float  # share of a year's volume, with season, trend and a partial month


def history_months(now: datetime) -> list[Month]:
    """Every month from January, YEARS years back, to now (UTC)."""
    months = []
    first_year = now.year - YEARS
    for year in range(first_year, now.year + 1):
        for month in range(1, 13):
            start = datetime(year, month, 1, tzinfo=UTC)
            if start >= now:
                break
            days = calendar.monthrange(year, month)[1]
            end = min(start + timedelta(days=days), now)
            elapsed = (end - start) / timedelta(days=days)
            trend = (1 + TREND) ** (year - first_year + (month - 1) / 12)
            months.append(Month(start, end, SEASON[month - 1] * trend * elapsed / 12))
    return months


def count_in(rng: random.Random, per_year: float, month: Month) -> int:
    return max(0, round(per_year * month.factor * rng.uniform(0.85, 1.15)))


def moment_in(rng: random.Random, month: Month) -> datetime:
    """A time in the month, office hours in Taiwan (UTC+8) more likely."""
    span = (month.end - month.start).total_seconds()
    when = month.start + timedelta(seconds=rng.uniform(0, span))
    if rng.random() < 0.7:
        when = when.replace(hour=rng.randint(0, 9), minute=rng.randint(0, 59))  # 08-18 local
    return min(max(when, month.start), month.end - timedelta(minutes=1))


def _preparer(field: Any) -> Callable[[Any], Any]:
    """How one column's Python value becomes a database parameter: text, numbers and ids
    pass as they are (get_db_prep_save on every cell was most of the load time)."""
    if isinstance(field, DateTimeField):
        return lambda value: connection.ops.adapt_datetimefield_value(value)
    if isinstance(field, ForeignKey) or field.get_internal_type() in _PLAIN:
        return lambda value: value
    return lambda value: field.get_db_prep_save(value, connection)


_PLAIN = {
    "CharField", "TextField", "SlugField", "EmailField", "IntegerField", "BigIntegerField",
    "PositiveIntegerField", "PositiveSmallIntegerField", "SmallIntegerField", "BooleanField",
}  # fmt: skip


def insert_rows(model: type[Model], objects: Sequence[Model]) -> None:
    """INSERT the rows exactly as built (the history's own times in the created/received
    columns, which bulk_create would overwrite with now), one executemany per batch."""
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    prepare = [(f.attname, _preparer(f)) for f in fields]
    quote = connection.ops.quote_name
    # Names come from the model's own metadata; every value is a parameter.
    columns = ", ".join(quote(str(f.column)) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({marks})"  # noqa: S608
    with connection.cursor() as cursor:
        for start in range(0, len(objects), 1000):
            cursor.executemany(
                sql,
                [
                    [convert(getattr(o, name)) for name, convert in prepare]
                    for o in objects[start : start + 1000]
                ],
            )


def update_rows(model: type[Model], columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """UPDATE columns by primary key (each row: the column values, then the pk)."""
    fields = [f for f in model._meta.concrete_fields if f.name in columns]
    fields.sort(key=lambda f: list(columns).index(f.name))
    quote = connection.ops.quote_name
    sets = ", ".join(f"{quote(str(f.column))} = %s" for f in fields)
    sql = f"UPDATE {quote(model._meta.db_table)} SET {sets} WHERE id = %s"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.executemany(
            sql,
            [
                [f.get_db_prep_save(v, connection) for f, v in zip(fields, row[:-1], strict=True)]
                + [row[-1]]
                for row in rows
            ],
        )


def stable_uuid(*parts: object) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, "/".join(str(p) for p in parts))


def part_rng(part: int) -> random.Random:
    """Each part its own seeded generator, so a part loaded alone makes the same rows."""
    return random.Random(SEED + part)  # noqa: S311 (demo data, seeded)

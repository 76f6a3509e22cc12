"""Database expressions the statistics need on both databases: seconds between two
instants, a calendar-month offset, and a median aggregate. PostgreSQL computes them
natively; SQLite gets a median aggregate registered on each new connection, so every
aggregation still runs inside the database."""

import statistics
from typing import Any

from django.db.backends.signals import connection_created
from django.db.models import Aggregate, FloatField, Func
from django.dispatch import receiver


class SecondsBetween(Func):
    """later - earlier, in seconds (float); NULL when either is NULL."""

    output_field = FloatField()
    arity = 2

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler,
            connection,
            template="EXTRACT(EPOCH FROM (%(expressions)s))",
            arg_joiner=" - ",
            **extra,
        )

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler,
            connection,
            template="((julianday(%(expressions)s)) * 86400.0)",
            arg_joiner=") - julianday(",
            **extra,
        )


class AddMonths(Func):
    """A timestamp plus N calendar months (the final-report clock runs in months)."""

    arity = 1

    def __init__(self, expression: Any, months: int, **extra: Any) -> None:
        if not 0 <= int(months) <= 120:
            raise ValueError("months must be 0-120")
        self.months = int(months)
        super().__init__(expression, **extra)

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler,
            connection,
            template=f"(%(expressions)s + interval '{self.months} months')",
            **extra,
        )

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        # Django stores datetimes as "YYYY-MM-DD HH:MM:SS[.ffffff]" text in UTC; keep that
        # shape so comparisons with stored values stay textual and correct.
        return self.as_sql(
            compiler,
            connection,
            template=(
                f"strftime('%%Y-%%m-%%d %%H:%%M:%%f', %(expressions)s, '+{self.months} months')"
            ),
            **extra,
        )


class Median(Aggregate):
    """The median of a numeric expression (NULLs ignored)."""

    function = "bulwark_median"
    name = "Median"
    output_field = FloatField()
    allow_distinct = False

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler,
            connection,
            template="percentile_cont(0.5) WITHIN GROUP (ORDER BY %(expressions)s)",
            **extra,
        )


class _SqliteMedian:
    def __init__(self) -> None:
        self.values: list[float] = []

    def step(self, value: Any) -> None:
        if value is not None:
            self.values.append(float(value))

    def finalize(self) -> float | None:
        return statistics.median(self.values) if self.values else None


@receiver(connection_created)
def _register_sqlite_functions(sender: Any, connection: Any, **kwargs: Any) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_aggregate("bulwark_median", 1, _SqliteMedian)

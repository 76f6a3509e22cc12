"""Which engine runs the detectors: DuckDB (the default, sql.py) or numpy (detectors.py,
the reference the tests compare it with)."""

import os
from collections.abc import Sequence

from bulwark.monitoring.engine.behaviour import sql
from bulwark.monitoring.engine.behaviour.dataset import Dataset
from bulwark.monitoring.engine.behaviour.detectors import detect_numpy
from bulwark.monitoring.engine.behaviour.detectors import observed_values as observed_numpy
from bulwark.monitoring.engine.behaviour.settings import AllowList, Finding, Settings

ENGINES = ("duckdb", "numpy")


def detect(
    data: Dataset, settings: Settings | None = None, allow: AllowList | None = None,
    first_seen: dict[str, float] | None = None, only: Sequence[str] | None = None,
    timings: dict[str, float] | None = None, history_start: float | None = None,
    engine: str | None = None,
) -> list[Finding]:  # fmt: skip
    """Every detector (or `only` those) over the dataset; findings by score, highest first.
    `first_seen` (`kind:value` -> time) is the national history kept since
    `history_start`, for the rare detector's "new". `engine`: "duckdb" (the default) or
    "numpy" (needs every record in the Python lists: read_logs(..., direct=False));
    BULWARK_BEHAVIOUR_ENGINE sets the default."""
    engine = engine or os.environ.get("BULWARK_BEHAVIOUR_ENGINE") or "duckdb"
    if engine not in ENGINES:
        raise ValueError(f"unknown detection engine {engine!r} (engines: {', '.join(ENGINES)})")
    settings, allow = settings or Settings(), allow or AllowList()
    if engine == "numpy":
        return detect_numpy(data, settings, allow, first_seen, only, timings, history_start)
    return sql.detect_sql(data, settings, allow, first_seen or {}, only, timings, history_start)


def observed_values(data: Dataset) -> dict[str, float]:
    """`kind:value` -> earliest time in the window, of every TLS fingerprint, issuer and
    destination name: what the platform's national first-seen history records."""
    return sql.observed_values(data) if data.direct else observed_numpy(data)

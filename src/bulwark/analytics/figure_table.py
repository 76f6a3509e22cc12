"""The one shape every statistic takes: a titled table that the web page, the API (JSON and
CSV), the charts and the annual report all read. Pure: no Django, no database."""

from dataclasses import dataclass, field
from typing import Any

CHART_KINDS = ("bar", "barh", "pie", "line", "none")


@dataclass(frozen=True)
class Figure:
    """A table of counts.

    - `columns[0]` names the category column; the other columns are numeric series.
    - `rows`: one tuple per category: its label (str) then one number (int, float or
      None for "not applicable") per numeric column.
    - `chart` says how to draw it: "bar"/"barh"/"pie" draw the first numeric column per
      row; "line" draws every row as a series over columns[1:] (e.g. months).
    """

    key: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    chart: str = "bar"
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.chart not in CHART_KINDS:
            raise ValueError(f"unknown chart kind {self.chart!r}")
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(f"{self.key}: row {row!r} does not match {self.columns!r}")

    @property
    def total(self) -> int | float:
        """Sum of the first numeric column (what a pie or bar chart shows)."""
        return sum(row[1] or 0 for row in self.rows) if len(self.columns) > 1 else 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "columns": list(self.columns),
            "rows": [list(row) for row in self.rows],
            "total": self.total,
            "note": self.note,
            **({"extra": self.extra} if self.extra else {}),
        }

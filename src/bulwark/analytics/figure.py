"""The one shape every statistic takes: a titled table that the web page, the API (JSON and
CSV), the charts and the annual report all read. Pure: no Django, no database."""

import csv
import io
from collections.abc import Iterable, Sequence
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

    def as_csv(self) -> str:
        return csv_text(self.columns, self.rows)


def csv_text(columns: Sequence[Any], rows: Iterable[Sequence[Any]]) -> str:
    """A table as CSV: empty cells for None, spreadsheet formulas defused."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if cell is None else _csv_safe(cell) for cell in row])
    return out.getvalue()


def _csv_safe(cell: Any) -> Any:
    """Spreadsheets run cells that start with = + - @ as formulas: quote them (labels come
    from organisation names and feed names, which outsiders choose)."""
    if isinstance(cell, str) and cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + cell
    return cell

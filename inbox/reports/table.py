"""What every report returns: one table (named columns, rows) and a few headline figures, as JSON for
the page and as CSV for a spreadsheet."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from inbox.reports.scope import ReportScope


class Kind(StrEnum):
    """How a column's values read, so the page formats them (and a spreadsheet user knows the unit)."""

    TEXT = "text"
    DATE = "date"  # YYYY-MM-DD, local
    WEEKDAY = "weekday"  # 1 Monday .. 7 Sunday
    HOUR = "hour"  # 0..23, local
    COUNT = "count"
    SECONDS = "seconds"  # a duration
    RATE = "rate"  # a fraction from 0 to 1
    RATING = "rating"  # CSAT, 1 to 5
    MONEY = "money"


@dataclass(frozen=True)
class Column:
    key: str
    kind: Kind

    def as_dict(self) -> dict[str, str]:
        return {"key": self.key, "kind": self.kind.value}


@dataclass
class ReportTable:
    name: str
    scope: ReportScope
    columns: tuple[Column, ...]
    rows: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        scope = self.scope
        return {
            "report": self.name,
            "from": scope.first_day.isoformat(),
            "to": scope.last_day.isoformat(),
            "timezone": scope.timezone,
            "channel": scope.channel,
            "team_id": scope.team_id,
            "summary": self.summary,
            "columns": [column.as_dict() for column in self.columns],
            "rows": self.rows,
        }

    def csv(self) -> str:
        """The rows under a header of column keys; durations in seconds, rates as fractions, empty
        cells where there is no value."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow([column.key for column in self.columns])
        for row in self.rows:
            writer.writerow(["" if row.get(c.key) is None else row[c.key] for c in self.columns])
        return out.getvalue()

    def filename(self) -> str:
        scope = self.scope
        return f"omnihub-{self.name}-{scope.first_day.isoformat()}-to-{scope.last_day.isoformat()}.csv"


def rate(part: int, whole: int) -> float | None:
    """``part / whole`` rounded to 4 places, or None when there is nothing to divide."""
    return round(part / whole, 4) if whole else None

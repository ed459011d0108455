"""Durations and their spread (count, average, median, 90th percentile) computed in SQL on both
backends.

Percentiles are nearest-rank: the p-th percentile of n values is the value at rank ceil(p * n / 100)
in ascending order, so the median of 1, 2, 3, 4 is 2 and every figure is a duration that really
happened. Ranks come from ``row_number()`` over each group (window functions: SQLite 3.25+,
PostgreSQL); a whole report is one query per measure family, whatever the number of rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Float, Select, case, cast, extract, func, select
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Subquery

MEDIAN = 50
P90 = 90
GROUP = "grp"


def seconds_between(
    later: ColumnElement[Any], earlier: ColumnElement[Any], dialect: str
) -> ColumnElement[float]:
    """``later - earlier`` in seconds (NULL when either is NULL)."""
    if dialect == "postgresql":
        return cast(extract("epoch", later - earlier), Float)
    # julianday() reads SQLite's stored UTC text; a day has 86400 s.
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


@dataclass(frozen=True)
class Spread:
    """How a duration (seconds) was spread over the rows that had one."""

    count: int
    average: float | None
    median: float | None
    p90: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "average": _round(self.average),
            "median": _round(self.median),
            "p90": _round(self.p90),
        }


EMPTY = Spread(0, None, None, None)


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 1)


def _rank_of(percent: int, count: ColumnElement[int]) -> ColumnElement[int]:
    # ceil(percent * n / 100) with integer arithmetic (the same on both backends).
    return (count * percent + 99) // 100


def spreads_select(
    facts: Subquery, measures: Sequence[str], *, grouped: bool, flags: Sequence[str] = ()
) -> Select[Any]:
    """Per group (``facts.c.grp`` when ``grouped``, else one row for all): the row count (``rows``),
    for each measure its count, average, median and 90th percentile (``<measure>_count``,
    ``_average``, ``_median``, ``_p90``), and the sum of each 0/1 column named in ``flags``."""
    partition = [facts.c[GROUP]] if grouped else None
    ranked_columns: list[ColumnElement[Any]] = [facts.c[name] for name in (*measures, *flags)]
    if grouped:
        ranked_columns.append(facts.c[GROUP])
    for name in measures:
        value = facts.c[name]
        ranked_columns.append(
            func.row_number()
            .over(partition_by=partition, order_by=value.asc().nulls_last())
            .label(f"{name}__rank")
        )
        ranked_columns.append(func.count(value).over(partition_by=partition).label(f"{name}__n"))
    ranked = select(*ranked_columns).subquery("ranked")
    columns: list[ColumnElement[Any]] = []
    if grouped:
        columns.append(ranked.c[GROUP].label(GROUP))
    columns.append(func.count().label("rows"))
    for name in measures:
        value, rank, n = ranked.c[name], ranked.c[f"{name}__rank"], ranked.c[f"{name}__n"]
        columns += [
            func.count(value).label(f"{name}_count"),
            func.avg(value).label(f"{name}_average"),
            func.max(case((rank == _rank_of(MEDIAN, n), value))).label(f"{name}_median"),
            func.max(case((rank == _rank_of(P90, n), value))).label(f"{name}_p90"),
        ]
    columns += [func.coalesce(func.sum(ranked.c[flag]), 0).label(flag) for flag in flags]
    statement = select(*columns).select_from(ranked)
    if grouped:
        statement = statement.group_by(ranked.c[GROUP])
    return statement


def spread_of(row: Mapping[str, Any], name: str) -> Spread:
    count = int(row[f"{name}_count"] or 0)
    if count == 0:
        return EMPTY
    return Spread(count, row[f"{name}_average"], row[f"{name}_median"], row[f"{name}_p90"])

"""CSAT: the ratings customers gave in the range, from 1 (bad) to 5 (great).

The shipped feedback flow (flows/feedback.yaml) asks after a conversation is resolved and records a
``csat.submitted`` event on the customer's timeline with ``rating`` (a number) and ``comment``; the
``csat`` attribute only keeps the latest rating, so the events are what reports read. A rating
belongs to the customer's conversation resolved most recently at or before it was given (the one the
survey followed), which gives it a channel, a team and an agent. Ratings that are not a whole number
from 1 to 5 are left out.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Subquery

from crm_core.models import CustomerEvent
from crm_core.segments.json_sql import JsonNumber
from inbox.models import Conversation
from inbox.reports.measures import GROUP
from inbox.reports.scope import ReportScope
from inbox.reports.sessions import Sessions, side_by_side
from inbox.reports.table import Column, Kind, ReportTable, rate

CSAT_EVENT = "csat.submitted"
RATINGS = (1, 2, 3, 4, 5)
SATISFIED = (4, 5)


def ratings(scope: ReportScope) -> Subquery:
    """One row per rating given in the range: ``rating`` (1-5) and ``conversation_id`` (None when the
    customer had no resolved conversation before it)."""
    e: Any = CustomerEvent
    rated: Any = Conversation.__table__.alias("rated")  # type: ignore[attr-defined]
    value = JsonNumber(e.payload, "rating")
    rated_conversation = (
        select(rated.c.id)
        .where(rated.c.customer_id == e.customer_id, rated.c.resolved_at <= e.occurred_at)
        .order_by(rated.c.resolved_at.desc(), rated.c.id.desc())
        .limit(1)
        .correlate(e)
        .scalar_subquery()
    )
    given = (
        select(value.label("value"), rated_conversation.label("conversation_id"))
        .where(e.kind == CSAT_EVENT, e.occurred_at >= scope.start, e.occurred_at < scope.end)
        .subquery("given")
    )
    return (
        select(cast(given.c.value, Integer).label("rating"), given.c.conversation_id)
        .where(given.c.value.in_(RATINGS))
        .subquery("ratings")
    )


def _rating_rows(scope: ReportScope, group: ColumnElement[Any] | None = None) -> Subquery:
    """``rating`` (and ``grp``, ``group`` of the rated conversation) of each rating in the scope. With
    a channel or team filter, or a ``group``, only ratings that belong to a conversation count;
    otherwise all of them."""
    given = ratings(scope)
    c: Any = Conversation
    statement = select(*([group.label(GROUP)] if group is not None else []), given.c.rating)
    if group is not None or scope.channel is not None or scope.team_id is not None:
        statement = statement.join(c, c.id == given.c.conversation_id)
        if scope.channel is not None:
            statement = statement.where(c.channel_type == scope.channel)
        if scope.team_id is not None:
            statement = statement.where(c.team_id == scope.team_id)
    return statement.subquery("rated_in_scope")


async def csat_by(
    session: AsyncSession, scope: ReportScope, group: ColumnElement[Any]
) -> dict[Any, tuple[int, float]]:
    """group -> (ratings, average rating), for the per-agent and per-team tables."""
    rows = _rating_rows(scope, group)
    statement = select(rows.c[GROUP], func.count(), func.avg(rows.c.rating)).group_by(rows.c[GROUP])
    return {
        grp: (int(count), float(average)) for grp, count, average in (await session.execute(statement)).all()
    }


COLUMNS = (Column("rating", Kind.RATING), Column("responses", Kind.COUNT), Column("share", Kind.RATE))


async def csat(sessions: Sessions, scope: ReportScope) -> ReportTable:
    """Five rows, ratings 1 to 5: how many customers gave each and their share; the summary has the
    total, the average rating and the CSAT score (the share of 4s and 5s)."""
    rows = _rating_rows(scope)
    statement = select(rows.c.rating, func.count()).group_by(rows.c.rating)

    async def given(session: AsyncSession) -> list[Any]:
        return list((await session.execute(statement)).all())

    [answer] = await side_by_side(sessions, given)
    counts = {int(rating): int(count) for rating, count in answer}
    total = sum(counts.values())
    table_rows = [
        {"rating": rating, "responses": counts.get(rating, 0), "share": rate(counts.get(rating, 0), total)}
        for rating in RATINGS
    ]
    weighted = sum(rating * count for rating, count in counts.items())
    summary = {
        "responses": total,
        "average": round(weighted / total, 2) if total else None,
        "satisfied": sum(counts.get(rating, 0) for rating in SATISFIED),
        "csat_score": rate(sum(counts.get(rating, 0) for rating in SATISFIED), total),
    }
    return ReportTable("csat", scope, COLUMNS, table_rows, summary)

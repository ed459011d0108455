"""Volume: how much comes in and goes out, per local day, per channel, and per weekday and hour (the
heatmap that shows when customers write).

Two counts side by side: conversations opened in the range (the cohort, by when they started) and
messages written in the range (by their own time): from customers, agents' replies and the bot's.
Days and hours are those of the business-hours time zone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from inbox.models import AuthorKind, Conversation, Message
from inbox.reports.cohort import dialect_of, opened_in, sent_in
from inbox.reports.local_time import local_day, local_hour
from inbox.reports.scope import ReportScope
from inbox.reports.sessions import Sessions, side_by_side
from inbox.reports.table import Column, Kind, ReportTable

# Message counts by who wrote them; system entries (a call landing in the conversation) are left out.
MESSAGE_COUNTS = {
    AuthorKind.CUSTOMER: "customer_messages",
    AuthorKind.AGENT: "agent_replies",
    AuthorKind.BOT: "bot_messages",
}
COUNTS = ("conversations", *MESSAGE_COUNTS.values())
WEEKDAYS = range(1, 8)  # ISO: 1 is Monday
HOURS = range(24)


def _messages_by(scope: ReportScope, bucket: ColumnElement[Any]) -> Select[Any]:
    """Messages of the range counted per ``bucket`` (labelled) and author kind."""
    m: Any = Message
    labelled = bucket.label("bucket")
    statement = select(labelled, m.author_kind, func.count()).where(
        *sent_in(scope), m.author_kind.in_(list(MESSAGE_COUNTS))
    )
    if scope.team_id is not None:
        c: Any = Conversation
        statement = statement.join(c, c.id == m.conversation_id).where(c.team_id == scope.team_id)
    return statement.group_by(labelled, m.author_kind)


def _conversations_by(scope: ReportScope, bucket: ColumnElement[Any]) -> Select[Any]:
    labelled = bucket.label("bucket")
    return select(labelled, func.count()).where(*opened_in(scope)).group_by(labelled)


async def _counts(
    sessions: Sessions,
    scope: ReportScope,
    conversation_bucket: Callable[[str], ColumnElement[Any]],
    message_bucket: Callable[[str], ColumnElement[Any]],
) -> dict[Any, dict[str, int]]:
    """bucket -> {conversations, customer_messages, agent_replies, bot_messages}; the buckets are
    built for the session's dialect (local days and hours differ)."""

    async def conversations(session: AsyncSession) -> list[Any]:
        statement = _conversations_by(scope, conversation_bucket(dialect_of(session)))
        return list((await session.execute(statement)).all())

    async def messages(session: AsyncSession) -> list[Any]:
        return list((await session.execute(_messages_by(scope, message_bucket(dialect_of(session))))).all())

    opened, written = await side_by_side(sessions, conversations, messages)
    counts: dict[Any, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTS, 0))
    for bucket, count in opened:
        counts[bucket]["conversations"] += int(count)
    for bucket, kind, count in written:
        counts[bucket][MESSAGE_COUNTS[AuthorKind(kind)]] += int(count)
    return counts


async def volume_daily(sessions: Sessions, scope: ReportScope) -> ReportTable:
    """One row per day of the range (days without activity too)."""
    c: Any = Conversation
    m: Any = Message
    counts = await _counts(
        sessions,
        scope,
        lambda dialect: local_day(c.created_at, scope, dialect),
        lambda dialect: local_day(m.created_at, scope, dialect),
    )
    rows = []
    for offset in range(scope.days):
        day = (scope.first_day + timedelta(days=offset)).isoformat()
        rows.append({"date": day, **counts.get(day, dict.fromkeys(COUNTS, 0))})
    summary = {key: sum(row[key] for row in rows) for key in COUNTS}
    summary["busiest_day"] = (
        max(rows, key=lambda row: row["conversations"])["date"] if summary["conversations"] else None
    )
    columns = (Column("date", Kind.DATE), *(Column(key, Kind.COUNT) for key in COUNTS))
    return ReportTable("volume-daily", scope, columns, rows, summary)


async def volume_by_channel(sessions: Sessions, scope: ReportScope) -> ReportTable:
    """One row per channel type with any activity, busiest first."""
    c: Any = Conversation
    m: Any = Message
    counts = await _counts(sessions, scope, lambda _: c.channel_type, lambda _: m.channel_type)
    rows = [{"channel": channel, **values} for channel, values in counts.items()]
    rows.sort(key=lambda row: (-row["conversations"], -row["customer_messages"], row["channel"]))
    summary = {key: sum(row[key] for row in rows) for key in COUNTS}
    columns = (Column("channel", Kind.TEXT), *(Column(key, Kind.COUNT) for key in COUNTS))
    return ReportTable("volume-channels", scope, columns, rows, summary)


HEATMAP_COUNTS = ("conversations", "customer_messages")


async def volume_heatmap(sessions: Sessions, scope: ReportScope) -> ReportTable:
    """168 rows, one per weekday (1 Monday .. 7 Sunday) and hour (0..23): conversations opened and
    customer messages in that hour of the week, summed over the range."""
    c: Any = Conversation
    m: Any = Message
    counts = await _counts(
        sessions,
        scope,
        lambda dialect: local_hour(c.created_at, scope, dialect),
        lambda dialect: local_hour(m.created_at, scope, dialect),
    )
    cells: dict[tuple[int, int], dict[str, int]] = {
        (weekday, hour): dict.fromkeys(HEATMAP_COUNTS, 0) for weekday in WEEKDAYS for hour in HOURS
    }
    for bucket, values in counts.items():
        # "2026-09-30 14": the local date and hour.
        day, hour = date.fromisoformat(bucket[:10]), int(bucket[11:13])
        cell = cells[(day.isoweekday(), hour)]
        for key in HEATMAP_COUNTS:
            cell[key] += values[key]
    rows = [{"weekday": weekday, "hour": hour, **values} for (weekday, hour), values in cells.items()]
    peak = max(rows, key=lambda row: row["customer_messages"])
    summary: dict[str, Any] = {key: sum(row[key] for row in rows) for key in HEATMAP_COUNTS}
    summary["busiest"] = (
        {"weekday": peak["weekday"], "hour": peak["hour"]} if summary["customer_messages"] else None
    )
    columns = (
        Column("weekday", Kind.WEEKDAY),
        Column("hour", Kind.HOUR),
        *(Column(key, Kind.COUNT) for key in HEATMAP_COUNTS),
    )
    return ReportTable("volume-heatmap", scope, columns, rows, summary)

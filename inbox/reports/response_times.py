"""Response times: first response, resolution, conversation duration and first contact resolution
over the conversations opened in the range, and the customer waits the range's agent replies ended
(docs/reports.md defines each).

- first response: the first agent reply minus the customer's first message (``first_response_at -
  created_at``); bot replies do not count, so time with the bot is part of it;
- resolution: ``resolved_at - created_at`` of the conversations resolved now (a reopened one counts
  again once resolved);
- customer wait: every wait an agent's reply written in the range ended, from the oldest customer
  message it answered to the reply (``Message.waited_since``, recorded when the reply is written),
  so a conversation with three back-and-forths gives three waits;
- duration: ``last_message_at - created_at``, resolved or not;
- first contact resolution: of the resolved conversations a person answered, the share answered with
  exactly one agent reply.

Times are calendar time (nights and weekends included), in seconds.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Subquery

from inbox.models import Agent, AuthorKind, Conversation, Message
from inbox.reports.cohort import dialect_of, opened_in, sent_in
from inbox.reports.measures import GROUP, seconds_between, spread_of, spreads_select
from inbox.reports.scope import ReportScope
from inbox.reports.sessions import Sessions, side_by_side
from inbox.reports.table import Column, Kind, ReportTable, rate

CONVERSATION_MEASURES = ("first_response", "resolution", "duration")
WAIT = "customer_wait"
FLAGS = ("resolved", "answered_resolved", "one_touch")


def conversation_facts(scope: ReportScope, dialect: str, group: ColumnElement[Any] | None = None) -> Subquery:
    """One row per conversation of the cohort: its durations and the flags first contact resolution
    counts (``grp`` is ``group`` of the conversation, e.g. its assignee)."""
    c: Any = Conversation
    m: Any = Message
    # An agent replied iff first_response_at is set (inbox.conversations sets it on the first one);
    # how many replies, only for those, through ix_messages_conversation_kind.
    answered_resolved = and_(c.resolved_at.is_not(None), c.first_response_at.is_not(None))
    replies = (
        select(func.count())
        .where(m.conversation_id == c.id, m.author_kind == AuthorKind.AGENT)
        .correlate(c)
        .scalar_subquery()
    )
    return (
        select(
            *([group.label(GROUP)] if group is not None else []),
            seconds_between(c.first_response_at, c.created_at, dialect).label("first_response"),
            seconds_between(c.resolved_at, c.created_at, dialect).label("resolution"),
            seconds_between(c.last_message_at, c.created_at, dialect).label("duration"),
            case((c.resolved_at.is_not(None), 1), else_=0).label("resolved"),
            case((answered_resolved, 1), else_=0).label("answered_resolved"),
            case((answered_resolved, case((replies == 1, 1), else_=0)), else_=0).label("one_touch"),
        )
        .where(*opened_in(scope))
        .subquery("conversation_facts")
    )


ReplyGroup = Literal["author", "team"]


def reply_facts(scope: ReportScope, dialect: str, by: ReplyGroup | None = None) -> Subquery:
    """One row per agent reply written in the range (on the filtered channel, in the filtered team's
    conversations), with the customer wait it ended (NULL when the customer was not waiting: a
    second reply in a row); ``grp`` is the reply's author (``by="author"``) or the author's team
    (``by="team"``). Read from ix_messages_reports alone unless the team filter is set."""
    c: Any = Conversation
    m: Any = Message
    a: Any = Agent
    group = {"author": m.author_agent_id, "team": a.team_id, None: None}[by]
    statement = select(
        *([group.label(GROUP)] if group is not None else []),
        seconds_between(m.created_at, m.waited_since, dialect).label(WAIT),
    ).where(m.author_kind == AuthorKind.AGENT, *sent_in(scope))
    if by == "team":
        # The agents are a handful of rows: looking each reply's author up costs next to nothing,
        # where the conversation's team would mean a lookup in the conversations table per reply.
        statement = statement.join(a, a.id == m.author_agent_id)
    if scope.team_id is not None:
        # "+ 0": SQLite then walks the range's replies through ix_messages_reports and looks each
        # conversation up by its key, rather than reading every message of the team's conversations.
        statement = statement.join(c, c.id == m.conversation_id + 0).where(c.team_id == scope.team_id)
    return statement.subquery("reply_facts")


async def conversation_rows(
    session: AsyncSession,
    scope: ReportScope,
    group: ColumnElement[Any] | None = None,
    measures: tuple[str, ...] = CONVERSATION_MEASURES,
) -> list[dict[str, Any]]:
    """The conversation measures per group (one row without ``group``), as mappings."""
    facts = conversation_facts(scope, dialect_of(session), group)
    statement = spreads_select(facts, measures, grouped=group is not None, flags=FLAGS)
    return [dict(row) for row in (await session.execute(statement)).mappings()]


async def reply_rows(
    session: AsyncSession, scope: ReportScope, by: ReplyGroup | None = None
) -> list[dict[str, Any]]:
    """Per group (see reply_facts): ``rows``, the agent replies written in the range, and the spread
    of the waits they ended."""
    facts = reply_facts(scope, dialect_of(session), by)
    statement = spreads_select(facts, (WAIT,), grouped=by is not None)
    return [dict(row) for row in (await session.execute(statement)).mappings()]


COLUMNS = (
    Column("metric", Kind.TEXT),
    Column("count", Kind.COUNT),
    Column("average", Kind.SECONDS),
    Column("median", Kind.SECONDS),
    Column("p90", Kind.SECONDS),
)


async def response_times(sessions: Sessions, scope: ReportScope) -> ReportTable:
    """One row per measure (first response, resolution, customer wait, duration) with its count,
    average, median and 90th percentile; the summary adds the conversation counts and first contact
    resolution."""
    conversation_answer, reply_answer = await side_by_side(
        sessions,
        lambda session: conversation_rows(session, scope),
        lambda session: reply_rows(session, scope),
    )
    conversations, replies = conversation_answer[0], reply_answer[0]
    spreads = {
        "first_response": spread_of(conversations, "first_response"),
        "resolution": spread_of(conversations, "resolution"),
        WAIT: spread_of(replies, WAIT),
        "duration": spread_of(conversations, "duration"),
    }
    rows = [{"metric": name, **spread.as_dict()} for name, spread in spreads.items()]
    answered, one_touch = int(conversations["answered_resolved"]), int(conversations["one_touch"])
    summary = {
        "conversations": int(conversations["rows"]),
        "resolved": int(conversations["resolved"]),
        "answered_and_resolved": answered,
        "resolved_with_one_reply": one_touch,
        "first_contact_resolution": rate(one_touch, answered),
        "agent_replies": int(replies["rows"]),
        **{f"{name}_median": spread.as_dict()["median"] for name, spread in spreads.items()},
    }
    return ReportTable("response-times", scope, COLUMNS, rows, summary)

"""The conversation list: filters, search and keyset paging, all in SQL on both backends.

Order: last activity first, then id. Every view walks an index in that order
(``ix_conversations_status_last``, ``..._assignee_status_last``, ``..._team_status_last``,
``ix_conversations_last``), so a page costs about its own size in rows, not the table's.

Search (``q``) finds conversations whose customer's name or any identity address contains the text,
and conversations holding one of the newest ``MESSAGE_MATCHES`` messages that contain it among the
newest ``MESSAGE_SEARCH_WINDOW`` messages. Substring matching (LIKE / ILIKE '%text%'), because
agents type parts of things: an order number, half an email, a phone without its prefix. Measured
with bench/inbox.py at 100,000 customers and 1,000,000 messages (see docs/inbox.md):

- PostgreSQL answers from trigram GIN indexes (pg_trgm) on names, addresses and message texts;
- SQLite has no index for '%text%', so names and addresses are scanned (100,000 short rows: a few
  milliseconds each) and messages are read newest first within the window, stopping at the
  ``MESSAGE_MATCHES``-th match. A LIKE over every message would be a full scan of the biggest table;
  FTS5 would match words, not substrings, and its shadow tables would be a second schema to keep.

Customers are always found, however old their messages; older message text is in the customer
panel's timeline. Case is ignored (on SQLite for ASCII letters only: its LIKE knows no others).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select, union
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from crm_core.models import Customer, Identity
from inbox.models import (
    Conversation,
    ConversationLabel,
    ConversationStatus,
    Message,
    Priority,
)
from inbox.sla import at_risk_condition as sla_at_risk_condition

# How many of the newest messages a text search reads, and how many matches among them it keeps
# (the newest; see the module docstring).
MESSAGE_SEARCH_WINDOW = 100_000
MESSAGE_MATCHES = 1_000
# Longer search texts are refused with a sentence naming the limit (nobody types one by hand).
MAX_SEARCH_LENGTH = 200
# A conversation waiting for a person this long is shown as at risk of missing its first-response
# target when no other threshold is given.
DEFAULT_AT_RISK_MINUTES = 15
# Statuses in which a waiting customer counts against the team (snoozed was put aside on purpose).
_ACTIVE = (ConversationStatus.OPEN, ConversationStatus.PENDING)


class InvalidFilter(ValueError):
    """A filter that cannot be applied, with a sentence naming what is wrong."""


@dataclass(frozen=True)
class ConversationFilter:
    status: ConversationStatus | None = None
    assignee_id: int | None = None
    unassigned: bool = False
    channel_type: str | None = None
    channel_account: str | None = None
    team_id: int | None = None
    customer_id: int | None = None
    label: str | None = None
    priority: Priority | None = None
    # SLA at risk: open or pending, with people (not the bot), and the customer has waited for a
    # person since before this time.
    waiting_since_before: datetime | None = None
    # SLA policies (inbox/sla.py): a target at risk or breached at this moment, open or pending.
    sla_at_risk_at: datetime | None = None
    # Text in the customer's name or addresses, or in a recent message.
    search: str | None = None


def _like_pattern(text: str) -> str:
    """``%text%`` for LIKE, with the wildcards agents may type taken literally."""
    escaped = text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _contains(column: ColumnElement[str], pattern: str, dialect: str) -> ColumnElement[bool]:
    """Case-insensitive substring match. PostgreSQL: ILIKE. SQLite: plain LIKE, which already
    ignores ASCII case; lower() around the column would copy every value it reads first."""
    if dialect == "postgresql":
        return column.ilike(pattern, escape="\\")
    return column.like(pattern, escape="\\")


def _recent_messages_floor() -> ColumnElement[int]:
    """The id below which messages are outside the search window (uncorrelated: computed once)."""
    newest = select(func.coalesce(func.max(Message.id), 0)).scalar_subquery()
    return newest - MESSAGE_SEARCH_WINDOW


def messages_matching(pattern: str, dialect: str) -> ColumnElement[bool]:
    return and_(Message.id > _recent_messages_floor(), _contains(Message.text, pattern, dialect))


def search_condition(text: str, dialect: str) -> ColumnElement[bool]:
    """Conversations of customers whose name or an address contains ``text``, and conversations
    with one of the newest ``MESSAGE_MATCHES`` messages containing it in the search window.

    Built as one set of conversation ids (a UNION of index-friendly parts) rather than an OR over
    the list's rows: each part can use its own index (PostgreSQL's trigram indexes, the messages'
    primary key walked newest first, conversations by customer), and a text found nowhere costs
    next to nothing instead of a walk over every conversation."""
    if len(text) > MAX_SEARCH_LENGTH:
        raise InvalidFilter(f"search text is {len(text)} characters; at most {MAX_SEARCH_LENGTH}")
    pattern = _like_pattern(text)
    by_name = select(Customer.id).where(
        # Written as an expression so SQLite scans the table instead of walking the merged_into_id
        # index over nearly every row (without statistics it takes any index for selective).
        func.coalesce(Customer.merged_into_id, 0) == 0,
        _contains(Customer.display_name, pattern, dialect),
    )
    by_address = select(Identity.customer_id).where(_contains(Identity.address, pattern, dialect))
    theirs = aliased(Conversation)
    of_customers = select(theirs.id).where(theirs.customer_id.in_(union(by_name, by_address)))
    newest_matches = (
        select(Message.conversation_id)
        .where(messages_matching(pattern, dialect))
        .order_by(Message.id.desc())
        .limit(MESSAGE_MATCHES)
        .subquery()
    )
    by_messages = select(newest_matches.c.conversation_id)
    return Conversation.id.in_(union(of_customers, by_messages))


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


def _conditions(filters: ConversationFilter, dialect: str) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if filters.status is not None:
        where.append(Conversation.status == filters.status)
    if filters.unassigned:
        where.append(Conversation.assignee_id.is_(None))
    elif filters.assignee_id is not None:
        where.append(Conversation.assignee_id == filters.assignee_id)
    if filters.channel_type is not None:
        where.append(Conversation.channel_type == filters.channel_type)
    if filters.channel_account is not None:
        where.append(Conversation.channel_account == filters.channel_account)
    if filters.team_id is not None:
        where.append(Conversation.team_id == filters.team_id)
    if filters.customer_id is not None:
        where.append(Conversation.customer_id == filters.customer_id)
    if filters.priority is not None:
        where.append(Conversation.priority == filters.priority)
    if filters.label is not None:
        labelled = select(ConversationLabel.conversation_id).where(
            ConversationLabel.label == filters.label.strip()
        )
        where.append(Conversation.id.in_(labelled))
    if filters.waiting_since_before is not None:
        # While the bot answers, nobody's first-response time is running.
        where.append(Conversation.status.in_(_ACTIVE))
        where.append(Conversation.bot_active.is_(False))
        where.append(Conversation.waiting_since <= filters.waiting_since_before)
    if filters.sla_at_risk_at is not None:
        where.extend(sla_at_risk_condition(filters.sla_at_risk_at))
    if filters.search is not None and filters.search.strip():
        where.append(search_condition(filters.search, dialect))
    return where


async def list_conversations(
    session: AsyncSession, filters: ConversationFilter, limit: int = 50, before_id: int | None = None
) -> list[Conversation]:
    """Most recently active first; ``before_id`` is the last conversation of the previous page."""
    statement = select(Conversation.id).where(*_conditions(filters, _dialect(session)))
    if before_id is not None:
        # Keyset paging on the sort order itself (last activity, then id), so pages never skip or
        # repeat a conversation.
        reference = select(Conversation.last_message_at).where(Conversation.id == before_id).scalar_subquery()
        statement = statement.where(
            or_(
                Conversation.last_message_at < reference,
                and_(Conversation.last_message_at == reference, Conversation.id < before_id),
            )
        )
    newest_first = (Conversation.last_message_at.desc(), Conversation.id.desc())
    # The page's ids first, then its rows: a search that matches thousands of conversations sorts
    # their keys, not their whole rows.
    page = statement.order_by(*newest_first).limit(limit)
    rows = select(Conversation).where(Conversation.id.in_(page)).order_by(*newest_first)
    return list((await session.execute(rows)).scalars())


async def count_conversations(session: AsyncSession, filters: ConversationFilter) -> int:
    conditions = _conditions(filters, _dialect(session))
    statement = select(func.count()).select_from(Conversation).where(*conditions)
    return int((await session.execute(statement)).scalar_one())


async def matching_messages(
    session: AsyncSession, conversation_ids: Sequence[int], text: str
) -> dict[int, str]:
    """For search results: the newest message of each conversation that contains ``text`` (within
    the search window), so the list can show why a conversation was found."""
    if not conversation_ids or not text.strip():
        return {}
    newest = (
        select(func.max(Message.id))
        .where(
            Message.conversation_id.in_(list(conversation_ids)),
            messages_matching(_like_pattern(text), _dialect(session)),
        )
        .group_by(Message.conversation_id)
    )
    rows = await session.execute(select(Message.conversation_id, Message.text).where(Message.id.in_(newest)))
    return {conversation_id: message_text for conversation_id, message_text in rows.all()}


async def last_messages(session: AsyncSession, conversation_ids: Sequence[int]) -> dict[int, Message]:
    """The newest message of each conversation (one index lookup each)."""
    if not conversation_ids:
        return {}
    newest = (
        select(func.max(Message.id))
        .where(Message.conversation_id.in_(list(conversation_ids)))
        .group_by(Message.conversation_id)
    )
    messages = (await session.execute(select(Message).where(Message.id.in_(newest)))).scalars()
    return {message.conversation_id: message for message in messages}


async def labels_in_use(session: AsyncSession, limit: int = 200) -> list[tuple[str, int]]:
    """Every label with how many conversations carry it, most used first (for the filter menu)."""
    statement = (
        select(ConversationLabel.label, func.count())
        .group_by(ConversationLabel.label)
        .order_by(func.count().desc(), ConversationLabel.label)
        .limit(limit)
    )
    return [(label, int(count)) for label, count in (await session.execute(statement)).all()]

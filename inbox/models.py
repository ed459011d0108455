"""Tables of the inbox: agents and teams, conversations, messages, private notes, and what the agents'
workspace keeps: labels as rows (the list filters on them), read positions and canned responses."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, Index, text
from sqlmodel import Field, SQLModel

from crm_core.columns import BigId, JsonDoc, UTCDateTime, enum_column, utcnow
from crm_core.models import Customer, Identity


class Role(StrEnum):
    ADMIN = "admin"
    AGENT = "agent"
    MARKETER = "marketer"
    # Watches the numbers (reports) and the queues; may step into any conversation.
    SUPERVISOR = "supervisor"


class ConversationStatus(StrEnum):
    OPEN = "open"
    PENDING = "pending"
    SNOOZED = "snoozed"
    RESOLVED = "resolved"


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class Presence(StrEnum):
    """Whether an agent takes new conversations: online (yes), away (not now), offline (signed out,
    or no inbox screen of theirs connected for a while; see inbox/assignment.py)."""

    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class AuthorKind(StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"
    BOT = "bot"
    SYSTEM = "system"


class MessageStatus(StrEnum):
    """Mirrors the channel contract's DeliveryStatus; inbound messages are RECEIVED."""

    RECEIVED = "received"
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"


class Team(SQLModel, table=True):
    __tablename__ = "teams"

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    name: str = Field(max_length=100, unique=True)
    # Round robin hands the team's waiting conversations to its online agents (inbox/assignment.py).
    auto_assign: bool = Field(default=True, sa_column_kwargs={"server_default": text("true")})


class Agent(SQLModel, table=True):
    """A person who logs in: support agent, marketer or admin."""

    __tablename__ = "agents"

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    email: str = Field(max_length=320, unique=True)
    name: str = Field(max_length=200)
    role: Role = Field(sa_type=enum_column(Role))
    password_hash: str = Field(max_length=200)
    team_id: int | None = Field(default=None, foreign_key="teams.id", sa_type=BigId)
    locale: str = Field(default="en", max_length=16)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # What the agent chose (online / away / offline) and when an inbox screen of theirs was last
    # connected: together they say whether round robin may give them conversations.
    presence: Presence = Field(
        default=Presence.OFFLINE,
        sa_type=enum_column(Presence),
        sa_column_kwargs={"server_default": Presence.OFFLINE.value},
    )
    seen_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Most open conversations round robin assigns them (their own picks may go beyond).
    capacity: int = Field(default=5, sa_column_kwargs={"server_default": text("5")})
    last_assigned_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Conversation(SQLModel, table=True):
    """A thread with one customer. Threading rule (inbox.conversations): a new inbound message joins the
    customer's open conversation on any channel, otherwise opens a new one."""

    __tablename__ = "conversations"
    # The list's views each walk one index in the list's order (last activity, then id), so a page of
    # 50 reads about 50 rows however many conversations there are (see inbox/listing.py).
    __table_args__ = (
        Index("ix_conversations_status_last", "status", "last_message_at"),
        Index("ix_conversations_customer_status", "customer_id", "status"),
        Index("ix_conversations_last", "last_message_at", "id"),
        Index("ix_conversations_assignee_status_last", "assignee_id", "status", "last_message_at", "id"),
        Index("ix_conversations_team_status_last", "team_id", "status", "last_message_at", "id"),
        Index("ix_conversations_status_waiting", "status", "waiting_since"),
        Index("ix_conversations_status_snoozed", "status", "snoozed_until"),
        Index("ix_conversations_status_sla_risk", "status", "sla_at_risk_at"),
        Index("ix_conversations_sla_check", "sla_check_at"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    customer_id: int = Field(foreign_key="customers.id", sa_type=BigId)
    # The channel account the customer last wrote from: where replies go by default.
    channel_account: str = Field(max_length=100)
    channel_type: str = Field(max_length=32)
    status: ConversationStatus = Field(
        default=ConversationStatus.OPEN, sa_type=enum_column(ConversationStatus)
    )
    assignee_id: int | None = Field(default=None, foreign_key="agents.id", sa_type=BigId)
    team_id: int | None = Field(default=None, foreign_key="teams.id", sa_type=BigId)
    priority: Priority = Field(default=Priority.NORMAL, sa_type=enum_column(Priority))
    # What the API shows; conversation_labels holds the same labels as rows for filtering.
    labels: list[str] = Field(default_factory=list, sa_type=JsonDoc)
    # True while a bot handles the conversation; a handoff or an agent reply turns it off.
    bot_active: bool = True
    snoozed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_message_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # The oldest inbound message not yet answered by a person (None when answered).
    waiting_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    first_response_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # SLA (inbox/sla.py): the policy in force (no foreign key: removing a policy first moves its
    # conversations to another), when people took the conversation over (the first-response and
    # resolution clocks start there), the due time of each target, the earliest moment one of them
    # is at risk, and when the SLA watcher should look at it next.
    sla_policy_id: int | None = Field(default=None, sa_type=BigId)
    sla_started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    first_response_due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    next_response_due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolution_due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sla_at_risk_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sla_check_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Message(SQLModel, table=True):
    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_conversation_id", "conversation_id", "id"),
        Index("ix_messages_provider_id", "channel_account", "provider_message_id"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    conversation_id: int = Field(foreign_key="conversations.id", sa_type=BigId)
    customer_id: int = Field(foreign_key="customers.id", sa_type=BigId, index=True)
    direction: Direction = Field(sa_type=enum_column(Direction))
    author_kind: AuthorKind = Field(sa_type=enum_column(AuthorKind))
    author_agent_id: int | None = Field(default=None, foreign_key="agents.id", sa_type=BigId)
    channel_account: str = Field(max_length=100)
    channel_type: str = Field(max_length=32)
    # The address on that channel: the sender of an inbound message, the recipient of an outbound one.
    address: str = Field(default="", max_length=320)
    text: str = Field(default="")
    attachments: list[dict[str, Any]] = Field(default_factory=list, sa_type=JsonDoc)
    buttons: list[dict[str, Any]] = Field(default_factory=list, sa_type=JsonDoc)
    provider_message_id: str | None = Field(default=None, max_length=200)
    status: MessageStatus = Field(sa_type=enum_column(MessageStatus))
    failure_reason: str | None = Field(default=None)
    meta: dict[str, Any] = Field(default_factory=dict, sa_type=JsonDoc)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    read_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    edited_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # On an agent's reply that ended the customer's wait: when that wait began (the conversation's
    # waiting_since), so reports measure every wait without replaying threads (inbox/reports).
    waited_since: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Note(SQLModel, table=True):
    """A private note on a conversation: agents and admins only, never sent to the customer."""

    __tablename__ = "notes"

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    conversation_id: int = Field(foreign_key="conversations.id", sa_type=BigId, index=True)
    author_agent_id: int | None = Field(default=None, foreign_key="agents.id", sa_type=BigId)
    text: str
    # Agents @mentioned in the note (ids); each is notified live.
    mentions: list[int] = Field(default_factory=list, sa_type=JsonDoc)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ConversationLabel(SQLModel, table=True):
    """One label of one conversation. Conversation.labels is the copy the API shows; these rows are
    what the list filters on, through an index, on both backends (a JSON array is not indexable on
    SQLite)."""

    __tablename__ = "conversation_labels"
    __table_args__ = (Index("ix_conversation_labels_label", "label", "conversation_id"),)

    conversation_id: int = Field(foreign_key="conversations.id", primary_key=True, sa_type=BigId)
    label: str = Field(primary_key=True, max_length=64)


class ConversationRead(SQLModel, table=True):
    """How far one agent has read one conversation: customer messages after this id are unread."""

    __tablename__ = "conversation_reads"

    agent_id: int = Field(foreign_key="agents.id", primary_key=True, sa_type=BigId)
    conversation_id: int = Field(foreign_key="conversations.id", primary_key=True, sa_type=BigId)
    last_read_message_id: int = Field(default=0, sa_type=BigId)
    read_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class CannedResponse(SQLModel, table=True):
    """A prepared answer agents insert into a reply; ``body`` is a template over the customer record
    (``{{ customer.first_name }}``), rendered in a sandbox (inbox/canned.py)."""

    __tablename__ = "canned_responses"

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    shortcut: str = Field(max_length=64, index=True)
    title: str = Field(max_length=200)
    body: str
    # The language it is written in (en, es...); None: any customer.
    language: str | None = Field(default=None, max_length=16)
    # None: shared with every agent (admins manage those); an agent's id: that agent's own.
    owner_agent_id: int | None = Field(default=None, foreign_key="agents.id", sa_type=BigId, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_by: str = Field(default="", max_length=200)


# ---- search indexes ------------------------------------------------------------------------------


def _trigram_index(name: str, column: Column[Any]) -> Index:
    """An index that answers substring search (``ILIKE '%text%'``, inbox/listing.py) on PostgreSQL:
    GIN over the column's trigrams (pg_trgm). SQLite has no such index; there the same declaration
    is a partial index on no rows (``WHERE 0``), empty and free, so that one metadata describes the
    schema of both backends (the migration drift test compares it with each)."""
    return Index(
        name,
        column,
        postgresql_using="gin",
        postgresql_ops={column.name: "gin_trgm_ops"},
        sqlite_where=text("0"),
    )


# The conversation list's search reads these three: customers' names and addresses, message texts.
SEARCH_INDEXES = (
    _trigram_index("ix_customers_name_trgm", Customer.__table__.c.display_name),  # type: ignore[attr-defined]
    _trigram_index("ix_identities_address_trgm", Identity.__table__.c.address),  # type: ignore[attr-defined]
    _trigram_index("ix_messages_text_trgm", Message.__table__.c.text),  # type: ignore[attr-defined]
)

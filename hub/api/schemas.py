"""Request and response bodies of the REST API (separate from the tables on purpose: the API is a
contract, the tables are storage)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from crm_core.models import ConsentPurpose, IdentityKind
from inbox.models import (
    AuthorKind,
    ConversationStatus,
    Direction,
    MessageStatus,
    Presence,
    Priority,
    Role,
)


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IdentityOut(_Out):
    id: int
    kind: IdentityKind
    address: str
    display_name: str | None
    verified: bool
    source: str
    created_at: datetime


class ConsentOut(_Out):
    channel: str
    purpose: ConsentPurpose
    granted: bool
    changed_at: datetime
    source: str


class TimelineEntryOut(_Out):
    id: int
    kind: str
    occurred_at: datetime
    payload: dict[str, Any]
    source: str


class CustomerOut(_Out):
    id: int
    display_name: str
    locale: str | None
    timezone: str | None
    attributes: dict[str, Any]
    tags: list[str]
    merged_into_id: int | None
    created_at: datetime
    updated_at: datetime


class MergeOut(_Out):
    id: int
    survivor_id: int
    merged_id: int
    moved: dict[str, Any]
    merged_by: str
    merged_at: datetime
    undone_at: datetime | None


class SegmentRefOut(_Out):
    id: str
    name: str


class CustomerDetailOut(CustomerOut):
    identities: list[IdentityOut]
    consents: list[ConsentOut]
    timeline: list[TimelineEntryOut]
    merges: list[MergeOut]
    # The saved segments the customer is in right now.
    segments: list[SegmentRefOut] = []


class CustomerUpdateIn(_In):
    display_name: str | None = Field(default=None, max_length=200)
    locale: str | None = Field(default=None, max_length=16)
    timezone: str | None = Field(default=None, max_length=64)
    attributes: dict[str, Any] = Field(default_factory=dict, description="null clears an attribute")
    add_tags: list[str] = Field(default_factory=list)
    remove_tags: list[str] = Field(default_factory=list)


class DuplicateOut(BaseModel):
    customer: CustomerOut
    score: float = Field(description="0-100, how likely the same person")
    reasons: list[str]


class DeepLinksOut(BaseModel):
    token: str = Field(description="the deep-link payload (Telegram /start, Viber context)")
    expires_in_days: int
    links: dict[str, str] = Field(description="channel account -> link that opens it bound to this customer")


class MergeIn(_In):
    merged_id: int = Field(description="the customer folded into this one")


class ConsentIn(_In):
    channel: str = Field(max_length=32)
    purpose: ConsentPurpose
    granted: bool
    source: str = Field(default="", max_length=200)


class ConversationOut(_Out):
    id: int
    customer_id: int
    channel_account: str
    channel_type: str
    status: ConversationStatus
    assignee_id: int | None
    team_id: int | None
    priority: Priority
    labels: list[str]
    bot_active: bool
    snoozed_until: datetime | None
    created_at: datetime
    last_message_at: datetime
    waiting_since: datetime | None
    first_response_at: datetime | None
    resolved_at: datetime | None
    # SLA (inbox/sla.py): the due time of each running target, and the earliest moment one of
    # them is at risk; screens count down from these.
    sla_policy_id: int | None = None
    first_response_due_at: datetime | None = None
    next_response_due_at: datetime | None = None
    resolution_due_at: datetime | None = None
    sla_at_risk_at: datetime | None = None


class ConversationListItem(ConversationOut):
    customer_name: str
    last_message_text: str | None = None
    last_message_author: AuthorKind | None = None
    # Customer messages the calling agent has not read (0 for API tokens, which read nothing).
    unread_count: int = 0
    # With a search: the newest message of the conversation containing the text, if one does.
    match_text: str | None = None


class ConversationCountsOut(BaseModel):
    """Open conversations per view of the list, and how many of the caller's have unread messages."""

    mine: int
    unassigned: int
    team: int | None = Field(description="None when the caller belongs to no team")
    all: int
    at_risk: int = Field(description="waiting for a person longer than the at-risk threshold")
    sla_at_risk: int = Field(default=0, description="an SLA target at risk or breached (open or pending)")
    unread_mine: int


class LabelCountOut(BaseModel):
    label: str
    count: int


class ReadIn(_In):
    message_id: int | None = Field(default=None, description="read up to this message (default: the newest)")


class ReadOut(BaseModel):
    conversation_id: int
    last_read_message_id: int


class TypingIn(_In):
    mode: Literal["reply", "note"] = "reply"


class ReplyOptionOut(BaseModel):
    channel_account: str
    channel_type: str
    address: str
    default: bool = Field(description="the channel the customer last wrote from")
    max_text_length: int
    whatsapp_window_open: bool | None = None
    whatsapp_window_closes_at: datetime | None = None


class MessageOut(_Out):
    id: int
    conversation_id: int
    customer_id: int
    direction: Direction
    author_kind: AuthorKind
    author_agent_id: int | None
    channel_account: str
    channel_type: str
    text: str
    attachments: list[dict[str, Any]]
    buttons: list[dict[str, Any]]
    provider_message_id: str | None
    status: MessageStatus
    failure_reason: str | None
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    read_at: datetime | None
    edited_at: datetime | None


class NoteOut(_Out):
    id: int
    conversation_id: int
    author_agent_id: int | None
    text: str
    mentions: list[int] = []
    created_at: datetime


class ButtonIn(_In):
    title: str = Field(min_length=1, max_length=100)
    payload: str | None = Field(default=None, max_length=256)
    url: str | None = Field(default=None, max_length=2000)


class AttachmentIn(_In):
    url: str = Field(
        max_length=400, pattern=r"^/media/[0-9a-f]{64}/[^/]+$", description="a URL from POST /api/v1/uploads"
    )
    filename: str = Field(min_length=1, max_length=200)
    content_type: str | None = Field(default=None, max_length=200)
    size: int | None = Field(default=None, ge=0)
    kind: Literal["image", "file", "audio", "video"] = "file"


class ReplyIn(_In):
    text: str = Field(default="", max_length=10_000)
    buttons: list[ButtonIn] = Field(default_factory=list, max_length=10)
    channel_account: str | None = Field(
        default=None,
        description="send on this channel account instead of the one the customer last wrote from",
    )
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=10)


class UploadOut(BaseModel):
    url: str
    filename: str
    content_type: str
    size: int
    kind: str


class NoteIn(_In):
    text: str = Field(min_length=1, max_length=10_000)
    mentions: list[int] = Field(
        default_factory=list, max_length=20, description="ids of the agents @mentioned in the note"
    )


class AssignIn(_In):
    agent_id: int | None = None
    team_id: int | None = None


class StatusIn(_In):
    status: ConversationStatus
    snoozed_until: AwareDatetime | None = None


class ConversationUpdateIn(_In):
    priority: Priority | None = None
    labels: list[str] | None = None


class CannedIn(_In):
    shortcut: str = Field(min_length=1, max_length=64, examples=["shipping"])
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=10_000, examples=["Hi {{ customer.first_name }}!"])
    language: str | None = Field(default=None, max_length=16, description="en, es...; none for any")
    shared: bool = Field(default=False, description="for every agent (needs canned:manage)")


class CannedUpdateIn(_In):
    shortcut: str | None = Field(default=None, min_length=1, max_length=64)
    title: str | None = Field(default=None, min_length=1, max_length=200)
    body: str | None = Field(default=None, min_length=1, max_length=10_000)
    language: str | None = Field(default=None, max_length=16)


class CannedOut(_Out):
    id: int
    shortcut: str
    title: str
    body: str
    language: str | None
    owner_agent_id: int | None
    updated_at: datetime
    updated_by: str


class CannedMatchOut(CannedOut):
    score: float


class CannedRenderIn(_In):
    conversation_id: int


class CannedRenderOut(BaseModel):
    text: str


class PreferencesOut(BaseModel):
    agent_id: int
    name: str
    email: str
    locale: Literal["en", "es"]
    team_id: int | None
    team_name: str | None
    presence: Presence = Presence.OFFLINE
    capacity: int = 5


class TeamOut(_Out):
    id: int
    name: str


class ChannelAccountOut(BaseModel):
    name: str
    type: str


class PreferencesIn(_In):
    locale: Literal["en", "es"] | None = None
    # online: round robin may give you conversations; away / offline: not now.
    presence: Presence | None = None


class CustomerInsightsOut(BaseModel):
    """The customer panel's figures: orders (order.created events and their amounts), calls and
    CSAT ratings from the timeline, and conversations so far."""

    ltv: float | None = Field(description="sum of order amounts; None without orders")
    orders_count: int
    last_orders: list[TimelineEntryOut]
    calls: list[TimelineEntryOut]
    csat: list[TimelineEntryOut]
    csat_average: float | None
    conversations: int


class BusinessEventIn(_In):
    kind: str = Field(
        min_length=1, max_length=64, pattern=r"^[a-z0-9_]+(\.[a-z0-9_]+)*$", examples=["order.created"]
    )
    customer_id: int | None = None
    identity: str | None = Field(default=None, description="kind:address, e.g. phone:+380501234567")
    payload: dict[str, Any] = Field(default_factory=dict)
    occurred_at: AwareDatetime | None = None
    create_customer: bool = Field(default=True, description="create the customer if the identity is new")


class BusinessEventOut(_Out):
    id: int
    customer_id: int
    kind: str
    occurred_at: datetime


class TokenIn(_In):
    name: str = Field(min_length=1, max_length=200)
    role: Role


class TokenOut(BaseModel):
    id: int
    name: str
    role: Role
    token: str = Field(description="shown once; only its hash is stored")


class AgentIn(_In):
    email: str = Field(min_length=3, max_length=320)
    name: str = Field(min_length=1, max_length=200)
    role: Role
    password: str = Field(min_length=10, max_length=200)
    locale: str = Field(default="en", max_length=16)
    team_id: int | None = None


class AgentOut(_Out):
    id: int
    email: str
    name: str
    role: Role
    team_id: int | None
    locale: str
    active: bool
    # Most open conversations round robin gives them (PATCH /api/v1/agents/{id}/capacity).
    capacity: int


class LoginIn(_In):
    email: str
    password: str


class MeOut(BaseModel):
    role: Role
    name: str
    agent_id: int | None
    permissions: list[str]

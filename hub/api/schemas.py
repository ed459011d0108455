"""Request and response bodies of the REST API (separate from the tables on purpose: the API is a
contract, the tables are storage)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from crm_core.models import ConsentPurpose, IdentityKind
from inbox.models import (
    AuthorKind,
    ConversationStatus,
    Direction,
    MessageStatus,
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


class CustomerDetailOut(CustomerOut):
    identities: list[IdentityOut]
    consents: list[ConsentOut]
    timeline: list[TimelineEntryOut]
    merges: list[MergeOut]


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


class ConversationListItem(ConversationOut):
    customer_name: str
    last_message_text: str | None = None


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
    created_at: datetime


class ButtonIn(_In):
    title: str = Field(min_length=1, max_length=100)
    payload: str | None = Field(default=None, max_length=256)
    url: str | None = Field(default=None, max_length=2000)


class ReplyIn(_In):
    text: str = Field(min_length=1, max_length=10_000)
    buttons: list[ButtonIn] = Field(default_factory=list, max_length=10)
    channel_account: str | None = Field(
        default=None,
        description="send on this channel account instead of the one the customer last wrote from",
    )


class NoteIn(_In):
    text: str = Field(min_length=1, max_length=10_000)


class AssignIn(_In):
    agent_id: int | None = None
    team_id: int | None = None


class StatusIn(_In):
    status: ConversationStatus
    snoozed_until: AwareDatetime | None = None


class ConversationUpdateIn(_In):
    priority: Priority | None = None
    labels: list[str] | None = None


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


class AgentOut(_Out):
    id: int
    email: str
    name: str
    role: Role
    team_id: int | None
    locale: str
    active: bool


class LoginIn(_In):
    email: str
    password: str


class MeOut(BaseModel):
    role: Role
    name: str
    agent_id: int | None
    permissions: list[str]

"""Campaign tables: the campaigns, their planning runs, one send row per customer per run and
message step, the journeys customers walk through multi-step campaigns, and the per-customer row
that makes the frequency cap hold across worker processes.

A send row is the campaign's memory of one customer: which variant and channel they got, and how
far the message went (queued -> sent -> delivered -> read, or failed / skipped with a reason), plus
what they did afterwards (replied, clicked, converted). Its unique key (campaign, run, step,
customer) is the idempotency key of the whole campaign: planning the same run twice, or after a
crash halfway, never plans anyone twice; the outbox row of each attempt carries
``campaign:<send id>:<attempt>`` as its own idempotency key, so nothing is sent twice either.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from crm_core.columns import BigId, JsonDoc, UTCDateTime, enum_column, utcnow


class CampaignStatus(StrEnum):
    DRAFT = "draft"  # saved, never launched
    SCHEDULED = "scheduled"  # launched; waits for its time, its cron schedule or its events
    RUNNING = "running"  # planning or sending
    PAUSED = "paused"  # nothing leaves until resumed
    COMPLETED = "completed"  # a one-off whose messages all left
    CANCELLED = "cancelled"  # stopped for good; what had not left never will


class SendStatus(StrEnum):
    PLANNED = "planned"  # waiting for its time (a delayed trigger) before its outbox row exists
    QUEUED = "queued"  # in the outbox
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"  # on every channel tried
    SKIPPED = "skipped"  # never sent; ``reason`` says why


class SkipReason(StrEnum):
    NO_CONSENT = "no_consent"
    NO_CHANNEL = "no_reachable_channel"
    FREQUENCY_CAP = "frequency_cap"
    ALREADY_RECEIVED = "already_received"  # entry: once (or again_after not yet passed)
    CANCELLED = "cancelled"
    CONDITION_MET = "condition_met"  # a triggered send whose `unless` event happened first


class Campaign(SQLModel, table=True):
    __tablename__ = "campaigns"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    # The definition as written (hub.campaigns.definition reads it).
    definition: dict[str, Any] = Field(default_factory=dict, sa_type=JsonDoc)
    status: CampaignStatus = Field(default=CampaignStatus.DRAFT, sa_type=enum_column(CampaignStatus))
    # "api" or the file that declares it ("file:campaigns/spring.yaml").
    source: str = Field(default="api", max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_by: str = Field(default="", max_length=200)
    launched_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class CampaignRun(SQLModel, table=True):
    """One planning of a campaign over its audience (the launch of a one-off, one firing of a
    recurring schedule). ``cursor`` is the last customer id planned, so a planning cut off by a
    crash resumes after it."""

    __tablename__ = "campaign_runs"
    __table_args__ = (UniqueConstraint("campaign_id", "key", name="uq_campaign_runs_key"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    campaign_id: str = Field(foreign_key="campaigns.id", max_length=64, index=True)
    key: str = Field(max_length=100)
    cursor: int = 0
    planned: int = 0
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class CampaignSend(SQLModel, table=True):
    __tablename__ = "campaign_sends"
    __table_args__ = (
        UniqueConstraint("campaign_id", "run_key", "step", "customer_id", name="uq_campaign_sends_once"),
        Index("ix_campaign_sends_customer_time", "customer_id", "planned_at"),
        Index("ix_campaign_sends_due", "status", "not_before"),
        Index("ix_campaign_sends_provider", "channel_account", "provider_message_id"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    campaign_id: str = Field(foreign_key="campaigns.id", max_length=64)
    run_key: str = Field(max_length=100)
    step: str = Field(default="main", max_length=64)
    customer_id: int = Field(foreign_key="customers.id", sa_type=BigId)
    variant: str = Field(default="a", max_length=64)
    purpose: str = Field(default="marketing", max_length=16)
    status: SendStatus = Field(default=SendStatus.PLANNED, sa_type=enum_column(SendStatus))
    reason: str | None = Field(default=None, max_length=500)
    channel_type: str | None = Field(default=None, max_length=32)
    channel_account: str | None = Field(default=None, max_length=100)
    address: str | None = Field(default=None, max_length=320)
    # Channel types tried so far, in order (the cascade moves along the campaign's preference).
    tried: list[str] = Field(default_factory=list, sa_type=JsonDoc)
    attempt: int = 0
    provider_message_id: str | None = Field(default=None, max_length=200)
    # Not before this time: a triggered send's delay, quiet hours, the send window.
    not_before: datetime | None = Field(default=None, sa_type=UTCDateTime)
    held_for: str | None = Field(default=None, max_length=32)  # quiet_hours | send_window
    planned_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    queued_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    read_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    failed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    replied_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    clicked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    converted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revenue: float | None = None
    # When the send-time check let it count against the customer's frequency cap (set once, under
    # the customer's MarketingContact row lock; a fallback to another channel is the same contact).
    admitted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class JourneyStatus(StrEnum):
    ACTIVE = "active"  # at a step, waiting for ``wake_at``
    COMPLETED = "completed"  # walked to the end
    EXITED = "exited"  # left early; ``exit_reason`` says why


class JourneyExit(StrEnum):
    CONDITION_MET = "condition_met"  # the campaign's `unless` event happened (the customer ordered)
    UNSUBSCRIBED = "unsubscribed"  # withdrew marketing consent on a channel of the journey
    CANCELLED = "cancelled"  # the campaign was cancelled
    STEP_REMOVED = "step_removed"  # the campaign was edited (while paused) and their step is gone
    CUSTOMER_GONE = "customer_gone"  # the customer record no longer exists


class CampaignJourney(SQLModel, table=True):
    """One customer walking through a multi-step campaign (one enrolment: a launch, a firing, a
    business event, a flow). ``step`` is where they are; the campaigns round looks at the journey
    again at ``wake_at`` (a wait's end, or earlier when an outcome it listens for comes in)."""

    __tablename__ = "campaign_journeys"
    __table_args__ = (
        UniqueConstraint("campaign_id", "run_key", "customer_id", name="uq_campaign_journeys_once"),
        Index("ix_campaign_journeys_due", "status", "wake_at"),
        Index("ix_campaign_journeys_customer", "customer_id", "status"),
        Index("ix_campaign_journeys_campaign", "campaign_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    campaign_id: str = Field(foreign_key="campaigns.id", max_length=64)
    run_key: str = Field(max_length=100)
    customer_id: int = Field(foreign_key="customers.id", sa_type=BigId)
    status: JourneyStatus = Field(default=JourneyStatus.ACTIVE, sa_type=enum_column(JourneyStatus))
    # The step they are at (None once finished). Unnamed steps are named by their place in the
    # definition, such as "steps[2]".
    step: str | None = Field(default=None, max_length=200)
    wake_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The end of the wait they are in (None: not waiting).
    deadline: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Whether outcomes (receipts, replies, clicks, orders) should wake the journey before wake_at.
    listening: bool = False
    # The latest message step sent on their path: what branches and waits look at by default.
    last_send: str | None = Field(default=None, max_length=64)
    entered_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    exit_reason: str | None = Field(default=None, max_length=64)


class MarketingContact(SQLModel, table=True):
    """One row per customer the send-time check has looked at: the row every check for that
    customer locks (an upsert) before counting, so two workers sending to the same customer at
    the same moment take turns and the second one sees the first one's message."""

    __tablename__ = "marketing_contacts"

    customer_id: int = Field(foreign_key="customers.id", primary_key=True, sa_type=BigId)
    checked_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

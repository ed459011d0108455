"""Tables of service levels: the business hours the hub keeps, SLA policies, and the ledger of SLA
alerts already raised (at risk, breached), which makes each alert happen once."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import UniqueConstraint, text
from sqlmodel import Field, SQLModel

from crm_core.columns import BigId, JsonDoc, UTCDateTime, enum_column, utcnow
from inbox.models import Priority


class SlaTarget(StrEnum):
    FIRST_RESPONSE = "first_response"
    NEXT_RESPONSE = "next_response"
    RESOLUTION = "resolution"


class SlaAlertKind(StrEnum):
    AT_RISK = "at_risk"
    BREACHED = "breached"


class StoredBusinessHours(SQLModel, table=True):
    """The hub's one set of business hours (row id 1): what the flows' ``business_hours`` condition
    and SLA policies counting business time use. Seeded from hub.yaml when the database has none
    (inbox/business_hours.py); the admin screen edits it from then on."""

    __tablename__ = "business_hours"

    id: int = Field(default=1, primary_key=True, sa_type=BigId)
    timezone: str = Field(max_length=64)
    # {"mon": ["09:00-18:00"], ...}; a missing day is closed.
    weekly: dict[str, Any] = Field(default_factory=dict, sa_type=JsonDoc)
    holidays: list[str] = Field(default_factory=list, sa_type=JsonDoc)
    # Every process compares this with what it loaded to pick up a change (hub/business_hours.py).
    version: int = Field(default=1)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_by: str = Field(default="", max_length=200)


class SlaPolicy(SQLModel, table=True):
    """Targets for conversations people handle. A policy applies to the conversations matching its
    team, priority and channel type (each None: any); the most specific enabled one wins."""

    __tablename__ = "sla_policies"

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    name: str = Field(max_length=100)
    team_id: int | None = Field(default=None, foreign_key="teams.id", sa_type=BigId)
    priority: Priority | None = Field(default=None, sa_type=enum_column(Priority))
    channel_type: str | None = Field(default=None, max_length=32)
    first_response_minutes: int | None = None
    next_response_minutes: int | None = None
    resolution_minutes: int | None = None
    # Count only open hours (the business hours above) rather than every minute.
    business_hours: bool = False
    # A target is at risk once this share of its time has gone.
    at_risk_percent: int = Field(default=80)
    enabled: bool = Field(default=True, sa_column_kwargs={"server_default": text("true")})
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SlaAlert(SQLModel, table=True):
    """One at-risk or breached alert of one target of one conversation. ``started_at`` is the moment
    the target's clock started, so a new wait of the customer (a next response) can alert again,
    while the same wait never alerts twice, however many processes look."""

    __tablename__ = "sla_alerts"
    __table_args__ = (
        UniqueConstraint("conversation_id", "target", "kind", "started_at", name="uq_sla_alerts_once"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    conversation_id: int = Field(foreign_key="conversations.id", sa_type=BigId)
    target: SlaTarget = Field(sa_type=enum_column(SlaTarget))
    kind: SlaAlertKind = Field(sa_type=enum_column(SlaAlertKind))
    started_at: datetime = Field(sa_type=UTCDateTime)
    due_at: datetime = Field(sa_type=UTCDateTime)
    policy_id: int | None = Field(default=None, sa_type=BigId)
    raised_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

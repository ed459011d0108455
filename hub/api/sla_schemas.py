"""Request and response bodies of the service-level API: business hours, SLA policies, team queues,
team auto-assignment and agent capacity (hub/api/sla.py, hub/api/teams_queue.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from inbox.assignment import MAX_CAPACITY
from inbox.models import ConversationStatus, Presence, Priority

# A year: longer targets are a typo, not a service level.
MAX_TARGET_MINUTES = 366 * 24 * 60


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class BusinessHoursDoc(_In):
    """``{"timezone": "Europe/Kyiv", "weekly": {"mon": ["09:00-18:00"]}, "holidays": ["2026-12-25"]}``:
    a missing day is closed; no day at all means always open."""

    timezone: str = Field(examples=["Europe/Kyiv"])
    weekly: dict[str, Any] = Field(default_factory=dict, examples=[{"mon": ["09:00-13:00", "14:00-18:00"]}])
    holidays: list[Any] = Field(default_factory=list, examples=[["2026-12-25"]])


class SlaPolicyIn(_In):
    name: str = Field(min_length=1, max_length=100)
    team_id: int | None = Field(default=None, description="None: any team")
    priority: Priority | None = Field(default=None, description="None: any priority")
    channel_type: str | None = Field(default=None, max_length=32, description="None: any channel")
    first_response_minutes: int | None = Field(default=None, ge=1, le=MAX_TARGET_MINUTES)
    next_response_minutes: int | None = Field(default=None, ge=1, le=MAX_TARGET_MINUTES)
    resolution_minutes: int | None = Field(default=None, ge=1, le=MAX_TARGET_MINUTES)
    business_hours: bool = Field(default=False, description="count only business hours")
    at_risk_percent: int = Field(default=80, ge=1, le=100, description="at risk once this share has gone")
    enabled: bool = True


class SlaPolicyPatch(_In):
    """Only the fields sent change; ``null`` clears a match (any team, priority or channel) or a target."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    team_id: int | None = None
    priority: Priority | None = None
    channel_type: str | None = Field(default=None, max_length=32)
    first_response_minutes: int | None = Field(default=None, ge=1, le=MAX_TARGET_MINUTES)
    next_response_minutes: int | None = Field(default=None, ge=1, le=MAX_TARGET_MINUTES)
    resolution_minutes: int | None = Field(default=None, ge=1, le=MAX_TARGET_MINUTES)
    business_hours: bool | None = None
    at_risk_percent: int | None = Field(default=None, ge=1, le=100)
    enabled: bool | None = None


class SlaPolicyOut(_Out):
    id: int
    name: str
    team_id: int | None
    priority: Priority | None
    channel_type: str | None
    first_response_minutes: int | None
    next_response_minutes: int | None
    resolution_minutes: int | None
    business_hours: bool
    at_risk_percent: int
    enabled: bool


class TeamSettingsIn(_In):
    auto_assign: bool


class TeamSettingsOut(_Out):
    id: int
    name: str
    auto_assign: bool


class CapacityIn(_In):
    capacity: int = Field(ge=0, le=MAX_CAPACITY, description="most open conversations round robin gives them")


class AgentLoadOut(BaseModel):
    id: int
    name: str
    presence: Presence = Field(description="online / away as chosen, offline when not seen lately")
    load: int = Field(description="open and pending conversations assigned to them")
    capacity: int
    last_assigned_at: datetime | None = None


class WaitingConversationOut(BaseModel):
    id: int
    customer_id: int
    customer_name: str
    channel_type: str
    status: ConversationStatus
    priority: Priority
    waiting_since: datetime | None
    first_response_due_at: datetime | None
    sla_at_risk_at: datetime | None


class TeamQueueOut(BaseModel):
    team_id: int
    name: str
    auto_assign: bool
    agents: list[AgentLoadOut]
    waiting: list[WaitingConversationOut] = Field(description="oldest waiting first")

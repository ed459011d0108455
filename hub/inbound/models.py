"""The raw inbound event: what a provider sent, stored before anything else happens."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from crm_core.columns import BigId, JsonDoc, UTCDateTime, enum_column, utcnow


class RawEventStatus(StrEnum):
    PENDING = "pending"
    PROCESSED = "processed"
    FAILED = "failed"  # could not be processed after retries; kept for inspection and replay


class RawEvent(SQLModel, table=True):
    """One provider delivery. (account, event_key) is unique: a provider's retry of the same event
    is recognised at insert time and never processed twice."""

    __tablename__ = "raw_events"
    __table_args__ = (
        UniqueConstraint("account", "event_key", name="uq_raw_event_account_key"),
        Index("ix_raw_events_pending", "status", "id"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    account: str = Field(max_length=100)
    channel_type: str = Field(max_length=32)
    event_key: str = Field(max_length=300)
    method: str = Field(max_length=16)
    url: str
    # Request headers minus credentials (see hub.inbound.receive.SECRET_HEADERS).
    headers: dict[str, Any] = Field(default_factory=dict, sa_type=JsonDoc)
    body: bytes = Field(sa_type=LargeBinary)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    status: RawEventStatus = Field(default=RawEventStatus.PENDING, sa_type=enum_column(RawEventStatus))
    attempts: int = 0
    # A processor's claim on this event; an expired claim (crashed process) may be taken over.
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    processed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    error: str | None = None

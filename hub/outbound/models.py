"""The outbox: every outgoing message as a durable row until the provider has it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from crm_core.columns import BigId, JsonDoc, UTCDateTime, enum_column, utcnow


class OutboxStatus(StrEnum):
    PENDING = "pending"  # waiting for its next attempt
    SENDING = "sending"  # claimed by a dispatcher until lease_until
    SENT = "sent"
    FAILED = "failed"  # permanently; the reason is in last_error and on the message
    CANCELLED = "cancelled"  # withdrawn before sending (a hook said so); the reason is in last_error


class OutboxItem(SQLModel, table=True):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    # Unique per logical message: enqueueing the same key twice is a no-op.
    idempotency_key: str = Field(max_length=200, unique=True)
    message_id: int | None = Field(default=None, foreign_key="messages.id", sa_type=BigId, index=True)
    channel_account: str = Field(max_length=100, index=True)
    recipient: str = Field(max_length=320)
    # The OutboundMessage as JSON (text, buttons, attachments, subject, reply_to, metadata).
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JsonDoc)
    status: OutboxStatus = Field(default=OutboxStatus.PENDING, sa_type=enum_column(OutboxStatus))
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    claimed_by: str | None = Field(default=None, max_length=100)
    last_error: str | None = None
    provider_message_id: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

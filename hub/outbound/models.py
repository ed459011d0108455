"""The outbox: every outgoing message as a durable row until the provider has it; and the shared
state of the rate limits it is sent under."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, Text, text
from sqlmodel import Field, SQLModel

from crm_core.columns import BigId, JsonDoc, UTCDateTime, enum_column, utcnow


class OutboxStatus(StrEnum):
    PENDING = "pending"  # waiting for its next attempt
    SENDING = "sending"  # claimed by a dispatcher until lease_until
    SENT = "sent"
    FAILED = "failed"  # permanently; the reason is in last_error and on the message
    CANCELLED = "cancelled"  # withdrawn before sending (a hook said so); the reason is in last_error


OPEN_ROWS = "status IN ('pending', 'sending')"


class OutboxItem(SQLModel, table=True):
    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        # The rows not yet settled, in claim order: claims read this, not the millions sent before.
        Index("ix_outbox_open", "id", postgresql_where=text(OPEN_ROWS), sqlite_where=text(OPEN_ROWS)),
    )

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


class RateLimitState(SQLModel, table=True):
    """One rate limit's state, shared by every dispatcher process (hub/outbound/ratelimit.py).

    Times are seconds since the epoch on the database's clock. A row whose times are all past says
    nothing a missing row would not, so such rows are deleted now and then."""

    __tablename__ = "rate_limits"

    # account:<name>, recipient:<account>:<address>, or a hook's own key such as campaign:<id>.
    key: str = Field(primary_key=True, max_length=600)
    # The earliest moment the next message under this limit may leave (the GCRA's theoretical
    # arrival time): every reserved send moves it on by one interval.
    next_at: float = 0.0
    # Holds late messages put on the next window (hub/outbound/ratelimit.py): [[start, until], ...],
    # as JSON text — the first time handed out at or after start is no earlier than until.
    holds: str = Field(default="[]", sa_type=Text)

"""Tables of the customer record."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from crm_core.columns import BigId, JsonDoc, UTCDateTime, enum_column, utcnow


class IdentityKind(StrEnum):
    """How a person is addressed; SMS, WhatsApp and calls share PHONE (mirrors the channel contract)."""

    PHONE = "phone"
    EMAIL = "email"
    TELEGRAM = "telegram"
    VIBER = "viber"
    WEBCHAT = "webchat"
    API = "api"


class ConsentPurpose(StrEnum):
    TRANSACTIONAL = "transactional"
    MARKETING = "marketing"


class AttributeType(StrEnum):
    TEXT = "text"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"


class Customer(SQLModel, table=True):
    """One person, however many channels they use."""

    __tablename__ = "customers"

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    display_name: str = Field(default="", max_length=200, index=True)
    locale: str | None = Field(default=None, max_length=16)
    timezone: str | None = Field(default=None, max_length=64)
    # Typed custom attributes: values are checked against AttributeDefinition when one exists.
    attributes: dict[str, Any] = Field(default_factory=dict, sa_type=JsonDoc)
    tags: list[str] = Field(default_factory=list, sa_type=JsonDoc)
    # Set when this record was merged into another; such a record is kept so the merge can be undone.
    merged_into_id: int | None = Field(default=None, foreign_key="customers.id", sa_type=BigId, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AttributeDefinition(SQLModel, table=True):
    """Declares the type of a custom attribute, so `birthday` is always a date and `ltv` a number."""

    __tablename__ = "attribute_definitions"

    key: str = Field(primary_key=True, max_length=64)
    type: AttributeType = Field(sa_type=enum_column(AttributeType))
    label: str = Field(default="", max_length=200)


class Identity(SQLModel, table=True):
    """A customer's address on one kind of channel. (kind, address) is unique: one address, one person."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("kind", "address", name="uq_identity_kind_address"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    customer_id: int = Field(foreign_key="customers.id", sa_type=BigId, index=True)
    kind: IdentityKind = Field(sa_type=enum_column(IdentityKind))
    address: str = Field(max_length=320)
    display_name: str | None = Field(default=None, max_length=200)
    # Verified: the provider vouches for it (user id, sender number, shared own contact).
    verified: bool = False
    # Where it came from: "telegram:main inbound", "agent 3", "import", ...
    source: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Consent(SQLModel, table=True):
    """The latest consent decision of a customer for one channel kind and purpose."""

    __tablename__ = "consents"
    __table_args__ = (UniqueConstraint("customer_id", "channel", "purpose", name="uq_consent_key"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    customer_id: int = Field(foreign_key="customers.id", sa_type=BigId, index=True)
    channel: str = Field(max_length=32)
    purpose: ConsentPurpose = Field(sa_type=enum_column(ConsentPurpose))
    granted: bool
    changed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # How it was given or withdrawn: "sms STOP keyword", "viber unsubscribed", "web form", ...
    source: str = Field(default="", max_length=200)


class CustomerEvent(SQLModel, table=True):
    """One entry of a customer's timeline: a message, a call, an order, any business event."""

    __tablename__ = "customer_events"
    __table_args__ = (Index("ix_customer_events_customer_time", "customer_id", "occurred_at"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    customer_id: int = Field(foreign_key="customers.id", sa_type=BigId)
    # message.inbound, message.outbound, call.missed, call.ended, order.created, consent.changed, ...
    kind: str = Field(max_length=64, index=True)
    occurred_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JsonDoc)
    # Which channel account or system reported it.
    source: str = Field(default="", max_length=200)


class MergeRecord(SQLModel, table=True):
    """An audit entry of one merge: exactly what moved from `merged` to `survivor`, so it can be undone."""

    __tablename__ = "customer_merges"

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    survivor_id: int = Field(foreign_key="customers.id", sa_type=BigId, index=True)
    merged_id: int = Field(foreign_key="customers.id", sa_type=BigId, index=True)
    moved: dict[str, Any] = Field(default_factory=dict, sa_type=JsonDoc)
    merged_by: str = Field(default="", max_length=200)
    merged_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    undone_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    undone_by: str | None = Field(default=None, max_length=200)

"""Every table of the hub in one place, so SQLModel.metadata knows them all (Alembic's autogenerate
and the migration drift test compare against it)."""

from __future__ import annotations

from sqlmodel import SQLModel

from bots.flows.state import FlowState
from crm_core.models import AttributeDefinition, Consent, Customer, CustomerEvent, Identity, MergeRecord
from hub.auth.models import AgentSession, ApiToken
from hub.deeplinks import DeepLinkUse
from hub.inbound.models import RawEvent
from hub.outbound.models import OutboxItem
from inbox.models import Agent, Conversation, Message, Note, Team

ALL_TABLES: tuple[type[SQLModel], ...] = (
    AttributeDefinition,
    Consent,
    Customer,
    CustomerEvent,
    Identity,
    MergeRecord,
    Team,
    Agent,
    Conversation,
    Message,
    Note,
    AgentSession,
    ApiToken,
    RawEvent,
    OutboxItem,
    DeepLinkUse,
    FlowState,
)

metadata = SQLModel.metadata

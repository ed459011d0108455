"""Every table of the hub in one place, so SQLModel.metadata knows them all (Alembic's autogenerate
and the migration drift test compare against it)."""

from __future__ import annotations

from sqlmodel import SQLModel

from bots.flows.state import FlowState
from crm_core.models import AttributeDefinition, Consent, Customer, CustomerEvent, Identity, MergeRecord
from crm_core.segments import Segment
from crm_core.segments.entries import SegmentEntry, SegmentWatch
from crm_core.segments.order_summary import OrderSummary
from hub.audit import AuditEntry
from hub.auth.models import AgentSession, ApiToken
from hub.campaigns.models import Campaign, CampaignJourney, CampaignRun, CampaignSend, MarketingContact
from hub.deeplinks import DeepLinkUse
from hub.inbound.models import RawEvent
from hub.outbound.models import OutboxItem, RateLimitState
from hub.scheduler.tables import scheduler_metadata
from inbox.models import (
    Agent,
    CannedResponse,
    Conversation,
    ConversationLabel,
    ConversationRead,
    Message,
    Note,
    Team,
)
from inbox.reports.handoff_log import BotHandoff
from inbox.reports.indexes import REPORT_INDEXES  # noqa: F401  (declares the reports' indexes)
from inbox.sla_models import SlaAlert, SlaPolicy, StoredBusinessHours

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
    RateLimitState,
    DeepLinkUse,
    FlowState,
    Segment,
    SegmentWatch,
    SegmentEntry,
    OrderSummary,
    ConversationLabel,
    ConversationRead,
    CannedResponse,
    Campaign,
    CampaignRun,
    CampaignSend,
    CampaignJourney,
    MarketingContact,
    AuditEntry,
    BotHandoff,
    StoredBusinessHours,
    SlaPolicy,
    SlaAlert,
)

metadata = SQLModel.metadata
# The scheduler's tables (APScheduler's job store and the fire ledger) are plain Core tables on their
# own MetaData; copied here so migrations and the drift test see them too.
for _table in scheduler_metadata.tables.values():
    _table.to_metadata(metadata)

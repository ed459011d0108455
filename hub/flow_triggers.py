"""Flow triggers the hub fires itself: ``schedule`` (a cron time, for the customers of a segment)
and ``segment`` (a customer entered a saved segment).

Both run as scheduled jobs (hub.scheduler: one elected process, each fire once):

- each ``schedule`` trigger is a cron job named after the flow and the trigger; ``sync_schedules``
  writes the jobs for the active flows and removes those of triggers that are gone (at start and
  after every flow reload);
- one job, every minute, looks at each segment some flow waits for customers to enter
  (crm_core.segments.entries) and starts the flow for the newcomers.

Where the flow speaks: in the customer's latest conversation, on the address they last wrote from
(the same rule as business events). Customers who never wrote to us, and customers a person is
talking to, are skipped: these are service flows (a reminder, a follow-up); messages to people who
never wrote belong to campaigns, which check consent, quiet hours and frequency caps.
"""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bots.flows import FlowEngine
from bots.flows.model import Flow, Trigger, TriggerKind
from crm_core.customers import get_customer
from crm_core.segments import SegmentError, get_segment
from crm_core.segments.entries import refresh_entries
from hub.flows import apply_result
from hub.live import LiveEvent
from hub.outbound.enqueue import WAKE_TOPIC
from hub.scheduler import Fire
from hub.segments import segments_for
from inbox import conversations as inbox
from inbox.models import Conversation, ConversationStatus

if TYPE_CHECKING:
    from hub.runtime import Hub

log = logging.getLogger(__name__)

SCHEDULE_JOB = "hub.flow_triggers:fire_schedule"
SEGMENT_JOB = "hub.flow_triggers:sweep_segments"
SEGMENT_JOB_ID = "flow-segments"
_SCHEDULE_PREFIX = "flow-schedule:"
# How many customers one firing starts a flow for (the scheduled job is one transaction).
MAX_PER_FIRE = 5000


def schedule_job_id(flow: Flow, trigger: Trigger) -> str:
    digest = hashlib.sha256(trigger.describe().encode()).hexdigest()[:12]
    return f"{_SCHEDULE_PREFIX}{flow.id}:{digest}"


def _triggers(engine: FlowEngine, kind: TriggerKind) -> list[tuple[Flow, Trigger]]:
    return [(flow, trigger) for flow in engine.flows for trigger in flow.triggers if trigger.kind is kind]


async def sync_schedules(hub: Hub) -> None:
    """Make the scheduler's flow jobs match the active flows' ``schedule`` and ``segment`` triggers."""
    if hub.flows is None or hub.scheduler is None:
        return
    scheduler = hub.scheduler
    wanted = {}
    for flow, trigger in _triggers(hub.flows, TriggerKind.SCHEDULE):
        wanted[schedule_job_id(flow, trigger)] = (flow, trigger)
    existing = {job.id for job in await scheduler.jobs() if job.id.startswith(_SCHEDULE_PREFIX)}
    for job_id, (flow, trigger) in wanted.items():
        if job_id in existing:
            continue  # rewriting it would move its next fire time
        await scheduler.schedule_cron(
            job_id,
            SCHEDULE_JOB,
            cron=trigger.patterns[0],
            timezone=trigger.timezone or hub.config.business_hours.timezone,
            args=[flow.id, trigger.describe()],
        )
        log.info("flow %s: scheduled %s for segment %s", flow.id, trigger.patterns[0], trigger.audience)
    for job_id in existing - set(wanted):
        await scheduler.cancel(job_id)
        log.info("flow schedule %s removed (its trigger is gone)", job_id)
    watching = bool(_triggers(hub.flows, TriggerKind.SEGMENT))
    has_sweep = await scheduler.job(SEGMENT_JOB_ID) is not None
    if watching and not has_sweep:
        await scheduler.schedule_cron(SEGMENT_JOB_ID, SEGMENT_JOB, cron="* * * * *")
    elif not watching and has_sweep:
        await scheduler.cancel(SEGMENT_JOB_ID)


async def _speaking_conversation(session: AsyncSession, customer_id: int) -> Conversation | None:
    """The customer's latest conversation the bot may speak in (None: none, or a person has it)."""
    conversation = (
        (
            await session.execute(
                select(Conversation)
                .where(Conversation.customer_id == customer_id)
                .order_by(Conversation.last_message_at.desc())  # type: ignore[attr-defined]
                .limit(1)
            )
        )
        .scalars()
        .first()
    )
    if conversation is None:
        return None
    if conversation.status is not ConversationStatus.RESOLVED and not conversation.bot_active:
        return None  # a person is in charge
    return conversation


async def start_for(
    session: AsyncSession, engine: FlowEngine, flow: Flow, trigger: Trigger, customer_ids: list[int]
) -> tuple[int, list[LiveEvent]]:
    """Start the flow for each customer who can be spoken to; returns how many started."""
    started, events = 0, []
    for customer_id in customer_ids:
        conversation = await _speaking_conversation(session, customer_id)
        if conversation is None:
            continue
        customer = await get_customer(session, customer_id)
        result = await engine.start_by_trigger(
            session,
            customer=customer,
            flow_id=flow.id,
            trigger=trigger,
            conversation_id=conversation.id,  # type: ignore[arg-type]
            channel_type=conversation.channel_type,
            variables={"trigger": trigger.kind.value},
        )
        if result.handled:
            started += 1
            conversation = await inbox.get_conversation(session, conversation.id, lock=True)  # type: ignore[arg-type]
            events += await apply_result(session, conversation, result)
    return started, events


def _find(engine: FlowEngine, flow_id: str, key: str) -> tuple[Flow, Trigger] | None:
    flow = engine.flows.get(flow_id)
    if flow is None:
        return None
    trigger = next((t for t in flow.triggers if t.describe() == key), None)
    return (flow, trigger) if trigger is not None else None


async def fire_schedule(fire: Fire, flow_id: str, trigger_key: str) -> None:
    """A ``schedule`` trigger's time came: start the flow for its audience's customers."""
    hub: Hub = fire.context
    if hub is None or hub.flows is None:
        return
    found = _find(hub.flows, flow_id, trigger_key)
    if found is None:
        log.info("flow %s no longer has the schedule %s: nothing started", flow_id, trigger_key)
        return
    flow, trigger = found
    session = fire.session
    saved = await get_segment(session, trigger.audience or "")
    if saved is None:
        log.warning(
            "flow %s: schedule audience %r is not a saved segment; nothing started", flow.id, trigger.audience
        )
        return
    segments = segments_for(hub.config)
    try:
        audience = segments.parse(saved.definition)
    except SegmentError as exc:
        log.warning("flow %s: segment %r does not read (%s); nothing started", flow.id, saved.id, exc)
        return
    ids = await segments.member_ids(session, audience, limit=MAX_PER_FIRE, now=fire.fire_time)
    started, events = await start_for(session, hub.flows, flow, trigger, ids)
    log.info("flow %s started for %d of %d customers of %s (schedule)", flow.id, started, len(ids), saved.id)
    fire.after_commit(lambda: _announce(hub, events))


async def _announce(hub: Hub, events: list[LiveEvent]) -> None:
    """After the commit: agents see the flows' messages, and the outbox sends them."""
    await hub.bus.publish_all(events)
    if events:
        await hub.bus.publish(WAKE_TOPIC, {})


async def sweep_segments(fire: Fire) -> None:
    """Every minute: start the flows waiting for customers to enter a segment, for the newcomers."""
    hub: Hub = fire.context
    if hub is None or hub.flows is None:
        return
    session = fire.session
    segments = segments_for(hub.config)
    events: list[LiveEvent] = []
    by_segment: dict[str, list[tuple[Flow, Trigger]]] = {}
    for flow, trigger in _triggers(hub.flows, TriggerKind.SEGMENT):
        by_segment.setdefault(trigger.patterns[0], []).append((flow, trigger))
    for segment_id, listeners in by_segment.items():
        saved = await get_segment(session, segment_id)
        if saved is None:
            log.warning("flows wait for customers entering %r, which is not a saved segment", segment_id)
            continue
        try:
            definition = segments.parse(saved.definition)
        except SegmentError as exc:
            log.warning("segment %r does not read (%s): not watched", segment_id, exc)
            continue
        ctx = await segments.context(session, fire.fire_time)
        newcomers = await refresh_entries(session, segment_id, definition, ctx)
        for flow, trigger in listeners:
            started, more = await start_for(session, hub.flows, flow, trigger, newcomers)
            events += more
            if newcomers:
                log.info("flow %s started for %d customers entering %s", flow.id, started, segment_id)
    fire.after_commit(lambda: _announce(hub, events))

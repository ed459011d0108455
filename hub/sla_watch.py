"""The SLA watcher: raises each at-risk and breached alert once, and keeps the team queues moving.

Every worker process runs it (started with the snooze wake-ups). Each round:

1. conversations whose next SLA moment has come (``inbox.sla.due_conversations``) are looked at
   one per transaction; ``inbox.sla.alerts_for`` claims the alerts that came due in the
   ``sla_alerts`` ledger, which holds each alert once however many processes look. For each claim,
   in the same transaction, the customer's timeline gets ``sla.at_risk`` or ``sla.breached``
   (payload: conversation_id, target — first_response, next_response or resolution —, due_at,
   policy_id, policy) and it goes down the business-event path: flows triggered by it run (even
   though people hold the conversation: that is what these events are about) and triggered
   campaigns plan their sends. After commit the screens are told (the conversation and the
   customer changed).
2. the queues of auto-assigning teams with waiting conversations are handed out to agents with
   room — a safety net for what no action announces (an agent's screen reconnecting, a woken
   snooze, a deactivated agent).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.columns import utcnow
from crm_core.customers import get_customer, record_event
from hub.flows import on_business_event
from hub.live import LiveEvent
from hub.outbound.enqueue import WAKE_TOPIC
from hub.routing import announcements, assignment_events
from inbox import assignment, sla
from inbox.models import Conversation

if TYPE_CHECKING:
    from hub.runtime import Hub

log = logging.getLogger(__name__)

WATCH_INTERVAL_SECONDS = 5.0


def event_kind(alert: sla.Alert) -> str:
    return f"sla.{alert.kind.value}"


async def _raise(hub: Hub, session: AsyncSession, alert: sla.Alert) -> list[LiveEvent]:
    """One claimed alert down the business-event path (see the module docstring)."""
    customer = await get_customer(session, alert.customer_id)
    conversation = await session.get(Conversation, alert.conversation_id)
    kind = event_kind(alert)
    payload = {
        "conversation_id": alert.conversation_id,
        "target": alert.target.value,
        "due_at": alert.due_at.isoformat(),
        "policy_id": alert.policy_id,
        "policy": alert.policy_name,
    }
    event = await record_event(session, customer, kind, payload, source="sla")
    events: list[LiveEvent] = []
    if hub.flows is not None:
        events += await on_business_event(
            session, hub.flows, customer, kind, payload, conversation, people_in_charge=True
        )
    if hub.campaigns is not None:
        await hub.campaigns.on_event(
            session, customer.id, kind, payload, event_id=event.id, at=event.occurred_at
        )  # type: ignore[arg-type]
    return events


async def raise_due_alerts(hub: Hub, now: datetime | None = None) -> list[sla.Alert]:
    """One pass over the conversations whose SLA moment has come; the alerts raised."""
    now = now or utcnow()
    raised: list[sla.Alert] = []
    async with hub.db.session() as session:
        due = await sla.due_conversations(session, now)
    for conversation_id in due:
        events: list[LiveEvent] = []
        async with hub.db.transaction() as session:
            alerts = await sla.alerts_for(session, conversation_id, now)
            for alert in alerts or ():
                events += await _raise(hub, session, alert)
            events += announcements(session)
        if not alerts:
            continue
        raised += alerts
        events += [
            LiveEvent("inbox", {"type": "conversation.updated", "conversation_id": conversation_id}),
            LiveEvent("inbox", {"type": "customer.updated", "customer_id": alerts[0].customer_id}),
        ]
        await hub.bus.publish_all(events)
        if any(e.payload.get("type") == "message.created" for e in events):
            await hub.bus.publish(WAKE_TOPIC, {})  # a flow answered: the outbox has work
    return raised


async def drain_queues(hub: Hub, now: datetime | None = None) -> list[tuple[int, int]]:
    """Hand out every auto-assigning team's queue to agents with room; the assignments."""
    now = now or utcnow()
    assigned: list[tuple[int, int]] = []
    async with hub.db.session() as session:
        # Read first: a team whose agents are all full or away costs no write.
        teams = [
            t for t in await assignment.teams_waiting(session) if await assignment.has_room(session, t, now)
        ]
    for team_id in teams:
        async with hub.db.transaction() as session:
            pairs = await assignment.drain(session, team_id, now)
            assignment.take_assigned(session)  # announced below, with the pairs drain returned
        assigned += pairs
        if pairs:
            await hub.bus.publish_all(assignment_events(pairs))
    return assigned


async def watch_once(hub: Hub) -> None:
    alerts = await raise_due_alerts(hub)
    if alerts:
        log.info("raised %d SLA alert(s)", len(alerts))
    assigned = await drain_queues(hub)
    if assigned:
        log.info("assigned %d waiting conversation(s) from team queues", len(assigned))


async def run_sla_watch(hub: Hub, interval: float = WATCH_INTERVAL_SECONDS) -> None:
    while True:
        try:
            await watch_once(hub)
        except Exception:
            log.exception("the SLA watch failed; retrying in %s s", interval)
        await asyncio.sleep(interval)

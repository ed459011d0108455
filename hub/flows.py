"""The flow engine in the hub: building it from hub.yaml, applying handoffs, and speaking outside an
inbound message (business events, a resolved conversation, timeouts).

Inbound messages reach the engine through FlowBot like any bot (hub/inbound/apply.py). Everything
here runs inside the caller's transaction; live events are published by the caller after commit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bots.flows import FlowEngine, FlowResult, Handoff, load_flows, weekly_hours
from bots.flows.validate import flow_files
from bots.turn import BotReply
from crm_core.models import Customer
from hub.config import HubConfig
from hub.db import Database
from hub.inbound.apply import inbox_event
from hub.live import LiveEvent
from hub.outbound.enqueue import enqueue_message
from inbox import conversations as inbox
from inbox.models import AuthorKind, Conversation, ConversationStatus, Direction, Message, Team

log = logging.getLogger(__name__)

TIMEOUT_INTERVAL_SECONDS = 30.0


def build_flow_engine(config: HubConfig) -> FlowEngine | None:
    """The engine over the configured flows folder, or None when it holds no flows. Raises
    bots.flows.FlowError (every problem, with file and line) when any flow is invalid: the hub
    refuses to start rather than run half a folder."""
    folder = config.flows_dir
    if not folder.is_dir() or not flow_files(folder):
        return None
    # Handoff teams are checked against hub.yaml's teams when it lists any.
    flows = load_flows(folder, teams=config.teams or None)
    if not len(flows):
        return None
    hours = config.business_hours
    return FlowEngine(
        flows,
        business_hours=weekly_hours(hours.timezone, hours.weekly),
        default_region=config.default_region,
    )


async def hand_to_people(session: AsyncSession, conversation_id: int, handoff: Handoff) -> None:
    """FlowBot's on_handoff: the bot goes quiet, the conversation goes to the team (created on first
    use, named as in hub.yaml), and the summary becomes a private note for the agents."""
    conversation = await inbox.get_conversation(session, conversation_id, lock=True)
    team_id = None
    if handoff.team:
        team = (await session.execute(select(Team).where(Team.name == handoff.team))).scalars().first()
        if team is None:
            team = Team(name=handoff.team)
            session.add(team)
            await session.flush()
        team_id = team.id
    await inbox.assign(session, conversation, agent_id=None, team_id=team_id)
    conversation.bot_active = False
    session.add(conversation)
    await inbox.add_note(session, conversation, None, handoff.summary)


async def _reply_target(session: AsyncSession, conversation_id: int) -> Message | None:
    statement = (
        select(Message)
        .where(
            Message.conversation_id == conversation_id,
            Message.direction == Direction.INBOUND,
            Message.author_kind == AuthorKind.CUSTOMER,
        )
        .order_by(Message.id.desc())
        .limit(1)
    )
    return (await session.execute(statement)).scalars().first()


async def queue_replies(
    session: AsyncSession, conversation: Conversation, replies: Sequence[BotReply]
) -> list[Message]:
    """Bot replies outside an inbound turn: to the address the customer last wrote from in the
    conversation (nothing when they never wrote there)."""
    target = await _reply_target(session, conversation.id)  # type: ignore[arg-type]
    if target is None:
        return []
    queued = []
    for reply in replies:
        message = await inbox.add_outbound_message(
            session,
            conversation,
            text=reply.text,
            author_kind=AuthorKind.BOT,
            address=target.address,
            channel_account=target.channel_account,
            channel_type=target.channel_type,
            buttons=[asdict(b) for b in reply.buttons],
        )
        await enqueue_message(session, message)
        queued.append(message)
    return queued


async def apply_result(
    session: AsyncSession, conversation: Conversation, result: FlowResult
) -> list[LiveEvent]:
    """Queue a flow's replies and apply its handoff; returns the live events to publish."""
    queued = await queue_replies(session, conversation, result.replies)
    events = [inbox_event("message.created", m) for m in queued]
    if result.handoff is not None:
        await hand_to_people(session, conversation.id, result.handoff)  # type: ignore[arg-type]
        events.append(inbox_event("conversation.updated", conversation=conversation))
    return events


async def on_business_event(
    session: AsyncSession,
    engine: FlowEngine,
    customer: Customer,
    kind: str,
    payload: Mapping[str, Any],
    conversation: Conversation | None = None,
) -> list[LiveEvent]:
    """Start the flow a business event triggers, in ``conversation`` or the customer's unresolved
    one. Nothing happens where a person is in charge, or when the customer has no conversation to
    speak in (proactive messages belong to campaigns)."""
    if conversation is None:
        conversation = (
            (
                await session.execute(
                    select(Conversation)
                    .where(
                        Conversation.customer_id == customer.id,
                        Conversation.status.in_(inbox.UNRESOLVED),  # type: ignore[attr-defined]
                    )
                    .order_by(Conversation.last_message_at.desc())
                    .limit(1)
                )
            )
            .scalars()
            .first()
        )
    if conversation is None:
        return []
    resolved = conversation.status is ConversationStatus.RESOLVED
    if not (conversation.bot_active or resolved):
        return []
    result = await engine.handle_event(
        session,
        customer=customer,
        conversation_id=conversation.id,  # type: ignore[arg-type]
        channel_type=conversation.channel_type,
        kind=kind,
        payload=payload,
    )
    return await apply_result(session, conversation, result)


async def _bot_may_speak(session: AsyncSession, conversation_id: int) -> bool:
    conversation = await session.get(Conversation, conversation_id)
    return conversation is not None and (
        conversation.bot_active or conversation.status is ConversationStatus.RESOLVED
    )


async def fire_timeouts(db: Database, engine: FlowEngine) -> list[LiveEvent]:
    """One round of due flow timeouts, their replies queued in the same transaction."""
    events: list[LiveEvent] = []
    async with db.transaction() as session:
        for item in await engine.expire_timeouts(session, is_active=_bot_may_speak):
            conversation = await inbox.get_conversation(session, item.conversation_id, lock=True)
            events += await apply_result(session, conversation, item.result)
    return events


async def run_timeouts(db: Database, engine: FlowEngine, publish: Any) -> None:
    """The periodic job (every worker may run it: customers busy elsewhere are skipped)."""
    while True:
        try:
            events = await fire_timeouts(db, engine)
            if events:
                await publish(events)
        except Exception:
            log.exception("flow timeouts failed; retrying in %s s", TIMEOUT_INTERVAL_SECONDS)
        await asyncio.sleep(TIMEOUT_INTERVAL_SECONDS)

"""The flow engine in the hub: building it from hub.yaml, applying handoffs, and speaking outside an
inbound message (business events, a resolved conversation, timeouts).

Inbound messages reach the engine through FlowBot like any bot (hub/inbound/apply.py). Everything
here runs inside the caller's transaction; live events are published by the caller after commit.

What flows need of the hub comes in through bots.flows.host.Host, built here from hub.yaml: deep
links to the configured Telegram/Viber bots (signed with the hub's secret), the account that sends
on each channel type, and enrolment in campaigns (the hub's campaigns service). The media store,
where the images of replies go (QR codes), rides on the engine (HubFlowEngine) so events and
timeouts can store them like inbound turns do.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bots.flows import FlowEngine, FlowResult, FlowSet, Handoff, load_flows, weekly_hours
from bots.flows.host import CampaignEnroller, Host
from bots.flows.state import FlowState
from bots.flows.validate import flow_files
from bots.turn import BotReply
from crm_core.models import Customer
from hub import deeplinks
from hub.config import HubConfig
from hub.db import Database
from hub.inbound.apply import ReplyTarget, inbox_event, queue_bot_reply
from hub.live import LiveEvent
from hub.media import MediaStore
from hub.routing import announcements, settle
from hub.segments import segments_for
from inbox import conversations as inbox
from inbox.models import AuthorKind, Conversation, ConversationStatus, Direction, Message, Team
from inbox.reports.handoff_log import record_handoff

log = logging.getLogger(__name__)

TIMEOUT_INTERVAL_SECONDS = 30.0


class HubFlowEngine(FlowEngine):
    """The flow engine as the hub builds it: with the media store the files of its replies go to."""

    def __init__(self, flows: FlowSet, *, media: MediaStore | None = None, **options: Any) -> None:
        super().__init__(flows, **options)
        self.media = media


def media_of(engine: FlowEngine) -> MediaStore | None:
    return engine.media if isinstance(engine, HubFlowEngine) else None


def build_flow_engine(
    config: HubConfig,
    *,
    secret_key: bytes | None = None,
    media: MediaStore | None = None,
    enrol: CampaignEnroller | None = None,
) -> FlowEngine | None:
    """The engine over the configured flows folder, or None when it holds no flows. Raises
    bots.flows.FlowError (every problem, with file and line) when any flow is invalid: the hub
    refuses to start rather than run half a folder.

    ``secret_key`` (the hub's) signs the deep links flows render with ``{{ deep_link('telegram') }}``;
    without it such a template fails the flow. ``media`` keeps the images replies carry when a flow
    speaks on an event or a timeout (inbound turns use the applier's store); without it such replies
    are skipped, with the reason on the customer's timeline."""
    folder = config.flows_dir
    if not folder.is_dir() or not flow_files(folder):
        return None
    # Handoff teams are checked against hub.yaml's teams when it lists any.
    flows = load_flows(folder, teams=config.teams or None)
    if not len(flows):
        return None
    hours = config.business_hours
    return HubFlowEngine(
        flows,
        media=media,
        business_hours=weekly_hours(hours.timezone, hours.weekly),
        default_region=config.default_region,
        host=flow_host(config, secret_key, enrol),
        timezone=hours.timezone,
    )


def flow_host(config: HubConfig, secret_key: bytes | None, enrol: CampaignEnroller | None = None) -> Host:
    """What flows get from the hub (bots.flows.host): the first account of each channel type in
    hub.yaml sends that type's replies, and deep links open its Telegram bot or Viber chat."""
    first_of_type: dict[str, str] = {}
    for name, settings in config.channels.items():
        first_of_type.setdefault(settings.type, name)

    def deep_link(customer_id: int, channel: str) -> str:
        assert secret_key is not None
        name = channel if channel in config.channels else first_of_type.get(channel)
        settings = config.channels.get(name) if name is not None else None
        username = getattr(settings, "bot_username", None)
        chat_uri = getattr(settings, "chat_uri", None)
        token = deeplinks.issue(secret_key, customer_id)
        if settings is not None and settings.type == "telegram" and username:
            return deeplinks.telegram_link(username, token)
        if settings is not None and settings.type == "viber" and chat_uri:
            return deeplinks.viber_link(chat_uri, token)
        if settings is None:
            raise LookupError(f"hub.yaml has no {channel} account")
        raise LookupError(
            f"account {name!r} cannot be linked to: a telegram account needs bot_username, "
            "a viber account chat_uri"
        )

    segments = segments_for(config)

    async def segments_of(session: AsyncSession, customer_id: int) -> list[str]:
        return [segment.id for segment in await segments.segments_of(session, customer_id)]

    return Host(
        deep_link=deep_link if secret_key is not None else None,
        account_for=first_of_type.get,
        segments_of=segments_of,
        enrol=enrol,
    )


async def hand_to_people(session: AsyncSession, conversation_id: int, handoff: Handoff) -> None:
    """FlowBot's on_handoff: the bot goes quiet, the conversation goes to the team (created on first
    use, named as in hub.yaml), and the summary becomes a private note for the agents. Then the
    conversation is settled (hub/routing.py): its SLA clocks start and round robin gives it to an
    agent of the team, or it waits in the team's queue."""
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
    # Kept for reports: which flow and step called people in (inbox/reports/handoff_log.py).
    await record_handoff(session, conversation_id, flow=handoff.flow_id, step=handoff.step, team_id=team_id)
    await settle(session, conversation)


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
    session: AsyncSession,
    conversation: Conversation,
    replies: Sequence[BotReply],
    media: MediaStore | None = None,
) -> list[Message]:
    """Bot replies outside an inbound turn: to the address the customer last wrote from in the
    conversation (nothing when they never wrote there), or to the channel a reply names (a missed
    call answered by SMS). Images go to ``media``."""
    last = await _reply_target(session, conversation.id)  # type: ignore[arg-type]
    target = ReplyTarget(last.address, last.channel_account, last.channel_type) if last is not None else None
    queued = []
    for reply in replies:
        message = await queue_bot_reply(session, conversation, reply, target, media)
        if message is not None:
            queued.append(message)
    return queued


async def apply_result(
    session: AsyncSession, conversation: Conversation, result: FlowResult, media: MediaStore | None = None
) -> list[LiveEvent]:
    """Queue a flow's replies and apply its handoff; returns the live events to publish."""
    queued = await queue_replies(session, conversation, result.replies, media)
    events = [inbox_event("message.created", m) for m in queued]
    if result.handoff is not None:
        await hand_to_people(session, conversation.id, result.handoff)  # type: ignore[arg-type]
        events.append(inbox_event("conversation.updated", conversation=conversation))
        events += announcements(session)
    return events


async def on_business_event(
    session: AsyncSession,
    engine: FlowEngine,
    customer: Customer,
    kind: str,
    payload: Mapping[str, Any],
    conversation: Conversation | None = None,
    *,
    people_in_charge: bool = False,
) -> list[LiveEvent]:
    """Continue the flow waiting for a business event, or start the one it triggers, in
    ``conversation``, else the customer's unresolved one, else the one their paused flow last spoke
    in (a flow waiting for ``order.paid`` outlives a resolved conversation). Nothing happens where a
    person is in charge, or when the customer has no conversation to speak in (proactive messages
    belong to campaigns) — except with ``people_in_charge``: events about the people's own work
    (``sla.at_risk``, ``sla.breached``) run their flows there too, to escalate or apologise."""
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
        paused_in = (
            await session.execute(
                select(FlowState.conversation_id).where(FlowState.customer_id == customer.id)
            )
        ).scalar_one_or_none()
        conversation = await session.get(Conversation, paused_in) if paused_in is not None else None
    if conversation is None:
        return []
    resolved = conversation.status is ConversationStatus.RESOLVED
    if not (conversation.bot_active or resolved or people_in_charge):
        return []
    result = await engine.handle_event(
        session,
        customer=customer,
        conversation_id=conversation.id,  # type: ignore[arg-type]
        channel_type=conversation.channel_type,
        kind=kind,
        payload=payload,
    )
    return await apply_result(session, conversation, result, media_of(engine))


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
            events += await apply_result(session, conversation, item.result, media_of(engine))
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

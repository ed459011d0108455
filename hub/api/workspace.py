"""/api/v1/workspace: what the agents' inbox screen needs besides conversations — the signed-in
agent's preferences (UI language, presence), the customer panel's figures, and the screen's live stream.

The stream carries everything /api/v1/live does, in the same frames, plus what only an agent's own
screen cares about: colleagues typing, and the agent's read positions (so unread badges agree across
tabs), a conversation newly assigned to them or back from snooze (``conversation.assigned``,
``conversation.woke``). @mentions ride on ``note.created`` (``mentions`` lists the agent ids).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.customers import get_customer
from crm_core.models import Customer, CustomerEvent
from crm_core.segments.json_sql import JsonNumber
from hub import presence
from hub.actions import agents as actions
from hub.api.deps import get_hub, require
from hub.api.live import record_frames
from hub.api.schemas import (
    ChannelAccountOut,
    CustomerInsightsOut,
    PreferencesIn,
    PreferencesOut,
    TeamOut,
    TimelineEntryOut,
)
from hub.auth.credentials import Principal
from hub.auth.permissions import Permission, allows
from hub.errors import ApiError
from hub.live import LiveEvent
from hub.runtime import Hub
from hub.sse import sse_frame, sse_response
from inbox.models import Agent, Conversation, Team

router = APIRouter(prefix="/api/v1/workspace", tags=["workspace"])

ORDER_EVENT = "order.created"
ORDER_AMOUNT = "amount"
CALL_EVENTS = ("call.ended", "call.missed")
CSAT_EVENT = "csat.submitted"
PANEL_ROWS = 5


async def _preferences(hub: Hub, agent_id: int) -> PreferencesOut:
    async with hub.db.session() as session:
        agent = await session.get(Agent, agent_id)
        if agent is None:
            raise ApiError(404, "agent_not_found", f"agent {agent_id} does not exist")
        team = await session.get(Team, agent.team_id) if agent.team_id is not None else None
    return PreferencesOut(
        agent_id=agent_id,
        name=agent.name,
        email=agent.email,
        locale="es" if agent.locale.lower().startswith("es") else "en",
        team_id=agent.team_id,
        team_name=team.name if team else None,
        # Their choice: while a screen of theirs is connected it is what colleagues see too.
        presence=agent.presence,
        capacity=agent.capacity,
    )


def _agent_id(principal: Principal) -> int:
    if principal.agent_id is None:
        raise ApiError(409, "not_an_agent", "API tokens have no preferences; sign in as an agent")
    return principal.agent_id


@router.get("/me", response_model=PreferencesOut)
async def me(
    hub: Hub = Depends(get_hub),
    principal: Principal = Depends(require(Permission.CONVERSATIONS_READ)),
) -> PreferencesOut:
    return await _preferences(hub, _agent_id(principal))


@router.patch("/me", response_model=PreferencesOut)
async def change_preferences(
    body: PreferencesIn,
    hub: Hub = Depends(get_hub),
    principal: Principal = Depends(require(Permission.CONVERSATIONS_READ)),
) -> PreferencesOut:
    """The agent's language and presence (online: round robin may give them conversations)."""
    if body.locale is None and body.presence is None:
        raise ApiError(422, "invalid_request", "send locale and/or presence")
    if body.locale is not None:
        await actions.set_locale(hub, _agent_id(principal), body.locale)
    if body.presence is not None:
        await presence.set_presence(hub, _agent_id(principal), body.presence)
    return await _preferences(hub, _agent_id(principal))


@router.get("/teams", response_model=list[TeamOut])
async def teams(
    hub: Hub = Depends(get_hub),
    _: Principal = Depends(require(Permission.CONVERSATIONS_READ)),
) -> list[TeamOut]:
    """The teams conversations can be assigned to."""
    async with hub.db.session() as session:
        found = (await session.execute(select(Team).order_by(Team.name))).scalars()
        return [TeamOut.model_validate(team) for team in found]


@router.get("/channels", response_model=list[ChannelAccountOut])
async def channels(
    hub: Hub = Depends(get_hub),
    _: Principal = Depends(require(Permission.CONVERSATIONS_READ)),
) -> list[ChannelAccountOut]:
    """The configured channel accounts (the list's channel filter)."""
    return [ChannelAccountOut(name=a.name, type=a.type) for a in hub.accounts]


async def _events(hub: Hub, customer_id: int, kinds: tuple[str, ...], limit: int) -> list[TimelineEntryOut]:
    async with hub.db.session() as session:
        statement = (
            select(CustomerEvent)
            .where(CustomerEvent.customer_id == customer_id, CustomerEvent.kind.in_(kinds))
            .order_by(CustomerEvent.occurred_at.desc(), CustomerEvent.id.desc())
            .limit(limit)
        )
        return [TimelineEntryOut.model_validate(e) for e in (await session.execute(statement)).scalars()]


@router.get("/customers/{customer_id}/insights", response_model=CustomerInsightsOut)
async def customer_insights(
    customer_id: int,
    hub: Hub = Depends(get_hub),
    _: Principal = Depends(require(Permission.CUSTOMERS_READ)),
) -> CustomerInsightsOut:
    """LTV and last orders, calls (duration, recording), CSAT history, conversations so far."""
    async with hub.db.session() as session:
        await get_customer(session, customer_id)
        amount = JsonNumber(CustomerEvent.payload, ORDER_AMOUNT)  # type: ignore[arg-type]
        orders_count, ltv = (
            await session.execute(
                select(func.count(), func.sum(amount)).where(
                    CustomerEvent.customer_id == customer_id, CustomerEvent.kind == ORDER_EVENT
                )
            )
        ).one()
        rating = JsonNumber(CustomerEvent.payload, "rating")  # type: ignore[arg-type]
        csat_average = (
            await session.execute(
                select(func.avg(rating)).where(
                    CustomerEvent.customer_id == customer_id, CustomerEvent.kind == CSAT_EVENT
                )
            )
        ).scalar_one()
        conversations = (
            await session.execute(
                select(func.count()).select_from(Conversation).where(Conversation.customer_id == customer_id)
            )
        ).scalar_one()
    return CustomerInsightsOut(
        ltv=round(float(ltv), 2) if ltv is not None else None,
        orders_count=int(orders_count),
        last_orders=[
            TimelineEntryOut.model_validate(e)
            for e in await _events(hub, customer_id, (ORDER_EVENT,), PANEL_ROWS)
        ],
        calls=[
            TimelineEntryOut.model_validate(e)
            for e in await _events(hub, customer_id, CALL_EVENTS, PANEL_ROWS)
        ],
        csat=[
            TimelineEntryOut.model_validate(e)
            for e in await _events(hub, customer_id, (CSAT_EVENT,), PANEL_ROWS * 2)
        ],
        csat_average=round(float(csat_average), 2) if csat_average is not None else None,
        conversations=int(conversations),
    )


@router.get("/live", summary="Server-sent events for the agents' inbox screen")
async def live(
    request: Request,
    hub: Hub = Depends(get_hub),
    principal: Principal = Depends(require(Permission.CONVERSATIONS_READ)),
) -> StreamingResponse:
    can_read_notes = allows(principal.role, Permission.NOTES_READ)

    async def render(live_event: LiveEvent) -> list[str]:
        payload = live_event.payload
        kind = payload.get("type", "")
        if kind == "typing":
            if payload.get("agent_id") == principal.agent_id:
                return []  # the agent's own typing, echoed back
            return [sse_frame(kind, dict(payload))]
        if kind == "conversation.read":
            # Read positions are the agent's own; other agents' reading changes nothing here.
            return [sse_frame(kind, dict(payload))] if payload.get("agent_id") == principal.agent_id else []
        if kind == "customer.updated":
            return [sse_frame(kind, {"customer_id": payload.get("customer_id")})]
        async with hub.db.session() as session:
            if kind in ("conversation.assigned", "conversation.woke"):
                return await _news_for_assignee(session, kind, payload)
            return await record_frames(session, kind, payload, can_read_notes=can_read_notes)

    async def _news_for_assignee(session: AsyncSession, kind: str, payload: Mapping[str, Any]) -> list[str]:
        """A conversation newly assigned to this agent (by someone else), or one of theirs whose
        snooze ended: the screen plays a sound and shows a notice."""
        if principal.agent_id is None or payload.get("by") == principal.agent_id:
            return []
        conversation = await session.get(Conversation, payload.get("conversation_id"))
        if conversation is None or conversation.assignee_id != principal.agent_id:
            return []
        customer = await session.get(Customer, conversation.customer_id)
        name = customer.display_name if customer is not None else ""
        return [sse_frame(kind, {"conversation_id": conversation.id, "customer_name": name})]

    # While the screen is connected its agent counts as seen (presence: inbox/assignment.py).
    return sse_response(
        request, lambda: presence.keep_seen(hub, principal.agent_id, hub.bus.subscribe("inbox")), render
    )

"""/api/v1/teams/{id}/queue, /api/v1/teams/{id} and /api/v1/agents/{id}/capacity: who in a team can
take conversations (presence, load, capacity) and what waits for them; the team's round robin switch
and an agent's capacity (SETTINGS_MANAGE, audited)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy import select

from crm_core.columns import utcnow
from crm_core.models import Customer
from hub.actions import sla as actions
from hub.api.deps import get_hub, require
from hub.api.sla_schemas import (
    AgentLoadOut,
    CapacityIn,
    TeamQueueOut,
    TeamSettingsIn,
    TeamSettingsOut,
    WaitingConversationOut,
)
from hub.auth.credentials import Principal
from hub.auth.permissions import Permission
from hub.errors import ApiError
from hub.runtime import Hub
from inbox import assignment
from inbox.models import Agent, Team

router = APIRouter(prefix="/api/v1", tags=["assignment"])


def _load_out(agent: Agent, load: int) -> AgentLoadOut:
    return AgentLoadOut(
        id=agent.id or 0,
        name=agent.name,
        presence=assignment.effective_presence(agent, utcnow()),
        load=load,
        capacity=agent.capacity,
        last_assigned_at=agent.last_assigned_at,
    )


@router.get("/teams/{team_id}/queue", response_model=TeamQueueOut)
async def team_queue(
    team_id: int,
    hub: Hub = Depends(get_hub),
    _: Principal = Depends(require(Permission.CONVERSATIONS_READ)),
) -> TeamQueueOut:
    """The team's agents in round robin order (next first) with presence, load and capacity, and
    its waiting conversations, oldest waiting first."""
    async with hub.db.session() as session:
        team = await session.get(Team, team_id)
        if team is None:
            raise ApiError(404, "team_not_found", f"team {team_id} does not exist")
        members = await assignment.team_members(session, team_id)
        load = await assignment.loads(session, (a.id for a in members if a.id is not None))
        waiting = await assignment.queue(session, team_id)
        names = dict(
            (
                await session.execute(
                    select(Customer.id, Customer.display_name).where(
                        Customer.id.in_({c.customer_id for c in waiting})  # type: ignore[union-attr]
                    )
                )
            ).all()
        )
    return TeamQueueOut(
        team_id=team_id,
        name=team.name,
        auto_assign=team.auto_assign,
        agents=[_load_out(a, load.get(a.id or 0, 0)) for a in members],
        waiting=[
            WaitingConversationOut(
                id=c.id or 0,
                customer_id=c.customer_id,
                customer_name=names.get(c.customer_id) or f"Customer {c.customer_id}",
                channel_type=c.channel_type,
                status=c.status,
                priority=c.priority,
                waiting_since=c.waiting_since,
                first_response_due_at=c.first_response_due_at,
                sla_at_risk_at=c.sla_at_risk_at,
            )
            for c in waiting
        ],
    )


@router.patch("/teams/{team_id}", response_model=TeamSettingsOut)
async def team_settings(
    team_id: int,
    body: TeamSettingsIn,
    hub: Hub = Depends(get_hub),
    principal: Principal = Depends(require(Permission.SETTINGS_MANAGE)),
) -> TeamSettingsOut:
    """Turn the team's round robin on or off; turned on, its queue is handed out at once."""
    return TeamSettingsOut.model_validate(
        await actions.set_team_auto_assign(hub, team_id, body.auto_assign, principal)
    )


@router.patch("/agents/{agent_id}/capacity", response_model=AgentLoadOut)
async def agent_capacity(
    agent_id: int,
    body: CapacityIn,
    hub: Hub = Depends(get_hub),
    principal: Principal = Depends(require(Permission.SETTINGS_MANAGE)),
) -> AgentLoadOut:
    """How many open conversations round robin gives the agent (0: none); raised, their team's
    queue is handed out at once."""
    agent = await actions.set_capacity(hub, agent_id, body.capacity, principal)
    async with hub.db.session() as session:
        load = (await assignment.loads(session, [agent_id]))[agent_id]
    return _load_out(agent, load)

"""Admin actions on people and access: agents (invite, role, team, name, deactivate), teams (create,
rename, members) and API tokens (create, revoke).

Each change is one transaction that also writes its audit entry (hub/audit.py), so the log names a
change exactly when it happened. Two rules protect the hub from locking itself out: the last active
admin can be neither demoted nor deactivated, and deactivating someone ends their sessions at once.
Conversations a deactivated agent still held go back to their team's queue (unassigned, team kept),
and round robin hands them to colleagues with room.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bots.flows.steps.handoff import HandoffStep
from crm_core.columns import utcnow
from hub import audit
from hub.auth import credentials
from hub.auth.credentials import AgentExists, Principal
from hub.auth.models import AgentSession, ApiToken
from hub.errors import ApiError
from hub.live import LiveEvent
from hub.routing import assignment_events
from hub.runtime import Hub
from inbox import assignment
from inbox.models import Agent, Conversation, ConversationStatus, Role, Team


@dataclass(frozen=True)
class NewAgent:
    email: str
    name: str
    role: Role
    password: str
    locale: str = "en"
    team_id: int | None = None


@dataclass(frozen=True)
class AgentChanges:
    """What an admin changes on an agent; None leaves a field as it is. ``team_id`` is applied only
    with ``change_team`` (None then means "no team")."""

    name: str | None = None
    role: Role | None = None
    active: bool | None = None
    team_id: int | None = None
    change_team: bool = False


# ---- agents ---------------------------------------------------------------------------------------


async def _team_or_422(session: AsyncSession, team_id: int) -> Team:
    team = await session.get(Team, team_id)
    if team is None:
        raise ApiError(422, "unknown_team", f"team {team_id} does not exist")
    return team


async def create_agent(hub: Hub, new: NewAgent, principal: Principal) -> Agent:
    """Invite a person: they sign in with this email and password."""
    try:
        async with hub.db.transaction() as session:
            if new.team_id is not None:
                await _team_or_422(session, new.team_id)
            agent = await credentials.create_agent(
                session,
                email=new.email,
                name=new.name,
                role=new.role,
                password=new.password,
                locale=new.locale,
            )
            agent.team_id = new.team_id
            session.add(agent)
            details = {"email": agent.email, "role": agent.role.value, "team_id": new.team_id}
            audit.record(session, principal, "agent.create", "agent", agent.id, details)  # type: ignore[arg-type]
    except AgentExists as exc:
        raise ApiError(409, "agent_exists", str(exc)) from None
    return agent


async def _lock_active_admins(session: AsyncSession) -> list[int]:
    """Lock every active admin's row, in id order, and return their ids. Two admins demoting each
    other at the same moment then take turns, and the second sees the first one's change: without
    this, both could pass the "another admin remains" check and leave none."""
    statement = (
        select(Agent.id)
        .where(Agent.role == Role.ADMIN, Agent.active.is_(True))  # type: ignore[attr-defined]
        .order_by(Agent.id)
        .with_for_update()
    )
    return [row[0] for row in (await session.execute(statement)).all()]


async def update_agent(hub: Hub, agent_id: int, changes: AgentChanges, principal: Principal) -> Agent:
    """Change an agent's name, role, team or active flag, each change in the audit log."""
    unassigned: list[int] = []
    async with hub.db.transaction() as session:
        admins = await _lock_active_admins(session)
        agent = await session.get(Agent, agent_id, with_for_update=True, populate_existing=True)
        if agent is None:
            raise ApiError(404, "agent_not_found", f"agent {agent_id} does not exist")
        loses_admin = agent.id in admins and (
            (changes.role is not None and changes.role is not Role.ADMIN) or changes.active is False
        )
        if loses_admin and len(admins) == 1:
            raise ApiError(
                409,
                "last_admin",
                f"{agent.name} is the last active admin; make someone else an admin first",
            )
        if changes.change_team and changes.team_id is not None:
            await _team_or_422(session, changes.team_id)

        if changes.name is not None and changes.name != agent.name:
            audit.record(
                session, principal, "agent.rename", "agent", agent_id, {"name": [agent.name, changes.name]}
            )
            agent.name = changes.name
        if changes.role is not None and changes.role is not agent.role:
            details = {"role": [agent.role.value, changes.role.value]}
            audit.record(session, principal, "agent.role", "agent", agent_id, details)
            agent.role = changes.role
        if changes.change_team and changes.team_id != agent.team_id:
            audit.record(
                session,
                principal,
                "agent.team",
                "agent",
                agent_id,
                {"team_id": [agent.team_id, changes.team_id]},
            )
            agent.team_id = changes.team_id
        if changes.active is False and agent.active:
            unassigned = await _sign_out_and_release(session, agent_id)
            details = {"sessions_ended": True, "conversations_released": len(unassigned)}
            audit.record(session, principal, "agent.deactivate", "agent", agent_id, details)
            agent.active = False
        elif changes.active is True and not agent.active:
            audit.record(session, principal, "agent.reactivate", "agent", agent_id, {})
            agent.active = True
        session.add(agent)
    await hub.bus.publish_all(
        [LiveEvent("inbox", {"type": "conversation.updated", "conversation_id": cid}) for cid in unassigned]
    )
    if unassigned:
        await _hand_out(hub, unassigned)
    return agent


async def _hand_out(hub: Hub, conversation_ids: list[int]) -> None:
    """Round robin gives the released conversations to their teams' online agents with room (the
    rest wait in the queues). Its own transaction, after the deactivation's: round robin locks teams
    before agents, and the deactivation had to lock the agents first."""
    async with hub.db.transaction() as session:
        teams = (
            await session.execute(
                select(Conversation.team_id).where(Conversation.id.in_(conversation_ids)).distinct()  # type: ignore[union-attr]
            )
        ).scalars()
        for team_id in sorted(t for t in teams if t is not None):
            await assignment.drain(session, team_id)
        pairs = assignment.take_assigned(session)
    await hub.bus.publish_all(assignment_events(pairs))


async def _sign_out_and_release(session: AsyncSession, agent_id: int) -> list[int]:
    """End the agent's sessions, and put the conversations they held back in their team's queue
    (customers must not wait on someone who has left). Returns those conversations' ids."""
    await session.execute(delete(AgentSession).where(AgentSession.agent_id == agent_id))  # type: ignore[arg-type]
    held = list(
        (
            await session.execute(
                select(Conversation.id).where(
                    Conversation.assignee_id == agent_id,
                    Conversation.status != ConversationStatus.RESOLVED,
                )
            )
        ).scalars()
    )
    if held:
        await session.execute(
            update(Conversation).where(Conversation.id.in_(held)).values(assignee_id=None)  # type: ignore[union-attr]
        )
    return [cid for cid in held if cid is not None]


# ---- teams ----------------------------------------------------------------------------------------


async def _name_free(session: AsyncSession, name: str, except_id: int | None = None) -> None:
    statement = select(Team.id).where(func.lower(Team.name) == name.lower())
    if except_id is not None:
        statement = statement.where(Team.id != except_id)
    if (await session.execute(statement)).first() is not None:
        raise ApiError(409, "team_exists", f"there is already a team named {name!r}")


async def create_team(hub: Hub, name: str, principal: Principal) -> Team:
    async with hub.db.transaction() as session:
        await _name_free(session, name)
        team = Team(name=name)
        session.add(team)
        await session.flush()
        audit.record(session, principal, "team.create", "team", team.id, {"name": name})  # type: ignore[arg-type]
    return team


def _routed_by_name(hub: Hub, name: str) -> list[str]:
    """Where the team's current name is written down: flows hand off to teams by name, and hub.yaml
    lists the teams flows may name. Renaming under them would send handoffs to a new, empty team."""
    places = [f"hub.yaml teams ({hub.config.source})"] if name in hub.config.teams else []
    for flow in hub.flows.flows if hub.flows is not None else []:
        for step in flow.steps.values():
            if isinstance(step, HandoffStep) and step.team == name:
                places.append(f"flow {flow.id} ({flow.file}:{step.team_line})")
    return places


async def rename_team(hub: Hub, team_id: int, name: str, principal: Principal) -> Team:
    async with hub.db.transaction() as session:
        team = await session.get(Team, team_id, with_for_update=True)
        if team is None:
            raise ApiError(404, "team_not_found", f"team {team_id} does not exist")
        if team.name == name:
            return team
        places = _routed_by_name(hub, team.name)
        if places:
            raise ApiError(
                409,
                "team_named_elsewhere",
                f"team {team.name!r} is named in {', '.join(places)}; change it there first, or the "
                "handoffs would go to a new team of that name",
            )
        await _name_free(session, name, except_id=team_id)
        audit.record(session, principal, "team.rename", "team", team_id, {"name": [team.name, name]})
        team.name = name
        session.add(team)
    return team


async def set_team_members(hub: Hub, team_id: int, agent_ids: list[int], principal: Principal) -> Team:
    """Make exactly these agents the team's members (an agent belongs to one team: those listed
    leave their previous team; members not listed are left without a team)."""
    wanted = set(agent_ids)
    async with hub.db.transaction() as session:
        team = await session.get(Team, team_id, with_for_update=True)
        if team is None:
            raise ApiError(404, "team_not_found", f"team {team_id} does not exist")
        found = set((await session.execute(select(Agent.id).where(Agent.id.in_(wanted)))).scalars())  # type: ignore[union-attr]
        unknown = sorted(wanted - found)
        if unknown:
            raise ApiError(422, "unknown_agent", f"no agent has the id {', '.join(map(str, unknown))}")
        current = set((await session.execute(select(Agent.id).where(Agent.team_id == team_id))).scalars())
        added, removed = sorted(wanted - current), sorted(current - wanted)
        if added:
            await session.execute(update(Agent).where(Agent.id.in_(added)).values(team_id=team_id))  # type: ignore[union-attr]
        if removed:
            await session.execute(update(Agent).where(Agent.id.in_(removed)).values(team_id=None))  # type: ignore[union-attr]
        if added or removed:
            details = {"added": added, "removed": removed}
            audit.record(session, principal, "team.members", "team", team_id, details)
    return team


# ---- API tokens -----------------------------------------------------------------------------------


async def create_token(hub: Hub, name: str, role: Role, principal: Principal) -> tuple[ApiToken, str]:
    """A new token; the secret is returned here once and never stored (nor logged, nor audited)."""
    async with hub.db.transaction() as session:
        token, secret = await credentials.create_token(
            session, name=name, role=role, created_by=principal.label
        )
        details = {"name": name, "role": role.value}
        audit.record(session, principal, "token.create", "token", token.id, details)  # type: ignore[arg-type]
    return token, secret


async def revoke_token(hub: Hub, token_id: int, principal: Principal) -> ApiToken:
    """The token stops working with the next request that presents it."""
    async with hub.db.transaction() as session:
        token = await session.get(ApiToken, token_id, with_for_update=True)
        if token is None:
            raise ApiError(404, "token_not_found", f"API token {token_id} does not exist")
        if token.revoked_at is not None:
            raise ApiError(409, "token_revoked", f"API token {token_id} was already revoked")
        token.revoked_at = utcnow()
        session.add(token)
        audit.record(session, principal, "token.revoke", "token", token_id, {"name": token.name})
    return token

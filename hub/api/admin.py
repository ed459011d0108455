"""/api/v1/agents, /api/v1/teams, /api/v1/tokens: who may use the hub, and how.

Agents are listed for everyone who reads conversations (the inbox shows assignees); changing people,
teams and tokens is for admins (agents:manage, settings:manage, tokens:manage). The audit log and the
channel accounts' health, the admin screens' other two read models, are included here from their own
modules. Writes are in hub/actions/admin.py.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from hub.actions import admin as actions
from hub.api import audit_log, channel_accounts
from hub.api.deps import get_hub, require
from hub.api.schemas import AgentIn, AgentOut, TokenIn, TokenOut
from hub.auth.credentials import Principal
from hub.auth.models import ApiToken
from hub.auth.permissions import Permission
from hub.runtime import Hub
from inbox.models import Agent, Role, Team

people = APIRouter(prefix="/api/v1", tags=["admin"])


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AgentUpdateIn(_In):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    role: Role | None = None
    team_id: int | None = Field(default=None, description="null removes the agent from their team")
    active: bool | None = Field(default=None, description="false signs them out everywhere at once")


class TeamIn(_In):
    name: str = Field(min_length=1, max_length=100)


class TeamMembersIn(_In):
    agent_ids: list[int] = Field(max_length=1000, description="exactly the team's members afterwards")


class TeamAdminOut(BaseModel):
    id: int
    name: str
    # Round robin on (PATCH /api/v1/teams/{id} switches it, hub/api/teams_queue.py).
    auto_assign: bool
    # Every agent of the team, active or not; ``members`` counts the active ones.
    agent_ids: list[int]
    members: int


class TokenListOut(BaseModel):
    """A token as admins see it later: never its secret, which only its creator saw, once."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    role: Role
    created_by: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


AGENTS_MANAGE = Depends(require(Permission.AGENTS_MANAGE))
SETTINGS_MANAGE = Depends(require(Permission.SETTINGS_MANAGE))
TOKENS_MANAGE = Depends(require(Permission.TOKENS_MANAGE))


# ---- agents ---------------------------------------------------------------------------------------


@people.get("/agents", response_model=list[AgentOut])
async def list_agents(
    hub: Hub = Depends(get_hub),
    _: Principal = Depends(require(Permission.CONVERSATIONS_READ)),
) -> list[AgentOut]:
    async with hub.db.session() as session:
        agents = (await session.execute(select(Agent).order_by(Agent.name))).scalars()
        return [AgentOut.model_validate(a) for a in agents]


@people.post("/agents", response_model=AgentOut, status_code=201)
async def new_agent(body: AgentIn, hub: Hub = Depends(get_hub), who: Principal = AGENTS_MANAGE) -> AgentOut:
    new = actions.NewAgent(
        email=body.email,
        name=body.name,
        role=body.role,
        password=body.password,
        locale=body.locale,
        team_id=body.team_id,
    )
    return AgentOut.model_validate(await actions.create_agent(hub, new, who))


@people.patch("/agents/{agent_id}", response_model=AgentOut)
async def change_agent(
    agent_id: int, body: AgentUpdateIn, hub: Hub = Depends(get_hub), who: Principal = AGENTS_MANAGE
) -> AgentOut:
    changes = actions.AgentChanges(
        name=body.name,
        role=body.role,
        active=body.active,
        team_id=body.team_id,
        change_team="team_id" in body.model_fields_set,
    )
    return AgentOut.model_validate(await actions.update_agent(hub, agent_id, changes, who))


# ---- teams ----------------------------------------------------------------------------------------


async def _teams(hub: Hub, team_id: int | None = None) -> list[TeamAdminOut]:
    async with hub.db.session() as session:
        statement = select(Team).order_by(Team.name)
        if team_id is not None:
            statement = statement.where(Team.id == team_id)
        teams = list((await session.execute(statement)).scalars())
        rows = (
            await session.execute(
                select(Agent.team_id, Agent.id, Agent.active).where(Agent.team_id.is_not(None))  # type: ignore[union-attr]
            )
        ).all()
    members: dict[int, list[tuple[int, bool]]] = {}
    for team, agent, active in rows:
        members.setdefault(team, []).append((agent, active))
    return [
        TeamAdminOut(
            id=team.id,  # type: ignore[arg-type]
            name=team.name,
            auto_assign=team.auto_assign,
            agent_ids=sorted(agent for agent, _ in members.get(team.id, [])),  # type: ignore[arg-type]
            members=sum(1 for _, active in members.get(team.id, []) if active),  # type: ignore[arg-type]
        )
        for team in teams
    ]


@people.get("/teams", response_model=list[TeamAdminOut])
async def list_teams(hub: Hub = Depends(get_hub), _: Principal = SETTINGS_MANAGE) -> list[TeamAdminOut]:
    """Teams with their members (the inbox's own list is /api/v1/workspace/teams)."""
    return await _teams(hub)


@people.post("/teams", response_model=TeamAdminOut, status_code=201)
async def new_team(
    body: TeamIn, hub: Hub = Depends(get_hub), who: Principal = SETTINGS_MANAGE
) -> TeamAdminOut:
    team = await actions.create_team(hub, body.name.strip(), who)
    return (await _teams(hub, team.id))[0]


@people.put("/teams/{team_id}", response_model=TeamAdminOut)
async def rename_team(
    team_id: int, body: TeamIn, hub: Hub = Depends(get_hub), who: Principal = SETTINGS_MANAGE
) -> TeamAdminOut:
    """Rename a team (refused while a flow or hub.yaml routes to it by its current name)."""
    await actions.rename_team(hub, team_id, body.name.strip(), who)
    return (await _teams(hub, team_id))[0]


@people.put("/teams/{team_id}/members", response_model=TeamAdminOut)
async def set_members(
    team_id: int, body: TeamMembersIn, hub: Hub = Depends(get_hub), who: Principal = AGENTS_MANAGE
) -> TeamAdminOut:
    await actions.set_team_members(hub, team_id, body.agent_ids, who)
    return (await _teams(hub, team_id))[0]


# ---- API tokens -----------------------------------------------------------------------------------


@people.get("/tokens", response_model=list[TokenListOut])
async def list_tokens(hub: Hub = Depends(get_hub), _: Principal = TOKENS_MANAGE) -> list[TokenListOut]:
    """Every token, newest first, revoked ones included (their last use is worth seeing)."""
    async with hub.db.session() as session:
        tokens = (await session.execute(select(ApiToken).order_by(ApiToken.id.desc()))).scalars()  # type: ignore[union-attr]
        return [TokenListOut.model_validate(token) for token in tokens]


@people.post("/tokens", response_model=TokenOut, status_code=201)
async def new_token(body: TokenIn, hub: Hub = Depends(get_hub), who: Principal = TOKENS_MANAGE) -> TokenOut:
    token, secret = await actions.create_token(hub, body.name, body.role, who)
    return TokenOut(id=token.id, name=token.name, role=token.role, token=secret)  # type: ignore[arg-type]


@people.post("/tokens/{token_id}/revoke", response_model=TokenListOut)
async def revoke_token(
    token_id: int, hub: Hub = Depends(get_hub), who: Principal = TOKENS_MANAGE
) -> TokenListOut:
    return TokenListOut.model_validate(await actions.revoke_token(hub, token_id, who))


# hub/app.py mounts ``router``: people and access, the audit log, the channel accounts' health.
router = APIRouter()
for _part in (people, audit_log.router, channel_accounts.router):
    router.include_router(_part)

"""/api/v1/tokens and /api/v1/agents: admin-only management of API tokens and people."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy import select

from hub.api.deps import get_hub, require
from hub.api.schemas import AgentIn, AgentOut, TokenIn, TokenOut
from hub.auth.credentials import AgentExists, Principal, create_agent, create_token
from hub.auth.permissions import Permission
from hub.errors import ApiError
from hub.runtime import Hub
from inbox.models import Agent

router = APIRouter(prefix="/api/v1", tags=["admin"])


@router.post("/tokens", response_model=TokenOut, status_code=201)
async def new_token(
    body: TokenIn,
    hub: Hub = Depends(get_hub),
    principal: Principal = Depends(require(Permission.TOKENS_MANAGE)),
) -> TokenOut:
    async with hub.db.transaction() as session:
        token, secret = await create_token(
            session, name=body.name, role=body.role, created_by=principal.label
        )
    return TokenOut(id=token.id, name=token.name, role=token.role, token=secret)  # type: ignore[arg-type]


@router.get("/agents", response_model=list[AgentOut])
async def list_agents(
    hub: Hub = Depends(get_hub),
    _: Principal = Depends(require(Permission.CONVERSATIONS_READ)),
) -> list[AgentOut]:
    async with hub.db.session() as session:
        agents = (await session.execute(select(Agent).order_by(Agent.name))).scalars()
        return [AgentOut.model_validate(a) for a in agents]


@router.post("/agents", response_model=AgentOut, status_code=201)
async def new_agent(
    body: AgentIn,
    hub: Hub = Depends(get_hub),
    _: Principal = Depends(require(Permission.AGENTS_MANAGE)),
) -> AgentOut:
    try:
        async with hub.db.transaction() as session:
            agent = await create_agent(
                session,
                email=body.email,
                name=body.name,
                role=body.role,
                password=body.password,
                locale=body.locale,
            )
    except AgentExists as exc:
        raise ApiError(409, "agent_exists", str(exc)) from None
    return AgentOut.model_validate(agent)

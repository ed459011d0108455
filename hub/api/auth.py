"""/api/v1/auth: agent login and logout (a session cookie), and who am I."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from hub.api.deps import SESSION_COOKIE, current_principal, get_hub
from hub.api.schemas import LoginIn, MeOut
from hub.auth import credentials
from hub.auth.credentials import Principal
from hub.auth.permissions import ROLE_PERMISSIONS
from hub.errors import ApiError
from hub.runtime import Hub

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.post("/login", response_model=MeOut)
async def login(body: LoginIn, response: Response, hub: Hub = Depends(get_hub)) -> MeOut:
    async with hub.db.transaction() as session:
        found = await credentials.login(session, body.email, body.password, hub.settings.hub_session_days)
    if found is None:
        raise ApiError(401, "invalid_credentials", "wrong email or password")
    agent, secret = found
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=hub.settings.hub_session_days * 86400,
        httponly=True,
        # Strict: the cookie is never sent on cross-site requests, which is our CSRF defence.
        samesite="strict",
        secure=hub.settings.hub_cookie_secure,
    )
    return MeOut(
        role=agent.role, name=agent.name, agent_id=agent.id, permissions=sorted(ROLE_PERMISSIONS[agent.role])
    )


@router.post("/logout", status_code=204)
async def logout(request: Request, response: Response, hub: Hub = Depends(get_hub)) -> None:
    if cookie := request.cookies.get(SESSION_COOKIE):
        async with hub.db.transaction() as session:
            await credentials.logout(session, cookie)
    response.delete_cookie(SESSION_COOKIE)


@router.get("/me", response_model=MeOut)
async def me(principal: Principal = Depends(current_principal)) -> MeOut:
    return MeOut(
        role=principal.role,
        name=principal.name,
        agent_id=principal.agent_id,
        permissions=sorted(ROLE_PERMISSIONS[principal.role]),
    )

"""FastAPI dependencies: the running hub, and who is calling with which permissions."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Depends, Request

from hub.auth.credentials import Principal, note_token_use, principal_for_session, principal_for_token
from hub.auth.permissions import Permission, allows
from hub.errors import ApiError
from hub.runtime import Hub

SESSION_COOKIE = "hub_session"


async def get_hub(request: Request) -> Hub:
    # async: a plain def would send every request through the thread pool for nothing.
    hub: Hub = request.app.state.hub
    return hub


async def current_principal(request: Request, hub: Hub = Depends(get_hub)) -> Principal:
    """The caller by ``Authorization: Bearer <token>`` or by the agent's login cookie; 401 otherwise."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    authorization = request.headers.get("authorization", "")
    principal: Principal | None = None
    async with hub.db.session() as session:
        if authorization:
            scheme, _, secret = authorization.partition(" ")
            if scheme.lower() != "bearer" or not secret.strip():
                raise ApiError(401, "unauthorized", "Authorization header must be 'Bearer <token>'")
            principal = await principal_for_token(session, secret.strip())
            if principal is None:
                raise ApiError(401, "unauthorized", "unknown or revoked API token")
        elif cookie := request.cookies.get(SESSION_COOKIE):
            found = await principal_for_session(session, cookie)
            principal = found[0] if found else None
    if principal is None:
        raise ApiError(401, "unauthorized", "log in or send 'Authorization: Bearer <token>'")
    if principal.token_id is not None:
        async with hub.db.transaction() as session:
            await note_token_use(session, principal)
    request.state.principal = principal
    return principal


def require(permission: Permission) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency that lets only roles with ``permission`` through (403 naming it otherwise)."""

    async def dependency(principal: Principal = Depends(current_principal)) -> Principal:
        if not allows(principal.role, permission):
            raise ApiError(
                403, "forbidden", f"the {principal.role.value} role may not do this ({permission.value})"
            )
        return principal

    return dependency

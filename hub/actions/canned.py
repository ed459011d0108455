"""Actions on canned responses: create, change, delete (shared ones by admins, personal ones by their
owner), and fill one in for a conversation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crm_core.customers import get_customer, identities_of
from hub.auth.credentials import Principal
from hub.auth.permissions import Permission, allows
from hub.errors import ApiError
from hub.runtime import Hub
from inbox import canned
from inbox import conversations as inbox
from inbox.models import Agent, CannedResponse


def _errors(exc: Exception) -> ApiError:
    if isinstance(exc, canned.CannedNotFound):
        return ApiError(404, "canned_not_found", str(exc))
    if isinstance(exc, canned.CannedConflict):
        return ApiError(409, "shortcut_taken", str(exc))
    return ApiError(422, "invalid_canned", str(exc))


_EXPECTED = (canned.CannedNotFound, canned.CannedConflict, canned.InvalidCanned)


def _check_may_change(principal: Principal, response: CannedResponse) -> None:
    if response.owner_agent_id is None:
        if not allows(principal.role, Permission.CANNED_MANAGE):
            raise ApiError(
                403,
                "forbidden",
                f"/{response.shortcut} is shared; the {principal.role.value} role may not change shared "
                f"responses ({Permission.CANNED_MANAGE.value})",
            )
    elif response.owner_agent_id != principal.agent_id:
        raise ApiError(403, "forbidden", f"/{response.shortcut} belongs to another agent")


async def create(
    hub: Hub,
    principal: Principal,
    *,
    shortcut: str,
    title: str,
    body: str,
    language: str | None,
    shared: bool,
) -> CannedResponse:
    if shared and not allows(principal.role, Permission.CANNED_MANAGE):
        raise ApiError(
            403,
            "forbidden",
            f"the {principal.role.value} role may not add shared responses "
            f"({Permission.CANNED_MANAGE.value}); leave shared off to keep it for yourself",
        )
    if not shared and principal.agent_id is None:
        raise ApiError(422, "invalid_canned", "an API token has no personal responses: set shared to true")
    try:
        async with hub.db.transaction() as session:
            return await canned.create_canned(
                session,
                shortcut=shortcut,
                title=title,
                body=body,
                language=language,
                owner_agent_id=None if shared else principal.agent_id,
                by=principal.label,
            )
    except _EXPECTED as exc:
        raise _errors(exc) from None


async def update(
    hub: Hub, principal: Principal, canned_id: int, changes: Mapping[str, Any]
) -> CannedResponse:
    try:
        async with hub.db.transaction() as session:
            response = await canned.get_canned(session, canned_id, principal.agent_id)
            _check_may_change(principal, response)
            return await canned.update_canned(session, response, changes, principal.label)
    except _EXPECTED as exc:
        raise _errors(exc) from None


async def delete(hub: Hub, principal: Principal, canned_id: int) -> None:
    try:
        async with hub.db.transaction() as session:
            response = await canned.get_canned(session, canned_id, principal.agent_id)
            _check_may_change(principal, response)
            await session.delete(response)
    except _EXPECTED as exc:
        raise _errors(exc) from None


async def render(hub: Hub, principal: Principal, canned_id: int, conversation_id: int) -> str:
    """The response filled in from the conversation's customer and the calling agent."""
    async with hub.db.session() as session:
        try:
            response = await canned.get_canned(session, canned_id, principal.agent_id)
        except canned.CannedNotFound as exc:
            raise _errors(exc) from None
        conversation = await inbox.get_conversation(session, conversation_id)
        customer = await get_customer(session, conversation.customer_id)
        identities = await identities_of(session, customer.id)  # type: ignore[arg-type]
        agent = await session.get(Agent, principal.agent_id) if principal.agent_id is not None else None
    values = canned.placeholder_values(
        customer, identities, agent.name if agent else principal.name, conversation
    )
    try:
        return canned.render_canned(response, values)
    except canned.CannedRenderError as exc:
        raise ApiError(422, "canned_render_failed", str(exc)) from None

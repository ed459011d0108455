"""/api/v1/canned-responses: prepared answers — find (fuzzy), fill in for a conversation, manage.

Shared responses are managed by roles with ``canned:manage`` (admins); everyone who replies may keep
personal ones. Bodies are templates over the customer record, see inbox/canned.py.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from crm_core.customers import get_customer
from hub.actions import canned as actions
from hub.api.deps import get_hub, require
from hub.api.schemas import (
    CannedIn,
    CannedMatchOut,
    CannedOut,
    CannedRenderIn,
    CannedRenderOut,
    CannedUpdateIn,
)
from hub.auth.credentials import Principal
from hub.auth.permissions import Permission
from hub.runtime import Hub
from inbox import canned
from inbox import conversations as inbox

router = APIRouter(prefix="/api/v1/canned-responses", tags=["canned responses"])


@router.get("", response_model=list[CannedMatchOut])
async def find(
    q: str = Query(default="", max_length=200, description="what the agent typed after /"),
    conversation_id: int | None = Query(
        default=None, description="prefer responses in this conversation's customer's language"
    ),
    limit: int = Query(default=10, ge=1, le=100),
    hub: Hub = Depends(get_hub),
    principal: Principal = Depends(require(Permission.CONVERSATIONS_REPLY)),
) -> list[CannedMatchOut]:
    """The shared responses and the caller's own, best match first (rapidfuzz: typos forgiven)."""
    language = None
    async with hub.db.session() as session:
        responses = await canned.canned_for(session, principal.agent_id)
        if conversation_id is not None:
            conversation = await inbox.get_conversation(session, conversation_id)
            customer = await get_customer(session, conversation.customer_id)
            language = (customer.locale or "").split("-")[0].lower() or None
    return [
        CannedMatchOut.model_validate({**CannedOut.model_validate(m.canned).model_dump(), "score": m.score})
        for m in canned.search_canned(responses, q, language, limit)
    ]


@router.post("", response_model=CannedOut, status_code=201)
async def create(
    body: CannedIn,
    hub: Hub = Depends(get_hub),
    principal: Principal = Depends(require(Permission.CONVERSATIONS_REPLY)),
) -> CannedOut:
    created = await actions.create(
        hub,
        principal,
        shortcut=body.shortcut,
        title=body.title,
        body=body.body,
        language=body.language,
        shared=body.shared,
    )
    return CannedOut.model_validate(created)


@router.patch("/{canned_id}", response_model=CannedOut)
async def update(
    canned_id: int,
    body: CannedUpdateIn,
    hub: Hub = Depends(get_hub),
    principal: Principal = Depends(require(Permission.CONVERSATIONS_REPLY)),
) -> CannedOut:
    changed = await actions.update(hub, principal, canned_id, body.model_dump(exclude_unset=True))
    return CannedOut.model_validate(changed)


@router.delete("/{canned_id}", status_code=204)
async def delete(
    canned_id: int,
    hub: Hub = Depends(get_hub),
    principal: Principal = Depends(require(Permission.CONVERSATIONS_REPLY)),
) -> None:
    await actions.delete(hub, principal, canned_id)


@router.post("/{canned_id}/render", response_model=CannedRenderOut)
async def render(
    canned_id: int,
    body: CannedRenderIn,
    hub: Hub = Depends(get_hub),
    principal: Principal = Depends(require(Permission.CONVERSATIONS_REPLY)),
) -> CannedRenderOut:
    """The response with its placeholders filled from the conversation's customer, ready to edit."""
    return CannedRenderOut(text=await actions.render(hub, principal, canned_id, body.conversation_id))

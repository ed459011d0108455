"""/api/v1/events: business events from your systems (order.created, cart.abandoned, ...)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from hub.actions.customers import record_business_event
from hub.api.deps import get_hub, require
from hub.api.schemas import BusinessEventIn, BusinessEventOut
from hub.auth.credentials import Principal
from hub.auth.permissions import Permission
from hub.runtime import Hub

router = APIRouter(prefix="/api/v1/events", tags=["events"])


@router.post("", response_model=BusinessEventOut, status_code=201)
async def post_event(
    body: BusinessEventIn,
    hub: Hub = Depends(get_hub),
    principal: Principal = Depends(require(Permission.EVENTS_WRITE)),
) -> BusinessEventOut:
    return BusinessEventOut.model_validate(await record_business_event(hub, body, principal))

"""/api/v1/business-hours and /api/v1/sla-policies: the hours SLA clocks and bot flows count in, and
the service levels conversations are held to. Anyone who reads conversations may read them; changing
them needs SETTINGS_MANAGE, and every change is in the audit log."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy import select

from hub.actions import sla as actions
from hub.api.deps import get_hub, require
from hub.api.sla_schemas import BusinessHoursDoc, SlaPolicyIn, SlaPolicyOut, SlaPolicyPatch
from hub.auth.credentials import Principal
from hub.auth.permissions import Permission
from hub.runtime import Hub
from inbox import business_hours
from inbox.sla_models import SlaPolicy

router = APIRouter(prefix="/api/v1", tags=["service levels"])


@router.get("/business-hours", response_model=BusinessHoursDoc)
async def get_business_hours(
    hub: Hub = Depends(get_hub),
    _: Principal = Depends(require(Permission.CONVERSATIONS_READ)),
) -> BusinessHoursDoc:
    """The hours in force: stored in the database, seeded from hub.yaml when it had none."""
    async with hub.db.session() as session:
        hours = await business_hours.load(session)
    return BusinessHoursDoc.model_validate(hours.to_document())


@router.put("/business-hours", response_model=BusinessHoursDoc)
async def put_business_hours(
    body: BusinessHoursDoc,
    hub: Hub = Depends(get_hub),
    principal: Principal = Depends(require(Permission.SETTINGS_MANAGE)),
) -> BusinessHoursDoc:
    """Replace the hours: days left out are closed, holidays are closed all day. Flows in every
    process use them within seconds; SLA due times counted in business hours move at once."""
    hours = actions.read_hours(body.model_dump())
    saved = await actions.save_business_hours(hub, hours, principal)
    return BusinessHoursDoc.model_validate(saved.to_document())


@router.get("/sla-policies", response_model=list[SlaPolicyOut])
async def list_policies(
    hub: Hub = Depends(get_hub),
    _: Principal = Depends(require(Permission.CONVERSATIONS_READ)),
) -> list[SlaPolicyOut]:
    async with hub.db.session() as session:
        policies = (await session.execute(select(SlaPolicy).order_by(SlaPolicy.name, SlaPolicy.id))).scalars()
        return [SlaPolicyOut.model_validate(p) for p in policies]


@router.post("/sla-policies", response_model=SlaPolicyOut, status_code=201)
async def create_policy(
    body: SlaPolicyIn,
    hub: Hub = Depends(get_hub),
    principal: Principal = Depends(require(Permission.SETTINGS_MANAGE)),
) -> SlaPolicyOut:
    """A new policy; conversations people hold get its due times at once when it is the most
    specific one matching them."""
    return SlaPolicyOut.model_validate(await actions.create_policy(hub, body.model_dump(), principal))


@router.patch("/sla-policies/{policy_id}", response_model=SlaPolicyOut)
async def update_policy(
    policy_id: int,
    body: SlaPolicyPatch,
    hub: Hub = Depends(get_hub),
    principal: Principal = Depends(require(Permission.SETTINGS_MANAGE)),
) -> SlaPolicyOut:
    changes = body.model_dump(include=body.model_fields_set)
    return SlaPolicyOut.model_validate(await actions.update_policy(hub, policy_id, changes, principal))


@router.delete("/sla-policies/{policy_id}", status_code=204)
async def delete_policy(
    policy_id: int,
    hub: Hub = Depends(get_hub),
    principal: Principal = Depends(require(Permission.SETTINGS_MANAGE)),
) -> None:
    await actions.delete_policy(hub, policy_id, principal)

"""/api/v1/attributes: declare the type of a custom customer attribute (admins)."""

from __future__ import annotations

import re

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from crm_core.models import AttributeDefinition, AttributeType
from hub.api.deps import get_hub, require
from hub.auth.credentials import Principal
from hub.auth.permissions import Permission
from hub.errors import ApiError
from hub.runtime import Hub

router = APIRouter(prefix="/api/v1/attributes", tags=["customers"])
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class AttributeDefinitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: AttributeType
    label: str = Field(default="", max_length=200)


class AttributeDefinitionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    key: str
    type: AttributeType
    label: str


@router.get("", response_model=list[AttributeDefinitionOut])
async def list_definitions(
    hub: Hub = Depends(get_hub), _: Principal = Depends(require(Permission.CUSTOMERS_READ))
) -> list[AttributeDefinitionOut]:
    async with hub.db.session() as session:
        rows = (
            await session.execute(select(AttributeDefinition).order_by(AttributeDefinition.key))
        ).scalars()
        return [AttributeDefinitionOut.model_validate(r) for r in rows]


@router.put("/{key}", response_model=AttributeDefinitionOut)
async def define(
    key: str,
    body: AttributeDefinitionIn,
    hub: Hub = Depends(get_hub),
    _: Principal = Depends(require(Permission.AGENTS_MANAGE)),
) -> AttributeDefinitionOut:
    """Declare (or relabel) an attribute. Values already stored are not converted."""
    if not _KEY.match(key):
        raise ApiError(
            422, "invalid_attribute", "attribute keys are lowercase letters, digits and _ (max 64)"
        )
    async with hub.db.transaction() as session:
        definition = await session.get(AttributeDefinition, key)
        if definition is None:
            definition = AttributeDefinition(key=key, type=body.type, label=body.label)
        elif definition.type is not body.type:
            raise ApiError(
                409,
                "attribute_type_fixed",
                f"attribute {key!r} is already declared as {definition.type.value}",
            )
        definition.label = body.label
        session.add(definition)
    return AttributeDefinitionOut.model_validate(definition)

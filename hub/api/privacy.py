"""/api/v1/customers/{id}/export and /erase: GDPR access and erasure (hub/actions/privacy.py).

Export (customers:export) answers a JSON file to download; erasure (customers:erase) needs the
customer's id or name typed again in ``confirm``, and cannot be undone. Both are in the audit log.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Query
from fastapi.encoders import jsonable_encoder
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from hub.actions import privacy
from hub.api.deps import get_hub, require
from hub.auth.credentials import Principal
from hub.auth.permissions import Permission
from hub.runtime import Hub

router = APIRouter(prefix="/api/v1/customers", tags=["privacy"])


class EraseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    confirm: str = Field(
        min_length=1, max_length=200, description="the customer's id or name, typed again: erasure is final"
    )


class ErasureOut(BaseModel):
    customer_ids: list[int] = Field(description="the record and every record merged into it")
    messages: int
    notes: int
    identities: int
    consents: int
    timeline_entries: int
    outbox_rows: int
    campaign_sends: int
    raw_events: int = Field(description="provider deliveries emptied")
    files_deleted: int


@router.get(
    "/{customer_id}/export",
    response_class=Response,
    responses={
        200: {"content": {"application/json": {}}, "description": "everything held about the customer"}
    },
)
async def export_customer(
    customer_id: int,
    notes: bool = Query(True, description="include private notes about the customer"),
    hub: Hub = Depends(get_hub),
    principal: Principal = Depends(require(Permission.CUSTOMERS_EXPORT)),
) -> Response:
    document = await privacy.export_customer(hub, customer_id, principal, include_notes=notes)
    body = json.dumps(jsonable_encoder(document), ensure_ascii=False, indent=2)
    return Response(
        body,
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="customer-{customer_id}-export.json"',
            # Personal data: no proxy or browser cache keeps a copy.
            "Cache-Control": "no-store",
        },
    )


@router.post("/{customer_id}/erase", response_model=ErasureOut)
async def erase_customer(
    customer_id: int,
    body: EraseIn,
    hub: Hub = Depends(get_hub),
    principal: Principal = Depends(require(Permission.CUSTOMERS_ERASE)),
) -> ErasureOut:
    erasure = await privacy.erase_customer(hub, customer_id, body.confirm, principal)
    return ErasureOut(**erasure.__dict__)

"""/api/v1/customers: find, read (with identities, consent, timeline), edit, merge and undo."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from crm_core import customers as crm
from crm_core.addresses import parse_identity_ref
from crm_core.consent import consents_of
from crm_core.duplicates import find_duplicates
from crm_core.merge import merges_of
from hub import deeplinks
from hub.actions import customers as actions
from hub.api.deps import get_hub, require
from hub.api.schemas import (
    ConsentIn,
    CustomerDetailOut,
    CustomerOut,
    CustomerUpdateIn,
    DeepLinksOut,
    DuplicateOut,
    MergeIn,
    MergeOut,
)
from hub.auth.credentials import Principal
from hub.auth.permissions import Permission
from hub.errors import ApiError
from hub.runtime import Hub
from hub.segments import segments_for

router = APIRouter(prefix="/api/v1/customers", tags=["customers"])


@router.get("", response_model=list[CustomerOut])
async def list_customers(
    q: str | None = Query(default=None, max_length=200, description="name, phone or email contains"),
    identity: str | None = Query(default=None, description="exact identity, kind:address"),
    limit: int = Query(default=50, ge=1, le=200),
    offset: int = Query(default=0, ge=0),
    hub: Hub = Depends(get_hub),
    _: Principal = Depends(require(Permission.CUSTOMERS_READ)),
) -> list[CustomerOut]:
    async with hub.db.session() as session:
        if identity is not None:
            kind, address = parse_identity_ref(identity, hub.config.default_region)
            found = await crm.find_by_identity(session, kind, address)
            customers = [found] if found is not None else []
        elif q:
            customers = await crm.search_customers(session, q, limit, offset)
        else:
            customers = await crm.list_customers(session, limit, offset)
    return [CustomerOut.model_validate(c) for c in customers]


async def customer_detail(hub: Hub, customer_id: int, timeline_limit: int = 100) -> CustomerDetailOut:
    async with hub.db.session() as session:
        customer = await crm.get_customer(session, customer_id)
        identities = await crm.identities_of(session, customer_id)
        consents = await consents_of(session, customer_id)
        timeline = await crm.timeline(session, customer_id, timeline_limit)
        merges = await merges_of(session, customer_id)
        segments = await segments_for(hub.config).segments_of(session, customer_id)
    return CustomerDetailOut.model_validate(
        {
            **CustomerOut.model_validate(customer).model_dump(),
            "identities": identities,
            "consents": consents,
            "timeline": timeline,
            "merges": merges,
            "segments": segments,
        }
    )


@router.get("/{customer_id}", response_model=CustomerDetailOut)
async def get_customer(
    customer_id: int,
    timeline_limit: int = Query(default=100, ge=1, le=1000),
    hub: Hub = Depends(get_hub),
    _: Principal = Depends(require(Permission.CUSTOMERS_READ)),
) -> CustomerDetailOut:
    return await customer_detail(hub, customer_id, timeline_limit)


@router.patch("/{customer_id}", response_model=CustomerDetailOut)
async def update_customer(
    customer_id: int,
    body: CustomerUpdateIn,
    hub: Hub = Depends(get_hub),
    principal: Principal = Depends(require(Permission.CUSTOMERS_WRITE)),
) -> CustomerDetailOut:
    await actions.update_customer(hub, customer_id, body, principal)
    return await customer_detail(hub, customer_id)


@router.post("/{customer_id}/consents", response_model=CustomerDetailOut)
async def change_consent(
    customer_id: int,
    body: ConsentIn,
    hub: Hub = Depends(get_hub),
    principal: Principal = Depends(require(Permission.CUSTOMERS_WRITE)),
) -> CustomerDetailOut:
    await actions.change_consent(
        hub, customer_id, body.channel, body.purpose, body.granted, body.source, principal
    )
    return await customer_detail(hub, customer_id)


@router.post("/{customer_id}/merge", response_model=MergeOut)
async def merge_customer(
    customer_id: int,
    body: MergeIn,
    hub: Hub = Depends(get_hub),
    principal: Principal = Depends(require(Permission.CUSTOMERS_MERGE)),
) -> MergeOut:
    return MergeOut.model_validate(await actions.merge(hub, customer_id, body.merged_id, principal))


@router.post("/merges/{merge_id}/undo", response_model=MergeOut)
async def undo_merge(
    merge_id: int,
    hub: Hub = Depends(get_hub),
    principal: Principal = Depends(require(Permission.CUSTOMERS_MERGE)),
) -> MergeOut:
    return MergeOut.model_validate(await actions.undo(hub, merge_id, principal))


@router.get("/{customer_id}/duplicates", response_model=list[DuplicateOut])
async def duplicates(
    customer_id: int,
    hub: Hub = Depends(get_hub),
    _: Principal = Depends(require(Permission.CUSTOMERS_READ)),
) -> list[DuplicateOut]:
    """Records that may be the same person (never merged automatically), with the reasons."""
    async with hub.db.session() as session:
        found = await find_duplicates(session, customer_id, default_region=hub.config.default_region)
    return [
        DuplicateOut(
            customer=CustomerOut.model_validate(s.customer), score=round(s.score, 1), reasons=s.reasons
        )
        for s in found
    ]


@router.post("/{customer_id}/links", response_model=DeepLinksOut)
async def deep_links(
    customer_id: int,
    hub: Hub = Depends(get_hub),
    _: Principal = Depends(require(Permission.CONVERSATIONS_REPLY)),
) -> DeepLinksOut:
    """Links that open a channel already bound to this customer (send one by SMS or email)."""
    async with hub.db.session() as session:
        customer = await crm.get_customer(session, customer_id)
    if customer.merged_into_id is not None:
        raise ApiError(
            409, "customer_merged", f"customer {customer_id} was merged into {customer.merged_into_id}"
        )
    token = deeplinks.issue(hub.settings.secret_key, customer_id)
    links: dict[str, str] = {}
    for account in hub.accounts:
        username = getattr(account.settings, "bot_username", None)
        chat_uri = getattr(account.settings, "chat_uri", None)
        if account.type == "telegram" and username:
            links[account.name] = deeplinks.telegram_link(username, token)
        elif account.type == "viber" and chat_uri:
            links[account.name] = deeplinks.viber_link(chat_uri, token)
    return DeepLinksOut(token=token, expires_in_days=deeplinks.DEFAULT_TTL_DAYS, links=links)

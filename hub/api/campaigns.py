"""/api/v1/campaigns: marketers define, preview, test, launch, pause, resume and cancel campaigns,
and read their results. The definition is the same one campaign YAML files use (docs/campaigns.md)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from bots.flows.templating import RenderError
from crm_core import customers as crm
from crm_core.addresses import parse_identity_ref
from hub.api.deps import get_hub, require
from hub.auth.credentials import Principal
from hub.auth.permissions import Permission
from hub.campaigns.content import render
from hub.campaigns.definition import CampaignError
from hub.campaigns.models import Campaign, CampaignStatus
from hub.campaigns.planner import variant_of
from hub.campaigns.reach import Route, load_reach
from hub.campaigns.service import Campaigns, CampaignStateError
from hub.errors import ApiError
from hub.outbound.enqueue import WAKE_TOPIC, enqueue
from hub.runtime import Hub

router = APIRouter(prefix="/api/v1/campaigns", tags=["campaigns"])
MANAGE = Depends(require(Permission.CAMPAIGNS_MANAGE))


class CampaignOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    status: CampaignStatus
    definition: dict[str, Any]
    source: str
    updated_at: datetime
    updated_by: str
    launched_at: datetime | None
    finished_at: datetime | None


class PreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    customer_id: int | None = Field(default=None, description="render for this customer (default: a sample)")


class TestSendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    identity: str = Field(
        description="kind:address to send the test to, e.g. telegram:123 or phone:+34600111222"
    )
    channel: str | None = Field(default=None, description="channel type (default: the first that fits)")
    variant: str | None = None


def _service(hub: Hub) -> Campaigns:
    if hub.campaigns is None:
        raise ApiError(503, "campaigns_unavailable", "campaigns are not running in this hub")
    return hub.campaigns


async def _get(session: Any, campaign_id: str) -> Campaign:
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        raise ApiError(404, "not_found", f"no campaign {campaign_id!r}")
    return campaign


@router.get("", response_model=list[CampaignOut])
async def list_campaigns(hub: Hub = Depends(get_hub), _: Principal = MANAGE) -> list[CampaignOut]:
    async with hub.db.session() as session:
        rows = (await session.execute(select(Campaign).order_by(Campaign.created_at.desc()))).scalars()  # type: ignore[attr-defined]
        return [CampaignOut.model_validate(c) for c in rows]


@router.get("/{campaign_id}", response_model=CampaignOut)
async def read(campaign_id: str, hub: Hub = Depends(get_hub), _: Principal = MANAGE) -> CampaignOut:
    async with hub.db.session() as session:
        return CampaignOut.model_validate(await _get(session, campaign_id))


@router.put("/{campaign_id}", response_model=CampaignOut)
async def put(
    campaign_id: str, body: dict[str, Any], hub: Hub = Depends(get_hub), who: Principal = MANAGE
) -> CampaignOut:
    """Create or replace a draft (or paused) campaign."""
    if body.get("id", campaign_id) != campaign_id:
        raise ApiError(
            422, "invalid_campaign", f"id {body.get('id')!r} in the body differs from {campaign_id!r}"
        )
    service = _service(hub)
    async with hub.db.transaction() as session:
        try:
            campaign = await service.save(session, {**body, "id": campaign_id}, by=who.label)
        except CampaignError as exc:
            raise ApiError(422, "invalid_campaign", "; ".join(exc.problems)) from None
        except CampaignStateError as exc:
            raise ApiError(409, "campaign_state", str(exc)) from None
        return CampaignOut.model_validate(campaign)


@router.delete("/{campaign_id}", status_code=204)
async def delete(campaign_id: str, hub: Hub = Depends(get_hub), _: Principal = MANAGE) -> Response:
    async with hub.db.transaction() as session:
        campaign = await _get(session, campaign_id)
        if campaign.status is not CampaignStatus.DRAFT:
            raise ApiError(
                409, "campaign_state", f"only drafts can be deleted; cancel {campaign_id!r} instead"
            )
        await session.delete(campaign)
    return Response(status_code=204)


async def _act(hub: Hub, campaign_id: str, action: str) -> CampaignOut:
    service = _service(hub)
    async with hub.db.transaction() as session:
        await _get(session, campaign_id)
        try:
            if action == "launch":
                campaign = await service.launch(session, campaign_id)
            elif action == "pause":
                campaign = await service.pause(session, campaign_id)
            elif action == "resume":
                campaign = await service.resume(session, campaign_id)
            else:
                campaign, _ = await service.cancel(session, campaign_id)
        except CampaignStateError as exc:
            raise ApiError(409, "campaign_state", str(exc)) from None
        except CampaignError as exc:
            raise ApiError(422, "invalid_campaign", "; ".join(exc.problems)) from None
        out = CampaignOut.model_validate(campaign)
    await hub.bus.publish(WAKE_TOPIC, {})
    return out


@router.post("/{campaign_id}/launch", response_model=CampaignOut)
async def launch(campaign_id: str, hub: Hub = Depends(get_hub), _: Principal = MANAGE) -> CampaignOut:
    return await _act(hub, campaign_id, "launch")


@router.post("/{campaign_id}/pause", response_model=CampaignOut)
async def pause(campaign_id: str, hub: Hub = Depends(get_hub), _: Principal = MANAGE) -> CampaignOut:
    return await _act(hub, campaign_id, "pause")


@router.post("/{campaign_id}/resume", response_model=CampaignOut)
async def resume(campaign_id: str, hub: Hub = Depends(get_hub), _: Principal = MANAGE) -> CampaignOut:
    return await _act(hub, campaign_id, "resume")


@router.post("/{campaign_id}/cancel", response_model=CampaignOut)
async def cancel(campaign_id: str, hub: Hub = Depends(get_hub), _: Principal = MANAGE) -> CampaignOut:
    return await _act(hub, campaign_id, "cancel")


@router.get("/{campaign_id}/results")
async def results(campaign_id: str, hub: Hub = Depends(get_hub), _: Principal = MANAGE) -> dict[str, Any]:
    """The funnel per variant and in total (see hub.campaigns.service.Campaigns.results)."""
    async with hub.db.session() as session:
        await _get(session, campaign_id)
        return await _service(hub).results(session, campaign_id)


@router.post("/{campaign_id}/preview")
async def preview(
    campaign_id: str, body: PreviewIn, hub: Hub = Depends(get_hub), _: Principal = MANAGE
) -> dict[str, Any]:
    """How many customers the audience has now, and the message as one of them (the given customer,
    else the newest in the audience) would get it on each of the campaign's channels and variants:
    the text, Telegram buttons, SMS length and segment count, email subject."""
    service = _service(hub)
    async with hub.db.session() as session:
        await _get(session, campaign_id)
        definition = await service.definition(session, campaign_id)
        count = await service.segments.count(session, definition.audience)
        if body.customer_id is not None:
            customer = await crm.get_customer(session, body.customer_id)
        else:
            sample = await service.segments.sample(session, definition.audience, limit=1)
            customer = sample[0] if sample else None
        renders: list[dict[str, Any]] = []
        if customer is not None:
            for variant in definition.variants:
                for channel in definition.channels:
                    try:
                        shown = render(
                            definition, channel, variant.id, customer, links=service.links
                        ).preview()
                    except RenderError as exc:
                        shown = {"channel": channel, "error": str(exc)}
                    renders.append({"variant": variant.id, **shown})
        return {
            "audience": count,
            "customer_id": customer.id if customer is not None else None,
            "messages": renders,
        }


@router.post("/{campaign_id}/test", status_code=202)
async def test_send(
    campaign_id: str, body: TestSendIn, hub: Hub = Depends(get_hub), who: Principal = MANAGE
) -> dict[str, Any]:
    """Send the campaign's message to one identity (yours) now, outside the campaign: no consent or
    cap checks, not counted in the results."""
    service = _service(hub)
    kind, address = parse_identity_ref(body.identity, hub.config.default_region)
    async with hub.db.transaction() as session:
        await _get(session, campaign_id)
        definition = await service.definition(session, campaign_id)
        customer = await crm.find_by_identity(session, kind, address)
        if customer is None or customer.id is None:
            raise ApiError(404, "customer_not_found", f"no customer has the identity {kind.value}:{address}")
        reach = (await load_reach(session, [customer.id]))[customer.id]
        channels = [body.channel] if body.channel else list(definition.channels)
        chosen = None
        for channel in channels:
            route = service.router.route(reach, [channel], "transactional")
            if isinstance(route, Route) and route.address == address:
                chosen = route
                break
        if chosen is None:
            raise ApiError(
                422,
                "no_route",
                f"{kind.value}:{address} cannot be reached on {', '.join(channels)} "
                "with the configured channel accounts",
            )
        variant = body.variant or variant_of(definition, customer.id)
        try:
            rendered = render(definition, chosen.channel_type, variant, customer)
        except RenderError as exc:
            raise ApiError(422, "content_failed", str(exc)) from None
        key = f"campaign-test:{campaign_id}:{uuid.uuid4().hex}"
        outbound = rendered.outbound(chosen.address, key, {"campaign_test": campaign_id, "by": who.label})
        await enqueue(session, idempotency_key=key, channel_account=chosen.account, outbound=outbound)
    await hub.bus.publish(WAKE_TOPIC, {})
    return {"queued": True, "channel": chosen.channel_type, "account": chosen.account, "text": rendered.text}

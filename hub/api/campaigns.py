"""/api/v1/campaigns: marketers define, preview, test, launch, pause, resume and cancel campaigns,
and read their results. The definition is the same one campaign YAML files use (docs/campaigns.md).

Besides the campaign's own resources, the workspace's campaign editor uses: ``options`` (the hub's
channel accounts, quiet hours and frequency cap), ``check`` (every problem of an unsaved definition
with its place, the YAML it is, and when it would send), ``preview`` of an unsaved definition in a
chosen language, and ``test-identities`` (where the signed-in marketer can receive a test send).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import yaml
from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bots.flows.templating import RenderError
from crm_core import customers as crm
from crm_core.addresses import parse_identity_ref
from crm_core.models import Customer, Identity, IdentityKind
from hub import audit
from hub.accounts import IDENTITY_KIND
from hub.api.deps import get_hub, require
from hub.auth.credentials import Principal
from hub.auth.permissions import Permission
from hub.campaigns.content import render
from hub.campaigns.definition import CHANNEL_TYPES, CampaignDefinition, CampaignError
from hub.campaigns.models import Campaign, CampaignSend, CampaignStatus, SendStatus
from hub.campaigns.planner import variant_of
from hub.campaigns.reach import Person, Route, load_reach
from hub.campaigns.rules import Window
from hub.campaigns.service import Campaigns, CampaignStateError
from hub.errors import ApiError
from hub.outbound.enqueue import WAKE_TOPIC, enqueue
from hub.runtime import Hub
from hub.scheduler.cron import InvalidSchedule, next_fire_times
from inbox.models import Agent

router = APIRouter(prefix="/api/v1/campaigns", tags=["campaigns"])
MANAGE = Depends(require(Permission.CAMPAIGNS_MANAGE))
# GET paths under /api/v1/campaigns/ that are not campaigns: a campaign with such an id could never
# be read back.
RESERVED_IDS = frozenset({"options", "test-identities"})
# How many upcoming sends of an `at` or `cron` schedule ``check`` lists.
NEXT_TIMES = 3


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


class CampaignCounters(BaseModel):
    """How far a campaign's messages went, counted as in its results (``sent`` includes delivered
    and read, ``delivered`` includes read)."""

    planned: int = 0
    skipped: int = 0
    queued: int = 0
    sent: int = 0
    delivered: int = 0
    failed: int = 0


class CampaignListItem(CampaignOut):
    counters: CampaignCounters


class PreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    customer_id: int | None = Field(default=None, description="render for this customer (default: a sample)")
    locale: str | None = Field(
        default=None, max_length=16, description="render in this language instead of the customer's own"
    )


class DraftPreviewIn(PreviewIn):
    definition: dict[str, Any] = Field(description="a campaign definition, saved or not")


class ProblemOut(BaseModel):
    path: str = Field(description="where in the definition, e.g. channels[1] or content.email")
    message: str


class CheckOut(BaseModel):
    valid: bool
    problems: list[ProblemOut]
    yaml: str = Field(description="the definition as it would be written in a campaigns file")
    next_times: list[datetime] = Field(description="the next sends of an `at` or `cron` schedule")


class FrequencyCapOut(BaseModel):
    per_day: int | None
    per_week: int | None


class OptionsOut(BaseModel):
    channel_types: list[str] = Field(description="channel types a campaign can send on")
    connected: list[str] = Field(description="the channel types this hub has an account for")
    quiet_hours: str | None = Field(description="hub-wide, in each customer's time zone; None: none")
    frequency_cap: FrequencyCapOut
    default_timezone: str


class TestIdentityOut(BaseModel):
    identity: str = Field(description="kind:address, what the test send takes")
    kind: str
    address: str
    customer_id: int
    channels: list[str] = Field(description="campaign channel types with an account that reach it")


class TestSendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    identity: str = Field(
        description="kind:address to send the test to, e.g. telegram:123 or phone:+34600111222"
    )
    channel: str | None = Field(default=None, description="channel type (default: the first that fits)")
    variant: str | None = None
    step: str | None = Field(default=None, description="which message of a journey (default: the first)")


def _service(hub: Hub) -> Campaigns:
    if hub.campaigns is None:
        raise ApiError(503, "campaigns_unavailable", "campaigns are not running in this hub")
    return hub.campaigns


async def _get(session: Any, campaign_id: str) -> Campaign:
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        raise ApiError(404, "not_found", f"no campaign {campaign_id!r}")
    return campaign


@router.get("", response_model=list[CampaignListItem])
async def list_campaigns(hub: Hub = Depends(get_hub), _: Principal = MANAGE) -> list[CampaignListItem]:
    """Every campaign, newest first, with its counters (the workspace polls this while it shows
    the list)."""
    async with hub.db.session() as session:
        rows = (await session.execute(select(Campaign).order_by(Campaign.created_at.desc()))).scalars()  # type: ignore[attr-defined]
        campaigns = list(rows)
        counters = await _counters(session)
    return [
        CampaignListItem(
            **CampaignOut.model_validate(c).model_dump(), counters=counters.get(c.id, CampaignCounters())
        )
        for c in campaigns
    ]


async def _counters(session: AsyncSession) -> dict[str, CampaignCounters]:
    """One grouped count over the send rows of every campaign."""
    send = CampaignSend.__table__.c  # type: ignore[attr-defined]
    rows = await session.execute(
        select(send.campaign_id, send.status, func.count()).group_by(send.campaign_id, send.status)
    )
    found: dict[str, CampaignCounters] = defaultdict(CampaignCounters)
    for campaign_id, raw_status, n in rows.all():
        counters = found[campaign_id]
        status = SendStatus(raw_status)
        counters.planned += n
        if status is SendStatus.SKIPPED:
            counters.skipped += n
        elif status is SendStatus.FAILED:
            counters.failed += n
        elif status in (SendStatus.PLANNED, SendStatus.QUEUED):
            counters.queued += n
        else:
            counters.sent += n
            if status in (SendStatus.DELIVERED, SendStatus.READ):
                counters.delivered += n
    return found


@router.get("/options", response_model=OptionsOut)
async def options(hub: Hub = Depends(get_hub), _: Principal = MANAGE) -> OptionsOut:
    """What the editor offers and shows: the channel types, which of them this hub can send on, and
    the hub-wide quiet hours and frequency cap (hub.yaml ``marketing:``) every marketing campaign
    obeys."""
    rules = hub.config.marketing
    connected = {account.type for account in hub.accounts}
    return OptionsOut(
        channel_types=list(CHANNEL_TYPES),
        connected=[c for c in CHANNEL_TYPES if c in connected],
        quiet_hours=_window_text(rules.quiet_hours) if rules.quiet_hours is not None else None,
        frequency_cap=FrequencyCapOut(
            per_day=rules.frequency_cap.per_day, per_week=rules.frequency_cap.per_week
        ),
        default_timezone=rules.default_timezone,
    )


def _window_text(window: Window) -> str:
    start, end = window
    return f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"


@router.get("/test-identities", response_model=list[TestIdentityOut])
async def test_identities(hub: Hub = Depends(get_hub), who: Principal = MANAGE) -> list[TestIdentityOut]:
    """Where the signed-in marketer can receive a test send: every identity of the customer record
    that holds their sign-in email (write to the hub once from Telegram and link it, and it shows
    up here). API tokens have no identity of their own: they name one in the test send."""
    if who.agent_id is None:
        return []
    reachable: dict[str, list[str]] = defaultdict(list)
    connected = {account.type for account in hub.accounts}
    for channel_type in CHANNEL_TYPES:
        kind = IDENTITY_KIND.get(channel_type)
        if kind is not None and channel_type in connected:
            reachable[kind.value].append(channel_type)
    async with hub.db.session() as session:
        agent = await session.get(Agent, who.agent_id)
        if agent is None:
            return []
        owners = select(Identity.customer_id).where(
            Identity.kind == IdentityKind.EMAIL,
            Identity.address == agent.email.lower(),  # type: ignore[arg-type]
        )
        identities = (
            await session.execute(
                select(Identity)
                .join(Customer, Customer.id == Identity.customer_id)  # type: ignore[arg-type]
                .where(Identity.customer_id.in_(owners), Customer.merged_into_id.is_(None))  # type: ignore[attr-defined,union-attr]
                .order_by(Identity.customer_id, Identity.id)
            )
        ).scalars()
        return [
            TestIdentityOut(
                identity=f"{i.kind.value}:{i.address}",
                kind=i.kind.value,
                address=i.address,
                customer_id=i.customer_id,
                channels=reachable.get(i.kind.value, []),
            )
            for i in identities
        ]


@router.post("/check", response_model=CheckOut)
async def check(body: dict[str, Any], hub: Hub = Depends(get_hub), _: Principal = MANAGE) -> CheckOut:
    """Every problem of a definition (saved or not) with its place, so the editor can show each next
    to its field; the YAML it is; and for `at` and `cron` schedules, when it would send."""
    service = _service(hub)
    problems: list[ProblemOut] = []
    next_times: list[datetime] = []
    async with hub.db.session() as session:
        try:
            definition = await service.parse(session, body)
        except CampaignError as exc:
            problems = [_problem(p) for p in exc.problems]
        else:
            next_times = _next_times(definition)
    return CheckOut(valid=not problems, problems=problems, yaml=as_yaml(body), next_times=next_times)


def _problem(text: str) -> ProblemOut:
    path, separator, message = text.partition(": ")
    return ProblemOut(path=path, message=message) if separator else ProblemOut(path="", message=text)


def _next_times(definition: CampaignDefinition) -> list[datetime]:
    schedule = definition.schedule
    now = datetime.now(UTC)
    if schedule.kind == "at" and schedule.at is not None:
        return [schedule.at] if schedule.at > now else []
    if schedule.kind == "cron" and schedule.cron is not None:
        try:
            return next_fire_times(schedule.cron, schedule.timezone, now, NEXT_TIMES)
        except InvalidSchedule:
            return []
    return []


def as_yaml(definition: Mapping[str, Any]) -> str:
    """The definition as a campaigns file holds it (``<flows_dir>/campaigns/*.yaml``)."""
    return yaml.safe_dump(
        {"campaigns": [dict(definition)]}, sort_keys=False, allow_unicode=True, default_flow_style=False
    )


@router.get("/{campaign_id}", response_model=CampaignOut)
async def read(campaign_id: str, hub: Hub = Depends(get_hub), _: Principal = MANAGE) -> CampaignOut:
    async with hub.db.session() as session:
        return CampaignOut.model_validate(await _get(session, campaign_id))


@router.put("/{campaign_id}", response_model=CampaignOut)
async def put(
    campaign_id: str, body: dict[str, Any], hub: Hub = Depends(get_hub), who: Principal = MANAGE
) -> CampaignOut:
    """Create or replace a draft (or paused) campaign."""
    if campaign_id in RESERVED_IDS:
        raise ApiError(422, "invalid_campaign", f"{campaign_id!r} is a reserved name; choose another id")
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


async def _act(hub: Hub, campaign_id: str, action: str, who: Principal) -> CampaignOut:
    service = _service(hub)
    async with hub.db.transaction() as session:
        before = (await _get(session, campaign_id)).status
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
        audit.record(
            session,
            who,
            f"campaign.{action}",
            "campaign",
            campaign_id,
            {"status": [before.value, campaign.status.value]},
        )
        out = CampaignOut.model_validate(campaign)
    await hub.bus.publish(WAKE_TOPIC, {})
    return out


@router.post("/{campaign_id}/launch", response_model=CampaignOut)
async def launch(campaign_id: str, hub: Hub = Depends(get_hub), who: Principal = MANAGE) -> CampaignOut:
    return await _act(hub, campaign_id, "launch", who)


@router.post("/{campaign_id}/pause", response_model=CampaignOut)
async def pause(campaign_id: str, hub: Hub = Depends(get_hub), who: Principal = MANAGE) -> CampaignOut:
    return await _act(hub, campaign_id, "pause", who)


@router.post("/{campaign_id}/resume", response_model=CampaignOut)
async def resume(campaign_id: str, hub: Hub = Depends(get_hub), who: Principal = MANAGE) -> CampaignOut:
    return await _act(hub, campaign_id, "resume", who)


@router.post("/{campaign_id}/cancel", response_model=CampaignOut)
async def cancel(campaign_id: str, hub: Hub = Depends(get_hub), who: Principal = MANAGE) -> CampaignOut:
    return await _act(hub, campaign_id, "cancel", who)


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
        return await _previews(service, session, definition, body)


@router.post("/preview")
async def preview_draft(
    body: DraftPreviewIn, hub: Hub = Depends(get_hub), _: Principal = MANAGE
) -> dict[str, Any]:
    """The same as a saved campaign's preview, for a definition as it stands in the editor (nothing
    is saved); a definition with problems is refused with 422 naming them (``check`` lists them)."""
    service = _service(hub)
    async with hub.db.session() as session:
        try:
            definition = await service.parse(session, body.definition)
        except CampaignError as exc:
            raise ApiError(422, "invalid_campaign", "; ".join(exc.problems)) from None
        return await _previews(service, session, definition, body)


async def _previews(
    service: Campaigns, session: AsyncSession, definition: CampaignDefinition, body: PreviewIn
) -> dict[str, Any]:
    count = await service.segments.count(session, definition.audience)
    customer: Customer | Person | None
    if body.customer_id is not None:
        customer = await crm.get_customer(session, body.customer_id)
    else:
        sample = await service.segments.sample(session, definition.audience, limit=1)
        customer = sample[0] if sample else None
    if customer is not None and body.locale:
        # The same person in another language: what the marketer checks before sending to them.
        customer = Person(
            id=customer.id or 0,
            display_name=customer.display_name,
            locale=body.locale,
            timezone=customer.timezone,
            attributes=dict(customer.attributes or {}),
            tags=list(customer.tags or []),
        )
    renders: list[dict[str, Any]] = []
    if customer is not None:
        # Each message the campaign can send: its one message, or each send step of a journey.
        for step, message in definition.messages():
            for variant in message.variants:
                for channel in message.channels:
                    try:
                        shown = render(message, channel, variant.id, customer, links=service.links).preview()
                    except RenderError as exc:
                        shown = {"channel": channel, "error": str(exc)}
                    renders.append({"step": step, "variant": variant.id, **shown})
    return {
        "audience": count,
        "customer_id": customer.id if customer is not None else None,
        "customer_name": customer.display_name if customer is not None else None,
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
        definition = _message(await service.definition(session, campaign_id), body.step)
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


def _message(definition: CampaignDefinition, step: str | None) -> CampaignDefinition:
    """The message a test send sends: the campaign's, or a journey's step (the first by default)."""
    messages = definition.messages()
    if step is None:
        return messages[0][1]
    for name, message in messages:
        if name == step:
            return message
    known = ", ".join(name for name, _ in messages)
    raise ApiError(
        422, "unknown_step", f"campaign {definition.id!r} has no message step {step!r} (steps: {known})"
    )

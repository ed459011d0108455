"""A campaign message between the outbox and the customer: the last checks before it leaves, what
became of it, and the fallback to the next channel when it does not arrive.

- Right before sending (the outbox hook's ``check``): the campaign must not be paused or cancelled;
  a marketing message needs the customer's consent *now* (they may have texted STOP since
  planning), must respect quiet hours and the send window now, and must fit the frequency cap (at
  most N marketing messages per customer per day / week across campaigns, counted from what this
  check let through, in turns per customer so two workers cannot both pass it:
  hub.campaigns.frequency). Transactional messages are exempt from the cap and quiet hours. A
  triggered message whose ``unless`` event happened since it was planned is not sent either.
- After sending: the send row follows its outbox row (sent, with the provider's id) and then the
  provider's receipts (delivered, read), never moving backwards.
- Cascade: a message that fails on one channel (the provider refuses it, or reports it failed or
  undelivered, or — with ``fallback_after`` — no delivery receipt comes in time) is sent again on
  the next channel of the campaign's preference the customer can be reached on; the send row
  records every channel tried.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bots.flows.templating import RenderError
from crm_core.columns import utcnow
from crm_core.models import CustomerEvent
from hub.campaigns.content import render
from hub.campaigns.definition import CampaignDefinition, Purpose
from hub.campaigns.frequency import admit
from hub.campaigns.journeys import wake
from hub.campaigns.links import CampaignLinks, SendRef
from hub.campaigns.models import Campaign, CampaignSend, CampaignStatus, SendStatus, SkipReason
from hub.campaigns.planner import send_key
from hub.campaigns.reach import NoRoute, Router, allowed, load_reach
from hub.campaigns.rules import MarketingRules, next_allowed, zone_of
from hub.outbound.enqueue import outbound_to_json
from hub.outbound.hooks import SEND, Defer, Drop, Verdict
from hub.outbound.models import OutboxItem, OutboxStatus
from hub.outbound.ratelimit import TokenBucket

log = logging.getLogger(__name__)

# How long a paused campaign's messages wait before being looked at again.
PAUSED_RECHECK = timedelta(seconds=15)
# Receipt statuses in the order they can follow each other.
_ORDER = {SendStatus.QUEUED: 0, SendStatus.SENT: 1, SendStatus.DELIVERED: 2, SendStatus.READ: 3}

Definitions = Callable[[AsyncSession, str], Any]  # (session, campaign id) -> CampaignDefinition


def send_of(payload: dict[str, Any]) -> dict[str, Any] | None:
    metadata = payload.get("metadata") or {}
    found = metadata.get("campaign_send")
    return found if isinstance(found, dict) else None


async def _load_send(session: AsyncSession, ref: dict[str, Any]) -> CampaignSend | None:
    statement = (
        select(CampaignSend)
        .where(
            CampaignSend.campaign_id == ref["campaign"],
            CampaignSend.run_key == ref["run"],
            CampaignSend.step == ref["step"],
            CampaignSend.customer_id == ref["customer"],
        )
        .with_for_update()
    )
    return (await session.execute(statement)).scalars().first()


async def happened_since(session: AsyncSession, customer_id: int, kind: str, since: datetime) -> bool:
    """Whether the customer's timeline has a ``kind`` event at or after ``since``."""
    statement = select(
        exists().where(
            CustomerEvent.customer_id == customer_id,
            CustomerEvent.kind == kind,
            CustomerEvent.occurred_at >= since,
        )
    )
    return bool((await session.execute(statement)).scalar())


class CampaignDelivery:
    """The outbox hook for campaign messages, and the cascade."""

    def __init__(
        self,
        router: Router,
        rules: MarketingRules,
        definitions: Definitions,
        links: CampaignLinks | None = None,
    ) -> None:
        self.router = router
        self.rules = rules
        self.definitions = definitions
        self.links = links
        self._buckets: dict[tuple[str, float], TokenBucket] = {}

    # -- the outbox hook ---------------------------------------------------------------------------

    def concerns(self, payload: dict[str, Any]) -> bool:
        return send_of(payload) is not None

    async def check(self, session: AsyncSession, payload: dict[str, Any]) -> Verdict:
        ref = send_of(payload)
        assert ref is not None
        send = await _load_send(session, ref)
        if send is None:
            return Drop("its campaign send is gone")
        campaign = await session.get(Campaign, send.campaign_id)
        now = utcnow()
        if campaign is None or campaign.status is CampaignStatus.CANCELLED:
            return Drop("the campaign was cancelled")
        if campaign.status is CampaignStatus.PAUSED:
            return Defer(now + PAUSED_RECHECK, "the campaign is paused")
        definition: CampaignDefinition = await self.definitions(session, send.campaign_id)
        reach = (await load_reach(session, [send.customer_id])).get(send.customer_id)
        if reach is None or not allowed(reach.consents, send.channel_type or "", send.purpose):
            return Drop("the customer has not agreed to marketing on this channel (any more)")
        marketing = send.purpose == Purpose.MARKETING.value
        zone = zone_of(reach.customer.timezone, self.rules.default_timezone)
        at = next_allowed(
            now, zone, quiet=self.rules.quiet_hours if marketing else None, window=definition.send_window
        )
        if at > now:
            send.held_for = (
                "quiet_hours"
                if marketing and next_allowed(now, zone, quiet=self.rules.quiet_hours, window=None) > now
                else "send_window"
            )
            send.not_before = at
            session.add(send)
            return Defer(at, send.held_for.replace("_", " "))
        unless = definition.schedule.unless
        if unless and await happened_since(session, send.customer_id, unless, send.planned_at):
            return Drop(SkipReason.CONDITION_MET.value)
        if marketing and not await admit(session, send, self.rules.frequency_cap, now):
            return Drop(SkipReason.FREQUENCY_CAP.value)
        if definition.max_rate:
            bucket = self._buckets.setdefault(
                (definition.id, definition.max_rate), TokenBucket(definition.max_rate, 1)
            )
            await bucket.acquire()
        return SEND

    async def dropped(self, session: AsyncSession, payload: dict[str, Any], reason: str) -> None:
        ref = send_of(payload)
        send = await _load_send(session, ref) if ref else None
        if send is None:
            return
        if "agreed to marketing" in reason:
            reason = SkipReason.NO_CONSENT.value
        elif "cancelled" in reason:
            reason = SkipReason.CANCELLED.value
        send.status = SendStatus.SKIPPED
        send.reason = reason
        session.add(send)

    async def sent(
        self, session: AsyncSession, payload: dict[str, Any], provider_message_id: str | None, at: datetime
    ) -> None:
        ref = send_of(payload)
        send = await _load_send(session, ref) if ref else None
        if send is None:
            return
        if send.status is SendStatus.QUEUED:
            send.status = SendStatus.SENT
        send.sent_at = send.sent_at or at
        send.provider_message_id = provider_message_id
        send.held_for = None
        session.add(send)

    async def failed(self, session: AsyncSession, payload: dict[str, Any], reason: str, at: datetime) -> None:
        ref = send_of(payload)
        send = await _load_send(session, ref) if ref else None
        if send is not None:
            await self.fall_back(session, send, reason, at)

    # -- receipts and the cascade ------------------------------------------------------------------

    async def receipt(
        self,
        session: AsyncSession,
        channel_account: str,
        provider_message_id: str,
        status: str,
        *,
        error: str | None = None,
        at: datetime | None = None,
    ) -> CampaignSend | None:
        """Apply a provider's delivery report to the campaign send it is about (None: not a
        campaign message). Failed or undelivered falls back to the next channel."""
        statement = (
            select(CampaignSend)
            .where(
                CampaignSend.channel_account == channel_account,
                CampaignSend.provider_message_id == provider_message_id,
            )
            .with_for_update()
        )
        send = (await session.execute(statement)).scalars().first()
        if send is None:
            return None
        at = at or utcnow()
        if status == "failed":
            await self.fall_back(session, send, error or "the provider reported the message undelivered", at)
            return send
        target = SendStatus(status) if status in {"delivered", "read"} else None
        if target is None or send.status not in _ORDER or _ORDER[target] <= _ORDER[send.status]:
            return send
        send.status = target
        if target is SendStatus.DELIVERED:
            send.delivered_at = at
        else:
            send.read_at = at
            send.delivered_at = send.delivered_at or at
        session.add(send)
        # A journey waiting until the message is delivered or read goes on now.
        await wake(session, send.customer_id, utcnow())
        return send

    async def fall_back(self, session: AsyncSession, send: CampaignSend, reason: str, at: datetime) -> bool:
        """Send again on the next reachable channel; when there is none the send has failed.
        Returns whether a next channel was queued."""
        campaign: CampaignDefinition = await self.definitions(session, send.campaign_id)
        # A journey's message has its own content and channels.
        definition = campaign.for_step(send.step)
        reach = (await load_reach(session, [send.customer_id])).get(send.customer_id)
        route = (
            self.router.route(reach, definition.channels, send.purpose, skip=send.tried)
            if reach is not None
            else NoRoute(SkipReason.NO_CHANNEL)
        )
        if isinstance(route, NoRoute) or reach is None:
            send.status = SendStatus.FAILED
            send.failed_at = at
            send.reason = reason[:500]
            session.add(send)
            return False
        try:
            ref = SendRef(send.campaign_id, send.run_key, send.step, send.customer_id)
            rendered = render(
                definition, route.channel_type, send.variant, reach.customer, links=self.links, ref=ref
            )
        except RenderError as exc:
            send.status = SendStatus.FAILED
            send.failed_at = at
            send.reason = f"{reason}; next channel content failed: {exc}"[:500]
            session.add(send)
            return False
        attempt = send.attempt + 1
        key = send_key(send.campaign_id, send.run_key, send.step, send.customer_id, attempt)
        ref = {
            "campaign": send.campaign_id,
            "run": send.run_key,
            "step": send.step,
            "customer": send.customer_id,
        }
        outbound = rendered.outbound(route.address, key, {"campaign_send": ref})
        session.add(
            OutboxItem(
                idempotency_key=key,
                channel_account=route.account,
                recipient=route.address,
                payload=outbound_to_json(outbound),
                status=OutboxStatus.PENDING,
                next_attempt_at=at,
                created_at=at,
            )
        )
        log.info(
            "campaign %s: customer %s falls back from %s to %s (%s)",
            send.campaign_id,
            send.customer_id,
            send.channel_type,
            route.channel_type,
            reason,
        )
        send.reason = f"{send.channel_type}: {reason}"[:500]
        send.tried = [*send.tried, route.channel_type]
        send.attempt = attempt
        send.channel_type = route.channel_type
        send.channel_account = route.account
        send.address = route.address
        send.status = SendStatus.QUEUED
        send.provider_message_id = None
        send.sent_at = None
        send.queued_at = at
        session.add(send)
        await session.flush()
        return True

    async def overdue_receipts(
        self, session: AsyncSession, definition: CampaignDefinition, now: datetime
    ) -> int:
        """Fall back for sends of a campaign with ``fallback_after`` that got no delivery receipt in
        time. Returns how many moved on."""
        if definition.fallback_after is None:
            return 0
        statement = (
            select(CampaignSend)
            .where(
                CampaignSend.campaign_id == definition.id,
                CampaignSend.status == SendStatus.SENT,
                CampaignSend.sent_at < now - definition.fallback_after,  # type: ignore[operator]
            )
            .limit(500)
            .with_for_update(skip_locked=True)
        )
        moved = 0
        for send in (await session.execute(statement)).scalars().all():
            span = int(definition.fallback_after.total_seconds() // 60)
            await self.fall_back(session, send, f"no delivery receipt within {span} min", now)
            moved += 1
        return moved


async def cancel_pending(session: AsyncSession, campaign_id: str) -> int:
    """A cancelled campaign: every send not yet handed to a provider is skipped, its outbox rows
    withdrawn. Returns how many sends were stopped."""
    pending = [SendStatus.PLANNED, SendStatus.QUEUED]
    result = await session.execute(
        update(CampaignSend)
        .where(CampaignSend.campaign_id == campaign_id, CampaignSend.status.in_(pending))  # type: ignore[attr-defined]
        .values(status=SendStatus.SKIPPED, reason=SkipReason.CANCELLED.value)
    )
    await session.execute(
        update(OutboxItem)
        .where(
            OutboxItem.idempotency_key.startswith(f"campaign:{campaign_id}:", autoescape=True),  # type: ignore[attr-defined]
            OutboxItem.status == OutboxStatus.PENDING,
        )
        .values(status=OutboxStatus.CANCELLED, last_error="the campaign was cancelled")
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]

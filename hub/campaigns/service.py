"""Campaigns in the hub: saving, launching, pausing, resuming and cancelling them; the round of
work the workers do for them; their results.

The worker round (``tick``), safe to run in every worker process at once:

1. unfinished runs are planned (hub.campaigns.planner; a crash resumes after the last batch) — for
   multi-step campaigns, their audience enters the journey (hub.campaigns.journeys);
2. due journeys move on: messages sent, waits started or ended, branches taken;
3. triggered sends whose delay passed are checked (``unless``) and queued;
4. sends without a delivery receipt after ``fallback_after`` fall back to the next channel;
5. one-off campaigns whose every message has left (and every journey ended) are completed.

Customers enter event and flow campaigns one by one: ``on_event`` for business events, ``enrol``
for a bot flow's ``campaign:`` step (the flows' Host callable).

Runs of ``at`` and ``cron`` campaigns are created by their scheduled job (hub.campaigns.jobs), which
the hub's scheduler runs in one elected process from a job store in the database: schedules survive
restarts, fire once with several processes, and a hub that was down at a firing catches up on the
latest missed one within HUB_SCHEDULER_MISFIRE_GRACE_SECONDS.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bots.flows.host import Enrolment
from crm_core.columns import utcnow
from crm_core.customers import record_event
from crm_core.models import CustomerEvent
from crm_core.segments import SegmentError, Segments, list_segments
from hub.accounts import Accounts
from hub.campaigns import jobs
from hub.campaigns.definition import CampaignDefinition, CampaignError, parse_campaign
from hub.campaigns.delivery import CampaignDelivery, cancel_pending
from hub.campaigns.journeys import (
    JourneyRunner,
    already_enrolled,
    enrol,
    journey_counts,
    stop_journeys,
    wake,
)
from hub.campaigns.links import CampaignLinks
from hub.campaigns.models import (
    Campaign,
    CampaignJourney,
    CampaignRun,
    CampaignSend,
    CampaignStatus,
    JourneyExit,
    JourneyStatus,
    SendStatus,
    SkipReason,
)
from hub.campaigns.planner import (
    _SEND_BLANK,
    STEP,
    Planned,
    Planner,
    already_reached,
    dialect_insert,
    plan_customer,
    variant_of,
    write_planned,
)
from hub.campaigns.reach import Router, load_reach
from hub.campaigns.rules import MarketingRules
from hub.db import Database
from hub.outbound.models import OutboxItem
from hub.scheduler import HubScheduler

log = logging.getLogger(__name__)

TICK_SECONDS = 5.0


class CampaignStateError(ValueError):
    """An action the campaign's current status does not allow (launching a cancelled one...)."""


class Campaigns:
    def __init__(
        self,
        db: Database,
        accounts: Accounts,
        rules: MarketingRules,
        segments: Segments,
        *,
        batch_size: int = 2000,
        links: CampaignLinks | None = None,
    ) -> None:
        self.db = db
        self.segments = segments
        self.rules = rules
        self.links = links
        self.router = Router(accounts)
        self.planner = Planner(db, self.router, rules, segments, batch_size=batch_size, links=links)
        self.delivery = CampaignDelivery(self.router, rules, self.definition, links)
        self.journeys = JourneyRunner(
            db, self.router, rules, segments, self.definition, batch_size=batch_size, links=links
        )
        self._definitions: dict[tuple[str, datetime], CampaignDefinition] = {}
        # Set by the hub: where ``at`` and ``cron`` campaigns keep their schedule.
        self.scheduler: HubScheduler | None = None

    # -- definitions -------------------------------------------------------------------------------

    async def parse(self, session: AsyncSession, data: Any) -> CampaignDefinition:
        """Read a definition against the saved segments; raises CampaignError."""
        saved = {}
        for segment in await list_segments(session):
            try:
                saved[segment.id] = self.segments.parse(segment.definition)
            except SegmentError:
                continue
        return parse_campaign(data, segments=self.segments, saved_segments=saved)

    async def definition(self, session: AsyncSession, campaign_id: str) -> CampaignDefinition:
        campaign = await session.get(Campaign, campaign_id)
        if campaign is None:
            raise LookupError(f"no campaign {campaign_id!r}")
        key = (campaign.id, campaign.updated_at)
        if key not in self._definitions:
            if len(self._definitions) > 500:
                self._definitions.clear()
            self._definitions[key] = await self.parse(session, campaign.definition)
        return self._definitions[key]

    async def save(
        self, session: AsyncSession, data: Mapping[str, Any], *, by: str, source: str = "api"
    ) -> Campaign:
        """Create or replace a campaign that is not running (drafts, and paused ones)."""
        definition = await self.parse(session, data)
        campaign = await session.get(Campaign, definition.id, with_for_update=True)
        now = utcnow()
        if campaign is None:
            campaign = Campaign(id=definition.id, name=definition.name, created_at=now)
        elif campaign.status not in (CampaignStatus.DRAFT, CampaignStatus.PAUSED):
            raise CampaignStateError(
                f"campaign {definition.id!r} is {campaign.status.value}: pause it before changing it"
            )
        campaign.name = definition.name
        campaign.definition = dict(definition.source)
        campaign.source = source
        campaign.updated_at = now
        campaign.updated_by = by
        session.add(campaign)
        await session.flush()
        return campaign

    # -- lifecycle ---------------------------------------------------------------------------------

    async def _campaign(self, session: AsyncSession, campaign_id: str) -> Campaign:
        campaign = await session.get(Campaign, campaign_id, with_for_update=True)
        if campaign is None:
            raise LookupError(f"no campaign {campaign_id!r}")
        return campaign

    async def launch(
        self, session: AsyncSession, campaign_id: str, *, now: datetime | None = None
    ) -> Campaign:
        """Start a draft: a ``now`` campaign starts planning at once; the others wait for their
        time, schedule or events."""
        now = now or utcnow()
        campaign = await self._campaign(session, campaign_id)
        if campaign.status is not CampaignStatus.DRAFT:
            raise CampaignStateError(f"campaign {campaign_id!r} is {campaign.status.value}, not a draft")
        definition = await self.definition(session, campaign_id)
        campaign.launched_at = now
        schedule = definition.schedule
        if schedule.kind == "now":
            campaign.status = CampaignStatus.RUNNING
            session.add(CampaignRun(campaign_id=campaign_id, key="launch", started_at=now))
        else:
            campaign.status = CampaignStatus.SCHEDULED
        if schedule.kind in ("at", "cron"):
            if self.scheduler is None:
                raise CampaignStateError("this hub has no scheduler: scheduled campaigns cannot be launched")
            if schedule.kind == "at" and schedule.at is not None:
                await self.scheduler.schedule_at(
                    jobs.job_id(campaign_id),
                    jobs.FIRE,
                    schedule.at,
                    args=[campaign_id, "at"],
                    session=session,
                )
            elif schedule.cron is not None:
                await self.scheduler.schedule_cron(
                    jobs.job_id(campaign_id),
                    jobs.FIRE,
                    cron=schedule.cron,
                    timezone=schedule.timezone,
                    args=[campaign_id, "cron"],
                    session=session,
                )
        session.add(campaign)
        await session.flush()
        return campaign

    async def pause(self, session: AsyncSession, campaign_id: str) -> Campaign:
        campaign = await self._campaign(session, campaign_id)
        if campaign.status not in (CampaignStatus.RUNNING, CampaignStatus.SCHEDULED):
            raise CampaignStateError(f"campaign {campaign_id!r} is {campaign.status.value}: nothing to pause")
        campaign.status = CampaignStatus.PAUSED
        session.add(campaign)
        return campaign

    async def resume(self, session: AsyncSession, campaign_id: str) -> Campaign:
        campaign = await self._campaign(session, campaign_id)
        if campaign.status is not CampaignStatus.PAUSED:
            raise CampaignStateError(f"campaign {campaign_id!r} is {campaign.status.value}, not paused")
        definition = await self.definition(session, campaign_id)
        # A one-off (now, or an `at` time that has come) goes on running; the others wait again.
        fired = definition.schedule.kind == "now" or (
            definition.schedule.kind == "at"
            and campaign.launched_at is not None
            and await _has_run(session, campaign_id)
        )
        campaign.status = CampaignStatus.RUNNING if fired else CampaignStatus.SCHEDULED
        session.add(campaign)
        return campaign

    async def cancel(self, session: AsyncSession, campaign_id: str) -> tuple[Campaign, int]:
        campaign = await self._campaign(session, campaign_id)
        if campaign.status in (CampaignStatus.CANCELLED, CampaignStatus.COMPLETED):
            raise CampaignStateError(f"campaign {campaign_id!r} is already {campaign.status.value}")
        campaign.status = CampaignStatus.CANCELLED
        campaign.finished_at = utcnow()
        session.add(campaign)
        stopped = await cancel_pending(session, campaign_id)
        await stop_journeys(session, campaign_id, JourneyExit.CANCELLED, campaign.finished_at)
        if self.scheduler is not None:
            await self.scheduler.cancel(jobs.job_id(campaign_id), session=session)
        return campaign, stopped

    # -- business events ---------------------------------------------------------------------------

    async def on_event(
        self,
        session: AsyncSession,
        customer_id: int,
        kind: str,
        payload: Mapping[str, Any],
        *,
        event_id: int | str,
        at: datetime | None = None,
    ) -> list[str]:
        """A business event: plan the sends of the campaigns it triggers (after their delay), and
        count it as a conversion of the customer's recent campaign message. Returns the campaigns
        triggered."""
        at = at or utcnow()
        await self._convert(session, customer_id, kind, payload, at)
        # A journey waiting for an order (or leaving on one) goes on now.
        await wake(session, customer_id, utcnow())
        triggered = []
        statement = select(Campaign).where(Campaign.status == CampaignStatus.SCHEDULED)
        for campaign in (await session.execute(statement)).scalars().all():
            try:
                definition = await self.definition(session, campaign.id)
            except (CampaignError, LookupError):
                continue
            schedule = definition.schedule
            if schedule.kind != "event" or schedule.event != kind:
                continue
            if not await self.segments.contains(session, definition.audience, customer_id, now=at):
                continue
            if await self._enter(session, definition, customer_id, f"event:{event_id}", at):
                triggered.append(definition.id)
        return triggered

    async def enrol(
        self,
        session: AsyncSession,
        customer_id: int,
        campaign_id: str,
        source: Mapping[str, str],
        *,
        at: datetime | None = None,
    ) -> Enrolment:
        """A bot flow puts the customer into an event or flow campaign (the ``campaign:`` step, through
        the flows' Host). The enrolment is on the customer's timeline (``campaign.enrolled``, with the
        flow and step in ``source``); its id keys the run, so each enrolment is planned once."""
        at = at or utcnow()
        campaign = await session.get(Campaign, campaign_id)
        if campaign is None:
            return Enrolment(False, f"there is no campaign {campaign_id!r}")
        if campaign.status is not CampaignStatus.SCHEDULED:
            return Enrolment(
                False,
                f"the campaign {campaign_id!r} is {campaign.status.value}: it takes customers once launched",
            )
        try:
            definition = await self.definition(session, campaign_id)
        except CampaignError as exc:
            return Enrolment(False, f"the campaign {campaign_id!r} has problems: {exc}")
        if not definition.takes_enrolments:
            return Enrolment(
                False,
                f"the campaign {campaign_id!r} sends on its own schedule ({definition.schedule.kind}); "
                "flows enrol customers in event and flow campaigns",
            )
        if not await self.segments.contains(session, definition.audience, customer_id, now=at):
            return Enrolment(False, f"the customer is not in the audience of the campaign {campaign_id!r}")
        if await self._kept_out(session, definition, customer_id, at):
            return Enrolment(False, f"the customer already got the campaign {campaign_id!r} (entry rule)")
        event = await record_event(
            session, customer_id, "campaign.enrolled", {"campaign": campaign_id, **source}, source="flow"
        )
        await self._enter(session, definition, customer_id, f"flow:{event.id}", at)
        return Enrolment(True)

    async def _kept_out(
        self, session: AsyncSession, definition: CampaignDefinition, customer_id: int, at: datetime
    ) -> bool:
        """Whether the entry rule keeps the customer out of a new run of the campaign."""
        check = already_enrolled if definition.journey is not None else already_reached
        return customer_id in await check(session, definition, [customer_id], "", at)

    async def _enter(
        self,
        session: AsyncSession,
        definition: CampaignDefinition,
        customer_id: int,
        run_key: str,
        at: datetime,
    ) -> bool:
        """One customer into an event or flow campaign, after its delay: a journey at its first step,
        or the single message planned. False when the entry rule keeps them out."""
        start = at + definition.schedule.delay
        if definition.journey is not None:
            return bool(
                await enrol(session, definition, [customer_id], run_key=run_key, at=at, start_at=start)
            )
        send = {
            **_SEND_BLANK,
            "campaign_id": definition.id,
            "run_key": run_key,
            "step": STEP,
            "customer_id": customer_id,
            "variant": variant_of(definition, customer_id),
            "purpose": definition.purpose.value,
            "status": SendStatus.PLANNED,
            "not_before": start,
            "planned_at": at,
            "tried": [],
            "attempt": 0,
        }
        if customer_id in await already_reached(session, definition, [customer_id], run_key, at):
            return False
        await write_planned(session, [Planned(send, None)])
        return True

    async def _convert(
        self, session: AsyncSession, customer_id: int, kind: str, payload: Mapping[str, Any], at: datetime
    ) -> None:
        statement = (
            select(CampaignSend)
            .where(
                CampaignSend.customer_id == customer_id,
                CampaignSend.sent_at.is_not(None),  # type: ignore[union-attr]
                CampaignSend.converted_at.is_(None),  # type: ignore[union-attr]
                CampaignSend.sent_at <= at,  # type: ignore[operator]
            )
            .order_by(CampaignSend.sent_at.desc())  # type: ignore[union-attr]
            .limit(20)
        )
        for send in (await session.execute(statement)).scalars().all():
            try:
                definition = await self.definition(session, send.campaign_id)
            except (CampaignError, LookupError):
                continue
            conversion = definition.conversion
            if conversion.event != kind or send.sent_at is None or send.sent_at < at - conversion.within:
                continue
            send.converted_at = at
            amount = payload.get("amount")
            send.revenue = (
                float(amount) if isinstance(amount, int | float) and not isinstance(amount, bool) else None
            )
            session.add(send)
            return  # the latest message gets the credit

    async def on_reply(self, session: AsyncSession, customer_id: int, at: datetime | None = None) -> None:
        """The customer wrote to us: their latest campaign message of the last 7 days was replied to."""
        at = at or utcnow()
        statement = (
            select(CampaignSend)
            .where(
                CampaignSend.customer_id == customer_id,
                CampaignSend.sent_at >= at - timedelta(days=7),  # type: ignore[operator]
                CampaignSend.replied_at.is_(None),  # type: ignore[union-attr]
            )
            .order_by(CampaignSend.sent_at.desc())  # type: ignore[union-attr]
            .limit(1)
        )
        send = (await session.execute(statement)).scalars().first()
        if send is not None:
            send.replied_at = at
            session.add(send)
            await wake(session, customer_id, utcnow())

    # -- the worker round --------------------------------------------------------------------------

    async def tick(
        self, now: datetime | None = None, progress: Callable[[int, int], None] | None = None
    ) -> None:
        now = now or utcnow()
        await self._plan_runs(now, progress)
        await self.journeys.advance_due(now)
        await self._promote_triggered(now)
        await self._overdue(now)
        await self._complete(now)

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:
                log.exception("campaign round failed; retrying in %s s", TICK_SECONDS)
            await asyncio.sleep(TICK_SECONDS)

    async def _plan_runs(self, now: datetime, progress: Callable[[int, int], None] | None) -> None:
        async with self.db.session() as session:
            rows = (
                await session.execute(
                    select(CampaignRun.id, CampaignRun.campaign_id)
                    .join(Campaign, Campaign.id == CampaignRun.campaign_id)  # type: ignore[arg-type]
                    .where(
                        CampaignRun.finished_at.is_(None),  # type: ignore[union-attr]
                        Campaign.status.in_([CampaignStatus.RUNNING, CampaignStatus.SCHEDULED]),  # type: ignore[attr-defined]
                    )
                    .order_by(CampaignRun.id)
                )
            ).all()
        for run_id, campaign_id in rows:
            async with self.db.session() as session:
                definition = await self.definition(session, campaign_id)

            async def live(session: AsyncSession, campaign_id: str = campaign_id) -> bool:
                status = (
                    await session.execute(select(Campaign.status).where(Campaign.id == campaign_id))
                ).scalar_one()
                return status in (CampaignStatus.RUNNING, CampaignStatus.SCHEDULED)

            await self.plan_run(run_id, definition, now=now, progress=progress, is_live=live)

    async def plan_run(
        self,
        run_id: int,
        definition: CampaignDefinition,
        *,
        now: datetime | None = None,
        progress: Callable[[int, int], None] | None = None,
        is_live: Callable[[AsyncSession], Any] | None = None,
    ) -> CampaignRun:
        """Plan one run to its end: the single message for each customer of the audience (the
        planner), or, for a multi-step campaign, each customer entering the journey."""
        planner = self.journeys if definition.journey is not None else self.planner
        return await planner.plan_run(
            run_id, definition, now=now or utcnow(), progress=progress, is_live=is_live
        )

    async def _promote_triggered(self, now: datetime, limit: int = 500) -> None:
        async with self.db.transaction() as session:
            statement = (
                select(CampaignSend)
                .join(Campaign, Campaign.id == CampaignSend.campaign_id)  # type: ignore[arg-type]
                .where(
                    CampaignSend.status == SendStatus.PLANNED,
                    CampaignSend.not_before <= now,  # type: ignore[operator]
                    Campaign.status == CampaignStatus.SCHEDULED,
                )
                .order_by(CampaignSend.not_before)
                .limit(limit)
                .with_for_update(skip_locked=True, of=CampaignSend)  # type: ignore[arg-type]
            )
            sends = list((await session.execute(statement)).scalars().all())
            reach = await load_reach(session, [s.customer_id for s in sends])
            planned = []
            for send in sends:
                definition = await self.definition(session, send.campaign_id)
                unless = definition.schedule.unless
                if unless and await _happened(session, send.customer_id, unless, send.planned_at):
                    send.status, send.reason = SendStatus.SKIPPED, SkipReason.CONDITION_MET.value
                    session.add(send)
                    continue
                facts = reach.get(send.customer_id)
                if facts is None:
                    continue
                route = self.router.route(facts, definition.channels, definition.purpose.value)
                rows = plan_customer(
                    definition,
                    facts.customer,
                    route,
                    run_key=send.run_key,
                    rules=self.rules,
                    now=now,
                    links=self.links,
                )
                for field, value in rows.send.items():
                    if field not in ("planned_at", "campaign_id", "run_key", "step", "customer_id"):
                        setattr(send, field, value)
                session.add(send)
                if rows.outbox is not None:
                    planned.append(rows)
            await session.flush()
            if planned:
                # The send rows exist already (updated above); only their outbox rows are new.
                await session.execute(
                    dialect_insert(session)(OutboxItem).on_conflict_do_nothing(
                        index_elements=["idempotency_key"]
                    ),
                    [p.outbox for p in planned],
                )

    async def _overdue(self, now: datetime) -> None:
        async with self.db.transaction() as session:
            statement = select(Campaign.id).where(
                Campaign.status.in_(
                    [CampaignStatus.RUNNING, CampaignStatus.SCHEDULED, CampaignStatus.COMPLETED]
                )  # type: ignore[attr-defined]
            )
            for campaign_id in (await session.execute(statement)).scalars().all():
                definition = await self.definition(session, campaign_id)
                await self.delivery.overdue_receipts(session, definition, now)

    async def _complete(self, now: datetime) -> None:
        """One-off campaigns (now / at) are completed once planned and nothing waits to leave."""
        async with self.db.transaction() as session:
            running = (
                (await session.execute(select(Campaign).where(Campaign.status == CampaignStatus.RUNNING)))
                .scalars()
                .all()
            )
            for campaign in running:
                unfinished_run = await session.execute(
                    select(
                        exists().where(
                            CampaignRun.campaign_id == campaign.id, CampaignRun.finished_at.is_(None)
                        )
                    )  # type: ignore[union-attr]
                )
                waiting = await session.execute(
                    select(
                        exists().where(
                            CampaignSend.campaign_id == campaign.id,
                            CampaignSend.status.in_([SendStatus.PLANNED, SendStatus.QUEUED]),  # type: ignore[attr-defined]
                        )
                    )
                )
                walking = await session.execute(
                    select(
                        exists().where(
                            CampaignJourney.campaign_id == campaign.id,
                            CampaignJourney.status == JourneyStatus.ACTIVE,
                        )
                    )
                )
                if not unfinished_run.scalar() and not waiting.scalar() and not walking.scalar():
                    campaign.status = CampaignStatus.COMPLETED
                    campaign.finished_at = now
                    session.add(campaign)

    # -- results -----------------------------------------------------------------------------------

    async def results(self, session: AsyncSession, campaign_id: str) -> dict[str, Any]:
        """The funnel per variant (and in total): planned, skipped by reason, held, queued, sent,
        delivered, read, failed by reason, fell back to each channel, replied, clicked, converted,
        revenue. A multi-step campaign also has ``steps`` (the funnel of each message step, in
        total and per variant, in the journey's order) and ``journeys`` (how many entered, are
        on their way and at which step, completed, exited and why)."""
        c = CampaignSend
        # Labelled, so GROUP BY names the same expressions (PostgreSQL compares bound parameters).
        fell_back = (c.attempt > 0).label("fell_back")
        held = c.held_for.is_not(None).label("held")  # type: ignore[union-attr]
        rows = (
            await session.execute(
                select(
                    c.step,
                    c.variant,
                    c.status,
                    c.reason,
                    c.channel_type,
                    fell_back,
                    held,
                    func.count(),
                    func.count(c.replied_at),
                    func.count(c.clicked_at),
                    func.count(c.converted_at),
                    func.coalesce(func.sum(c.revenue), 0.0),
                )
                .where(c.campaign_id == campaign_id)
                .group_by(c.step, c.variant, c.status, c.reason, c.channel_type, fell_back, held)
            )
        ).all()
        per_variant: dict[str, dict[str, Any]] = defaultdict(_empty_funnel)
        per_step: dict[str, dict[str, dict[str, Any]]] = defaultdict(lambda: defaultdict(_empty_funnel))
        for (
            step,
            variant,
            status,
            reason,
            channel,
            fell_back,
            held,
            n,
            replied,
            clicked,
            converted,
            revenue,
        ) in rows:
            for funnel in (
                per_variant[variant],
                per_variant["total"],
                per_step[step][variant],
                per_step[step]["total"],
            ):
                _add(
                    funnel,
                    SendStatus(status),
                    reason,
                    channel,
                    fell_back,
                    held,
                    n,
                    replied,
                    clicked,
                    converted,
                    revenue,
                )
        results: dict[str, Any] = {
            "campaign": campaign_id,
            "variants": {k: _finish(v) for k, v in sorted(per_variant.items())},
        }
        try:
            definition = await self.definition(session, campaign_id)
        except (CampaignError, LookupError):
            definition = None
        if definition is not None and definition.journey is not None:
            order = [name for name, _ in definition.messages()]
            # Steps no longer in the definition (edited while paused) come last.
            names = order + sorted(set(per_step) - set(order))
            results["steps"] = {
                name: {
                    "total": _finish(per_step[name]["total"]),
                    "variants": {k: _finish(v) for k, v in sorted(per_step[name].items()) if k != "total"},
                }
                for name in names
            }
            results["journeys"] = await journey_counts(session, campaign_id)
        return results


def _empty_funnel() -> dict[str, Any]:
    return {
        "planned": 0,
        "skipped": Counter(),
        "held": 0,
        "queued": 0,
        "sent": 0,
        "delivered": 0,
        "read": 0,
        "failed": Counter(),
        "fell_back_to": Counter(),
        "replied": 0,
        "clicked": 0,
        "converted": 0,
        "revenue": 0.0,
    }


def _add(
    funnel: dict[str, Any],
    status: SendStatus,
    reason: str | None,
    channel: str | None,
    fell_back: bool,
    held: bool,
    n: int,
    replied: int,
    clicked: int,
    converted: int,
    revenue: float,
) -> None:
    funnel["planned"] += n
    if status is SendStatus.SKIPPED:
        funnel["skipped"][reason or "unknown"] += n
        return
    if status is SendStatus.FAILED:
        funnel["failed"][reason or "unknown"] += n
    if status in (SendStatus.QUEUED, SendStatus.PLANNED):
        funnel["queued"] += n
        if held:
            funnel["held"] += n
    if status in (SendStatus.SENT, SendStatus.DELIVERED, SendStatus.READ):
        funnel["sent"] += n
    if status in (SendStatus.DELIVERED, SendStatus.READ):
        funnel["delivered"] += n
    if status is SendStatus.READ:
        funnel["read"] += n
    if fell_back and channel:
        funnel["fell_back_to"][channel] += n
    funnel["replied"] += replied
    funnel["clicked"] += clicked
    funnel["converted"] += converted
    funnel["revenue"] += float(revenue or 0)


def _finish(funnel: dict[str, Any]) -> dict[str, Any]:
    return {k: dict(v) if isinstance(v, Counter) else v for k, v in funnel.items()}


async def _has_run(session: AsyncSession, campaign_id: str) -> bool:
    return bool(
        (await session.execute(select(exists().where(CampaignRun.campaign_id == campaign_id)))).scalar()
    )


async def _happened(session: AsyncSession, customer_id: int, kind: str, since: datetime) -> bool:
    statement = select(
        exists().where(
            CustomerEvent.customer_id == customer_id,
            CustomerEvent.kind == kind,
            CustomerEvent.occurred_at >= since,
        )
    )
    return bool((await session.execute(statement)).scalar())

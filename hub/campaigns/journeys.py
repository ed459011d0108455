"""Customers walking through multi-step campaigns: entering them, moving them along, and letting
outcomes wake them early.

Each enrolment (a launch or firing planning the audience, a business event, a bot flow) writes one
``campaign_journeys`` row per customer at the journey's first step, due at once (or after the
schedule's ``delay``). The campaigns round then advances due journeys in batches: SQL picks the
due rows (``FOR UPDATE SKIP LOCKED``, so every worker can take part), each journey runs its steps
until it has to wait or ends, and the batch commits its send rows, outbox rows and the journeys'
new places in one transaction. A crash before that commit changes nothing; after it, the
journey has moved past the messages it queued. So each message step is sent exactly once per
customer and enrolment, with the same keys single messages have: the send row is unique per
(campaign, run, step, customer) and its outbox row carries ``campaign:<campaign>:<run>:<step>:
<customer>:<attempt>``.

Before each advance a journey is left when the campaign's ``unless`` event happened since it
entered (exit ``condition_met``) or, for marketing, the customer withdrew marketing consent on one
of its channels since then (``unsubscribed``); a cancelled campaign exits all its journeys.
Everything a single message respects applies to each message of a journey, since its sends go
through the same send-time check: consent now, quiet hours, the send window, the frequency cap, a
paused campaign.

Outcomes come in through receipts, replies, clicks and business events; each calls ``wake``,
which makes the customer's listening journeys (waiting ``until`` an outcome, or in a campaign with
``unless``) due now, so a wait for "read" ends when the read receipt arrives rather than at its
timeout.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.columns import utcnow
from crm_core.models import Consent, ConsentPurpose, CustomerEvent
from crm_core.segments import Segments
from hub.campaigns.definition import CampaignDefinition, CampaignError, Purpose
from hub.campaigns.journey import (
    OUTCOMES,
    BranchStep,
    EndStep,
    GotoStep,
    Journey,
    SendStep,
    WaitStep,
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
)
from hub.campaigns.planner import Planned, dialect_insert, plan_customer, write_planned
from hub.campaigns.reach import CustomerReach, Router, load_reach
from hub.campaigns.rules import MarketingRules
from hub.db import Database

log = logging.getLogger(__name__)

Definitions = Callable[[AsyncSession, str], Any]  # (session, campaign id) -> CampaignDefinition
Progress = Callable[[int, int], None]
# A journey whose step raised unexpectedly is looked at again after this (the others go on).
RETRY_AFTER = timedelta(minutes=10)


# -- entering ----------------------------------------------------------------------------------------


async def already_enrolled(
    session: AsyncSession,
    definition: CampaignDefinition,
    customer_ids: Sequence[int],
    run_key: str,
    now: datetime,
) -> set[int]:
    """Customers the entry rule keeps out: ``once``, anyone who entered this journey before (in
    another run); ``again_after``, anyone who entered it within that time."""
    if definition.entry.mode == "always" or not customer_ids:
        return set()
    statement = select(CampaignJourney.customer_id).where(
        CampaignJourney.campaign_id == definition.id,
        CampaignJourney.customer_id.in_(customer_ids),  # type: ignore[attr-defined]
        CampaignJourney.run_key != run_key,
    )
    if definition.entry.mode == "again_after" and definition.entry.again_after is not None:
        statement = statement.where(CampaignJourney.entered_at > now - definition.entry.again_after)
    return set((await session.execute(statement)).scalars().all())


async def enrol(
    session: AsyncSession,
    definition: CampaignDefinition,
    customer_ids: Sequence[int],
    *,
    run_key: str,
    at: datetime,
    start_at: datetime | None = None,
) -> list[int]:
    """Put customers at the journey's first step, due at ``start_at`` (default ``at``); returns who
    entered (the entry rule keeps some out; an enrolment written before is not written again)."""
    assert definition.journey is not None, f"campaign {definition.id!r} has no steps"
    excluded = await already_enrolled(session, definition, customer_ids, run_key, at)
    entering = [c for c in dict.fromkeys(customer_ids) if c not in excluded]
    if not entering:
        return []
    rows = [
        {
            "campaign_id": definition.id,
            "run_key": run_key,
            "customer_id": customer_id,
            "status": JourneyStatus.ACTIVE,
            "step": definition.journey.first,
            "wake_at": start_at or at,
            "deadline": None,
            # With `unless`, the event must wake the journey so the customer leaves at once.
            "listening": definition.schedule.unless is not None,
            "last_send": None,
            "entered_at": at,
            "updated_at": at,
            "finished_at": None,
            "exit_reason": None,
        }
        for customer_id in entering
    ]
    await session.execute(
        dialect_insert(session)(CampaignJourney.__table__).on_conflict_do_nothing(  # type: ignore[attr-defined]
            index_elements=["campaign_id", "run_key", "customer_id"]
        ),
        rows,
    )
    return entering


async def wake(session: AsyncSession, customer_id: int, at: datetime) -> None:
    """An outcome for the customer came in (receipt, reply, click, business event): their journeys
    that listen for outcomes are due now."""
    await session.execute(
        update(CampaignJourney)
        .where(
            CampaignJourney.customer_id == customer_id,
            CampaignJourney.status == JourneyStatus.ACTIVE,
            CampaignJourney.listening.is_(True),  # type: ignore[attr-defined]
            CampaignJourney.wake_at > at,  # type: ignore[operator]
        )
        .values(wake_at=at)
    )


async def stop_journeys(session: AsyncSession, campaign_id: str, reason: JourneyExit, at: datetime) -> int:
    """Every active journey of the campaign exits (a cancelled campaign). Returns how many."""
    result = await session.execute(
        update(CampaignJourney)
        .where(CampaignJourney.campaign_id == campaign_id, CampaignJourney.status == JourneyStatus.ACTIVE)
        .values(
            status=JourneyStatus.EXITED,
            exit_reason=reason.value,
            wake_at=None,
            deadline=None,
            finished_at=at,
            updated_at=at,
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def journey_counts(session: AsyncSession, campaign_id: str) -> dict[str, Any]:
    """Where the campaign's customers are: active (and at which step), completed, exited (by why)."""
    rows = (
        await session.execute(
            select(CampaignJourney.status, CampaignJourney.step, CampaignJourney.exit_reason, func.count())
            .where(CampaignJourney.campaign_id == campaign_id)
            .group_by(CampaignJourney.status, CampaignJourney.step, CampaignJourney.exit_reason)
        )
    ).all()
    counts: dict[str, Any] = {
        "entered": 0,
        "active": 0,
        "completed": 0,
        "exited": Counter(),
        "at_step": Counter(),
    }
    for status, step, reason, n in rows:
        counts["entered"] += n
        status = JourneyStatus(status)
        if status is JourneyStatus.ACTIVE:
            counts["active"] += n
            counts["at_step"][step or ""] += n
        elif status is JourneyStatus.COMPLETED:
            counts["completed"] += n
        else:
            counts["exited"][reason or "unknown"] += n
    return {k: dict(v) if isinstance(v, Counter) else v for k, v in counts.items()}


# -- what happened, for a batch of journeys --------------------------------------------------------


@dataclass
class _Facts:
    """What the steps of a batch of journeys look at, read in a few queries for the whole batch."""

    reach: dict[int, CustomerReach]
    # (customer, event kind) -> the latest such event
    latest: dict[tuple[int, str], datetime] = field(default_factory=dict)
    # customer -> [(channel, when)] marketing consent withdrawn
    withdrawn: dict[int, list[tuple[str, datetime]]] = field(default_factory=lambda: defaultdict(list))
    # (campaign, run, step, customer) -> the send row
    sends: dict[tuple[str, str, str, int], CampaignSend] = field(default_factory=dict)

    def happened(self, customer_id: int, kind: str, since: datetime) -> bool:
        latest = self.latest.get((customer_id, kind))
        return latest is not None and latest >= since


async def _load_facts(
    session: AsyncSession, journeys: Sequence[CampaignJourney], definitions: dict[str, CampaignDefinition]
) -> _Facts:
    customers = sorted({j.customer_id for j in journeys})
    facts = _Facts(await load_reach(session, customers))
    kinds = {d.schedule.unless for d in definitions.values() if d.schedule.unless} | {
        d.conversion.event for d in definitions.values()
    }
    if kinds:
        rows = await session.execute(
            select(CustomerEvent.customer_id, CustomerEvent.kind, func.max(CustomerEvent.occurred_at))
            .where(
                CustomerEvent.customer_id.in_(customers),  # type: ignore[attr-defined]
                CustomerEvent.kind.in_(sorted(kinds)),  # type: ignore[attr-defined]
            )
            .group_by(CustomerEvent.customer_id, CustomerEvent.kind)
        )
        facts.latest = {(customer, kind): at for customer, kind, at in rows.all()}
    withdrawn = await session.execute(
        select(Consent.customer_id, Consent.channel, Consent.changed_at).where(
            Consent.customer_id.in_(customers),  # type: ignore[attr-defined]
            Consent.purpose == ConsentPurpose.MARKETING,
            Consent.granted.is_(False),  # type: ignore[attr-defined]
        )
    )
    for customer, channel, at in withdrawn.all():
        facts.withdrawn[customer].append((channel, at))
    sends = await session.execute(
        select(CampaignSend).where(
            CampaignSend.customer_id.in_(customers),  # type: ignore[attr-defined]
            CampaignSend.campaign_id.in_(list(definitions)),  # type: ignore[attr-defined]
            CampaignSend.run_key.in_(sorted({j.run_key for j in journeys})),  # type: ignore[attr-defined]
        )
    )
    for send in sends.scalars().all():
        facts.sends[(send.campaign_id, send.run_key, send.step, send.customer_id)] = send
    return facts


def _journey_channels(definition: CampaignDefinition, journey: Journey) -> set[str]:
    channels = set(definition.channels)
    for step in journey.sends():
        channels |= set(step.channels)
    return channels


# -- moving along ------------------------------------------------------------------------------------


class JourneyRunner:
    def __init__(
        self,
        db: Database,
        router: Router,
        rules: MarketingRules,
        segments: Segments,
        definitions: Definitions,
        *,
        batch_size: int = 2000,
        links: CampaignLinks | None = None,
    ) -> None:
        self.db = db
        self.router = router
        self.rules = rules
        self.segments = segments
        self.definitions = definitions
        self.batch_size = batch_size
        self.links = links

    async def plan_run(
        self,
        run_id: int,
        definition: CampaignDefinition,
        *,
        now: datetime,
        progress: Progress | None = None,
        is_live: Callable[[AsyncSession], Any] | None = None,
    ) -> CampaignRun:
        """Enrol a run's audience (a launch, a firing) in batches after the run's cursor, as the
        planner does for single messages; the journeys then advance in the campaigns round.
        Returns the run (finished unless the campaign stopped meanwhile)."""
        total = None
        if progress is not None:
            async with self.db.session() as session:
                total = await self.segments.count(session, definition.audience, now=now)
        while True:
            async with self.db.transaction() as session:
                run = await session.get(CampaignRun, run_id, with_for_update=True)
                assert run is not None, f"campaign run {run_id} is gone"
                if run.finished_at is not None:
                    return run
                if is_live is not None and not await is_live(session):
                    return run
                ids = await self.segments.member_ids(
                    session, definition.audience, after_id=run.cursor, limit=self.batch_size, now=now
                )
                if not ids:
                    run.finished_at = utcnow()
                    session.add(run)
                    return run
                entered = await enrol(session, definition, ids, run_key=run.key, at=now)
                run.cursor = ids[-1]
                run.planned += len(entered)
                session.add(run)
                so_far = run.planned
            if progress is not None:
                progress(so_far, total or 0)

    async def advance_due(self, now: datetime) -> int:
        """Advance every due journey of running and scheduled campaigns, batch after batch.
        Returns how many were looked at."""
        done = 0
        while True:
            count = await self._advance_batch(now)
            done += count
            if count < self.batch_size:
                return done

    async def _advance_batch(self, now: datetime) -> int:
        async with self.db.transaction() as session:
            statement = (
                select(CampaignJourney)
                .join(Campaign, Campaign.id == CampaignJourney.campaign_id)  # type: ignore[arg-type]
                .where(
                    CampaignJourney.status == JourneyStatus.ACTIVE,
                    CampaignJourney.wake_at <= now,  # type: ignore[operator]
                    Campaign.status.in_([CampaignStatus.RUNNING, CampaignStatus.SCHEDULED]),  # type: ignore[attr-defined]
                )
                .order_by(CampaignJourney.wake_at)
                .limit(self.batch_size)
                .with_for_update(skip_locked=True, of=CampaignJourney)  # type: ignore[arg-type]
            )
            journeys = list((await session.execute(statement)).scalars().all())
            if not journeys:
                return 0
            definitions: dict[str, CampaignDefinition] = {}
            for campaign_id in sorted({j.campaign_id for j in journeys}):
                try:
                    definitions[campaign_id] = await self.definitions(session, campaign_id)
                except CampaignError as exc:
                    # Its saved segment was deleted since, say: its journeys wait, the others go on.
                    log.error("campaign %s cannot be read, its journeys wait: %s", campaign_id, exc)
            facts = await _load_facts(session, journeys, definitions)
            planned: list[Planned] = []
            for journey in journeys:
                if journey.campaign_id not in definitions:
                    journey.wake_at = now + RETRY_AFTER
                    session.add(journey)
                    continue
                try:
                    self._advance(journey, definitions[journey.campaign_id], facts, now, planned)
                except SQLAlchemyError:
                    raise
                except Exception:
                    # One journey's problem must not hold up the others: it is looked at again later.
                    log.exception(
                        "campaign %s: the journey of customer %s failed at step %s",
                        journey.campaign_id,
                        journey.customer_id,
                        journey.step,
                    )
                    journey.wake_at = now + RETRY_AFTER
                journey.updated_at = now
                session.add(journey)
            await session.flush()
            await write_planned(session, planned)
            return len(journeys)

    def _advance(
        self,
        journey: CampaignJourney,
        definition: CampaignDefinition,
        facts: _Facts,
        now: datetime,
        planned: list[Planned],
    ) -> None:
        """Run the journey's steps from where it is until it waits or ends (no database access: the
        batch's facts are at hand, and the rows it queues go into ``planned``)."""
        steps = definition.journey
        if steps is None:
            return self._finish(journey, now, JourneyExit.STEP_REMOVED)
        customer = journey.customer_id
        unless = definition.schedule.unless
        if unless and facts.happened(customer, unless, journey.entered_at):
            return self._finish(journey, now, JourneyExit.CONDITION_MET)
        if definition.purpose is Purpose.MARKETING:
            channels = _journey_channels(definition, steps) | {"any"}
            if any(c in channels and at >= journey.entered_at for c, at in facts.withdrawn.get(customer, [])):
                return self._finish(journey, now, JourneyExit.UNSUBSCRIBED)
        # A journey only goes forward, so it passes each step at most once per advance.
        for _ in range(len(steps.steps) + 1):
            if journey.step is None:
                return self._finish(journey, now, None)
            step = steps.steps.get(journey.step)
            if step is None:
                return self._finish(journey, now, JourneyExit.STEP_REMOVED)
            if isinstance(step, SendStep):
                reach = facts.reach.get(customer)
                if reach is None:
                    return self._finish(journey, now, JourneyExit.CUSTOMER_GONE)
                planned.append(self._send(journey, definition.for_send(step), step, reach, now))
                journey.last_send = step.name
                journey.step = step.next
            elif isinstance(step, WaitStep):
                if journey.deadline is None:
                    journey.deadline = now + step.span
                reached = bool(step.until) and bool(
                    set(step.until) & self._outcomes(journey, definition, step.of, facts)
                )
                if not reached and now < journey.deadline:
                    journey.wake_at = journey.deadline
                    journey.listening = bool(step.until) or unless is not None
                    return None
                journey.deadline = None
                journey.step = step.next
            elif isinstance(step, BranchStep):
                journey.step = _pick(step, self._outcomes(journey, definition, step.of, facts))
            elif isinstance(step, GotoStep):
                journey.step = step.target
            else:
                assert isinstance(step, EndStep)
                journey.step = None
        raise RuntimeError(
            f"journey of campaign {definition.id!r} did not settle"
        )  # forward-only: unreachable

    def _send(
        self,
        journey: CampaignJourney,
        message: CampaignDefinition,
        step: SendStep,
        reach: CustomerReach,
        now: datetime,
    ) -> Planned:
        route = self.router.route(reach, message.channels, message.purpose.value)
        return plan_customer(
            message,
            reach.customer,
            route,
            run_key=journey.run_key,
            rules=self.rules,
            now=now,
            step=step.name,
            links=self.links,
        )

    def _outcomes(
        self, journey: CampaignJourney, definition: CampaignDefinition, of: str | None, facts: _Facts
    ) -> set[str]:
        """What the message ``of`` (default: the last one sent on this path) led to so far."""
        step = of or journey.last_send
        send = (
            facts.sends.get((journey.campaign_id, journey.run_key, step, journey.customer_id))
            if step
            else None
        )
        found: set[str] = set()
        since = journey.entered_at
        if send is not None:
            if send.delivered_at is not None or send.status in (SendStatus.DELIVERED, SendStatus.READ):
                found.add("delivered")
            if send.read_at is not None:
                found.add("read")
            if send.replied_at is not None:
                found.add("replied")
            if send.clicked_at is not None:
                found.add("clicked")
            since = send.sent_at or send.queued_at or send.planned_at
        if facts.happened(journey.customer_id, definition.conversion.event, since):
            found.add("ordered")
        return found

    @staticmethod
    def _finish(journey: CampaignJourney, now: datetime, reason: JourneyExit | None) -> None:
        journey.status = JourneyStatus.COMPLETED if reason is None else JourneyStatus.EXITED
        journey.exit_reason = reason.value if reason is not None else None
        journey.step = None if reason is None else journey.step
        journey.wake_at = None
        journey.deadline = None
        journey.listening = False
        journey.finished_at = now


def _pick(step: BranchStep, outcomes: Collection[str]) -> str | None:
    """The case for what happened: the first outcome (in OUTCOMES order) that has a case, else
    ``none`` when nothing happened, else ``otherwise``, else on after the branch."""
    for outcome in OUTCOMES:
        if outcome in outcomes and outcome in step.cases:
            return step.cases[outcome]
    if not outcomes and "none" in step.cases:
        return step.cases["none"]
    return step.cases.get("otherwise", step.next)

"""Planning: turning a campaign run into one send row and one outbox row per reachable customer.

The audience is walked in id order in batches; each batch is one transaction that writes its send
rows and outbox rows with INSERT .. ON CONFLICT DO NOTHING and moves the run's cursor. A crash
between batches loses nothing (the cursor says where to resume) and a batch replayed after a crash
writes nothing twice (the send's unique key and the outbox idempotency key both hold).

What is decided at planning time: the variant (a stable hash of campaign and customer, so a
customer stays in their variant), the channel (reach.Router), the rendered content, and the
earliest send time (quiet hours and the send window in the customer's zone). What is checked again
at send time, because it can change meanwhile: consent, the frequency cap, the campaign being
paused or cancelled (hub.campaigns.guard).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bots.flows.templating import RenderError
from crm_core.columns import utcnow
from crm_core.models import Customer
from crm_core.segments import Segments
from hub.campaigns.content import render
from hub.campaigns.definition import CampaignDefinition, Purpose
from hub.campaigns.links import CampaignLinks, SendRef
from hub.campaigns.models import CampaignRun, CampaignSend, SendStatus
from hub.campaigns.reach import NoRoute, Person, Route, Router, load_reach
from hub.campaigns.rules import MarketingRules, next_allowed, zone_of
from hub.db import Database
from hub.outbound.enqueue import outbound_to_json
from hub.outbound.models import OutboxItem, OutboxStatus

log = logging.getLogger(__name__)

STEP = "main"
Progress = Callable[[int, int], None]  # (customers planned so far, audience size)


def send_key(campaign_id: str, run_key: str, step: str, customer_id: int, attempt: int) -> str:
    """The outbox idempotency key of one attempt (one channel) of one send."""
    return f"campaign:{campaign_id}:{run_key}:{step}:{customer_id}:{attempt}"


def variant_of(definition: CampaignDefinition, customer_id: int) -> str:
    """A stable pick by weight: the same customer always lands in the same variant."""
    bucket = int(hashlib.sha256(f"{definition.id}:{customer_id}".encode()).hexdigest()[:8], 16) % 100
    edge = 0
    for variant in definition.variants:
        edge += variant.weight
        if bucket < edge:
            return variant.id
    return definition.variants[-1].id


# Every send row written has all the columns (a Core executemany needs the same keys in each row).
_SEND_BLANK: dict[str, Any] = {
    "reason": None,
    "channel_type": None,
    "channel_account": None,
    "address": None,
    "provider_message_id": None,
    "not_before": None,
    "held_for": None,
    "queued_at": None,
    "sent_at": None,
    "delivered_at": None,
    "read_at": None,
    "failed_at": None,
    "replied_at": None,
    "clicked_at": None,
    "converted_at": None,
    "revenue": None,
}


@dataclass(frozen=True)
class Planned:
    """A send row, and the outbox row when it goes out (None: skipped or waiting)."""

    send: dict[str, Any]
    outbox: dict[str, Any] | None


def plan_customer(
    definition: CampaignDefinition,
    customer: Customer | Person,
    route: Route | NoRoute,
    *,
    run_key: str,
    rules: MarketingRules,
    now: datetime,
    step: str = STEP,
    links: CampaignLinks | None = None,
) -> Planned:
    """The rows for one customer (pure: no database)."""
    assert customer.id is not None
    send: dict[str, Any] = {
        **_SEND_BLANK,
        "campaign_id": definition.id,
        "run_key": run_key,
        "step": step,
        "customer_id": customer.id,
        "variant": variant_of(definition, customer.id),
        "purpose": definition.purpose.value,
        "planned_at": now,
        "tried": [],
        "attempt": 0,
    }
    if isinstance(route, NoRoute):
        return Planned({**send, "status": SendStatus.SKIPPED, "reason": route.reason.value}, None)
    try:
        ref = SendRef(definition.id, run_key, step, customer.id)
        rendered = render(definition, route.channel_type, send["variant"], customer, links=links, ref=ref)
    except RenderError as exc:
        return Planned({**send, "status": SendStatus.SKIPPED, "reason": f"content failed: {exc}"[:500]}, None)
    marketing = definition.purpose is Purpose.MARKETING
    zone = zone_of(customer.timezone, rules.default_timezone)
    at = next_allowed(
        now, zone, quiet=rules.quiet_hours if marketing else None, window=definition.send_window
    )
    held_for = None
    if at > now:
        quiet = rules.quiet_hours if marketing else None
        held_for = "quiet_hours" if next_allowed(now, zone, quiet=quiet, window=None) > now else "send_window"
    key = send_key(definition.id, run_key, step, customer.id, 0)
    outbound = rendered.outbound(
        route.address,
        key,
        {"campaign_send": {"campaign": definition.id, "run": run_key, "step": step, "customer": customer.id}},
    )
    send.update(
        status=SendStatus.QUEUED,
        channel_type=route.channel_type,
        channel_account=route.account,
        address=route.address,
        tried=[route.channel_type],
        not_before=at if at > now else None,
        held_for=held_for,
        queued_at=now,
    )
    outbox = {
        "idempotency_key": key,
        "message_id": None,
        "channel_account": route.account,
        "recipient": route.address,
        "payload": outbound_to_json(outbound),
        "status": OutboxStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": at,
        "created_at": now,
    }
    return Planned(send, outbox)


def dialect_insert(session: AsyncSession) -> Any:
    """INSERT with ON CONFLICT for the session's backend."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


async def write_planned(session: AsyncSession, planned: list[Planned]) -> None:
    if not planned:
        return
    insert = dialect_insert(session)
    # Core inserts on the tables (not the ORM bulk path): several times cheaper per row.
    await session.execute(
        insert(CampaignSend.__table__).on_conflict_do_nothing(  # type: ignore[attr-defined]
            index_elements=["campaign_id", "run_key", "step", "customer_id"]
        ),
        [p.send for p in planned],
    )
    outbox = [p.outbox for p in planned if p.outbox is not None]
    if outbox:
        await session.execute(
            insert(OutboxItem.__table__).on_conflict_do_nothing(index_elements=["idempotency_key"]),  # type: ignore[attr-defined]
            outbox,
        )


async def already_reached(
    session: AsyncSession,
    definition: CampaignDefinition,
    customer_ids: list[int],
    run_key: str,
    now: datetime,
) -> set[int]:
    """Customers the entry rule keeps out of this run (sends of earlier runs of this campaign)."""
    if definition.entry.mode == "always" or not customer_ids:
        return set()
    statement = select(CampaignSend.customer_id).where(
        CampaignSend.campaign_id == definition.id,
        CampaignSend.customer_id.in_(customer_ids),  # type: ignore[attr-defined]
        CampaignSend.run_key != run_key,
        CampaignSend.status != SendStatus.SKIPPED,
    )
    if definition.entry.mode == "again_after" and definition.entry.again_after is not None:
        statement = statement.where(CampaignSend.planned_at > now - definition.entry.again_after)
    return {row[0] for row in (await session.execute(statement)).all()}


class Planner:
    def __init__(
        self,
        db: Database,
        router: Router,
        rules: MarketingRules,
        segments: Segments,
        *,
        batch_size: int = 2000,
        links: CampaignLinks | None = None,
    ) -> None:
        self.db = db
        self.router = router
        self.rules = rules
        self.segments = segments
        self.batch_size = batch_size
        self.links = links

    async def plan_run(
        self,
        run_id: int,
        definition: CampaignDefinition,
        *,
        now: datetime | None = None,
        progress: Progress | None = None,
        is_live: Callable[[AsyncSession], Any] | None = None,
    ) -> CampaignRun:
        """Plan the run to the end (resuming after its cursor). Returns the finished run."""
        now = now or utcnow()
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
                    return run  # paused or cancelled: planning resumes when the campaign does
                ids = await self.segments.member_ids(
                    session, definition.audience, after_id=run.cursor, limit=self.batch_size, now=now
                )
                if not ids:
                    run.finished_at = utcnow()
                    session.add(run)
                    return run
                planned = await self._plan_batch(session, definition, run.key, ids, now)
                await write_planned(session, planned)
                run.cursor = ids[-1]
                run.planned += len(planned)
                session.add(run)
                planned_so_far = run.planned
            if progress is not None:
                progress(planned_so_far, total or 0)

    async def _plan_batch(
        self,
        session: AsyncSession,
        definition: CampaignDefinition,
        run_key: str,
        ids: list[int],
        now: datetime,
    ) -> list[Planned]:
        excluded = await already_reached(session, definition, ids, run_key, now)
        reach = await load_reach(session, [i for i in ids if i not in excluded])
        planned = []
        for customer_id in ids:
            facts = reach.get(customer_id)
            if facts is None:
                continue
            route = self.router.route(facts, definition.channels, definition.purpose.value)
            planned.append(
                plan_customer(
                    definition,
                    facts.customer,
                    route,
                    run_key=run_key,
                    rules=self.rules,
                    now=now,
                    links=self.links,
                )
            )
        return planned

"""Planning: turning a campaign run into one send row and one outbox row per reachable customer.

The audience is walked in id order in batches; each batch is one transaction that writes its send
rows and outbox rows with INSERT .. ON CONFLICT DO NOTHING and moves the run's cursor. A crash
between batches loses nothing (the cursor says where to resume) and a batch replayed after a crash
writes nothing twice (the send's unique key and the outbox idempotency key both hold).

Speed (a million customers, bench/campaigns.py): the next batch is read and rendered while the
current one is written; rows are built as tuples by BatchPlan (templates filled without Jinja when
they are plain lookups, hub.campaigns.content.ContentRenderer) and written per backend by
hub.campaigns.bulk_insert. ``plan_customer`` is the one-customer reference the fast path is tested
against, and what triggered sends use.

What is decided at planning time: the variant (a stable hash of campaign and customer, so a
customer stays in their variant), the channel (reach.Router), the rendered content, and the
earliest send time (quiet hours and the send window in the customer's zone). What is checked again
at send time, because it can change meanwhile: consent, the frequency cap, the campaign being
paused or cancelled (hub.campaigns.guard).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from datetime import datetime
from json.encoder import encode_basestring_ascii as _json_text  # a str as json.dumps writes it
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

from bots.flows.templating import RenderError
from channels.contract import Button
from crm_core.columns import utcnow
from crm_core.models import Customer
from crm_core.segments import Segments
from hub.campaigns.bulk_insert import BulkInsert, Encoder
from hub.campaigns.content import ContentRenderer, Rendered, render
from hub.campaigns.definition import CampaignDefinition, Purpose
from hub.campaigns.id_lists import among
from hub.campaigns.links import CampaignLinks, SendRef
from hub.campaigns.models import CampaignRun, CampaignSend, SendStatus
from hub.campaigns.reach import CustomerReach, NoRoute, Person, Route, Router, load_reach
from hub.campaigns.rules import MarketingRules, next_allowed, zone_of
from hub.db import Database
from hub.outbound.enqueue import outbound_to_json
from hub.outbound.models import OutboxItem, OutboxStatus

log = logging.getLogger(__name__)
_BUTTON_FIELDS = tuple(f.name for f in fields(Button))

STEP = "main"
Progress = Callable[[int, int], None]  # (customers planned so far, audience size)


def send_key(campaign_id: str, run_key: str, step: str, customer_id: int, attempt: int) -> str:
    """The outbox idempotency key of one attempt (one channel) of one send."""
    return f"campaign:{campaign_id}:{run_key}:{step}:{customer_id}:{attempt}"


def variant_of(definition: CampaignDefinition, customer_id: int) -> str:
    """A stable pick by weight: the same customer always lands in the same variant."""
    if len(definition.variants) == 1:
        return definition.variants[0].id  # what the walk below gives for any bucket
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
    at, held_for = send_time(definition, rules, now, customer.timezone)
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


def send_time(
    definition: CampaignDefinition, rules: MarketingRules, now: datetime, timezone: str | None
) -> tuple[datetime, str | None]:
    """The earliest send time for a customer in ``timezone``, and what holds it back
    ("quiet_hours" or "send_window"; None when it can go now)."""
    marketing = definition.purpose is Purpose.MARKETING
    zone = zone_of(timezone, rules.default_timezone)
    quiet = rules.quiet_hours if marketing else None
    at = next_allowed(now, zone, quiet=quiet, window=definition.send_window)
    if at <= now:
        return at, None
    return at, "quiet_hours" if next_allowed(now, zone, quiet=quiet, window=None) > now else "send_window"


# The columns the planner writes (the others start empty). Rows of the batch path are tuples in
# this order.
SEND_COLUMNS = (
    "campaign_id",
    "run_key",
    "step",
    "customer_id",
    "variant",
    "purpose",
    "status",
    "reason",
    "channel_type",
    "channel_account",
    "address",
    "tried",
    "attempt",
    "not_before",
    "held_for",
    "planned_at",
    "queued_at",
)
OUTBOX_COLUMNS = (
    "idempotency_key",
    "channel_account",
    "recipient",
    "payload",
    "status",
    "attempts",
    "next_attempt_at",
    "created_at",
)

Row = tuple[tuple[Any, ...], tuple[Any, ...] | None]  # a send row, and its outbox row when it goes out


class BatchPlan:
    """The rows of many customers of one run, as database-ready tuples: what ``plan_customer``
    gives, computed with everything shared worked out once (rendered templates through
    ContentRenderer, send times per time zone, encoded constants), since per-customer Python was
    most of the time of planning a million customers. tests/hub/test_campaign_planning.py checks
    the rows equal plan_customer's."""

    def __init__(
        self,
        definition: CampaignDefinition,
        *,
        run_key: str,
        rules: MarketingRules,
        now: datetime,
        dialect: Dialect,
        step: str = STEP,
        links: CampaignLinks | None = None,
    ) -> None:
        self.definition = definition
        self.run_key = run_key
        self.rules = rules
        self.now = now
        self.step = step
        self.links = links
        self.renderer = ContentRenderer(definition, links)
        self.reads_documents = self.renderer.reads_documents()
        sends, outbox = CampaignSend.__table__, OutboxItem.__table__  # type: ignore[attr-defined]
        self._time = Encoder(sends, "planned_at", dialect)
        self._tried = Encoder(sends, "tried", dialect)
        self._payload = Encoder(outbox, "payload", dialect)
        self._now = self._time(now)
        self._skipped = Encoder(sends, "status", dialect)(SendStatus.SKIPPED)
        self._queued = Encoder(sends, "status", dialect)(SendStatus.QUEUED)
        self._pending = Encoder(outbox, "status", dialect)(OutboxStatus.PENDING)
        self._no_tries = self._tried([])
        self._times: dict[str | None, tuple[datetime, str | None]] = {}
        self._purpose = definition.purpose.value
        # Payload text written directly only where the engine serializes JSON with json.dumps.
        self._dumps_payload = getattr(dialect, "_json_serializer", None) in (None, json.dumps)
        self._metadata_head = (
            f'"metadata": {{"campaign_send": {{"campaign": {_json_text(definition.id)}, '
            f'"run": {_json_text(run_key)}, "step": {_json_text(step)}, "customer": '
        )
        self.sends = BulkInsert(
            sends, SEND_COLUMNS, ["campaign_id", "run_key", "step", "customer_id"], dialect
        )
        self.outbox = BulkInsert(outbox, OUTBOX_COLUMNS, ["idempotency_key"], dialect)

    def rows(self, customer: Person | Customer, route: Route | NoRoute) -> Row:
        """The send row and the outbox row (None: skipped) of one customer."""
        definition, run_key, step = self.definition, self.run_key, self.step
        customer_id = customer.id
        assert customer_id is not None
        variant = variant_of(definition, customer_id)
        head = (definition.id, run_key, step, customer_id, variant, self._purpose)
        if isinstance(route, NoRoute):
            skipped = (self._skipped, route.reason.value, None, None, None, self._no_tries, 0, None, None)
            return (*head, *skipped, self._now, None), None
        try:
            # Without links a send's ref changes nothing in the content.
            ref = SendRef(definition.id, run_key, step, customer_id) if self.links is not None else None
            rendered = self.renderer.render(route.channel_type, variant, customer, ref)
        except RenderError as exc:
            failed = f"content failed: {exc}"[:500]
            skipped = (self._skipped, failed, None, None, None, self._no_tries, 0, None, None)
            return (*head, *skipped, self._now, None), None
        timing = self._times.get(customer.timezone)
        if timing is None:
            timing = self._times[customer.timezone] = send_time(
                definition, self.rules, self.now, customer.timezone
            )
        at, held_for = timing
        key = send_key(definition.id, run_key, step, customer_id, 0)
        payload = self._payload_text(rendered, route.address, key, customer_id)
        sent_at = self._time.cached(at)
        queued = (
            self._queued,
            None,
            route.channel_type,
            route.account,
            route.address,
            self._tried.cached([route.channel_type], route.channel_type),
            0,
            sent_at if held_for is not None else None,
            held_for,
        )
        outbox = (
            key,
            route.account,
            route.address,
            payload,
            self._pending,
            0,
            sent_at,
            self._now,
        )
        return (*head, *queued, self._now, self._now), outbox

    def _payload_text(self, rendered: Rendered, address: str, key: str, customer_id: int) -> Any:
        """The outbox payload as stored: ``outbound_to_json(rendered.outbound(...))`` serialized
        as json.dumps does it, but written out directly — serializing a million payloads was a
        good share of planning. tests/hub/test_campaign_planning.py holds it to the original."""
        if not self._dumps_payload:
            send = {
                "campaign": self.definition.id,
                "run": self.run_key,
                "step": self.step,
                "customer": customer_id,
            }
            return self._payload(outbound_to_json(rendered.outbound(address, key, {"campaign_send": send})))
        buttons = (
            json.dumps([{name: getattr(b, name) for name in _BUTTON_FIELDS} for b in rendered.buttons])
            if rendered.buttons
            else "[]"
        )
        subject = "null" if rendered.subject is None else _json_text(rendered.subject)
        unsubscribe = (
            ""
            if rendered.list_unsubscribe is None
            else f', "list_unsubscribe": {_json_text(rendered.list_unsubscribe)}'
        )
        return (
            f'{{"to": {_json_text(address)}, "text": {_json_text(rendered.text)}, '
            f'"idempotency_key": {_json_text(key)}, "buttons": {buttons}, "attachments": [], '
            f'"subject": {subject}, "reply_to": [], {self._metadata_head}{customer_id}}}{unsubscribe}}}}}'
        )

    async def write(self, session: AsyncSession, rows: list[Row]) -> None:
        await self.sends.run(session, [send for send, _ in rows])
        await self.outbox.run(session, [outbox for _, outbox in rows if outbox is not None])


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
        # The campaign as an expression, not the column: both databases would otherwise walk the
        # (campaign, run, ...) index over every send of the campaign — the run's own rows too,
        # a full scan per batch that grows with the run — instead of probing these customers.
        CampaignSend.campaign_id + "" == definition.id,
        among(session, CampaignSend.customer_id, customer_ids),  # type: ignore[arg-type]
        CampaignSend.run_key != run_key,
        CampaignSend.status != SendStatus.SKIPPED,
    )
    if definition.entry.mode == "again_after" and definition.entry.again_after is not None:
        statement = statement.where(CampaignSend.planned_at > now - definition.entry.again_after)
    return {row[0] for row in (await session.execute(statement)).all()}


_planning = {"runs": 0, "threshold": gc.get_threshold()}


@contextlib.contextmanager
def _rare_full_collections() -> Iterator[None]:
    """While planning, Python's full garbage collections happen rarely.

    Planning allocates millions of short-lived objects that survive a little while (a batch
    waits to be written), and each time enough have, CPython scans the whole heap: measured, that
    was a third to half of the planner's CPU time. Young collections still run, so garbage cycles
    are still found; the ones that reach the oldest generation wait until planning ends. The
    previous setting comes back when the last planning of the process finishes."""
    if _planning["runs"] == 0:
        _planning["threshold"] = gc.get_threshold()
        young, middle, _ = _planning["threshold"]
        gc.set_threshold(young, middle, 1000)
    _planning["runs"] += 1
    try:
        yield
    finally:
        _planning["runs"] -= 1
        if _planning["runs"] == 0:
            gc.set_threshold(*_planning["threshold"])


@dataclass(frozen=True)
class _Batch:
    """Planned rows of the customers after ``after`` up to ``last`` (None: the audience ended)."""

    after: int
    last: int | None
    rows: list[Row]


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
        """Plan the run to the end (resuming after its cursor). Returns the finished run.

        Reading and rendering the next batch (a read session, Python) overlaps writing the current
        one (the database, in its own thread or server): each batch is still committed on its own
        with the cursor, under the run's row lock, and only when the cursor is still where the
        batch began — another planner of the same run moving it meanwhile just makes this one
        read again from there."""
        now = now or utcnow()
        async with self.db.session() as session:
            run = await session.get(CampaignRun, run_id)
            if run is None:
                raise LookupError(f"campaign run {run_id} does not exist")
            if run.finished_at is not None:
                return run
            cursor = run.cursor
            total = await self.segments.count(session, definition.audience, now=now) if progress else 0
        plan = BatchPlan(
            definition,
            run_key=run.key,
            rules=self.rules,
            now=now,
            dialect=self.db.engine.dialect,
            links=self.links,
        )
        with _rare_full_collections():
            return await self._plan(run_id, plan, cursor, total, progress, is_live)

    async def _plan(
        self,
        run_id: int,
        plan: BatchPlan,
        cursor: int,
        total: int,
        progress: Progress | None,
        is_live: Callable[[AsyncSession], Any] | None,
    ) -> CampaignRun:
        while True:
            ahead: asyncio.Queue[_Batch | BaseException] = asyncio.Queue(maxsize=1)
            reader = asyncio.create_task(self._read_ahead(plan, cursor, ahead))
            try:
                while True:
                    batch = await ahead.get()
                    if isinstance(batch, BaseException):
                        raise batch
                    async with self.db.transaction() as session:
                        run = await session.get(CampaignRun, run_id, with_for_update=True)
                        assert run is not None, f"campaign run {run_id} is gone"
                        if run.finished_at is not None:
                            return run
                        if is_live is not None and not await is_live(session):
                            return run  # paused or cancelled: planning resumes when the campaign does
                        if run.cursor != batch.after:
                            cursor = run.cursor  # planned meanwhile by someone else: read on from there
                            break
                        if batch.last is None:
                            run.finished_at = utcnow()
                            session.add(run)
                            return run
                        await plan.write(session, batch.rows)
                        run.cursor = batch.last
                        run.planned += len(batch.rows)
                        session.add(run)
                        planned_so_far = run.planned
                    if progress is not None:
                        progress(planned_so_far, total)
            finally:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader

    async def _read_ahead(
        self, plan: BatchPlan, after: int, ahead: asyncio.Queue[_Batch | BaseException]
    ) -> None:
        """Batches of the audience after ``after``, planned, then one with ``last=None`` at the end."""
        try:
            while True:
                async with self.db.session() as session:
                    ids = await self.segments.member_ids(
                        session, plan.definition.audience, after_id=after, limit=self.batch_size, now=plan.now
                    )
                    rows = await self._plan_batch(session, plan, ids) if ids else []
                await ahead.put(_Batch(after, ids[-1] if ids else None, rows))
                if not ids:
                    return
                after = ids[-1]
        except Exception as exc:  # handed to plan_run, which raises it
            await ahead.put(exc)

    async def _plan_batch(self, session: AsyncSession, plan: BatchPlan, ids: list[int]) -> list[Row]:
        definition = plan.definition
        excluded = await already_reached(session, definition, ids, plan.run_key, plan.now)
        reach: dict[int, CustomerReach] = await load_reach(
            session, [i for i in ids if i not in excluded], documents=plan.reads_documents
        )
        route = self.router.route
        channels, purpose = definition.channels, definition.purpose.value
        rows = []
        for customer_id in ids:
            facts = reach.get(customer_id)
            if facts is not None:
                rows.append(plan.rows(facts.customer, route(facts, channels, purpose)))
                if len(rows) % 500 == 0:
                    await asyncio.sleep(0)  # let a server sharing this event loop answer meanwhile
        return rows

"""Bot benchmark: bot turns per second and turn latency in-process, next to the bare pipeline.

Everything runs in this one Python process, on the real hub (``Hub.build``) over a fresh database
migrated by hub/migrate.py: web chat messages go straight into the receive step (verify, store raw,
wake the processor; no HTTP), the hub's ``InboundProcessor`` loop claims and applies them, and a turn
is done when the processor has committed it: the message stored and, with a bot, its replies queued
in the outbox. The outbox is not sent (no dispatcher runs; bench/ingest.py measures sending).

Two runs on the same kind of database, with the same customers and the same messages:

- **bare**: no flows (an empty flows folder), so nobody answers: message in -> message stored.
- **bot**: the shipped flows (``flows/``); every customer's support flow is paused at a question,
  and each turn answers it, or is a "Hello" from a new customer that starts the flow
  (bench/bot_plan.py).

Each run is seeded with ``--customers`` customers as its own pipeline leaves them: three template
customers are sent through the pipeline and copied with bulk inserts (bench/seed_customers.py).
Then two phases:

1. **peak**: ``--turns`` turns from ``--concurrency`` closed-loop clients: turns/s at saturation.
   Latency here is mostly waiting in line (about concurrency / rate).
2. **paced**: ``--paced-seconds`` of turns sent on a clock at ``--rate-fraction`` of the slower
   run's peak rate, the same rate in both runs: the latency a turn sees below saturation, counted from
   when it was due, so a stalled process cannot hide its queue.

Both runs are prepared first (each on its own database), then measured phase by phase (bare peak,
bot peak, bare paced, bot paced); a run's processor only runs during its own phases.

Afterwards the database is checked against the plan: every turn processed, exactly the replies the
flow should give queued in the outbox, and every flow paused where the plan says.

    python bench/bots.py                       # SQLite, 10,000 customers, ~2 minutes
    python bench/bots.py --backend postgres    # a fresh database on 127.0.0.1:5432, dropped after
    python bench/bots.py --quick               # smoke run, ~20 s
"""

# ruff: noqa: E402  (the imports below need the sys.path fix above them)

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
# Run as a script, this file's folder comes first on sys.path, where this very file would shadow the
# `bots` package the hub imports. The repository goes first instead; bench/ (for the helpers beside
# this file) goes last.
sys.path[:] = [str(REPO), *(p for p in sys.path if Path(p or ".").resolve() not in (BENCH, REPO)), str(BENCH)]

import argparse
import asyncio
import contextlib
import json
import math
import os
import secrets
import signal
import sqlite3
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from bot_plan import CYCLE, Plan, Turn, make_plan, template_script, visitor_id
from ingest import (  # bench/ingest.py, beside this file
    BenchError,
    asyncpg_url,
    log,
    machine_busy_seconds,
    machine_line,
    postgres_cpu_seconds,
    process_cpu_seconds,
    render_table,
)
from seed_customers import Clone, SeedError, Template, copy_customers
from sqlalchemy import func, select, text

from bots.flows.state import FlowState
from channels.contract import WebhookRequest
from channels.webchat import WebchatChannel
from crm_core.models import Customer, Identity, IdentityKind
from hub.config import parse_config
from hub.inbound.models import RawEvent, RawEventStatus
from hub.inbound.process import InboundProcessor
from hub.inbound.receive import receive
from hub.migrate import upgrade
from hub.outbound.models import OutboxItem
from hub.runtime import Hub
from hub.settings import Settings
from inbox.models import AuthorKind, Direction, Message

ACCOUNT = "site"
PUBLIC_URL = "http://bench.invalid"
STARTED = time.monotonic()


# --------------------------------------------------------------------------------------------------
# Options and databases


@dataclass(frozen=True)
class Options:
    """What to run (see ``parse_options`` for the meaning of each)."""

    backend: str
    customers: int
    turns: int
    concurrency: int
    paced_seconds: float
    rate_fraction: float
    new_share: float
    pg_url: str
    timeout: float


def parse_options(argv: Sequence[str] | None = None) -> Options:
    """Command-line options; ``--quick`` shrinks the defaults to a smoke run."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--customers", type=int, help="customers with a paused flow (default 10000)")
    parser.add_argument("--turns", type=int, help="turns in the peak phase (default 2000)")
    parser.add_argument("--concurrency", type=int, help="closed-loop clients in the peak phase (default 16)")
    parser.add_argument("--paced-seconds", type=float, help="paced phase length, 0: none (default 15)")
    parser.add_argument(
        "--rate-fraction", type=float, default=0.5, help="paced rate, share of the slower peak"
    )
    parser.add_argument("--new-share", type=float, default=0.1, help="share of turns from new customers")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--timeout", type=float, default=60.0, help="bound on one turn, seconds")
    parser.add_argument("--quick", action="store_true", help="smoke run: 500 customers, 300 turns, 3 s paced")
    args = parser.parse_args(argv)
    options = Options(
        backend=args.backend,
        customers=_given(args.customers, 500 if args.quick else 10_000),
        turns=_given(args.turns, 300 if args.quick else 2000),
        concurrency=_given(args.concurrency, 8 if args.quick else 16),
        paced_seconds=_given(args.paced_seconds, 3.0 if args.quick else 15.0),
        rate_fraction=args.rate_fraction,
        new_share=args.new_share,
        pg_url=args.pg_url,
        timeout=args.timeout,
    )
    if options.customers < len(CYCLE):
        parser.error(f"--customers must be at least {len(CYCLE)} (the template customers)")
    if not 1 <= options.concurrency <= options.turns:
        parser.error("--concurrency must be at least 1 and at most --turns")
    if options.paced_seconds < 0 or not 0 < options.rate_fraction <= 1 or not 0 <= options.new_share <= 1:
        parser.error("--paced-seconds must be >= 0, --rate-fraction in (0, 1], --new-share in [0, 1]")
    return options


def _given(value: float | None, default: float) -> Any:
    return default if value is None else value


@contextlib.asynccontextmanager
async def fresh_database(options: Options, workdir: Path, name: str) -> AsyncIterator[str]:
    """A new empty database for one run: a file in the run's temporary folder, or a PostgreSQL
    database dropped afterwards however the run ends."""
    if options.backend == "sqlite":
        yield f"sqlite+aiosqlite:///{workdir / name}.db"
        return
    database = f"omnihub_bench_{secrets.token_hex(5)}"
    admin_dsn = asyncpg_url(options.pg_url).replace("postgresql+asyncpg://", "postgresql://", 1)

    async def admin(sql: str) -> None:
        connection = await asyncpg.connect(admin_dsn)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    try:
        await admin(f'CREATE DATABASE "{database}"')
    except (OSError, asyncpg.PostgresError) as exc:
        raise BenchError(f"cannot create a database on {options.pg_url}: {exc}") from exc
    try:
        yield asyncpg_url(options.pg_url, database)
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def hub_for(database_url: str, flows_dir: Path, data_dir: Path) -> Hub:
    """The hub as `hub serve` builds it, with one web chat account and the given flows folder."""
    config = parse_config(
        {"public_url": PUBLIC_URL, "flows_dir": str(flows_dir), "channels": {ACCOUNT: {"type": "webchat"}}},
        env={},
    )
    settings = Settings(
        database_url=database_url,
        hub_data_dir=data_dir,
        hub_secret_key="bench-secret-key",  # type: ignore[arg-type]
        hub_config=Path("unused.yaml"),
        _env_file=None,  # type: ignore[call-arg]
    )
    return Hub.build(settings, config)


# --------------------------------------------------------------------------------------------------
# Sending turns and timing them: the processor reports when each raw event is committed


class Completions:
    """When each raw event finished processing (perf_counter), or why it failed."""

    def __init__(self) -> None:
        self._done: dict[int, float] = {}
        self._failed: dict[int, str] = {}
        self._waiting: dict[int, asyncio.Future[float]] = {}

    def finished(self, raw_id: int) -> None:
        if raw_id in self._failed:
            return
        self._done[raw_id] = at = time.perf_counter()
        waiter = self._waiting.pop(raw_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(at)

    def failed(self, raw_id: int, reason: str) -> None:
        self._failed[raw_id] = reason
        waiter = self._waiting.pop(raw_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_exception(BenchError(f"raw event {raw_id} failed processing: {reason}"))

    async def wait(self, raw_id: int, patience: float) -> float:
        """When raw event ``raw_id`` was committed (perhaps before anyone asked)."""
        if raw_id in self._failed:
            raise BenchError(f"raw event {raw_id} failed processing: {self._failed[raw_id]}")
        if raw_id in self._done:
            return self._done[raw_id]
        waiter = self._waiting.setdefault(raw_id, asyncio.get_running_loop().create_future())
        try:
            return await asyncio.wait_for(waiter, patience)
        except TimeoutError:
            raise BenchError(f"raw event {raw_id} was not processed within {patience:.0f} s") from None


class TimedProcessor(InboundProcessor):
    """The hub's processor, unchanged, telling ``completions`` when each event is done: after its
    transaction committed (message, replies, outbox rows) and its live updates went out."""

    def __init__(self, hub: Hub, completions: Completions) -> None:
        super().__init__(hub.db, hub.accounts, hub.bus, hub.processor.applier)
        self.completions = completions

    async def process_one(self, raw_id: int) -> None:
        await super().process_one(raw_id)
        self.completions.finished(raw_id)

    async def _record_failure(self, raw_id: int, exc: Exception, **kwargs: Any) -> None:
        # The processor keeps a failing event for a retry seconds later; the bench stops at once.
        await super()._record_failure(raw_id, exc, **kwargs)
        self.completions.failed(raw_id, f"{type(exc).__name__}: {exc}")


class Sender:
    """Sends turns the way the webhook route does (receive: verify, store raw, wake the processor)
    and waits for the processor to commit them."""

    def __init__(self, hub: Hub, completions: Completions, patience: float) -> None:
        self.hub = hub
        self.account = hub.accounts.get(ACCOUNT)
        if not isinstance(self.account.adapter, WebchatChannel):
            raise BenchError(f"account {ACCOUNT!r} is not a web chat account")
        self.adapter = self.account.adapter
        self.completions = completions
        self.patience = patience

    def request(self, turn: Turn) -> WebhookRequest:
        """The request the widget would send (built before the clock starts)."""
        body: dict[str, Any] = {"type": "message", "id": turn.message_id, "text": turn.text, "locale": "en"}
        if turn.name is not None:
            body["name"] = turn.name
        return WebhookRequest(
            method="POST",
            url=f"{PUBLIC_URL}/webhooks/webchat/{ACCOUNT}",
            headers={
                "content-type": "application/json",
                "x-webchat-visitor": turn.visitor,
                "x-webchat-token": self.adapter.token_for(turn.visitor),
            },
            body=json.dumps(body).encode(),
        )

    async def send(self, request: WebhookRequest) -> float:
        """Receive one request; when the processor committed it."""
        received = await receive(
            self.hub.db, self.hub.bus, self.account, request, self.hub.config.default_region
        )
        if received.raw_event_id is None:
            raise BenchError(f"{request.body!r} was taken for a duplicate")
        return await self.completions.wait(received.raw_event_id, self.patience)


@dataclass(frozen=True)
class Phase:
    """What one phase of one run measured."""

    name: str  # "peak" or "paced"
    latencies: list[float]  # seconds per turn: peak from its send, paced from when it was due
    seconds: float  # first send -> last turn committed
    offered_rate: float | None  # paced phase only
    cpu: dict[str, float]  # % of one core

    @property
    def turns_per_second(self) -> float:
        return len(self.latencies) / self.seconds

    def ms(self, share: float) -> float:
        """A latency percentile in milliseconds (``share`` 0.99: p99)."""
        ordered = sorted(self.latencies)
        return ordered[max(0, math.ceil(share * len(ordered)) - 1)] * 1000


async def peak_phase(target: Target, plan: Plan, options: Options) -> Phase:
    """Every client sends its next turn as soon as its previous one is committed."""
    log(f"[{options.backend}] {target.kind}: peak, {plan.peak_turns} turns")
    sender = target.sender
    requests = [[sender.request(turn) for turn in turns] for turns in plan.clients]
    latencies: list[float] = []
    ends: list[float] = []

    async def client(turns: list[WebhookRequest]) -> None:
        for request in turns:
            started = time.perf_counter()
            done = await sender.send(request)
            latencies.append(done - started)
            ends.append(done)

    before = cpu_counters()
    began = time.perf_counter()
    try:
        async with processing(target), asyncio.TaskGroup() as group:
            for turns in requests:
                group.create_task(client(turns))
    except* BenchError as errors:
        raise errors.exceptions[0] from None
    cpu = cpu_usage(before, cpu_counters(), options.backend)
    phase = Phase("peak", latencies, max(ends) - began, None, cpu)
    log(f"[{options.backend}] {target.kind}: {phase.turns_per_second:.1f} turns/s")
    return phase


async def paced_phase(target: Target, plan: Plan, rate: float, options: Options) -> Phase:
    """Turn i is sent i / rate seconds after the start, whether or not earlier ones are done."""
    log(f"[{options.backend}] {target.kind}: paced, {len(plan.paced)} turns at {rate:.1f}/s")
    sender = target.sender
    requests = [sender.request(turn) for turn in plan.paced]
    latencies: list[float] = []
    ends: list[float] = []

    async def one(request: WebhookRequest, due: float) -> None:
        done = await sender.send(request)
        latencies.append(done - due)
        ends.append(done)

    before = cpu_counters()
    began = time.perf_counter()
    try:
        async with processing(target), asyncio.TaskGroup() as group:
            for number, request in enumerate(requests):
                due = began + number / rate
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                group.create_task(one(request, due))
    except* BenchError as errors:
        raise errors.exceptions[0] from None
    cpu = cpu_usage(before, cpu_counters(), options.backend)
    phase = Phase("paced", latencies, max(ends) - began, rate, cpu)
    log(f"[{options.backend}] {target.kind}: p50 {phase.ms(0.5):.1f} ms, p99 {phase.ms(0.99):.1f} ms")
    return phase


def cpu_counters() -> tuple[float, float, float, float]:
    """(wall, this process, postgres, whole machine) seconds."""
    own = process_cpu_seconds(os.getpid())
    return (time.perf_counter(), own, postgres_cpu_seconds(), machine_busy_seconds())


def cpu_usage(before: tuple[float, ...], after: tuple[float, ...], backend: str) -> dict[str, float]:
    """% of one core over a phase: this process, PostgreSQL, and the rest of the machine (other
    tenants of a shared machine; on SQLite a busy PostgreSQL is someone else's)."""
    wall = max(after[0] - before[0], 1e-9)
    bench, postgres, machine = ((a - b) / wall * 100 for a, b in zip(after[1:], before[1:], strict=True))
    ours = bench + (postgres if backend == "postgres" else 0.0)
    return {"bench": bench, "postgres": postgres, "others": max(0.0, machine - ours)}


# --------------------------------------------------------------------------------------------------
# One run: seed, measure, check


async def scalar(hub: Hub, statement: Any) -> Any:
    async with hub.db.session() as session:
        return (await session.execute(statement)).scalar_one()


async def engine_version(hub: Hub) -> str:
    if hub.db.is_sqlite:
        return f"SQLite {sqlite3.sqlite_version}"
    return f"PostgreSQL {await scalar(hub, text('SHOW server_version'))}"


async def seed(hub: Hub, plan: Plan, sender: Sender, kind: str) -> int:
    """The templates through the real pipeline (processed one by one, as tests drain it), then every
    other customer copied from one of them; returns the rows inserted."""
    templates = []
    for index in range(len(CYCLE)):
        visitor = visitor_id(index)
        for number, move in enumerate(template_script(index)):
            name = f"Customer {index}" if number == 0 else None
            turn = Turn(visitor, f"seed-{number:08d}", move.text, name, move.replies)
            await receive(hub.db, hub.bus, sender.account, sender.request(turn))
            await hub.processor.process_pending()
        async with hub.db.session() as session:
            failed = (
                await session.execute(select(RawEvent.error).where(RawEvent.error.is_not(None)))
            ).first()
        if failed is not None:
            raise BenchError(f"a template customer's message failed processing: {failed[0]}")
        webchat = select(Identity.customer_id).where(
            Identity.kind == IdentityKind.WEBCHAT, Identity.address == visitor
        )
        customer_id = await scalar(hub, webchat)
        templates.append(Template(customer_id, visitor))
        if kind == "bot":
            await check_template(hub, customer_id, index)
    clones = [
        Clone(templates[i % len(templates)], visitor_id(i), f"Customer {i}")
        for i in range(len(templates), len(plan.steps))
    ]
    try:
        async with hub.db.transaction() as session:
            return await copy_customers(session, templates, clones)
    except SeedError as exc:
        raise BenchError(str(exc)) from exc


async def check_template(hub: Hub, customer_id: int, index: int) -> None:
    """The template's support flow waits where the plan assumes (else flows/support.yaml changed)."""
    async with hub.db.session() as session:
        statement = select(FlowState).where(FlowState.customer_id == customer_id)
        state = (await session.execute(statement)).scalar_one_or_none()
    if state is None or (state.flow_id, state.step) != ("support", CYCLE[index]):
        said = [move.text for move in template_script(index)]
        found = "no paused flow" if state is None else f"{state.flow_id}.{state.step}"
        raise BenchError(
            f"after {said} the support flow should wait at support.{CYCLE[index]}, found {found}: "
            "flows/support.yaml changed, adapt bench/bot_plan.py"
        )


@dataclass(frozen=True)
class Marks:
    """The last ids before the measured turns: whatever came after is theirs."""

    message: int
    outbox: int

    @classmethod
    async def now(cls, hub: Hub) -> Marks:
        message = await scalar(hub, select(func.coalesce(func.max(Message.id), 0)))
        outbox = await scalar(hub, select(func.coalesce(func.max(OutboxItem.id), 0)))
        return cls(int(message), int(outbox))


async def verify(target: Target, plan: Plan) -> str:
    """What the turns left in the database, against the plan; BenchError on any difference."""
    hub, kind, marks = target.hub, target.kind, target.marks
    count = select(func.count())
    later = Message.id > marks.message
    unprocessed = await scalar(
        hub, count.select_from(RawEvent).where(RawEvent.status != RawEventStatus.PROCESSED)
    )
    inbound = await scalar(
        hub, count.select_from(Message).where(later, Message.direction == Direction.INBOUND)
    )
    replies = await scalar(
        hub, count.select_from(Message).where(later, Message.author_kind == AuthorKind.BOT)
    )
    queued = await scalar(hub, count.select_from(OutboxItem).where(OutboxItem.id > marks.outbox))
    customers = await scalar(hub, count.select_from(Customer))
    async with hub.db.session() as session:
        rows = (await session.execute(select(FlowState.step, func.count()).group_by(FlowState.step))).all()
    paused = {step: number for step, number in sorted(rows)}
    expected_replies = plan.replies if kind == "bot" else 0
    expected_paused = dict(sorted(plan.final_steps.items())) if kind == "bot" else {}
    problems = [
        f"{label} {found}, expected {wanted}"
        for label, found, wanted in (
            ("raw events not processed:", unprocessed, 0),
            ("inbound messages:", inbound, plan.turns),
            ("bot replies:", replies, expected_replies),
            ("outbox rows:", queued, expected_replies),
            ("customers:", customers, len(plan.steps) + plan.new_customers),
            ("paused flows per step:", paused, expected_paused),
        )
        if found != wanted
    ]
    if problems:
        hint = " (flows/support.yaml changed? adapt bench/bot_plan.py)" if kind == "bot" else ""
        raise BenchError(f"{kind} run: " + "; ".join(problems) + hint)
    flows = ", ".join(f"{step} {number}" for step, number in paused.items()) or "none"
    return (
        f"{inbound} turns stored, {replies} bot replies queued in the outbox, {customers} customers, "
        f"paused flows: {flows}; as planned"
    )


@dataclass(frozen=True)
class Target:
    """One run, ready to measure: its hub on its own migrated, seeded database."""

    kind: str  # "bare" or "bot"
    hub: Hub
    sender: Sender
    engine: str
    seed_seconds: float
    seeded_rows: int
    marks: Marks


@contextlib.asynccontextmanager
async def prepared(kind: str, options: Options, plan: Plan, workdir: Path) -> AsyncIterator[Target]:
    """A fresh database, migrated and seeded, and the hub on it (the bare run without flows, the bot
    run with flows/); stopped and dropped afterwards."""
    flows_dir = REPO / "flows" if kind == "bot" else workdir / "no-flows"
    flows_dir.mkdir(exist_ok=True)
    async with fresh_database(options, workdir, kind) as database_url:
        await asyncio.to_thread(upgrade, database_url)
        hub = hub_for(database_url, flows_dir, workdir / f"var-{kind}")
        await hub.start(workers=False)
        try:
            sender = Sender(hub, Completions(), options.timeout)
            log(f"[{options.backend}] {kind}: seeding {len(plan.steps)} customers")
            began = time.perf_counter()
            rows = await seed(hub, plan, sender, kind)
            seconds = time.perf_counter() - began
            yield Target(kind, hub, sender, await engine_version(hub), seconds, rows, await Marks.now(hub))
        finally:
            await hub.stop()


@contextlib.asynccontextmanager
async def processing(target: Target) -> AsyncIterator[None]:
    """The hub's processing loop as `hub serve` runs it (without the outbox dispatcher), for one
    phase; stopped afterwards, so a run waiting for its next phase costs the other nothing."""
    loop = TimedProcessor(target.hub, target.sender.completions).run()
    task = asyncio.create_task(loop, name=f"bench-processor-{target.kind}")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@dataclass(frozen=True)
class RunResult:
    target: Target
    peak: Phase
    paced: Phase | None
    check: str

    @property
    def kind(self) -> str:
        return self.target.kind


async def measure(options: Options, plan: Plan, workdir: Path) -> tuple[Plan, RunResult, RunResult]:
    """Both runs prepared side by side; the peak phases first, then both paced phases at
    --rate-fraction of the slower peak (so the paced phase stays below saturation for both), then
    each database is checked against the plan (with the paced turns it gained)."""
    async with contextlib.AsyncExitStack() as stack:
        bare = await stack.enter_async_context(prepared("bare", options, plan, workdir))
        bot = await stack.enter_async_context(prepared("bot", options, plan, workdir))
        peaks = {target.kind: await peak_phase(target, plan, options) for target in (bare, bot)}
        paced: dict[str, Phase | None] = {"bare": None, "bot": None}
        if options.paced_seconds > 0:
            rate = options.rate_fraction * min(p.turns_per_second for p in peaks.values())
            plan = plan.with_paced(max(20, round(rate * options.paced_seconds)), options.new_share)
            paced = {target.kind: await paced_phase(target, plan, rate, options) for target in (bare, bot)}
        bare_result = RunResult(bare, peaks["bare"], paced["bare"], await verify(bare, plan))
        bot_result = RunResult(bot, peaks["bot"], paced["bot"], await verify(bot, plan))
    return plan, bare_result, bot_result


# --------------------------------------------------------------------------------------------------
# Report and main


def phase_row(run: RunResult, phase: Phase, options: Options) -> list[str]:
    label = f"paced {phase.offered_rate:.1f}/s" if phase.offered_rate else f"peak c={options.concurrency}"
    return [
        run.kind,
        label,
        str(len(phase.latencies)),
        f"{phase.turns_per_second:.1f}",
        f"{phase.ms(0.50):.1f}",
        f"{phase.ms(0.90):.1f}",
        f"{phase.ms(0.99):.1f}",
        f"{max(phase.latencies) * 1000:.1f}",
        f"{phase.cpu['bench']:.0f}",
        f"{phase.cpu['postgres']:.0f}" if options.backend == "postgres" else "-",
        f"{phase.cpu['others']:.0f}",
    ]


def ratio_lines(bare: RunResult, bot: RunResult) -> list[str]:
    """The bot's cost next to the bare pipeline, from the same invocation."""
    lines = [
        f"bot / bare, peak: turns/s {bot.peak.turns_per_second / bare.peak.turns_per_second:.2f} x "
        f"({bot.peak.turns_per_second:.1f} vs {bare.peak.turns_per_second:.1f}); p50 latency "
        f"{bot.peak.ms(0.5) / bare.peak.ms(0.5):.2f} x, "
        f"p99 latency {bot.peak.ms(0.99) / bare.peak.ms(0.99):.2f} x"
    ]
    if bot.paced is not None and bare.paced is not None:
        lines.append(
            f"bot / bare, paced at {bot.paced.offered_rate:.1f} turns/s: p50 latency "
            f"{bot.paced.ms(0.5) / bare.paced.ms(0.5):.2f} x ({bot.paced.ms(0.5):.1f} vs "
            f"{bare.paced.ms(0.5):.1f} ms), p99 latency {bot.paced.ms(0.99) / bare.paced.ms(0.99):.2f} x "
            f"({bot.paced.ms(0.99):.1f} vs {bare.paced.ms(0.99):.1f} ms)"
        )
    return lines


def render(options: Options, plan: Plan, bare: RunResult, bot: RunResult, seconds: float) -> str:
    """The whole report."""
    seeded = Counter(plan.steps)
    targets = (bare.target, bot.target)
    headers = ["run", "phase", "turns", "turns/s", "p50 ms", "p90 ms", "p99 ms", "max ms"]
    headers += ["bench cpu%", "postgres cpu%", "others cpu%"]
    rows = [phase_row(r, p, options) for r in (bare, bot) for p in (r.peak, r.paced) if p is not None]
    database = "a fresh file per run" if options.backend == "sqlite" else "a fresh database per run"
    paced = (
        f"; paced: {len(plan.paced)} turns in {options.paced_seconds:.0f} s on a clock at "
        f"{options.rate_fraction:.0%} of the slower peak, latency from when each was due"
        if plan.paced
        else ""
    )
    return "\n".join(
        [
            "omnihub bot benchmark (in-process: receive -> inbound processor -> replies in the outbox)",
            machine_line(),
            f"database: {bot.target.engine}, {database}",
            f"customers: {len(plan.steps)} per run, each with an open conversation; in the bot run each has "
            "the support flow paused at " + ", ".join(f"{step} ({seeded[step]})" for step in CYCLE),
            "seeding (3 customers through the pipeline, the rest copied): "
            + ", ".join(f"{t.kind} {t.seed_seconds:.1f} s ({t.seeded_rows} rows)" for t in targets),
            f'turns, the same in both runs: {plan.turns} ({plan.new_customers} "Hello" from new customers, '
            f"the rest answers to the paused question); peak: {plan.peak_turns} turns from "
            f"{options.concurrency} closed-loop clients{paced}",
            "bare: no flows, message in -> message stored; bot: flows/, message in -> replies queued in the "
            "outbox (done when the processor committed the turn; the outbox is not sent)",
            "",
            render_table(headers, rows, left=2),
            "",
            *ratio_lines(bare, bot),
            *(f"check {r.kind}: {r.check}" for r in (bare, bot)),
            f"total time: {seconds:.0f} s",
        ]
    )


async def run(options: Options) -> tuple[Plan, RunResult, RunResult]:
    """Both runs; their databases are dropped however it ends (SIGTERM too)."""
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    plan = make_plan(options.customers, options.turns, options.concurrency, options.new_share)
    with tempfile.TemporaryDirectory(prefix="omnihub-bots-bench-") as workdir:
        return await measure(options, plan, Path(workdir))


def event_loop_factory() -> Any:
    """uvloop when installed, as `hub serve` runs under uvicorn; else asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    try:
        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            plan, bare, bot = runner.run(run(options))
    except BenchError as exc:
        log(f"benchmark failed: {exc}")
        return 1
    except (KeyboardInterrupt, asyncio.CancelledError):
        log("interrupted; the databases it created are dropped")
        return 130
    print(render(options, plan, bare, bot, time.monotonic() - STARTED))
    return 0


if __name__ == "__main__":
    sys.exit(main())

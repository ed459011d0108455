"""Ingest benchmark: web chat messages over real HTTP into ``hub serve``, next to a bare baseline.

For each backend (SQLite, PostgreSQL) it measures two targets, each on a fresh throwaway database
migrated with ``hub migrate``:

- **hub**: ``hub serve`` as deployed. On SQLite the inbound processor and outbox run inside it (the
  default); on PostgreSQL ``hub serve`` only acknowledges and ``--pg-workers`` ``hub worker``
  processes do the processing (the documented deployment).
- **baseline**: bench/baseline_app.py under the same uvicorn settings, one process, inserting the
  same ``raw_events`` row per message: the cheapest possible correct ingest.

Each target gets two phases, driven by bench/loadgen.py in its own process:

1. **peak**: N messages from ``--concurrency`` closed-loop clients. For the hub, "done" is when the
   last message is fully processed (customer, conversation, message, bot greeting and outbox row
   committed: what the API shows), read from ``raw_events.processed_at`` once the database says all
   N are processed; for the baseline it is the last acknowledgement (its work ends there).
2. **rate**: open-loop arrivals at ``--rate-fraction`` of the hub's peak fully-processed rate (the
   rate it can sustain), for ``--rate-seconds``; the baseline gets the same offered rate. Latency is
   counted from each message's due time, so a stalled server cannot hide its queue.

Targets (from the issue): hub fully processed msg/s >= 0.5 x baseline msg/s; hub acknowledge p99
< 50 ms in the rate phase. The report prints both with the hub/baseline ratios, CPU use of every
process (to show the client is not the bottleneck), and exits 0 unless something broke.

    python bench/ingest.py                      # both backends, ~4-5 minutes
    python bench/ingest.py --quick              # smoke run, ~40 s
    python bench/ingest.py --backends sqlite --messages 5000 --concurrency 64
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import sqlite3
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import aiohttp
from loadgen import READY_LINE, messages_per_visitor  # bench/loadgen.py, beside this file
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
ACCOUNT = "site"
TICKS = os.sysconf("SC_CLK_TCK")
PR_SET_PDEATHSIG = 1
THROUGHPUT_TARGET = 0.5
P99_TARGET_MS = 50.0
STARTED = time.monotonic()


class BenchError(RuntimeError):
    """The run cannot go on (a server did not start, messages were not processed in time...)."""


@dataclass(frozen=True)
class Options:
    """What to run (see ``parse_options`` for the meaning of each)."""

    backends: tuple[str, ...]
    messages: int
    concurrency: int
    rate_fraction: float
    rate_seconds: float
    multi_share: float
    per_visitor: int
    pg_url: str
    pg_workers: int
    timeout: float
    hub: Path  # the `hub` command of the environment the bench runs in


def parse_options(argv: Sequence[str] | None = None) -> Options:
    """Command-line options; ``--quick`` shrinks the defaults to a smoke run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgres", help="comma-separated: sqlite,postgres")
    parser.add_argument("--messages", type=int, help="messages in the peak phase (default 3000)")
    parser.add_argument("--concurrency", type=int, help="closed-loop clients (default 48)")
    parser.add_argument("--rate-fraction", type=float, default=0.5, help="rate phase, share of hub peak")
    parser.add_argument("--rate-seconds", type=float, help="rate phase length (default 15 s)")
    parser.add_argument(
        "--multi-share", type=float, default=0.4, help="share of messages from chatty visitors"
    )
    parser.add_argument("--per-visitor", type=int, default=5, help="messages per chatty visitor")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--pg-workers", type=int, default=1, help="`hub worker` processes on PostgreSQL")
    parser.add_argument("--timeout", type=float, default=300.0, help="bound on each wait, seconds")
    parser.add_argument(
        "--quick", action="store_true", help="~35 s smoke run (200 messages, 32 clients, 2 s rate phase)"
    )
    args = parser.parse_args(argv)
    backends = tuple(b.strip() for b in args.backends.split(",") if b.strip())
    unknown = set(backends) - {"sqlite", "postgres"}
    if unknown or not backends:
        parser.error(f"unknown backend(s) {sorted(unknown)}: use sqlite and/or postgres")
    return Options(
        backends=backends,
        messages=args.messages or (200 if args.quick else 3000),
        concurrency=args.concurrency or (32 if args.quick else 48),
        rate_fraction=args.rate_fraction,
        rate_seconds=args.rate_seconds or (2.0 if args.quick else 15.0),
        multi_share=args.multi_share,
        per_visitor=args.per_visitor,
        pg_url=args.pg_url,
        pg_workers=args.pg_workers,
        timeout=args.timeout,
        hub=hub_command_path(parser),
    )


def hub_command_path(parser: argparse.ArgumentParser) -> Path:
    """The ``hub`` script next to this Python (a virtualenv), else the one on PATH."""
    beside = Path(sys.executable).parent / "hub"
    found = beside if beside.exists() else shutil.which("hub")
    if found is None:
        parser.error("no `hub` command: run with the Python of the environment omnihub is installed in")
    return Path(found)


# --------------------------------------------------------------------------------------------------
# Child processes and CPU accounting


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM if the bench dies, even by SIGKILL (Linux only)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process (0 once it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def postgres_cpu_seconds() -> float:
    """CPU time of every process named ``postgres`` (the server and its backends)."""
    total = 0.0
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                if (proc / "comm").read_text().strip() == "postgres":
                    total += process_cpu_seconds(int(proc.name))
    return total


def machine_busy_seconds() -> float:
    """CPU time spent by the whole machine (all cores) outside idle and iowait."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values) - values[3] - values[4]) / TICKS


@dataclass(frozen=True)
class CpuSnapshot:
    at: float
    processes: dict[str, float]
    postgres: float
    machine: float


def cpu_snapshot(pids: dict[str, int]) -> CpuSnapshot:
    return CpuSnapshot(
        time.perf_counter(),
        {name: process_cpu_seconds(pid) for name, pid in pids.items()},
        postgres_cpu_seconds(),
        machine_busy_seconds(),
    )


def cpu_usage(
    before: CpuSnapshot, after: CpuSnapshot, client_seconds: float, backend: str
) -> dict[str, float]:
    """CPU use between two snapshots in % of one core: each target process, postgres, and "others":
    the machine's busy time not spent by this benchmark (other tenants of a shared machine)."""
    wall = max(after.at - before.at, 1e-9)
    usage = {name: (after.processes[name] - before.processes[name]) / wall * 100 for name in before.processes}
    usage["postgres"] = (after.postgres - before.postgres) / wall * 100
    ours = sum(usage.values()) + client_seconds / wall * 100
    if backend != "postgres":
        ours -= usage["postgres"]
    usage["others"] = max(0.0, (after.machine - before.machine) / wall * 100 - ours)
    return usage


@dataclass
class Children:
    """Every process the bench started, stopped (TERM, then KILL) when the bench ends."""

    logs: Path
    running: dict[str, asyncio.subprocess.Process] = field(default_factory=dict)
    _files: list[TextIO] = field(default_factory=list)

    async def start(
        self, name: str, argv: list[str], env: dict[str, str], *, stdout: int | None = None
    ) -> asyncio.subprocess.Process:
        log = (self.logs / f"{name}.log").open("a")
        self._files.append(log)
        process = await asyncio.create_subprocess_exec(
            *argv,
            env=env,
            cwd=self.logs,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=stdout if stdout is not None else log,
            stderr=log,
            start_new_session=True,  # Ctrl-C reaches the bench only; the bench stops its children
            preexec_fn=_die_with_parent,
        )
        self.running[name] = process
        return process

    async def stop(self, name: str) -> None:
        process = self.running.pop(name, None)
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 15)
        except TimeoutError:
            process.kill()
            await process.wait()

    async def stop_all(self) -> None:
        for name in list(self.running):
            await self.stop(name)
        for log in self._files:
            log.close()
        self._files.clear()


# --------------------------------------------------------------------------------------------------
# Databases


def asyncpg_url(pg_url: str, database: str | None = None) -> str:
    """``pg_url`` for SQLAlchemy's asyncpg driver, on another database if one is named."""
    url = make_url(pg_url).set(drivername="postgresql+asyncpg")
    return (url.set(database=database) if database else url).render_as_string(hide_password=False)


@contextlib.asynccontextmanager
async def throwaway_database(backend: str, options: Options, workdir: Path, name: str) -> AsyncIterator[str]:
    """A new empty database for one target (dropped afterwards on PostgreSQL; SQLite files live in
    the run's temporary directory)."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{workdir / name}.db"
        return
    database = f"omnihub_bench_{secrets.token_hex(5)}"
    admin = create_async_engine(asyncpg_url(options.pg_url))
    try:
        async with admin.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text(f'CREATE DATABASE "{database}"'))
        try:
            yield asyncpg_url(options.pg_url, database)
        finally:
            async with admin.connect() as connection:
                await connection.execution_options(isolation_level="AUTOCOMMIT")
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    finally:
        await admin.dispose()


@dataclass(frozen=True)
class Progress:
    processed: int
    failed: int
    outbox_open: int
    last_processed_at: float | None


def as_epoch(value: Any) -> float | None:
    """A timestamp column read back with raw SQL: naive UTC text on SQLite, aware on PostgreSQL."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


class Probe:
    """Read-only queries on a target's database (one connection per query, nothing held open)."""

    def __init__(self, url: str) -> None:
        self.engine: AsyncEngine = create_async_engine(url, poolclass=NullPool)

    async def scalar(self, sql: str) -> Any:
        async with self.engine.connect() as connection:
            return (await connection.execute(text(sql))).scalar()

    async def progress(self) -> Progress:
        async with self.engine.connect() as connection:
            row = (
                await connection.execute(
                    text(
                        "SELECT sum(CASE WHEN status = 'processed' THEN 1 ELSE 0 END),"
                        " sum(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), max(processed_at)"
                        " FROM raw_events"
                    )
                )
            ).one()
            outbox_open = (
                await connection.execute(
                    text("SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending')")
                )
            ).scalar_one()
        return Progress(int(row[0] or 0), int(row[1] or 0), int(outbox_open), as_epoch(row[2]))

    async def close(self) -> None:
        await self.engine.dispose()


async def wait_processed(probe: Probe, expected: int, patience: float) -> Progress:
    """Poll until ``expected`` raw events are processed and the outbox is drained (so the next phase
    starts quiet); the time of the last processed event comes from the database itself."""
    deadline = time.monotonic() + patience
    while True:
        progress = await probe.progress()
        if progress.failed:
            raise BenchError(f"{progress.failed} raw event(s) failed processing (see the server log)")
        if progress.processed >= expected and progress.outbox_open == 0:
            return progress
        if time.monotonic() > deadline:
            raise BenchError(f"only {progress.processed}/{expected} messages processed after {patience:.0f}s")
        await asyncio.sleep(0.1)


# --------------------------------------------------------------------------------------------------
# Targets: the hub and the baseline, each serving on its own throwaway database


@dataclass(frozen=True)
class Target:
    """A running server under test."""

    backend: str
    name: str  # "hub" or "baseline"
    base_url: str
    pids: dict[str, int]  # role ("server", "worker0", ...) -> pid
    probe: Probe
    api_token: str | None = None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_config(workdir: Path, port: int) -> Path:
    """A hub.yaml with one web chat account and only the greeting bot: the bench measures the
    pipeline (one bot reply per new conversation), not the shipped flows."""
    flows = workdir / "flows"
    flows.mkdir(exist_ok=True)
    shutil.copy(REPO / "flows" / "greeting.yaml", flows / "greeting.yaml")
    path = workdir / f"hub-{port}.yaml"
    path.write_text(
        f"public_url: http://127.0.0.1:{port}\n"
        f"flows_dir: {flows}\n"
        f"channels:\n  {ACCOUNT}:\n    type: webchat\n"
    )
    return path


def server_env(database_url: str, workdir: Path, port: int) -> dict[str, str]:
    """The environment of a target's processes: this one's, minus any hub settings, plus ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "DATABASE_URL"))}
    env.update(
        DATABASE_URL=database_url,
        HUB_CONFIG=str(write_config(workdir, port)),
        HUB_DATA_DIR=str(workdir / f"data-{port}"),
        HUB_SECRET_KEY=secrets.token_urlsafe(32),
    )
    return env


async def hub_command(
    children: Children, options: Options, name: str, args: list[str], env: dict[str, str]
) -> str:
    """Run a one-shot ``hub`` command (migrate, create-token) to completion; its stdout."""
    argv = [str(options.hub), *args]
    process = await children.start(name, argv, env, stdout=asyncio.subprocess.PIPE)
    output, _ = await asyncio.wait_for(process.communicate(), options.timeout)
    children.running.pop(name, None)
    if process.returncode != 0:
        raise BenchError(f"`hub {' '.join(args)}` exited {process.returncode}: see {name}.log")
    return output.decode()


async def wait_ready(
    base_url: str, processes: dict[str, asyncio.subprocess.Process], patience: float
) -> None:
    """Poll ``/readyz`` until the server answers 200; fail at once if one of its processes exits."""
    deadline = time.monotonic() + patience
    async with aiohttp.ClientSession() as client:
        while time.monotonic() < deadline:
            for name, process in processes.items():
                if process.returncode is not None:
                    raise BenchError(f"{name} exited with {process.returncode}: see {name}.log")
            with contextlib.suppress(aiohttp.ClientError):
                async with client.get(f"{base_url}/readyz") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.2)
    raise BenchError(f"{base_url} did not become ready within {patience:.0f}s")


@contextlib.asynccontextmanager
async def serving(
    children: Children, prefix: str, commands: dict[str, list[str]], env: dict[str, str], base_url: str
) -> AsyncIterator[dict[str, int]]:
    """Start a target's processes, wait until it is ready, yield their pids; stop them at the end."""
    names = {role: f"{prefix}-{role}" for role in commands}
    try:
        processes = {
            names[role]: await children.start(names[role], argv, env) for role, argv in commands.items()
        }
        await wait_ready(base_url, processes, patience=60.0)
        yield {role: processes[name].pid for role, name in names.items()}
    finally:
        for name in names.values():
            await children.stop(name)


@contextlib.asynccontextmanager
async def hub_target(children: Children, backend: str, options: Options) -> AsyncIterator[Target]:
    """``hub serve`` (plus ``hub worker`` on PostgreSQL) on a fresh database migrated by ``hub migrate``."""
    async with throwaway_database(backend, options, children.logs, "hub") as database_url:
        port = free_port()
        env = server_env(database_url, children.logs, port)
        await hub_command(children, options, f"{backend}-hub-migrate", ["migrate"], env)
        token_output = await hub_command(
            children, options, f"{backend}-hub-token", ["create-token", "--role", "admin"], env
        )
        commands = {"server": [str(options.hub), "serve", "--port", str(port)]}
        if backend == "postgres":
            commands.update({f"worker{i}": [str(options.hub), "worker"] for i in range(options.pg_workers)})
        base_url = f"http://127.0.0.1:{port}"
        probe = Probe(database_url)
        try:
            async with serving(children, f"{backend}-hub", commands, env, base_url) as pids:
                yield Target(backend, "hub", base_url, pids, probe, token_output.strip().splitlines()[-1])
        finally:
            await probe.close()


@contextlib.asynccontextmanager
async def baseline_target(children: Children, backend: str, options: Options) -> AsyncIterator[Target]:
    """bench/baseline_app.py on a fresh database migrated by ``hub migrate``."""
    async with throwaway_database(backend, options, children.logs, "baseline") as database_url:
        port = free_port()
        env = server_env(database_url, children.logs, port)
        await hub_command(children, options, f"{backend}-baseline-migrate", ["migrate"], env)
        commands = {"server": [sys.executable, str(BENCH / "baseline_app.py"), "--port", str(port)]}
        base_url = f"http://127.0.0.1:{port}"
        probe = Probe(database_url)
        try:
            async with serving(children, f"{backend}-baseline", commands, env, base_url) as pids:
                yield Target(backend, "baseline", base_url, pids, probe)
        finally:
            await probe.close()


# --------------------------------------------------------------------------------------------------
# Phases


@dataclass(frozen=True)
class Phase:
    """What one load phase against one target measured."""

    kind: str  # "peak" (closed loop) or "rate" (open loop)
    messages: int
    offered_rate: float | None
    ack_per_second: float
    done_seconds: float  # first send -> last message fully processed (baseline: last ack)
    latency_ms: dict[str, float]
    outcomes: dict[str, int]
    client_cpu: float  # % of one core, over the sending
    cpu: dict[str, float]  # % of one core, over sending and processing

    @property
    def accepted(self) -> int:
        return self.outcomes.get("200", 0)

    @property
    def rejected(self) -> int:
        return self.messages - self.accepted

    @property
    def done_per_second(self) -> float:
        return self.accepted / self.done_seconds


async def drive(
    children: Children, target: Target, options: Options, *, tag: str, messages: int, rate: float | None
) -> tuple[dict[str, Any], CpuSnapshot]:
    """Run bench/loadgen.py against ``target``; its result and a CPU snapshot taken when it started
    sending (after the untimed session setup)."""
    argv = [
        sys.executable,
        str(BENCH / "loadgen.py"),
        f"--base-url={target.base_url}",
        f"--account={ACCOUNT}",
        f"--tag={tag}",
        f"--messages={messages}",
        f"--concurrency={options.concurrency}",
        f"--rate={rate or 0}",
        f"--multi-share={options.multi_share}",
        f"--per-visitor={options.per_visitor}",
    ]
    name = f"{target.backend}-{target.name}-{tag}-loadgen"
    process = await children.start(name, argv, dict(os.environ), stdout=asyncio.subprocess.PIPE)
    assert process.stdout is not None
    ready = await asyncio.wait_for(process.stdout.readline(), options.timeout)
    before = cpu_snapshot(target.pids)
    if ready.decode().strip() != READY_LINE:
        raise BenchError(f"the load generator failed before sending: see {name}.log")
    output = await asyncio.wait_for(process.stdout.read(), options.timeout)
    await process.wait()
    children.running.pop(name, None)
    if process.returncode != 0:
        raise BenchError(f"the load generator exited {process.returncode}: see {name}.log")
    return json.loads(output), before


async def measure(
    children: Children,
    target: Target,
    options: Options,
    *,
    kind: str,
    messages: int,
    rate: float | None,
    earlier: int,
) -> Phase:
    """One phase: send ``messages``, then wait until every accepted one, and the ``earlier`` ones of
    previous phases, are fully done."""
    result, before = await drive(children, target, options, tag=kind, messages=messages, rate=rate)
    if not result["outcomes"].get("200"):
        raise BenchError(f"{target.name} accepted no message: {result['outcomes']}")
    total = earlier + result["outcomes"]["200"]
    if target.name == "hub":
        done_at = (await wait_processed(target.probe, total, options.timeout)).last_processed_at
    else:
        stored = await target.probe.scalar("SELECT count(*) FROM raw_events")
        if stored != total:
            raise BenchError(f"the baseline stored {stored} rows, expected {total}")
        done_at = result["last_ack_at"]
    cpu = cpu_usage(before, cpu_snapshot(target.pids), result["client_cpu_seconds"], target.backend)
    assert done_at is not None
    phase = Phase(
        kind=kind,
        messages=messages,
        offered_rate=rate,
        ack_per_second=result["ack_per_second"],
        done_seconds=done_at - result["started_at"],
        latency_ms=result["latency_ms"],
        outcomes=result["outcomes"],
        client_cpu=result["client_cpu_seconds"] / result["wall_seconds"] * 100,
        cpu=cpu,
    )
    log(
        f"[{target.backend}] {target.name} {kind}: {messages} msgs, ack {phase.ack_per_second:.0f}/s "
        f"(p99 {phase.latency_ms['p99']:.1f} ms), fully done {phase.done_per_second:.1f}/s"
    )
    return phase


async def verify_hub(target: Target, options: Options) -> str:
    """Check the peak phase's result in the database and through the agent API: one customer and one
    conversation per visitor, every message threaded into its visitor's conversation, greeted once."""
    visitors = len(messages_per_visitor(options.messages, options.multi_share, options.per_visitor))
    probe = target.probe
    customers = await probe.scalar("SELECT count(*) FROM customers")
    conversations = await probe.scalar("SELECT count(*) FROM conversations")
    inbound = await probe.scalar("SELECT count(*) FROM messages WHERE direction = 'inbound'")
    greetings = await probe.scalar("SELECT count(*) FROM messages WHERE author_kind = 'bot'")
    problems = [
        f"{label} {found} != {wanted}"
        for label, found, wanted in (
            ("customers", customers, visitors),
            ("conversations", conversations, visitors),
            ("inbound messages", inbound, options.messages),
        )
        if found != wanted
    ]
    problems += await verify_api(target)
    summary = (
        f"{customers} customers, {conversations} conversations, {inbound} inbound + {greetings} greetings"
    )
    return f"{summary}; API spot check: " + ("; ".join(problems) if problems else "ok")


async def verify_api(target: Target, sample: int = 10) -> list[str]:
    """The chattiest conversations, read through GET /api/v1/conversations/{id}/messages, hold every
    inbound message the database has for them and one greeting."""
    async with target.probe.engine.connect() as connection:
        expected = (
            await connection.execute(
                text(
                    "SELECT conversation_id, count(*) FROM messages WHERE direction = 'inbound'"
                    " GROUP BY conversation_id ORDER BY count(*) DESC, conversation_id LIMIT :n"
                ),
                {"n": sample},
            )
        ).all()
    headers = {"Authorization": f"Bearer {target.api_token}"}
    problems = []
    async with aiohttp.ClientSession(target.base_url, headers=headers) as client:
        async with client.get("/api/v1/conversations", params={"limit": "50"}) as response:
            if response.status != 200 or not await response.json():
                problems.append(f"GET /api/v1/conversations answered {response.status}")
        for conversation_id, count in expected:
            async with client.get(f"/api/v1/conversations/{conversation_id}/messages") as response:
                shown = await response.json() if response.status == 200 else []
            seen = sum(1 for m in shown if m["direction"] == "inbound")
            bots = sum(1 for m in shown if m["author_kind"] == "bot")
            if seen != count or bots != 1:
                problems.append(
                    f"conversation {conversation_id}: API shows {seen}/{count} inbound, {bots} greetings"
                )
    return problems


# --------------------------------------------------------------------------------------------------
# One backend, the report, main


@dataclass(frozen=True)
class BackendReport:
    backend: str
    engine: str
    hub_peak: Phase
    hub_rate: Phase
    base_peak: Phase
    base_rate: Phase
    hub_processes: str
    verification: str


async def peak_phase(children: Children, target: Target, options: Options) -> Phase:
    """N messages from the closed-loop clients, as fast as the target answers."""
    return await measure(
        children, target, options, kind="peak", messages=options.messages, rate=None, earlier=0
    )


async def rate_phase(children: Children, target: Target, options: Options, peak: Phase, rate: float) -> Phase:
    """``--rate-seconds`` of open-loop arrivals at ``rate``, after the peak phase."""
    count = max(20, round(rate * options.rate_seconds))
    return await measure(
        children, target, options, kind="rate", messages=count, rate=rate, earlier=peak.accepted
    )


async def bench_backend(children: Children, backend: str, options: Options) -> BackendReport:
    """Hub first (its peak sets the rate phase's rate), then the baseline at the same offered rate."""
    log(f"[{backend}] starting the hub")
    async with hub_target(children, backend, options) as hub:
        engine = await engine_version(hub.probe, backend)
        hub_peak = await peak_phase(children, hub, options)
        verification = await verify_hub(hub, options)
        rate = max(1.0, options.rate_fraction * hub_peak.done_per_second)
        hub_rate = await rate_phase(children, hub, options, hub_peak, rate)
        processes = ", ".join(sorted(hub.pids))
    log(f"[{backend}] starting the baseline")
    async with baseline_target(children, backend, options) as baseline:
        base_peak = await peak_phase(children, baseline, options)
        base_rate = await rate_phase(children, baseline, options, base_peak, rate)
    return BackendReport(backend, engine, hub_peak, hub_rate, base_peak, base_rate, processes, verification)


async def engine_version(probe: Probe, backend: str) -> str:
    if backend == "sqlite":
        return f"SQLite {sqlite3.sqlite_version}"
    return f"PostgreSQL {await probe.scalar('SHOW server_version')}"


def render_table(headers: list[str], rows: list[list[str]], left: int) -> str:
    """A plain text table; the first ``left`` columns are left-aligned, the rest right-aligned."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def phase_row(backend: str, target: str, phase: Phase, concurrency: int) -> list[str]:
    workers = sum(v for k, v in phase.cpu.items() if k.startswith("worker"))
    label = f"rate {phase.offered_rate:.1f}/s" if phase.offered_rate else f"peak c={concurrency}"
    latency = phase.latency_ms
    return [
        backend,
        target,
        label,
        str(phase.messages),
        f"{phase.ack_per_second:.1f}",
        f"{phase.done_per_second:.1f}",
        f"{latency['p50']:.1f}",
        f"{latency['p99']:.1f}",
        f"{latency['max']:.1f}",
        str(phase.rejected),
        f"{phase.client_cpu:.0f}",
        f"{phase.cpu['server']:.0f}",
        f"{workers:.0f}" if any(k.startswith("worker") for k in phase.cpu) else "-",
        f"{phase.cpu['postgres']:.0f}" if backend == "postgres" else "-",
        f"{phase.cpu['others']:.0f}",
    ]


def target_rows(report: BackendReport) -> list[list[str]]:
    """The issue's two targets, plus the acknowledge rate for information."""
    hub, base = report.hub_peak, report.base_peak
    throughput = hub.done_per_second / base.done_per_second
    hub_p99, base_p99 = report.hub_rate.latency_ms["p99"], report.base_rate.latency_ms["p99"]
    rate = report.hub_rate.offered_rate or 0.0
    verdict_p99 = "PASS" if hub_p99 < P99_TARGET_MS else "FAIL"
    if base_p99 >= P99_TARGET_MS:
        verdict_p99 += " (baseline misses it too: noisy machine?)"
    return [
        [
            report.backend,
            "fully processed msg/s, peak",
            f"{hub.done_per_second:.1f}",
            f"{base.done_per_second:.1f}",
            f"{throughput:.2f}",
            f">= {THROUGHPUT_TARGET:.2f}",
            "PASS" if throughput >= THROUGHPUT_TARGET else "FAIL",
        ],
        [
            report.backend,
            f"ack p99 ms at {rate:.1f} msg/s",
            f"{hub_p99:.1f}",
            f"{base_p99:.1f}",
            f"{hub_p99 / base_p99:.2f}",
            f"< {P99_TARGET_MS:.0f} ms",
            verdict_p99,
        ],
        [
            report.backend,
            "acknowledged msg/s, peak",
            f"{hub.ack_per_second:.1f}",
            f"{base.ack_per_second:.1f}",
            f"{hub.ack_per_second / base.ack_per_second:.2f}",
            "-",
            "info",
        ],
    ]


def machine_line() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    system = f"{platform.system()} {platform.release()}"
    return f"machine: {os.cpu_count()} cores ({model}), {system}, Python {platform.python_version()}"


def render(reports: list[BackendReport], options: Options, seconds: float) -> str:
    """The whole report."""
    counts = messages_per_visitor(options.messages, options.multi_share, options.per_visitor)
    chatty = sum(1 for c in counts if c > 1)
    client_max = max(
        p.client_cpu for r in reports for p in (r.hub_peak, r.hub_rate, r.base_peak, r.base_rate)
    )
    measurements = [
        phase_row(r.backend, target, phase, options.concurrency)
        for r in reports
        for target, phase in (
            ("hub", r.hub_peak),
            ("hub", r.hub_rate),
            ("baseline", r.base_peak),
            ("baseline", r.base_rate),
        )
    ]
    headers = [
        "backend",
        "target",
        "phase",
        "msgs",
        "ack/s",
        "done/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "non-200",
        "client%",
        "server%",
        "workers%",
        "postgres%",
        "others%",
    ]
    lines = [
        "omnihub ingest benchmark (web chat webhook over HTTP)",
        machine_line(),
        "databases: " + ", ".join(r.engine for r in reports),
        f"load: {options.messages} messages from {len(counts)} visitors "
        f"({chatty} of them send {options.per_visitor}), "
        f"{options.concurrency} closed-loop clients; rate phase {options.rate_seconds:.0f} s at "
        f"{options.rate_fraction:.0%} of the hub's peak fully-processed rate (baseline: same rate)",
        "hub processes: "
        + "; ".join(f"{r.backend}: {r.hub_processes}" for r in reports)
        + " (sqlite: processor and outbox inside `hub serve`; postgres: `hub serve` + `hub worker`)",
        "",
        "Measurements (done/s: fully processed for the hub, stored for the baseline; CPU in % of one core",
        "over the phase, for the hub until its last message was processed; others%: processes outside",
        "this benchmark)",
        render_table(headers, measurements, left=3),
        "",
        "Targets",
        render_table(
            ["backend", "metric", "hub", "baseline", "hub/baseline", "target", "result"],
            [row for r in reports for row in target_rows(r)],
            left=2,
        ),
        "",
        *(f"check {r.backend} hub: {r.verification}" for r in reports),
        f"load generator: at most {client_max:.0f}% of one core in any phase "
        + ("(not the bottleneck)" if client_max < 60 else "(WARNING: it may be the bottleneck)"),
        f"total time: {seconds:.0f} s",
    ]
    return "\n".join(lines)


def log(message: str) -> None:
    """A progress line on stderr, stamped with the seconds since the bench started."""
    print(f"[{time.monotonic() - STARTED:5.1f} s] {message}", file=sys.stderr, flush=True)


def dump_logs(directory: Path, lines: int = 15) -> None:
    """The last lines of every child's log, for a run that failed."""
    for path in sorted(directory.glob("*.log")):
        tail = path.read_text(errors="replace").splitlines()[-lines:]
        if tail:
            log(f"--- {path.name} (last {len(tail)} lines)\n" + "\n".join(tail))


async def run(options: Options) -> list[BackendReport]:
    """Every backend in turn; child processes are stopped however the run ends."""
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    with tempfile.TemporaryDirectory(prefix="omnihub-bench-") as workdir:
        children = Children(Path(workdir))
        try:
            return [await bench_backend(children, backend, options) for backend in options.backends]
        except BenchError:
            dump_logs(Path(workdir))
            raise
        finally:
            await children.stop_all()


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    try:
        reports = asyncio.run(run(options))
    except BenchError as exc:
        log(f"benchmark failed: {exc}")
        return 1
    except (KeyboardInterrupt, asyncio.CancelledError):
        log("interrupted; the servers it started are stopped")
        return 130
    print(render(reports, options, time.monotonic() - STARTED))
    return 0


if __name__ == "__main__":
    sys.exit(main())

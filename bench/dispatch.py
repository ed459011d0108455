"""Outbound dispatch benchmark: real `hub worker` processes sending the outbox to a fake provider,
next to the raw insert rate of the same database in the same run.

Per backend (PostgreSQL, and SQLite for comparison):

1. **throughput**: ``--count`` (50,000) messages are written straight into the outbox (the raw
   insert rate: COPY on PostgreSQL, one executemany on SQLite), held back until ``--workers`` (2)
   `hub worker` processes are up, then released at once. The channel account has no practical
   rate limit (``rate_per_second: 1000000``). Printed: messages per second at the provider from
   the first to the last arrival, and until the last one was recorded sent; the target is > 2,000
   msg/s with 2 workers on PostgreSQL.
2. **rate limit**: the same account limited to ``--limit`` (30) messages per second, with
   ``limit x --limit-seconds`` (60) messages queued. Printed: the achieved rate between the first
   and the last arrival, the most arrivals in any 1 s window, and the error against the limit; the
   target is within 1 % and never above.

Both phases check that every message reached the provider exactly once and every outbox row is
sent. The provider is tests/fakes/twilio_api.py (the Twilio Messages API that the real twilio SDK
talks to), in its own process on uvloop, stamping each arrival: of the fakes speaking a real wire
format it costs the sending side least (about 0.3 ms of worker CPU per message against 0.45 ms
for Telegram through aiogram and ~2 ms for Viber or the custom API channel, whose clients are
httpx; ``--provider telegram`` runs the Telegram fake instead).

    python bench/dispatch.py                       # both backends, ~5 minutes
    python bench/dispatch.py --quick               # 5,000 messages, 10 s of the limited run
    python bench/dispatch.py --backends postgres --count 100000

PostgreSQL is expected at 127.0.0.1:5432 as user postgres (``--pg-url``); each run creates and drops
its own database. Exit code 0 whatever the verdicts (it is a report), 1 when something broke.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))
sys.path.append(str(BENCH))  # after the repository: bench/inbox.py must not hide the inbox package

from ingest import machine_busy_seconds, postgres_cpu_seconds, process_cpu_seconds  # noqa: E402

from channels.contract import OutboundMessage  # noqa: E402
from hub.db import Database  # noqa: E402
from hub.migrate import upgrade  # noqa: E402
from hub.outbound.enqueue import outbound_to_json  # noqa: E402
from hub.outbound.models import OutboxItem, OutboxStatus  # noqa: E402

PG_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
TARGET_RATE = 2000.0
ACCOUNT = "bench"
PR_SET_PDEATHSIG = 1
# Far in the future: rows written before the workers run wait until released.
HELD = datetime(2999, 1, 1, tzinfo=UTC)


# -- the fake provider (a child process) -----------------------------------------------------------


async def serve_fake(provider: str) -> None:
    """Run a fake provider on uvloop, stamping every message it accepts; print its URL, then
    serve ``GET /bench/arrivals`` (times and message keys) and ``POST /bench/reset``."""
    from aiohttp import web

    arrivals: list[tuple[float, str]] = []
    if provider == "sms":
        from tests.fakes.twilio_api import FakeTwilioApi

        class StampedTwilio(FakeTwilioApi):
            async def _create_message(self, request: web.Request) -> web.Response:
                arrived = time.time()
                response = await super()._create_message(request)
                if response.status == 201:
                    arrivals.append((arrived, self.requests[-1].param("Body") or ""))
                self.requests.clear()  # 50,000 recorded forms are of no use here
                return response

        fake: Any = StampedTwilio()
        async with fake:
            print(json.dumps({"api_base": fake.base_url}), flush=True)
            await _serve_arrivals(web, arrivals)
    else:
        from tests.fakes.telegram_api import FakeTelegramAPI

        class StampedTelegram(FakeTelegramAPI):
            async def _handle(self, request: web.Request) -> web.Response:
                arrived = time.time()
                response = await super()._handle(request)
                if response.status == 200 and self.calls:
                    arrivals.append((arrived, self.calls[-1].params.get("text", "")))
                self.calls.clear()
                self.messages.clear()
                return response

        fake = StampedTelegram()
        async with fake:
            print(json.dumps({"api_base": fake.base_url}), flush=True)
            await _serve_arrivals(web, arrivals)


async def _serve_arrivals(web: Any, arrivals: list[tuple[float, str]]) -> None:
    async def read(request: Any) -> Any:
        return web.json_response({"arrivals": arrivals})

    async def reset(request: Any) -> Any:
        arrivals.clear()
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_get("/bench/arrivals", read)
    app.router.add_post("/bench/reset", reset)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    print(json.dumps({"control": f"http://{host}:{port}"}), flush=True)
    await asyncio.Event().wait()


# -- the benchmark -----------------------------------------------------------------------------------


def _die_with_parent() -> None:
    """In a child before exec: get SIGTERM if the bench dies, even by SIGKILL (Linux only)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Fake:
    process: subprocess.Popen[bytes]
    api_base: str
    control: str

    async def arrivals(self) -> list[tuple[float, str]]:
        import httpx

        async with httpx.AsyncClient(timeout=60) as http:
            response = await http.get(f"{self.control}/bench/arrivals")
            return [(float(t), str(k)) for t, k in response.json()["arrivals"]]

    async def reset(self) -> None:
        import httpx

        async with httpx.AsyncClient(timeout=60) as http:
            await http.post(f"{self.control}/bench/reset")


def start_fake(provider: str) -> Fake:
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--serve-fake", provider],
        stdout=subprocess.PIPE,
        cwd=REPO,
        preexec_fn=_die_with_parent,
    )
    assert process.stdout is not None
    api_base = json.loads(process.stdout.readline())["api_base"]
    control = json.loads(process.stdout.readline())["control"]
    return Fake(process, api_base, control)


def channel(provider: str, api_base: str, rate: float) -> dict[str, Any]:
    if provider == "sms":
        from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN

        return {
            "type": "sms",
            "provider": "twilio",
            "account_sid": ACCOUNT_SID,
            "auth_token": AUTH_TOKEN,
            "from": "+15005550006",
            "api_base": api_base,
            "rate_per_second": rate,
        }
    from tests.fakes.telegram_api import TOKEN

    return {
        "type": "telegram",
        "token": TOKEN,
        "webhook_secret": "bench-secret",
        "api_base": api_base,
        "rate_per_second": rate,
    }


def recipient(provider: str, n: int) -> str:
    return f"+1415{n:07d}" if provider == "sms" else str(100_000 + n)


def outbox_rows(provider: str, phase: str, count: int) -> list[tuple[Any, ...]]:
    now = datetime.now(UTC)
    rows = []
    for n in range(count):
        to = recipient(provider, n)
        key = f"bench:{phase}:{n}"
        outbound = OutboundMessage(to=to, text=f"Your order {phase}-{n} is on its way.", idempotency_key=key)
        rows.append((key, ACCOUNT, to, json.dumps(outbound_to_json(outbound)), "pending", 0, HELD, now))
    return rows


COLUMNS = (
    "idempotency_key",
    "channel_account",
    "recipient",
    "payload",
    "status",
    "attempts",
    "next_attempt_at",
    "created_at",
)


async def raw_insert(url: str, rows: list[tuple[Any, ...]]) -> float:
    """Write ``rows`` into the outbox the fastest plain way; returns rows per second."""
    started = time.perf_counter()
    if url.startswith("sqlite"):
        path = make_url(url).database
        assert path is not None
        connection = sqlite3.connect(path)
        try:
            connection.executemany(
                f"INSERT INTO outbox ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})",
                [(*row[:6], _sqlite_time(row[6]), _sqlite_time(row[7])) for row in rows],
            )
            connection.commit()
        finally:
            connection.close()
    else:
        import asyncpg

        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        connection = await asyncpg.connect(dsn)
        try:
            await connection.copy_records_to_table("outbox", records=rows, columns=COLUMNS)
            await connection.execute("ANALYZE outbox")
        finally:
            await connection.close()
    return len(rows) / (time.perf_counter() - started)


def _sqlite_time(value: datetime) -> str:
    """As SQLAlchemy stores a datetime in SQLite (text that sorts and compares as written)."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


@dataclass(frozen=True)
class Cpu:
    workers: float
    fake: float
    postgres: float
    machine: float


def cpu_now(workers: list[subprocess.Popen[bytes]], fake: Fake) -> Cpu:
    return Cpu(
        sum(process_cpu_seconds(w.pid) for w in workers),
        process_cpu_seconds(fake.process.pid),
        postgres_cpu_seconds(),
        machine_busy_seconds(),
    )


def cpu_line(before: Cpu, after: Cpu, seconds: float, backend: str) -> str:
    def pct(a: float, b: float) -> str:
        return f"{(b - a) / seconds * 100:5.0f}%"

    ours = (after.workers - before.workers) + (after.fake - before.fake)
    if backend == "postgres":
        ours += after.postgres - before.postgres
    others = max(0.0, (after.machine - before.machine) - ours - 0.0)
    return (
        f"CPU (of one core): workers {pct(before.workers, after.workers)}, "
        f"provider {pct(before.fake, after.fake)}"
        + (f", postgres {pct(before.postgres, after.postgres)}" if backend == "postgres" else "")
        + f", bench+others {others / seconds * 100:5.0f}%"
    )


class Deployment:
    """A hub.yaml, a database and ``workers`` running `hub worker` processes."""

    def __init__(self, folder: Path, url: str, provider: str, fake: Fake, rate: float, workers: int) -> None:
        self.folder = folder
        self.url = url
        flows = folder / "flows"
        flows.mkdir(exist_ok=True)
        config = {
            "public_url": "https://hub.example.com",
            "flows_dir": str(flows),
            "channels": {ACCOUNT: channel(provider, fake.api_base, rate)},
        }
        (folder / "hub.yaml").write_text(yaml.safe_dump(config))
        self.count = workers
        self.tag = ""
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, tag: str) -> None:
        self.tag = tag
        for n in range(self.count):
            env = {
                **os.environ,
                "DATABASE_URL": self.url,
                "HUB_CONFIG": str(self.folder / "hub.yaml"),
                "HUB_DATA_DIR": str(self.folder / "var"),
                "HUB_SECRET_KEY": "bench-secret-key",
                "HUB_WORKER_ID": f"{tag}-{n}",
            }
            log = (self.folder / f"{tag}-{n}.log").open("wb")
            self.processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "hub.cli", "worker"],
                    env=env,
                    cwd=REPO,
                    stdout=log,
                    stderr=log,
                    preexec_fn=_die_with_parent,
                )
            )

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-2000:] for p in sorted(self.folder.glob("*.log")))


async def wait_until_up(deployment: Deployment, seconds: float = 60) -> None:
    """Until every worker has logged that it runs (its dispatcher is then polling the outbox)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in deployment.processes):
            raise RuntimeError(f"a worker exited:\n{deployment.logs()}")
        logs = [p.read_text(errors="replace") for p in deployment.folder.glob(f"{deployment.tag}-*.log")]
        if len(logs) == deployment.count and all(" running" in log for log in logs):
            return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"workers did not start:\n{deployment.logs()}")


async def release_and_wait(db: Database, phase: str, count: int, within: float) -> tuple[float, float]:
    """Make every held row due now; wait until all are sent. Returns (release time, time the last
    row was recorded sent), both time.time()."""
    async with db.transaction() as session:
        await session.execute(
            update(OutboxItem)
            .where(OutboxItem.next_attempt_at == HELD)
            .values(next_attempt_at=datetime.now(UTC) - timedelta(milliseconds=1))
        )
    released = time.time()
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        async with db.session() as session:
            sent = (
                await session.execute(
                    select(func.count(), func.max(OutboxItem.sent_at))
                    .select_from(OutboxItem)
                    .where(
                        OutboxItem.status == OutboxStatus.SENT,
                        OutboxItem.idempotency_key.startswith(f"bench:{phase}:"),  # type: ignore[attr-defined]
                    )
                )
            ).one()
        if sent[0] >= count:
            return released, sent[1].timestamp()
        await asyncio.sleep(0.25)
    raise RuntimeError(f"only {sent[0]} of {count} messages were sent within {within:.0f} s")


def check_once(arrivals: list[tuple[float, str]], count: int) -> str | None:
    keys = [key for _, key in arrivals]
    if len(keys) != count or len(set(keys)) != count:
        return f"{len(keys)} arrivals, {len(set(keys))} distinct, for {count} messages"
    return None


def busiest_second(times: list[float]) -> int:
    """The most arrivals in any window of one second, [t, t + 1)."""
    times = sorted(times)
    most, start = 0, 0
    for end, at in enumerate(times):
        while times[start] <= at - 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


async def run_backend(backend: str, options: argparse.Namespace, fake: Fake) -> bool:
    ok = True
    with tempfile.TemporaryDirectory(prefix="omnihub-bench-dispatch-") as folder_name:
        folder = Path(folder_name)
        database = f"omnihub_bench_{uuid.uuid4().hex[:8]}"
        admin = None
        if backend == "sqlite":
            url = f"sqlite+aiosqlite:///{folder / 'hub.db'}"
        else:
            admin = create_async_engine(options.pg_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
            async with admin.connect() as connection:
                await connection.execute(text(f'CREATE DATABASE "{database}"'))
            url = options.pg_url.rsplit("/", 1)[0] + f"/{database}"
        try:
            await asyncio.to_thread(upgrade, url)
            print(f"\n{backend}: {options.workers} `hub worker` processes, provider: {options.provider} fake")
            if "throughput" in options.phases:
                ok &= await throughput(backend, url, folder, options, fake)
            if "limited" in options.phases:
                ok &= await limited(backend, url, folder, options, fake)
        finally:
            if admin is not None:
                async with admin.connect() as connection:
                    await connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
                await admin.dispose()
    return ok


async def throughput(backend: str, url: str, folder: Path, options: argparse.Namespace, fake: Fake) -> bool:
    count = options.count
    insert_rate = await raw_insert(url, outbox_rows(options.provider, "fast", count))
    await fake.reset()
    deployment = Deployment(folder, url, options.provider, fake, 1_000_000, options.workers)
    db = Database(url)
    try:
        deployment.start("fast")
        await wait_until_up(deployment)
        before = cpu_now(deployment.processes, fake)
        try:
            released, last_sent = await release_and_wait(db, "fast", count, options.timeout)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}; the workers' logs end:\n{deployment.logs()}") from None
        seconds = time.time() - released
        after = cpu_now(deployment.processes, fake)
    finally:
        deployment.stop()
        await db.dispose()
    arrivals = await fake.arrivals()
    problem = check_once(arrivals, count)
    times = sorted(t for t, _ in arrivals)
    at_provider = (len(times) - 1) / max(times[-1] - times[0], 1e-9)
    end_to_end = count / max(last_sent - released, 1e-9)
    print(f"  raw insert rate (outbox rows):        {insert_rate:10,.0f} rows/s")
    print(
        f"  dispatch, {count:,} messages, at the provider: {at_provider:10,.0f} msg/s (first to last arrival)"
    )
    print(f"  dispatch, released -> all recorded sent: {end_to_end:10,.0f} msg/s")
    print(f"  dispatch msg/s / raw insert rows/s:   {end_to_end / insert_rate:10.3f}")
    print(f"  {cpu_line(before, after, seconds, backend)}")
    per_message = (after.workers - before.workers) / count * 1000
    print(f"  worker CPU per message: {per_message:.3f} ms (both workers together)")
    if problem:
        print(f"  BROKEN: {problem}")
        return False
    print("  every message reached the provider exactly once")
    if backend == "postgres" and options.workers == 2:
        verdict = "met" if end_to_end > TARGET_RATE else "NOT MET"
        print(f"  target > {TARGET_RATE:,.0f} msg/s with 2 workers on PostgreSQL: {verdict}")
    return True


async def limited(backend: str, url: str, folder: Path, options: argparse.Namespace, fake: Fake) -> bool:
    limit, seconds = options.limit, options.limit_seconds
    count = int(limit * seconds) + 1
    insert_rate = await raw_insert(url, outbox_rows(options.provider, "limited", count))
    await fake.reset()
    deployment = Deployment(folder, url, options.provider, fake, limit, options.workers)
    db = Database(url)
    try:
        deployment.start("limited")
        await wait_until_up(deployment)
        try:
            await release_and_wait(db, "limited", count, seconds * 2 + options.timeout)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}; the workers' logs end:\n{deployment.logs()}") from None
    finally:
        deployment.stop()
        await db.dispose()
    arrivals = await fake.arrivals()
    if options.keep_arrivals:
        await asyncio.to_thread(Path(options.keep_arrivals).write_text, json.dumps(arrivals))
    problem = check_once(arrivals, count)
    times = sorted(t for t, _ in arrivals)
    achieved = (len(times) - 1) / max(times[-1] - times[0], 1e-9)
    busiest = busiest_second(times)
    error = (achieved - limit) / limit * 100
    print(f"  raw insert rate (outbox rows):        {insert_rate:10,.0f} rows/s")
    print(
        f"  limited to {limit:g} msg/s, {count:,} messages over {times[-1] - times[0]:.1f} s: "
        f"achieved {achieved:.3f} msg/s ({error:+.2f} %), busiest 1 s window {busiest}"
    )
    if problem:
        print(f"  BROKEN: {problem}")
        return False
    verdict = "met" if abs(error) <= 1.0 and achieved <= limit and busiest <= limit else "NOT MET"
    print(f"  target within 1 % of {limit:g} and never above: {verdict}")
    return True


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backends", default="postgres,sqlite")
    parser.add_argument("--phases", default="throughput,limited")
    parser.add_argument("--count", type=int, default=50_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limit", type=float, default=30.0, help="messages per second of the limited run")
    parser.add_argument("--limit-seconds", type=float, default=60.0)
    parser.add_argument("--provider", choices=("sms", "telegram"), default="sms")
    parser.add_argument("--pg-url", default=PG_ADMIN_URL)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--quick", action="store_true", help="5,000 messages; 10 s of the limited run")
    parser.add_argument("--keep-arrivals", help="write the limited run's arrival times to this JSON file")
    parser.add_argument("--serve-fake", choices=("sms", "telegram"), help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.serve_fake:
        import uvloop

        uvloop.run(serve_fake(options.serve_fake))
        return 0
    if options.quick:
        options.count, options.limit_seconds = 5_000, 10.0
    fake = start_fake(options.provider)
    ok = True
    try:
        for backend in options.backends.split(","):
            ok &= asyncio.run(run_backend(backend.strip(), options, fake))
    except (RuntimeError, OSError) as exc:
        print(f"\nBROKEN: {exc}")
        ok = False
    finally:
        fake.process.terminate()
        fake.process.wait(10)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""Reports benchmark: every report over 90 days, at 100,000 customers and 1,000,000 messages, on
SQLite and PostgreSQL.

For each backend it creates a fresh database (``hub migrate``'s schema) and seeds it with inbox.seed
(what `hub seed` runs: customers on web chat, SMS and WhatsApp over 180 days, their conversations,
messages and timeline entries, agents in teams), then adds what reports read and the seed does not
write, in the shapes the hub writes them: a bot greeting in half of the conversations, a handoff
(bot_handoffs) in a fifth of those, a ``csat.submitted`` rating after 30 % of the resolved ones, and
two campaigns with 50,000 sends each. Then it times, through the real app in-process (ASGI, no
network: server time, as a supervisor's API token):

- **bare**: indexed queries with nothing around them: counting the conversations opened in the 90
  days (the cohort every conversation report starts from) and the messages written in them. The
  floor for this machine, printed in the same run;
- **reports**: ``GET /api/v1/reports/<name>`` for every report over the last 90 days, unfiltered,
  and a few with the channel and team filters, with their ratio to the bare cohort count.

Each figure is the median and p95 of ``--repeat`` runs after a warm-up. Target (from the issue):
every report over 90 days in < 1 s (the verdict is on the median; p95 is printed next to it).
PostgreSQL tables get VACUUM ANALYZE after seeding (autovacuum does that in a running deployment);
SQLite runs as `hub serve` leaves it.

    python bench/reports.py                     # 100,000 customers / 1,000,000 messages, both backends
    python bench/reports.py --scale 0.1         # 10,000 / 100,000
    python bench/reports.py --quick             # 2,000 / 20,000, 3 runs: smoke run
    python bench/reports.py --backends sqlite --repeat 10
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from crm_core.models import CustomerEvent  # noqa: E402
from hub.app import create_app  # noqa: E402
from hub.auth.credentials import create_token  # noqa: E402
from hub.auth.passwords import hash_password  # noqa: E402
from hub.campaigns.models import Campaign, CampaignRun, CampaignSend, CampaignStatus, SendStatus  # noqa: E402
from hub.config import parse_config  # noqa: E402
from hub.migrate import upgrade  # noqa: E402
from hub.runtime import Hub  # noqa: E402
from hub.settings import Settings  # noqa: E402
from inbox.models import AuthorKind, Conversation, Direction, Message, MessageStatus, Role, Team  # noqa: E402
from inbox.reports.handoff_log import BotHandoff  # noqa: E402
from inbox.seed import SeedPlan, seed  # noqa: E402

PG_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
TARGET_MS = 1000.0
DAYS = 90
ZONE = "Europe/Kyiv"
TWILIO = {
    "provider": "twilio",
    "account_sid": "AC" + "0123456789abcdef" * 2,
    "auth_token": "f0e1d2c3b4a5968778695a4b3c2d1e0f",
    "api_base": "http://127.0.0.1:9",
}
CHANNELS: dict[str, Any] = {
    "site": {"type": "webchat"},
    "sms-main": {"type": "sms", "from": "+15005550006", **TWILIO},
    "whatsapp-main": {"type": "whatsapp", "from": "whatsapp:+14155238886", **TWILIO},
}
BATCH = 5000
REASONS = (("support", "handoff"), ("support", "closed_handoff"), ("missed_call", "callback"))


@dataclass
class Figure:
    group: str
    name: str
    median_ms: float
    p95_ms: float
    target: bool = True


async def timed(repeat: int, work: Callable[[], Awaitable[Any]]) -> tuple[float, float]:
    await work()  # warm-up: caches, prepared statements
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        await work()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.95))]


async def _insert(hub: Hub, model: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), BATCH):
        async with hub.db.transaction() as session:
            await session.execute(insert(model.__table__), rows[start : start + BATCH])


async def add_report_data(hub: Hub, rng: random.Random) -> dict[str, int]:
    """Bot greetings, handoffs, CSAT ratings and campaign sends on top of the seeded inbox."""
    async with hub.db.session() as session:
        conversations = (
            await session.execute(
                select(
                    Conversation.id,
                    Conversation.customer_id,
                    Conversation.channel_account,
                    Conversation.channel_type,
                    Conversation.created_at,
                    Conversation.resolved_at,
                    Conversation.team_id,
                )
            )
        ).all()
        teams = list((await session.execute(select(Team.id))).scalars())
        next_message = int((await session.execute(select(func.max(Message.id)))).scalar_one()) + 1
    greetings: list[dict[str, Any]] = []
    handoffs: list[dict[str, Any]] = []
    ratings: list[dict[str, Any]] = []
    for conversation in conversations:
        greeted_at = conversation.created_at + timedelta(seconds=3)
        if rng.random() < 0.5:
            greetings.append(
                {
                    "id": next_message,
                    "conversation_id": conversation.id,
                    "customer_id": conversation.customer_id,
                    "direction": Direction.OUTBOUND,
                    "author_kind": AuthorKind.BOT,
                    "author_agent_id": None,
                    "channel_account": conversation.channel_account,
                    "channel_type": conversation.channel_type,
                    "address": "",
                    "text": "Hi! I'm the support assistant.",
                    "attachments": [],
                    "buttons": [],
                    "provider_message_id": None,
                    "status": MessageStatus.SENT,
                    "failure_reason": None,
                    "meta": {},
                    "created_at": greeted_at,
                    "sent_at": greeted_at,
                    "delivered_at": None,
                    "read_at": None,
                    "edited_at": None,
                    "waited_since": None,
                }
            )
            next_message += 1
            if rng.random() < 0.2:
                flow, step = rng.choice(REASONS)
                handoffs.append(
                    {
                        "conversation_id": conversation.id,
                        "at": greeted_at + timedelta(seconds=40),
                        "flow": flow,
                        "step": step,
                        "team_id": conversation.team_id or rng.choice(teams),
                    }
                )
        if conversation.resolved_at is not None and rng.random() < 0.3:
            ratings.append(
                {
                    "customer_id": conversation.customer_id,
                    "kind": "csat.submitted",
                    "occurred_at": conversation.resolved_at + timedelta(minutes=rng.randint(1, 600)),
                    "payload": {
                        "rating": rng.choice((1, 2, 3, 4, 4, 5, 5, 5)),
                        "comment": "",
                        "flow": "feedback",
                    },
                    "source": "flow:feedback",
                }
            )
    await _insert(hub, Message, greetings)
    await _insert(hub, BotHandoff, handoffs)
    await _insert(hub, CustomerEvent, ratings)
    sends = await add_campaigns(hub, rng, [c.customer_id for c in conversations])
    if hub.db.engine.dialect.name == "postgresql":
        async with hub.db.transaction() as session:
            await session.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence('messages', 'id'), (SELECT max(id) FROM messages))"
                )
            )
    return {
        "bot greetings": len(greetings),
        "handoffs": len(handoffs),
        "ratings": len(ratings),
        "campaign sends": sends,
    }


async def add_campaigns(hub: Hub, rng: random.Random, customers: list[int]) -> int:
    now = datetime.now(UTC)
    sends = 0
    for number, days_ago in ((1, 20), (2, 60)):
        campaign_id = f"bench-{number}"
        launched = now - timedelta(days=days_ago)
        async with hub.db.transaction() as session:
            session.add(
                Campaign(
                    id=campaign_id,
                    name=f"Bench campaign {number}",
                    definition={},
                    status=CampaignStatus.COMPLETED,
                    launched_at=launched,
                    finished_at=launched + timedelta(hours=2),
                )
            )
            session.add(
                CampaignRun(campaign_id=campaign_id, key="launch", planned=50_000, started_at=launched)
            )
        audience = rng.sample(sorted(set(customers)), min(50_000, len(set(customers))))
        rows = []
        for customer_id in audience:
            status = rng.choice(
                (
                    SendStatus.READ,
                    SendStatus.DELIVERED,
                    SendStatus.DELIVERED,
                    SendStatus.SENT,
                    SendStatus.FAILED,
                    SendStatus.SKIPPED,
                )
            )
            converted = status is SendStatus.READ and rng.random() < 0.2
            rows.append(
                {
                    "campaign_id": campaign_id,
                    "run_key": "launch",
                    "step": "main",
                    "customer_id": customer_id,
                    "variant": rng.choice(("a", "b")),
                    "purpose": "marketing",
                    "status": status,
                    "reason": "no_consent" if status is SendStatus.SKIPPED else None,
                    "channel_type": "sms",
                    "channel_account": "sms-main",
                    "tried": ["sms"],
                    "attempt": 0,
                    "planned_at": launched,
                    "replied_at": launched + timedelta(hours=3) if rng.random() < 0.05 else None,
                    "clicked_at": launched + timedelta(hours=1) if rng.random() < 0.1 else None,
                    "converted_at": launched + timedelta(days=1) if converted else None,
                    "revenue": round(rng.uniform(10, 120), 2) if converted else None,
                }
            )
        await _insert(hub, CampaignSend, rows)
        sends += len(rows)
    return sends


async def measure(hub: Hub, repeat: int) -> list[Figure]:
    zone = ZoneInfo(ZONE)
    today = datetime.now(zone).date()
    first = today - timedelta(days=DAYS - 1)
    start = datetime.combine(first, datetime.min.time(), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(today + timedelta(days=1), datetime.min.time(), tzinfo=zone).astimezone(UTC)
    async with hub.db.transaction() as session:
        _, secret = await create_token(session, name="bench", role=Role.SUPERVISOR, created_by="bench")
        team = (await session.execute(select(Team.id).order_by(Team.id).limit(1))).scalar_one()
    headers = {"Authorization": f"Bearer {secret}"}
    figures: list[Figure] = []
    async with hub.db.session() as session:

        async def bare_cohort() -> None:
            statement = select(func.count()).where(
                Conversation.created_at >= start, Conversation.created_at < end
            )
            await session.execute(statement)

        async def bare_messages() -> None:
            statement = select(func.count()).where(Message.created_at >= start, Message.created_at < end)
            await session.execute(statement)

        for name, work in (
            ("conversations opened in 90 days", bare_cohort),
            ("messages in 90 days", bare_messages),
        ):
            median, p95 = await timed(repeat, work)
            figures.append(Figure("bare", name, median, p95, target=False))

    app = create_app(hub.settings, hub.config, hub=hub)
    params = {"from": first.isoformat(), "to": today.isoformat()}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=120
    ) as http:

        async def get(name: str, extra: dict[str, str]) -> None:
            response = await http.get(f"/api/v1/reports/{name}", params={**params, **extra}, headers=headers)
            if response.status_code != 200:
                raise RuntimeError(f"{name}: {response.status_code} {response.text[:300]}")

        names = (await http.get("/api/v1/reports", headers=headers)).json()
        runs: list[tuple[str, dict[str, str]]] = [(name, {}) for name in names]
        runs += [
            ("response-times", {"channel": "sms"}),
            ("response-times", {"team_id": str(team)}),
            ("volume-daily", {"team_id": str(team)}),
            ("agents", {"channel": "whatsapp"}),
            ("campaigns", {"format": "csv"}),
        ]
        for name, extra in runs:
            label = name + "".join(f" {key}={value}" for key, value in extra.items())
            median, p95 = await timed(repeat, lambda name=name, extra=extra: get(name, extra))
            figures.append(Figure("report", label, median, p95))
    return figures


async def run_backend(backend: str, customers: int, messages: int, repeat: int, pg_url: str) -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="omnihub-bench-reports-") as tmp:
        drop: Callable[[], Awaitable[None]] | None = None
        if backend == "sqlite":
            url = f"sqlite+aiosqlite:///{tmp}/hub.db"
        else:
            database = f"omnihub_bench_{uuid.uuid4().hex[:10]}"
            admin = create_async_engine(pg_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
            async with admin.connect() as connection:
                await connection.execute(text(f'CREATE DATABASE "{database}"'))
            url = pg_url.rsplit("/", 1)[0] + f"/{database}"

            async def drop_database() -> None:
                async with admin.connect() as connection:
                    await connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
                await admin.dispose()

            drop = drop_database
        try:
            await asyncio.to_thread(upgrade, url)
            settings = Settings(
                database_url=url,
                hub_data_dir=Path(tmp) / "var",
                hub_secret_key="bench",  # type: ignore[arg-type]
                hub_config=Path("unused.yaml"),
                _env_file=None,  # type: ignore[call-arg]
            )
            (Path(tmp) / "flows").mkdir()
            config = parse_config(
                {
                    "public_url": "http://bench",
                    "flows_dir": str(Path(tmp) / "flows"),
                    "channels": CHANNELS,
                    "business_hours": {"timezone": ZONE, "weekly": {"mon": "09:00-18:00"}},
                },
                env={},
            )
            hub = Hub.build(settings, config, bots=[])
            await hub.start(workers=False)
            try:
                plan = SeedPlan(
                    customers=customers,
                    messages=messages,
                    channels=[(name, account["type"]) for name, account in CHANNELS.items()],
                )
                started = time.perf_counter()
                done = 0

                def progress(count: int) -> None:
                    nonlocal done
                    done += count
                    if done % 100_000 < count or done == messages:
                        print(f"  {backend}: seeded {done:,} / {messages:,} messages", file=sys.stderr)

                report = await seed(hub.db.transaction, plan, hash_password(uuid.uuid4().hex), progress)
                extra = await add_report_data(hub, random.Random(5))
                seconds = time.perf_counter() - started
                print(
                    f"{backend}: seeded {report.customers:,} customers, "
                    f"{report.conversations:,} conversations, {report.messages:,} messages, then "
                    + ", ".join(f"{count:,} {what}" for what, count in extra.items())
                    + f" in {seconds:.0f} s"
                )
                if backend == "postgres":
                    vacuum = create_async_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
                    async with vacuum.connect() as connection:
                        await connection.execute(text("VACUUM ANALYZE"))
                    await vacuum.dispose()
                return await measure(hub, repeat)
            finally:
                await hub.stop()
        finally:
            if drop is not None:
                await drop()


def report(backend: str, figures: Sequence[Figure]) -> bool:
    floor = next(f.median_ms for f in figures if f.group == "bare")
    print(
        f"\n{backend}: server time in ms (median, p95) over {DAYS} days; target < {TARGET_MS:.0f} ms (median)"
    )
    print(f"{'':7} {'':44} {'median':>8} {'p95':>8} {'x bare':>8}")
    ok = True
    for figure in figures:
        verdict = ""
        if figure.target:
            within = figure.median_ms < TARGET_MS
            ok &= within
            verdict = "ok" if within else "OVER"
        ratio = figure.median_ms / floor if floor else 0.0
        print(
            f"{figure.group:7} {figure.name:44} {figure.median_ms:8.1f} {figure.p95_ms:8.1f} "
            f"{ratio:8.1f}  {verdict}"
        )
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backends", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    parser.add_argument("--scale", type=float, default=1.0, help="1.0: 100,000 customers, 1,000,000 messages")
    parser.add_argument("--repeat", type=int, default=7, help="timed runs per report")
    parser.add_argument("--quick", action="store_true", help="2,000 customers, 20,000 messages, 3 runs")
    parser.add_argument("--pg-url", default=PG_ADMIN_URL, help="an admin connection to PostgreSQL")
    args = parser.parse_args(argv)
    if args.quick:
        args.scale, args.repeat = 0.02, 3
    if args.scale <= 0:
        parser.error("--scale must be above 0")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    customers, messages = max(1, int(100_000 * args.scale)), max(1, int(1_000_000 * args.scale))
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    for backend in backends:
        if backend not in ("sqlite", "postgres"):
            parser.error(f"--backends: unknown backend {backend!r}; use sqlite, postgres")
    pg_url = args.pg_url.replace("postgresql://", "postgresql+asyncpg://", 1)
    verdicts = []
    for backend in backends:
        figures = asyncio.run(run_backend(backend, customers, messages, args.repeat, pg_url))
        verdicts.append((backend, report(backend, figures)))
    print()
    for backend, ok in verdicts:
        print(
            f"{backend}: every report over {DAYS} days "
            f"{'within' if ok else 'OVER'} {TARGET_MS:.0f} ms (median)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

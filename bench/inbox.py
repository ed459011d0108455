"""Inbox benchmark: the agents' list and opening a conversation, at 100,000 customers and 1,000,000
messages, on SQLite and PostgreSQL.

For each backend it creates a fresh database (``hub migrate``'s schema), seeds it with inbox.seed
(what `hub seed` runs: customers on web chat, SMS and WhatsApp, their conversations, messages and
timeline entries, agents in teams, labels), signs in an agent who has a team and a few hundred
assigned conversations, and times, through the real app in-process (ASGI, no network: server time):

- **bare**: indexed queries with nothing around them — the newest 50 open conversations, and the
  newest 200 messages of one conversation. The floor for this machine, printed in the same run;
- **list**: ``GET /api/v1/conversations`` as the screen asks for it, per view and filter, including
  searches (a customer name, text of a recent message, text nobody wrote: the worst case), page 2,
  and the view counts;
- **open**: every request the screen makes when an agent opens a conversation (the conversation, its
  messages, notes, the customer with 25 timeline entries, the panel figures, duplicates, the reply
  channels, marking it read), each on its own and their sum.

Each figure is the median and p95 of ``--repeat`` runs after a warm-up. Target (from the issue): the
list and a conversation open in < 100 ms server time. PostgreSQL tables get VACUUM ANALYZE after
seeding (autovacuum does that in a running deployment); SQLite runs as `hub serve` leaves it.

    python bench/inbox.py                     # 100,000 customers / 1,000,000 messages, both backends
    python bench/inbox.py --quick             # 2,000 / 20,000, smoke run
    python bench/inbox.py --backends sqlite --customers 20000 --messages 200000
    python bench/inbox.py --database-url sqlite+aiosqlite:///var/hub.db   # a database seeded before
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from hub.app import create_app  # noqa: E402
from hub.auth.credentials import create_agent  # noqa: E402
from hub.auth.passwords import hash_password  # noqa: E402
from hub.config import parse_config  # noqa: E402
from hub.migrate import upgrade  # noqa: E402
from hub.runtime import Hub  # noqa: E402
from hub.settings import Settings  # noqa: E402
from inbox.models import Agent, Conversation, ConversationStatus, Message, Role, Team  # noqa: E402
from inbox.seed import SeedPlan, seed  # noqa: E402

PG_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
TARGET_MS = 100.0
PASSWORD = "bench password 42"
BENCH_EMAIL = "bench@example.com"
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


@dataclass
class Figure:
    group: str
    name: str
    median_ms: float
    p95_ms: float
    target: bool = True


async def timed(repeat: int, work: Callable[[], Awaitable[Any]]) -> tuple[float, float]:
    for _ in range(2):
        await work()  # warm-up: caches, prepared statements
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        await work()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.95))]


def expect_ok(response: httpx.Response) -> httpx.Response:
    if response.status_code >= 400:
        raise RuntimeError(f"{response.request.method} {response.request.url}: {response.text[:300]}")
    return response


async def prepare_agent(hub: Hub) -> tuple[int, int]:
    """A bench agent in the first team with 300 open conversations assigned; (agent id, team id)."""
    async with hub.db.transaction() as session:
        team = (await session.execute(select(Team).order_by(Team.id).limit(1))).scalars().one()
        # A database measured before (--database-url) keeps its bench agent.
        agent = (await session.execute(select(Agent).where(Agent.email == BENCH_EMAIL))).scalars().first()
        if agent is None:
            agent = await create_agent(
                session, email=BENCH_EMAIL, name="Bench Agent", role=Role.AGENT, password=PASSWORD
            )
        agent.team_id = team.id
        session.add(agent)
        await session.flush()
        open_ids = (
            select(Conversation.id)
            .where(Conversation.status == ConversationStatus.OPEN)
            .order_by(Conversation.id)
            .limit(300)
        )
        ids = list((await session.execute(open_ids)).scalars())
        await session.execute(
            update(Conversation).where(Conversation.id.in_(ids)).values(assignee_id=agent.id, team_id=team.id)
        )
        return agent.id, team.id  # type: ignore[return-value]


async def measure(hub: Hub, repeat: int) -> list[Figure]:
    await prepare_agent(hub)
    figures: list[Figure] = []
    app = create_app(hub.settings, hub.config, hub=hub)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as http:
        login = expect_ok(
            await http.post("/api/v1/auth/login", json={"email": BENCH_EMAIL, "password": PASSWORD})
        )
        http.cookies.clear()
        headers = {"Cookie": f"hub_session={login.cookies['hub_session']}"}

        async def get(path: str, params: dict[str, Any] | None = None) -> Any:
            return expect_ok(await http.get(path, params=params, headers=headers)).json()

        # -- bare indexed queries, the floor
        async with hub.db.session() as session:
            newest = (
                select(Conversation.id)
                .where(Conversation.status == ConversationStatus.OPEN)
                .order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
                .limit(50)
            )
            biggest = (
                await session.execute(
                    text(
                        "SELECT conversation_id FROM messages GROUP BY conversation_id "
                        "ORDER BY count(*) DESC LIMIT 1"
                    )
                )
            ).scalar_one()

            async def bare_list() -> None:
                (await session.execute(newest)).all()

            async def bare_messages() -> None:
                statement = (
                    select(Message)
                    .where(Message.conversation_id == biggest)
                    .order_by(Message.id.desc())
                    .limit(200)
                )
                (await session.execute(statement)).all()

            for name, work in (("newest 50 open conversations", bare_list), ("200 messages", bare_messages)):
                median, p95 = await timed(repeat, work)
                figures.append(Figure("bare", name, median, p95, target=False))

        # -- the list, as the screen asks for it
        first_page = await get("/api/v1/conversations", {"view": "all", "status": "open", "limit": 50})
        lists: list[tuple[str, dict[str, Any]]] = [
            ("all open", {"view": "all", "status": "open"}),
            ("mine", {"view": "mine", "status": "open"}),
            ("unassigned", {"view": "unassigned", "status": "open"}),
            ("team", {"view": "team", "status": "open"}),
            ("any status", {"view": "all"}),
            ("label refund", {"status": "open", "label": "refund"}),
            ("SLA at risk", {"at_risk": "true", "waiting_minutes": 15}),
            ("channel sms", {"status": "open", "channel": "sms"}),
            ("page 2", {"view": "all", "status": "open", "before_id": first_page[-1]["id"]}),
            ("search name", {"q": "kovalenko"}),
            ("search recent text", {"q": "strange noise"}),
            ("search nothing found", {"q": "zzzz-not-there"}),
        ]
        for name, params in lists:

            async def listing(params: dict[str, Any] = params) -> None:
                await get("/api/v1/conversations", {"limit": 50, **params})

            median, p95 = await timed(repeat, listing)
            figures.append(Figure("list", name, median, p95))
        median, p95 = await timed(repeat, lambda: get("/api/v1/conversations/counts"))
        figures.append(Figure("list", "view counts", median, p95))

        # -- opening a conversation: the biggest one
        conversation = await get(f"/api/v1/conversations/{biggest}")
        customer_id = conversation["customer_id"]
        opens: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
            ("conversation", lambda: get(f"/api/v1/conversations/{biggest}")),
            ("messages", lambda: get(f"/api/v1/conversations/{biggest}/messages")),
            ("notes", lambda: get(f"/api/v1/conversations/{biggest}/notes")),
            (
                "customer + 25 timeline",
                lambda: get(f"/api/v1/customers/{customer_id}", {"timeline_limit": 25}),
            ),
            ("panel figures", lambda: get(f"/api/v1/workspace/customers/{customer_id}/insights")),
            ("duplicates", lambda: get(f"/api/v1/customers/{customer_id}/duplicates")),
            ("reply channels", lambda: get(f"/api/v1/conversations/{biggest}/reply-options")),
            (
                "mark read",
                lambda: http.post(f"/api/v1/conversations/{biggest}/read", json={}, headers=headers),
            ),
        ]
        total_median = total_p95 = 0.0
        for name, work in opens:
            median, p95 = await timed(repeat, work)
            total_median += median
            total_p95 += p95
            figures.append(Figure("open", name, median, p95, target=False))
        figures.append(Figure("open", "all of the above, one after another", total_median, total_p95))
    return figures


async def run_backend(backend: str, customers: int, messages: int, repeat: int, pg_url: str) -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="omnihub-bench-inbox-") as tmp:
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
                {"public_url": "http://bench", "flows_dir": str(Path(tmp) / "flows"), "channels": CHANNELS},
                env={},
            )
            hub = Hub.build(settings, config, bots=[])
            await hub.start(workers=False)
            try:
                plan = SeedPlan(
                    customers=customers,
                    messages=messages,
                    channels=[(name, settings_["type"]) for name, settings_ in CHANNELS.items()],
                )
                started = time.perf_counter()
                done = 0

                def progress(count: int) -> None:
                    nonlocal done
                    done += count
                    if done % 100_000 < count or done == messages:
                        print(f"  {backend}: seeded {done:,} / {messages:,} messages", file=sys.stderr)

                report = await seed(hub.db.transaction, plan, hash_password(uuid.uuid4().hex), progress)
                seconds = time.perf_counter() - started
                print(
                    f"{backend}: seeded {report.customers:,} customers, "
                    f"{report.conversations:,} conversations ({report.open_conversations:,} open), "
                    f"{report.messages:,} messages in {seconds:.0f} s ({report.rows / seconds:,.0f} rows/s)"
                )
                if backend == "postgres":
                    # What autovacuum does in a running deployment: statistics and the visibility
                    # map (index-only scans) after a mass insert.
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


async def run_existing(url: str, repeat: int) -> list[Figure]:
    """Measure a database seeded earlier (`hub seed`), as it is."""
    with tempfile.TemporaryDirectory(prefix="omnihub-bench-inbox-") as tmp:
        settings = Settings(
            database_url=url,
            hub_data_dir=Path(tmp) / "var",
            hub_secret_key="bench",  # type: ignore[arg-type]
            hub_config=Path("unused.yaml"),
            _env_file=None,  # type: ignore[call-arg]
        )
        (Path(tmp) / "flows").mkdir()
        config = parse_config(
            {"public_url": "http://bench", "flows_dir": str(Path(tmp) / "flows"), "channels": CHANNELS},
            env={},
        )
        hub = Hub.build(settings, config, bots=[])
        await hub.start(workers=False)
        try:
            return await measure(hub, repeat)
        finally:
            await hub.stop()


def report(backend: str, figures: Sequence[Figure]) -> bool:
    print(f"\n{backend}: server time in ms (median, p95); target < {TARGET_MS:.0f} ms")
    print(f"{'':6} {'':40} {'median':>8} {'p95':>8}")
    ok = True
    for figure in figures:
        verdict = ""
        if figure.target:
            within = figure.p95_ms < TARGET_MS
            ok &= within
            verdict = "ok" if within else "OVER"
        print(f"{figure.group:6} {figure.name:40} {figure.median_ms:8.1f} {figure.p95_ms:8.1f}  {verdict}")
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backends", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20, help="timed runs per request")
    parser.add_argument("--quick", action="store_true", help="2,000 customers, 20,000 messages, 5 runs")
    parser.add_argument("--pg-url", default=PG_ADMIN_URL, help="an admin connection to PostgreSQL")
    parser.add_argument(
        "--database-url", help="measure this database as it is (seeded before with `hub seed`) instead"
    )
    args = parser.parse_args(argv)
    if args.database_url:
        url = args.database_url.replace("postgresql://", "postgresql+asyncpg://", 1)
        backend = "postgres" if url.startswith("postgresql") else "sqlite"
        ok = report(backend, asyncio.run(run_existing(url, args.repeat)))
        print(f"\n{backend}: list and open {'within' if ok else 'OVER'} {TARGET_MS:.0f} ms (p95)")
        return 0
    if args.quick:
        args.customers, args.messages, args.repeat = 2_000, 20_000, 5
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    for backend in backends:
        if backend not in ("sqlite", "postgres"):
            parser.error(f"--backends: unknown backend {backend!r}; use sqlite, postgres")
    if args.customers < 1 or args.messages < args.customers:
        parser.error("--messages must be at least --customers, and --customers at least 1")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    pg_url = args.pg_url.replace("postgresql://", "postgresql+asyncpg://", 1)
    verdicts = []
    for backend in backends:
        figures = asyncio.run(run_backend(backend, args.customers, args.messages, args.repeat, pg_url))
        verdicts.append((backend, report(backend, figures)))
    print()
    for backend, ok in verdicts:
        print(f"{backend}: list and open {'within' if ok else 'OVER'} {TARGET_MS:.0f} ms (p95)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

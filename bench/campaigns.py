"""Campaign planning benchmark: planning a campaign to every customer, next to the raw insert rate.

For each backend it fills a fresh database with the synthetic population of bench/segments.py
(1,000,000 customers by default: identities, consent, order events), measuring the raw bulk insert
rate of that fill, then launches a campaign to all of them and plans it with the hub's own planner
(hub.campaigns.planner: batches of send rows and outbox rows, the channel chosen per customer over
[telegram, viber, sms, email], the message rendered in their language), with a progress bar.

Printed: planning time, customers and rows per second, and the ratio of the planner's row rate to
the raw insert rate of the same run; also the CPU seconds this process spent planning and the load
average around it, since the machine's other work shows in every figure. Target (from the issue):
planning 1,000,000 customers < 60 s.

    python bench/campaigns.py                      # 1,000,000 customers, both backends
    python bench/campaigns.py --quick              # 20,000 customers
    python bench/campaigns.py --backends sqlite --customers 200000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(BENCH))

from segments import PG_ADMIN_URL, fill_postgres, fill_sqlite  # noqa: E402  (bench/segments.py)

from crm_core.segments import Segments, save_segment  # noqa: E402
from hub.accounts import Accounts  # noqa: E402
from hub.campaigns.models import Campaign, CampaignRun, CampaignSend  # noqa: E402
from hub.campaigns.rules import MarketingRules  # noqa: E402
from hub.campaigns.service import Campaigns  # noqa: E402
from hub.config import parse_config  # noqa: E402
from hub.db import Database  # noqa: E402
from hub.migrate import upgrade  # noqa: E402
from hub.outbound.models import OutboxItem  # noqa: E402
from inbox.segment_facts import SEGMENT_FACTS  # noqa: E402

TARGET_SECONDS = 60.0
CAMPAIGN = {
    "id": "everyone",
    "name": "Everyone",
    "purpose": "transactional",  # no opt-in needed: the most customers get a message (and a row)
    "audience": "all",
    "channels": ["telegram", "viber", "sms", "email"],
    "content": {
        "default": {
            "en": "Hi {{ name }}, your order is on its way.",
            "es": "Hola {{ name }}, tu pedido va en camino.",
        },
        "email": {
            "subject": {"en": "Your order", "es": "Tu pedido"},
            "text": {"en": "Hi {{ name }}!", "es": "¡Hola {{ name }}!"},
        },
    },
}
# Accounts of each type; planning never contacts them.
CHANNELS = {
    "tg": {"type": "telegram", "token": "1:x", "webhook_secret": "s", "bot_username": "bench_bot"},
    "vb": {"type": "viber", "auth_token": "x", "chat_uri": "bench"},
    "sms": {
        "type": "sms",
        "provider": "twilio",
        "account_sid": "AC" + "0" * 32,
        "auth_token": "x",
        "from": "+15005550006",
    },
    "mail": {
        "type": "email",
        "address": "shop@example.com",
        "smtp": {"host": "127.0.0.1", "port": 2525, "security": "none"},
    },
}


class Bar:
    """A progress bar on stderr, as `hub campaigns launch` shows one."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.started = time.perf_counter()

    def __call__(self, done: int, total: int) -> None:
        total = max(total, 1)
        width = 30
        filled = int(width * min(done, total) / total)
        rate = done / max(time.perf_counter() - self.started, 1e-9)
        sys.stderr.write(
            f"\r  {self.title} [{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} {rate:,.0f}/s"
        )
        sys.stderr.flush()

    def close(self) -> None:
        sys.stderr.write("\n")


async def run_backend(backend: str, customers: int, batch: int) -> bool:
    with tempfile.TemporaryDirectory(prefix="omnihub-bench-") as folder:
        database = f"bench_campaigns_{uuid.uuid4().hex[:8]}"
        admin = None
        if backend == "sqlite":
            url = f"sqlite+aiosqlite:///{Path(folder) / 'hub.db'}"
            await asyncio.to_thread(upgrade, url)
            rows, fill_seconds = fill_sqlite(Path(folder) / "hub.db", customers)
        else:
            admin = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
            async with admin.connect() as connection:
                await connection.execute(text(f'CREATE DATABASE "{database}"'))
            url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{database}"
            await asyncio.to_thread(upgrade, url)
            rows, fill_seconds = await fill_postgres(url, customers)
        db = Database(url)
        try:
            config = parse_config({"public_url": "https://hub.example.com", "channels": CHANNELS}, env={})
            accounts = Accounts(config, b"bench-secret-key-bench-secret-key", None)
            segments = Segments(facts=SEGMENT_FACTS)
            service = Campaigns(db, accounts, MarketingRules(quiet_hours=None), segments, batch_size=batch)
            async with db.transaction() as session:
                await save_segment(
                    session, segments.parse({"id": "all", "name": "All", "conditions": []}), by="bench"
                )
                await service.save(session, CAMPAIGN, by="bench")
                await service.launch(session, "everyone")
            bar = Bar(f"{backend}: planning")
            load_before = os.getloadavg()[0]
            started, cpu_started = time.perf_counter(), time.process_time()
            async with db.session() as session:
                run_id = (await session.execute(select(CampaignRun.id))).scalar_one()
                definition = await service.definition(session, "everyone")
            await service.planner.plan_run(run_id, definition, progress=bar)
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
            load_after = os.getloadavg()[0]
            bar.close()
            async with db.session() as session:
                sends = (await session.execute(select(func.count()).select_from(CampaignSend))).scalar_one()
                outbox = (await session.execute(select(func.count()).select_from(OutboxItem))).scalar_one()
                status = (await session.execute(select(Campaign.status))).scalar_one()
            await accounts.aclose()
        finally:
            await db.dispose()
            if admin is not None:
                async with admin.connect() as connection:
                    await connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
                await admin.dispose()
    insert_rate = rows / fill_seconds
    plan_rate = (sends + outbox) / seconds
    met = seconds < TARGET_SECONDS * customers / 1_000_000
    print(f"\n{backend}: {customers:,} customers")
    print(f"  raw insert rate (fill):     {insert_rate:12,.0f} rows/s")
    print(f"  planning:                   {seconds:12.1f} s   ({customers / seconds:,.0f} customers/s)")
    where = "SQLite's work included" if backend == "sqlite" else "the server's work not included"
    print(f"  planner process CPU:        {cpu:12.1f} s   ({where})")
    print(f"  load average before/after:  {load_before:7.1f} / {load_after:.1f}  ({os.cpu_count()} cores)")
    print(
        f"  rows written:               {sends:12,} sends + {outbox:,} outbox rows = {plan_rate:,.0f} rows/s"
    )
    print(f"  planner rows/s / raw insert rows/s: {plan_rate / insert_rate:.2f}")
    print(f"  campaign status after planning: {status.value}")
    scaled = (
        f" (scaled: {TARGET_SECONDS * customers / 1_000_000:.0f} s for {customers:,})"
        if customers != 1_000_000
        else ""
    )
    print(f"  target < {TARGET_SECONDS:.0f} s per 1,000,000 customers{scaled}: {'met' if met else 'NOT MET'}")
    return met


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=2000, help="customers per planning transaction")
    parser.add_argument("--quick", action="store_true", help="20,000 customers")
    options = parser.parse_args(argv)
    customers = 20_000 if options.quick else options.customers
    for backend in options.backends.split(","):
        asyncio.run(run_backend(backend.strip(), customers, options.batch))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

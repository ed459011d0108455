"""Segment benchmark: counting segments over many customers, on SQLite and PostgreSQL.

For each backend it creates a fresh database (``hub migrate``'s schema), fills it with a synthetic
population (customers with attributes, tags and locales; phone/email/Telegram/Viber identities; SMS
marketing consent; order events) by bulk insert, and then times:

- **insert**: the raw insert rate of that fill (rows/s over all tables): the database's own speed on
  this machine, printed next to every figure;
- **order summaries**: the per-customer order summaries rebuilt from the order events
  (``rebuild_order_summaries``, what migration 0014 does for an existing database; a live hub keeps
  them as orders are recorded);
- **bare count**: ``SELECT count(*) FROM customers WHERE merged_into_id IS NULL``: the floor any
  segment count sits on;
- **segments**: ``Segments.count`` (the code the API and campaigns use) for a set of typical
  segments, each the best of ``--repeat`` runs, with its ratio to the bare count; for segments
  about orders also the time when the order figures are aggregated from the events instead of read
  from the summaries (how it was before them), and both counts must agree.

Target (from the issue): a segment count over 1,000,000 customers in < 2 s on both backends.

    python bench/segments.py                       # 1,000,000 customers, both backends
    python bench/segments.py --quick               # 20,000 customers, smoke run
    python bench/segments.py --backends sqlite --customers 200000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from crm_core.models import Customer  # noqa: E402
from crm_core.segments import Segments, rebuild_order_summaries  # noqa: E402
from hub.migrate import upgrade  # noqa: E402
from inbox.segment_facts import SEGMENT_FACTS  # noqa: E402

PG_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
TARGET_SECONDS = 2.0
NOW = datetime.now(UTC).replace(microsecond=0)
CITIES = ["Madrid", "Sevilla", "Valencia", "Kyiv", "Lviv", "London", "Bilbao", "Malaga", "Odesa", "Porto"]
LOCALES = ["es", "es-AR", "es-ES", "en", "en-GB", "uk", None]

SEGMENTS: list[tuple[str, list[dict[str, Any]]]] = [
    ("tag + language", [{"tag": "vip"}, {"locale": "es"}]),
    (
        "number and text attributes",
        [{"attribute": "age", "gte": 25, "lt": 35}, {"attribute": "city", "eq": "Madrid"}],
    ),
    ("birthday in the next 7 days", [{"attribute": "birthday", "birthday": "next 7 days"}]),
    (
        "SMS marketing consent + phone",
        [{"consent": {"channel": "sms", "purpose": "marketing"}}, {"channel": "phone"}],
    ),
    ("2+ orders in 90 days", [{"event": "order.created", "within": "90 days", "count": {"gte": 2}}]),
    (
        "RFM: LTV >= 300, last order 60+ days ago",
        [{"ltv": {"gte": 300}}, {"days_since_last_order": {"gte": 60}}],
    ),
    ("average order over 150, or 4+ orders", [{"any": [{"aov": {"gt": 150}}, {"orders": {"gte": 4}}]}]),
    ("never ordered", [{"no_event": "order.created"}]),
    (
        "campaign audience: any/not, consent, channels",
        [
            {"consent": {"channel": "sms", "purpose": "marketing"}},
            {"any": [{"channel": "telegram"}, {"channel": "viber"}]},
            {"not": {"tag": "churned"}},
            {"no_event": "order.created", "within": "30 days"},
        ],
    ),
]


# -- the population ----------------------------------------------------------------------------------


def _when(rng: random.Random, days: int) -> datetime:
    return NOW - timedelta(seconds=rng.randrange(days * 86400))


def population(count: int, seed: int = 7) -> Iterator[dict[str, list[tuple[Any, ...]]]]:
    """Rows per table in chunks of 10,000 customers (ids 1..count)."""
    rng = random.Random(seed)
    chunk = 10_000
    for start in range(1, count + 1, chunk):
        rows: dict[str, list[tuple[Any, ...]]] = {
            "customers": [],
            "identities": [],
            "consents": [],
            "customer_events": [],
        }
        for cid in range(start, min(start + chunk, count + 1)):
            tags = [t for t, p in (("vip", 0.1), ("newsletter", 0.4), ("churned", 0.05)) if rng.random() < p]
            born = date(1950, 1, 1) + timedelta(days=rng.randrange(20_000))
            attributes = {
                "city": rng.choice(CITIES),
                "age": rng.randrange(18, 80),
                "birthday": born.isoformat(),
            }
            created = _when(rng, 1000)
            rows["customers"].append(
                (
                    cid,
                    f"Customer {cid}",
                    rng.choice(LOCALES),
                    json.dumps(attributes),
                    json.dumps(tags),
                    created,
                )
            )
            if rng.random() < 0.7:
                rows["identities"].append((cid, "phone", f"+3460{cid:07d}", created))
            if rng.random() < 0.6:
                rows["identities"].append((cid, "email", f"c{cid}@example.com", created))
            if rng.random() < 0.3:
                rows["identities"].append((cid, "telegram", str(10_000_000 + cid), created))
            if rng.random() < 0.2:
                rows["identities"].append((cid, "viber", f"v{cid}", created))
            if rng.random() < 0.5:
                rows["consents"].append((cid, "sms", "marketing", rng.random() < 0.8, created))
            if rng.random() < 0.4:
                for _ in range(rng.randrange(1, 5)):
                    amount = round(rng.uniform(5, 400), 2)
                    rows["customer_events"].append(
                        (cid, "order.created", json.dumps({"amount": amount}), _when(rng, 730))
                    )
        yield rows


COLUMNS = {
    "customers": ("id", "display_name", "locale", "attributes", "tags", "created_at"),
    "identities": ("customer_id", "kind", "address", "created_at"),
    "consents": ("customer_id", "channel", "purpose", "granted", "changed_at"),
    "customer_events": ("customer_id", "kind", "payload", "occurred_at"),
}
# Columns the bulk rows leave to their defaults.
FILLED = {
    "customers": {"timezone": None, "merged_into_id": None, "updated_at": "created_at"},
    "identities": {"display_name": None, "verified": True, "source": "bench"},
    "consents": {"source": "bench"},
    "customer_events": {"source": "bench"},
}


def _sqlite_time(value: datetime) -> str:
    # The text SQLAlchemy's SQLite DateTime writes (naive UTC).
    return value.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def fill_sqlite(path: Path, count: int) -> tuple[int, float]:
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    total = 0
    started = time.perf_counter()
    for chunk in population(count):
        for table, rows in chunk.items():
            columns, extra = COLUMNS[table], FILLED[table]
            names = [*columns, *extra]
            values = []
            for row in rows:
                record = dict(zip(columns, row, strict=True))
                for key, default in extra.items():
                    record[key] = record[default] if default in columns else default
                values.append(
                    tuple(_sqlite_time(v) if isinstance(v, datetime) else v for v in record.values())
                )
            placeholders = ", ".join("?" for _ in names)
            connection.executemany(
                f"INSERT INTO {table} ({', '.join(names)}) VALUES ({placeholders})", values
            )
            total += len(values)
        connection.commit()
    seconds = time.perf_counter() - started
    connection.execute("ANALYZE")
    connection.commit()
    connection.close()
    return total, seconds


async def fill_postgres(url: str, count: int) -> tuple[int, float]:
    import asyncpg

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    total = 0
    started = time.perf_counter()
    try:
        for chunk in population(count):
            for table, rows in chunk.items():
                columns, extra = COLUMNS[table], FILLED[table]
                names = [*columns, *extra]
                records = []
                for row in rows:
                    record = dict(zip(columns, row, strict=True))
                    for key, default in extra.items():
                        record[key] = record[default] if default in columns else default
                    records.append(tuple(record.values()))
                await connection.copy_records_to_table(table, records=records, columns=names)
                total += len(records)
        seconds = time.perf_counter() - started
        await connection.execute("SELECT setval('customers_id_seq', (SELECT max(id) FROM customers))")
        await connection.execute("ANALYZE")
    finally:
        await connection.close()
    return total, seconds


# -- measuring ---------------------------------------------------------------------------------------


async def best_of(repeat: int, work: Any) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = await work()
        best = min(best, time.perf_counter() - started)
    return best, result


async def summarise(engine: AsyncEngine) -> float:
    """Rebuild every customer's order summary from the events; the seconds it took."""
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    started = time.perf_counter()
    async with sessions() as session, session.begin():
        await rebuild_order_summaries(session)
    seconds = time.perf_counter() - started
    async with engine.connect() as connection:
        await connection.execute(text("ANALYZE order_summaries"))
        await connection.commit()
    return seconds


def _about_orders(conditions: Any) -> bool:
    return any(
        key in json.dumps(conditions) for key in ('"ltv"', '"orders"', '"aov"', "last_order", "order.created")
    )


Result = tuple[str, float, int, float | None]  # title, seconds, matched, seconds from the events


async def measure(engine: AsyncEngine, repeat: int) -> list[Result]:
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    segments = Segments(facts=SEGMENT_FACTS)
    from_events = Segments(facts=SEGMENT_FACTS, order_summaries=False)
    results: list[Result] = []
    async with sessions() as session:

        async def bare() -> int:
            statement = select(func.count()).select_from(Customer).where(Customer.merged_into_id.is_(None))  # type: ignore[union-attr]
            return int((await session.execute(statement)).scalar_one())

        seconds, total = await best_of(repeat, bare)
        results.append(("bare count(*)", seconds, total, None))
        for title, conditions in SEGMENTS:
            definition = segments.parse({"id": "bench", "name": title, "conditions": conditions})

            async def count(definition: Any = definition, segments: Segments = segments) -> int:
                return await segments.count(session, definition, now=NOW)

            seconds, matched = await best_of(repeat, count)
            before = None
            if _about_orders(conditions):
                before, again = await best_of(repeat, lambda: count(segments=from_events))
                if again != matched:
                    raise SystemExit(f"{title}: {matched} from the order summaries, {again} from the events")
            results.append((title, seconds, matched, before))
    return results


async def run_backend(backend: str, customers: int, repeat: int) -> bool:
    with tempfile.TemporaryDirectory(prefix="omnihub-bench-") as folder:
        database = f"bench_segments_{uuid.uuid4().hex[:8]}"
        if backend == "sqlite":
            url = f"sqlite+aiosqlite:///{Path(folder) / 'hub.db'}"
            await asyncio.to_thread(upgrade, url)
            rows, seconds = fill_sqlite(Path(folder) / "hub.db", customers)
        else:
            admin = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
            async with admin.connect() as connection:
                await connection.execute(text(f'CREATE DATABASE "{database}"'))
            url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{database}"
            await asyncio.to_thread(upgrade, url)
            rows, seconds = await fill_postgres(url, customers)
        engine = create_async_engine(url, poolclass=NullPool)
        try:
            summary_seconds = await summarise(engine)
            results = await measure(engine, repeat)
        finally:
            await engine.dispose()
            if backend == "postgres":
                async with admin.connect() as connection:
                    await connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
                await admin.dispose()
    print(f"\n{backend}: {customers:,} customers, {rows:,} rows inserted in {seconds:.1f} s")
    print(f"  raw insert rate: {rows / seconds:,.0f} rows/s")
    print(f"  order summaries rebuilt from the events in {summary_seconds:.1f} s")
    bare = results[0][1]
    ok = True
    target = f"target < {TARGET_SECONDS:.0f} s"
    print(f"  {'query':<48} {'seconds':>8} {'x bare':>7} {'matched':>10}  {target:<12} {'from events':>11}")
    for title, secs, matched, before in results:
        verdict = "" if title == "bare count(*)" else ("met" if secs < TARGET_SECONDS else "NOT MET")
        ok = ok and verdict != "NOT MET"
        earlier = f"{before:11.3f}" if before is not None else ""
        print(f"  {title:<48} {secs:8.3f} {secs / bare:7.1f} {matched:10,}  {verdict:<12} {earlier}")
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backends", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per query; the best counts")
    parser.add_argument("--quick", action="store_true", help="20,000 customers, one run per query")
    options = parser.parse_args(argv)
    customers, repeat = (20_000, 1) if options.quick else (options.customers, options.repeat)
    met = True
    for backend in options.backends.split(","):
        met = asyncio.run(run_backend(backend.strip(), customers, repeat)) and met
    print("\nall segment counts within target" if met else "\nsome segment counts missed the target")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

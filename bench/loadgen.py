"""The load generator of bench/ingest.py, run as its own process so it does not share a CPU core's
time slice with the orchestrator.

It starts web chat visitor sessions (``POST /webchat/{account}/session``, untimed), then sends their
messages to ``POST /webhooks/webchat/{account}`` over keep-alive HTTP/1.1 connections with an aiohttp
async client on uvloop. It prints ``sessions-ready`` on a line of its own once the sessions are up
(the orchestrator starts its CPU accounting there), then one JSON object with the acknowledge
latencies and its own CPU time (so the report can show the client is not the bottleneck).

The client is aiohttp rather than httpx: on this kind of machine httpx 0.28 spent about 4 ms of CPU
per request at 48 concurrent connections (its pool does work per request that grows with the number
of connections) against aiohttp's 0.16 ms, so an httpx client would have been the bottleneck.

Two modes:

- closed loop (no ``--rate``): ``--concurrency`` workers each send the next message as soon as the
  previous one is acknowledged: the peak rate;
- open loop (``--rate R``): message i is due at ``i / R`` seconds, whatever the server does; its
  latency is counted from when it was due, so a stalled server cannot hide its queue (no coordinated
  omission).

The workload: ``--multi-share`` of the messages come from visitors who send ``--per-visitor``
messages each (spread over the run, so their later messages find an open conversation); the rest
come from one-message visitors, so threading creates many customers and conversations.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

import aiohttp
import uvloop

TEXTS = (
    "Hi! Where is my order #{n}?",
    "Hello, I need to change the delivery address for order {n}.",
    "Do you ship to Lviv? I'd like to order {n} items.",
    "Hola, ¿tienen la talla {n} en azul?",
    "My payment went through twice (ref {n}), can you check?",
    "Thanks, that helps. One more question about invoice {n}.",
)
READY_LINE = "sessions-ready"
NAMES = ("Olena", "Marco", "Ana", "Taras", None, None)
LOCALES = ("en", "es", "uk", None)


@dataclass(frozen=True)
class Visitor:
    visitor_id: str
    token: str
    name: str | None
    locale: str | None


@dataclass(frozen=True)
class Outgoing:
    """One prepared request: who sends it and its encoded body."""

    visitor: Visitor
    body: bytes


@dataclass
class Tally:
    """Outcomes and acknowledge latencies of one run."""

    latencies_ms: list[float] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    last_ack_at: float = 0.0

    def record(self, outcome: str, latency_ms: float) -> None:
        self.outcomes[outcome] += 1
        self.latencies_ms.append(latency_ms)
        self.last_ack_at = time.time()


def messages_per_visitor(messages: int, multi_share: float, per_visitor: int) -> list[int]:
    """How many messages each visitor sends: a few chatty visitors, the rest send one."""
    chatty = int(messages * multi_share) // per_visitor if per_visitor > 1 else 0
    return [per_visitor] * chatty + [1] * (messages - chatty * per_visitor)


def schedule(counts: list[int], rng: random.Random) -> list[tuple[int, int]]:
    """(visitor index, message number) pairs in send order. Round k holds every visitor's k-th
    message, shuffled, so a chatty visitor's messages are spread over the run in order."""
    order: list[tuple[int, int]] = []
    for round_number in range(max(counts, default=0)):
        batch = [(v, round_number) for v, count in enumerate(counts) if count > round_number]
        rng.shuffle(batch)
        order.extend(batch)
    return order


def message_body(tag: str, index: int, number: int, visitor: Visitor) -> bytes:
    """The widget's JSON for one message; the first one carries the visitor's name and locale."""
    body: dict[str, str] = {
        "type": "message",
        "id": f"{tag}-{index:07d}",
        "text": TEXTS[index % len(TEXTS)].format(n=1000 + index),
    }
    if number == 0 and visitor.name:
        body["name"] = visitor.name
    if number == 0 and visitor.locale:
        body["locale"] = visitor.locale
    return json.dumps(body, ensure_ascii=False).encode()


async def start_sessions(
    client: aiohttp.ClientSession, account: str, count: int, concurrency: int
) -> list[Visitor]:
    """``count`` visitors, each with the id and token the server handed out."""
    semaphore = asyncio.Semaphore(concurrency)

    async def one(index: int) -> Visitor:
        async with semaphore, client.post(f"/webchat/{account}/session", json={}) as response:
            response.raise_for_status()
            data = await response.json()
        return Visitor(
            data["visitor_id"], data["token"], NAMES[index % len(NAMES)], LOCALES[index % len(LOCALES)]
        )

    return list(await asyncio.gather(*(one(i) for i in range(count))))


async def send(client: aiohttp.ClientSession, url: str, item: Outgoing, due: float, tally: Tally) -> None:
    """Send one message; its latency runs from ``due`` (perf_counter) to the acknowledgement."""
    headers = {
        "content-type": "application/json",
        "x-webchat-visitor": item.visitor.visitor_id,
        "x-webchat-token": item.visitor.token,
    }
    try:
        async with client.post(url, data=item.body, headers=headers) as response:
            await response.read()
            outcome = str(response.status)
    except (aiohttp.ClientError, TimeoutError) as exc:
        outcome = type(exc).__name__
    tally.record(outcome, (time.perf_counter() - due) * 1000)


async def closed_loop(
    client: aiohttp.ClientSession, url: str, items: list[Outgoing], concurrency: int, tally: Tally
) -> None:
    """``concurrency`` workers, each sending its next message once the previous one is answered."""
    queue = iter(items)

    async def worker() -> None:
        for item in queue:
            await send(client, url, item, time.perf_counter(), tally)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def open_loop(
    client: aiohttp.ClientSession, url: str, items: list[Outgoing], rate: float, tally: Tally
) -> None:
    """Message i is due ``i / rate`` seconds after the start, answered or not."""
    start = time.perf_counter()
    tasks = []
    for index, item in enumerate(items):
        due = start + index / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(client, url, item, due, tally)))
    await asyncio.gather(*tasks)


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, round(fraction * len(sorted_values) + 0.5))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def summary(tally: Tally, started_at: float, wall: float, cpu: float) -> dict[str, object]:
    """The JSON the orchestrator reads."""
    ordered = sorted(tally.latencies_ms)
    count = len(ordered)
    return {
        "sent": count,
        "outcomes": dict(tally.outcomes),
        "started_at": started_at,
        "last_ack_at": tally.last_ack_at,
        "wall_seconds": wall,
        "ack_per_second": count / wall if wall > 0 else 0.0,
        "latency_ms": {
            "p50": percentile(ordered, 0.50),
            "p90": percentile(ordered, 0.90),
            "p99": percentile(ordered, 0.99),
            "max": ordered[-1] if ordered else float("nan"),
        },
        "client_cpu_seconds": cpu,
    }


async def run(args: argparse.Namespace) -> dict[str, object]:
    """Start the sessions, then send every message and tally the answers."""
    rng = random.Random(args.seed)
    counts = messages_per_visitor(args.messages, args.multi_share, args.per_visitor)
    connector = aiohttp.TCPConnector(limit=args.connections)
    timeout = aiohttp.ClientTimeout(total=args.request_timeout)
    async with aiohttp.ClientSession(args.base_url, connector=connector, timeout=timeout) as client:
        visitors = await start_sessions(client, args.account, len(counts), args.concurrency)
        items = [
            Outgoing(visitors[v], message_body(args.tag, i, number, visitors[v]))
            for i, (v, number) in enumerate(schedule(counts, rng))
        ]
        print(READY_LINE, flush=True)
        url = f"/webhooks/webchat/{args.account}"
        tally = Tally()
        started_at, began, cpu = time.time(), time.perf_counter(), time.process_time()
        if args.rate:
            await open_loop(client, url, items, args.rate, tally)
        else:
            await closed_loop(client, url, items, args.concurrency, tally)
        wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    return summary(tally, started_at, wall, cpu)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Send web chat messages to a hub (or the baseline).")
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--account", default="site")
    parser.add_argument("--tag", default="m", help="message id prefix, unique per run")
    parser.add_argument("--messages", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=48, help="closed-loop workers")
    parser.add_argument("--rate", type=float, default=0.0, help="open-loop messages/s (0: closed loop)")
    parser.add_argument("--connections", type=int, default=256, help="connection pool size")
    parser.add_argument("--multi-share", type=float, default=0.4)
    parser.add_argument("--per-visitor", type=int, default=5)
    parser.add_argument("--request-timeout", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=1)
    return parser.parse_args(argv)


def main() -> None:
    args = parse_args()
    result = uvloop.run(run(args))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()

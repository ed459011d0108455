"""The outbox against a provider that misbehaves: 429 with retry-after, 5xx, timeouts, refusals.
The provider is the custom API channel's callback, a real local HTTP server (tests.fakes)."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import delete, select, update

from channels.signing import signed_headers
from crm_core.columns import utcnow
from hub.outbound.dispatcher import MAX_ATTEMPTS, backoff_delay
from hub.outbound.models import OutboxItem, OutboxStatus, RateLimitState
from hub.runtime import Hub
from inbox.models import Message, MessageStatus, Role
from tests.conftest import HubFactory, agent_headers, client_for, drain
from tests.fakes.callback_server import CallbackServer, Scripted

SECRET = "shared-secret-for-tests"


async def api_hub(make_hub: HubFactory, server: CallbackServer) -> Hub:
    return await make_hub(
        {"app": {"type": "api", "secret": SECRET, "callback_url": server.url, "rate_per_second": 1000}}
    )


async def customer_writes(http: httpx.AsyncClient, text: str, event_id: str, user: str = "user-1") -> None:
    body = json.dumps(
        {"id": event_id, "type": "message", "from": user, "name": "Ivan", "text": text}
    ).encode()
    response = await http.post(
        "/webhooks/api/app",
        content=body,
        headers={"Content-Type": "application/json", **signed_headers(SECRET, body)},
    )
    assert response.status_code == 200, response.text


async def make_due(hub: Hub) -> None:
    """Skip the backoff wait: the test is about what happens, not about waiting."""
    async with hub.db.transaction() as session:
        await session.execute(
            update(OutboxItem)
            .where(OutboxItem.status == OutboxStatus.PENDING)
            .values(next_attempt_at=utcnow())
        )


async def outbox_rows(hub: Hub) -> list[OutboxItem]:
    async with hub.db.session() as session:
        return list((await session.execute(select(OutboxItem).order_by(OutboxItem.id))).scalars())


class TestOutboxFaults:
    async def test_429_is_retried_after_retry_after_then_delivered(self, make_hub: HubFactory) -> None:
        async with CallbackServer(SECRET) as server:
            hub = await api_hub(make_hub, server)
            server.then(Scripted(429, headers={"Retry-After": "30"}))
            async with client_for(hub) as http:
                await customer_writes(http, "hello", "evt-1")
            before = utcnow()
            await drain(hub)
            [row] = await outbox_rows(hub)
            assert row.status is OutboxStatus.PENDING
            assert "429" in (row.last_error or "")
            assert row.next_attempt_at >= before + timedelta(seconds=29)  # retry-after honoured
            assert len(server.received) == 1 and server.accepted == []

            async with hub.db.session() as session:
                [paused] = (await session.execute(select(RateLimitState))).scalars().all()
            assert paused.key == "account:app" and paused.next_at >= time.time() + 29  # every worker waits
            await make_due(hub)
            # Let the test not wait the 30 s out.
            async with hub.db.transaction() as session:
                await session.execute(delete(RateLimitState))
            await drain(hub)
            [row] = await outbox_rows(hub)
            assert row.status is OutboxStatus.SENT and row.attempts == 2
            assert row.provider_message_id == "ext-1"
            assert [b["text"] for b in server.accepted] == [row.payload["text"]]

    async def test_5xx_and_timeouts_retry_then_deliver(self, make_hub: HubFactory) -> None:
        async with CallbackServer(SECRET) as server:
            hub = await api_hub(make_hub, server)
            server.then(Scripted(503), Scripted(200, delay=1.5), Scripted(500))
            # A short client timeout, so the slow answer above counts as a timeout.
            hub.accounts.get("app").adapter._client = httpx.AsyncClient(timeout=0.5)  # type: ignore[attr-defined]
            async with client_for(hub) as http:
                await customer_writes(http, "hello", "evt-1")
            await drain(hub)
            for expected_error in ("503", "timed out", "500"):
                [row] = await outbox_rows(hub)
                assert row.status is OutboxStatus.PENDING
                assert expected_error in (row.last_error or ""), row.last_error
                await make_due(hub)
                await drain(hub)
            [row] = await outbox_rows(hub)
            assert row.status is OutboxStatus.SENT and row.attempts == 4
            async with hub.db.session() as session:
                message = await session.get(Message, row.message_id)
            assert message is not None and message.status is MessageStatus.SENT
            # A timeout is ambiguous: the provider may have acted on the request we gave up on.
            # Every attempt carries the same id, so the receiving side can drop the repeat.
            assert len(server.received) == 4
            assert {body["id"] for body in server.received} == {row.idempotency_key}

    async def test_permanent_refusal_marks_the_message_failed_with_the_reason(
        self, make_hub: HubFactory
    ) -> None:
        async with CallbackServer(SECRET) as server:
            hub = await api_hub(make_hub, server)
            server.then(Scripted(400, body={"error": "user blocked the app"}))
            async with client_for(hub) as http:
                await customer_writes(http, "hello", "evt-1")
                await drain(hub)
                [row] = await outbox_rows(hub)
                assert row.status is OutboxStatus.FAILED
                headers, _ = await agent_headers(hub, Role.AGENT)
                conversation = (await http.get("/api/v1/conversations", headers=headers)).json()[0]
                messages = (
                    await http.get(f"/api/v1/conversations/{conversation['id']}/messages", headers=headers)
                ).json()
                failed = messages[-1]
                assert failed["status"] == "failed"
                assert "user blocked the app" in failed["failure_reason"]

                # The agent presses retry; this time the provider accepts.
                retried = await http.post(
                    f"/api/v1/conversations/{conversation['id']}/messages/{failed['id']}/retry",
                    headers=headers,
                )
                assert retried.status_code == 200 and retried.json()["status"] == "queued"
                await drain(hub)
                messages = (
                    await http.get(f"/api/v1/conversations/{conversation['id']}/messages", headers=headers)
                ).json()
                assert messages[-1]["status"] == "sent"
                assert messages[-1]["failure_reason"] is None

    async def test_gives_up_after_max_attempts(self, make_hub: HubFactory) -> None:
        async with CallbackServer(SECRET) as server:
            hub = await api_hub(make_hub, server)
            server.default = Scripted(502)
            async with client_for(hub) as http:
                await customer_writes(http, "hello", "evt-1")
            for _ in range(MAX_ATTEMPTS):
                await drain(hub)
                await make_due(hub)
            [row] = await outbox_rows(hub)
            assert row.status is OutboxStatus.FAILED
            assert row.attempts == MAX_ATTEMPTS
            assert f"gave up after {MAX_ATTEMPTS} attempts" in (row.last_error or "")
            assert len(server.received) == MAX_ATTEMPTS

    async def test_agent_reply_with_idempotency_key_is_sent_once(self, make_hub: HubFactory) -> None:
        async with CallbackServer(SECRET) as server:
            hub = await api_hub(make_hub, server)
            async with client_for(hub) as http:
                await customer_writes(http, "hello", "evt-1")
                await drain(hub)
                headers, _ = await agent_headers(hub)
                conversation = (await http.get("/api/v1/conversations", headers=headers)).json()[0]
                url = f"/api/v1/conversations/{conversation['id']}/messages"
                first = await http.post(
                    url, json={"text": "answer"}, headers={**headers, "Idempotency-Key": "k-1"}
                )
                again = await http.post(
                    url, json={"text": "answer"}, headers={**headers, "Idempotency-Key": "k-1"}
                )
                assert first.json()["id"] == again.json()["id"]
                await drain(hub)
            assert [b["text"] for b in server.accepted].count("answer") == 1

    async def test_signed_callbacks_carry_the_conversation(self, make_hub: HubFactory) -> None:
        async with CallbackServer(SECRET) as server:
            hub = await api_hub(make_hub, server)
            async with client_for(hub) as http:
                await customer_writes(http, "hello", "evt-1", user="u-77")
            await drain(hub)
            assert server.bad_signatures == 0
            [body] = server.accepted
            assert body["to"] == "app.u-77"
            assert body["metadata"]["conversation_id"] >= 1

    async def test_forged_api_webhook_is_rejected(self, make_hub: HubFactory) -> None:
        async with CallbackServer(SECRET) as server:
            hub = await api_hub(make_hub, server)
            body = b'{"id": "evt-1", "from": "u", "text": "hi"}'
            async with client_for(hub) as http:
                forged = await http.post(
                    "/webhooks/api/app", content=body, headers=signed_headers("wrong-secret", body)
                )
                stale = await http.post(
                    "/webhooks/api/app",
                    content=body,
                    headers=signed_headers(SECRET, body, int(time.time()) - 3600),
                )
            assert forged.status_code == 401 and "does not match" in forged.json()["error"]["message"]
            assert (
                stale.status_code == 401 and "away from the hub's clock" in stale.json()["error"]["message"]
            )


def test_backoff_grows_exponentially_with_jitter_and_honours_retry_after() -> None:
    import random

    rng = random.Random(7)
    delays = [backoff_delay(attempt, rng=rng) for attempt in range(1, 8)]
    for attempt, delay in enumerate(delays, start=1):
        assert 0.5 * 2 ** (attempt - 1) <= delay <= 2 ** (attempt - 1)
    assert backoff_delay(1, retry_after=42.0, rng=rng) == 42.0
    assert backoff_delay(30, rng=rng) <= 300


@pytest.mark.parametrize("workers", [2])
async def test_two_dispatchers_never_send_the_same_row(make_hub: HubFactory, workers: int) -> None:
    """Concurrent dispatchers (two processes' worth, on the same database) share the outbox."""
    import asyncio

    async with CallbackServer(SECRET) as server:
        hubs = [await api_hub(make_hub, server) for _ in range(workers)]
        for index, hub in enumerate(hubs):
            hub.dispatcher.worker_id = f"worker-{index}"
            hub.dispatcher.batch_size = 5
        async with client_for(hubs[0]) as http:
            for n in range(40):
                await customer_writes(http, f"message {n}", f"evt-{n}", user=f"user-{n}")
        while await hubs[0].processor.process_pending():
            pass

        async def run(hub: Hub) -> None:
            while await hub.dispatcher.dispatch_due():
                pass

        await asyncio.gather(*(run(h) for h in hubs))
        rows = await outbox_rows(hubs[0])
        assert {r.status for r in rows} == {OutboxStatus.SENT}
        assert len(rows) == 40
        keys = [b["id"] for b in server.accepted]
        assert sorted(keys) == sorted(set(keys)) and len(keys) == 40


async def test_a_row_whose_outcome_cannot_be_recorded_does_not_hold_back_its_batch(
    make_hub: HubFactory,
) -> None:
    """Outcomes are recorded many to a transaction; when one row's record fails (here its hook
    raises), the others are recorded one by one and only that row is left to its lease."""
    from datetime import datetime
    from typing import Any

    from channels.contract import OutboundMessage
    from hub.outbound.enqueue import enqueue
    from hub.outbound.hooks import SEND, Verdict

    class Breaks:
        def concerns(self, payload: dict[str, Any]) -> bool:
            return "breaks" in payload["metadata"]

        async def check(self, session: Any, payload: dict[str, Any]) -> Verdict:
            return SEND

        async def sent(
            self, session: Any, payload: dict[str, Any], provider_id: str | None, at: datetime
        ) -> None:
            if payload["metadata"]["breaks"]:
                raise RuntimeError("the hook's own table is gone")

        async def failed(self, session: Any, payload: dict[str, Any], reason: str, at: datetime) -> None:
            pass

        async def dropped(self, session: Any, payload: dict[str, Any], reason: str) -> None:
            pass

    async with CallbackServer(SECRET) as server:
        hub = await api_hub(make_hub, server)
        hub.dispatcher.hooks = (Breaks(),)
        async with hub.db.transaction() as session:
            for n in range(5):
                outbound = OutboundMessage(
                    to=f"user-{n}", text=f"m{n}", idempotency_key=f"k{n}", metadata={"breaks": n == 2}
                )
                await enqueue(session, idempotency_key=f"k{n}", channel_account="app", outbound=outbound)
        assert await hub.dispatcher.dispatch_due() == 5
        rows = await outbox_rows(hub)
        assert [row.status for row in rows] == [OutboxStatus.SENT] * 2 + [OutboxStatus.SENDING] + [
            OutboxStatus.SENT
        ] * 2
        assert len(server.accepted) == 5


async def test_a_request_the_provider_holds_past_the_lease_is_not_sent_again(make_hub: HubFactory) -> None:
    """A running worker keeps extending the claims of what it has under way: another worker does
    not take over a row whose request is still with the provider, however long it holds it."""
    import asyncio

    from hub.outbound.dispatcher import Dispatcher

    async with CallbackServer(SECRET) as server:
        hub = await api_hub(make_hub, server)
        server.then(Scripted(200, delay=2.0))  # four leases long
        async with client_for(hub) as http:
            await customer_writes(http, "hello", "evt-1")
        while await hub.processor.process_pending():
            pass
        holder = Dispatcher(hub.db, hub.accounts, hub.bus, worker_id="holder", lease_seconds=0.5)
        other = Dispatcher(hub.db, hub.accounts, hub.bus, worker_id="other", lease_seconds=0.5)
        running = asyncio.create_task(holder.run())
        for _ in range(200):  # until the provider has the request
            if server.received:
                break
            await asyncio.sleep(0.02)
        taken = 0
        for _ in range(12):  # well past the lease, while the provider still holds it
            taken += await other.dispatch_due()
            await asyncio.sleep(0.1)
        for _ in range(200):
            if server.accepted:
                break
            await asyncio.sleep(0.02)
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        assert taken == 0
        assert [body["text"] for body in server.received] == [server.accepted[0]["text"]]
        [row] = await outbox_rows(hub)
        assert row.status is OutboxStatus.SENT and row.claimed_by == "holder"

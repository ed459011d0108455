"""Regressions for races between processes and edge cases found in review: leases that run out,
concurrent merges and replies, early receipts, forged read receipts, oversized fields."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import asyncpg
from sqlalchemy import func, select, update

from channels.signing import signed_headers
from crm_core.columns import utcnow
from crm_core.consent import has_consent, set_consent
from crm_core.customers import resolve_identity
from crm_core.merge import MergeError, merge_customers, undo_merge
from crm_core.models import Customer, Identity, IdentityKind
from hub.inbound.models import RawEvent, RawEventStatus
from hub.inbound.process import InboundProcessor
from hub.outbound.dispatcher import Dispatcher
from hub.runtime import MERGE_PARTICIPANTS, Hub
from inbox.models import Message, MessageStatus, Role
from tests.conftest import PG_ADMIN_DSN, HubFactory, agent_headers, client_for, drain
from tests.fakes.webchat import Visitor


async def messages(hub: Hub) -> list[Message]:
    async with hub.db.session() as session:
        return list((await session.execute(select(Message).order_by(Message.id))).scalars())


async def test_an_event_whose_lease_ran_out_is_applied_once(hub: Hub) -> None:
    async with client_for(hub) as http:
        visitor = await Visitor.start(http)
        await visitor.say(http, "one")
    slow = InboundProcessor(hub.db, hub.accounts, hub.bus, hub.processor.applier, lease_seconds=0.05)
    other = InboundProcessor(hub.db, hub.accounts, hub.bus, hub.processor.applier, lease_seconds=0.05)
    [first] = await slow.claim()
    await asyncio.sleep(0.1)  # the slow processor is still busy with earlier events; its lease expires
    [second] = await other.claim()
    assert first == second
    await asyncio.gather(other.process_one(second), slow.process_one(first))
    assert [m.text for m in await messages(hub) if m.direction.value == "inbound"] == ["one"]


async def test_a_row_whose_lease_ran_out_while_waiting_is_not_sent_twice(hub: Hub) -> None:
    async with client_for(hub) as http:
        visitor = await Visitor.start(http)
        await visitor.say(http, "one")
        await hub.processor.process_pending()
        headers, _ = await agent_headers(hub, Role.AGENT)
        [conversation] = (await http.get("/api/v1/conversations", headers=headers)).json()
        for n in range(3):
            await http.post(
                f"/api/v1/conversations/{conversation['id']}/messages",
                json={"text": f"r{n}"},
                headers=headers,
            )
    adapter = hub.accounts.get("site").adapter
    original, sent = adapter.send, []

    async def slow_send(message):  # type: ignore[no-untyped-def]
        await asyncio.sleep(0.3)
        sent.append(message.idempotency_key)
        return await original(message)

    object.__setattr__(adapter, "send", slow_send)
    first = Dispatcher(hub.db, hub.accounts, hub.bus, worker_id="A", lease_seconds=0.5, concurrency=1)
    second = Dispatcher(hub.db, hub.accounts, hub.bus, worker_id="B", lease_seconds=30)

    async def second_later() -> None:
        await asyncio.sleep(0.65)  # A's leases on the rows it has not reached yet have run out
        await second.dispatch_due()

    await asyncio.gather(first.dispatch_due(), second_later())
    assert len(sent) == 4 and len(set(sent)) == 4, sent  # greeting + 3 replies, each once


async def test_the_same_idempotency_key_at_once_queues_one_reply(hub: Hub) -> None:
    async with client_for(hub) as http:
        visitor = await Visitor.start(http)
        await visitor.say(http, "one")
        await drain(hub)
        headers, _ = await agent_headers(hub, Role.AGENT)
        [conversation] = (await http.get("/api/v1/conversations", headers=headers)).json()
        url = f"/api/v1/conversations/{conversation['id']}/messages"
        keyed = {**headers, "Idempotency-Key": "k1"}
        one, two = await asyncio.gather(
            http.post(url, json={"text": "once"}, headers=keyed),
            http.post(url, json={"text": "once"}, headers=keyed),
        )
        assert one.json()["id"] == two.json()["id"]
    assert [m.text for m in await messages(hub)].count("once") == 1


async def test_concurrent_merges_leave_nothing_on_a_tombstone(hub: Hub) -> None:
    async with hub.db.transaction() as session:
        a, b, c = [
            (
                await resolve_identity(
                    session, IdentityKind.EMAIL, f"c{n}@example.com", verified=True, source="t"
                )
            ).customer.id
            for n in range(3)
        ]
    first_done = asyncio.Event()
    release = asyncio.Event()

    async def merge_b_into_a() -> None:
        async with hub.db.transaction() as session:
            await merge_customers(session, a, b, by="agent 1", participants=MERGE_PARTICIPANTS)
            first_done.set()
            await release.wait()

    async def merge_c_into_b() -> None:
        await first_done.wait()
        try:
            async with hub.db.transaction() as session:
                await merge_customers(session, b, c, by="agent 2", participants=MERGE_PARTICIPANTS)
        except MergeError as exc:  # refused: b became a tombstone meanwhile
            assert "already merged" in str(exc)

    async def releaser() -> None:
        await first_done.wait()
        await asyncio.sleep(0.3)
        release.set()

    if hub.db.is_sqlite:
        # One writer at a time: the second merge simply runs after the first and is refused.
        await asyncio.gather(merge_b_into_a(), releaser())
        first_done.set()
        await merge_c_into_b()
    else:
        await asyncio.gather(merge_b_into_a(), merge_c_into_b(), releaser())
    async with hub.db.session() as session:
        tombstone = await session.get(Customer, b)
        left = list((await session.execute(select(Identity).where(Identity.customer_id == b))).scalars())
    assert tombstone is not None and tombstone.merged_into_id == a
    assert left == []


async def test_undo_keeps_a_consent_decided_after_the_merge(hub: Hub) -> None:
    earlier = utcnow() - timedelta(days=2)
    async with hub.db.transaction() as session:
        a = (
            await resolve_identity(session, IdentityKind.PHONE, "+380501111111", verified=True, source="t")
        ).customer
        b = (
            await resolve_identity(session, IdentityKind.EMAIL, "b@example.com", verified=True, source="t")
        ).customer
        await set_consent(session, a.id, "sms", "marketing", True, source="web form", at=earlier)
        await set_consent(
            session, b.id, "sms", "marketing", False, source="STOP", at=earlier + timedelta(days=1)
        )
        record = await merge_customers(session, a.id, b.id, by="t", participants=MERGE_PARTICIPANTS)
    async with hub.db.transaction() as session:
        await set_consent(session, a.id, "sms", "marketing", False, source="sms STOP keyword")
    async with hub.db.transaction() as session:
        await undo_merge(session, record.id, by="t", participants=MERGE_PARTICIPANTS)
    async with hub.db.session() as session:
        assert await has_consent(session, a.id, "sms", "marketing") is False


async def test_a_receipt_that_beats_the_sent_commit_is_applied_later(hub: Hub) -> None:
    async with client_for(hub) as http:
        visitor = await Visitor.start(http)
        await visitor.say(http, "one")
        await hub.processor.process_pending()
        adapter = hub.accounts.get("site").adapter
        original = adapter.send

        async def send_and_read_at_once(message):  # type: ignore[no-untyped-def]
            result = await original(message)  # the visitor's screen shows it and reports it read
            receipt = {"type": "read", "id": "early-read-1", "message_ids": [result.provider_message_ids[0]]}
            assert (
                await http.post("/webhooks/webchat/site", json=receipt, headers=visitor.headers)
            ).status_code == 200
            await hub.processor.process_pending()
            return result

        object.__setattr__(adapter, "send", send_and_read_at_once)
        await hub.dispatcher.dispatch_due()
    async with hub.db.transaction() as session:
        await session.execute(update(RawEvent).values(claimed_until=None))  # skip the retry backoff
    await drain(hub)
    outbound = [m for m in await messages(hub) if m.direction.value == "outbound"]
    assert [m.status for m in outbound] == [MessageStatus.READ]


async def test_a_receipt_for_an_unknown_message_is_dropped_after_a_few_tries(hub: Hub) -> None:
    async with client_for(hub) as http:
        visitor = await Visitor.start(http)
        receipt = {"type": "read", "id": "unknown-read", "message_ids": ["webchat:message:999"]}
        await http.post("/webhooks/webchat/site", json=receipt, headers=visitor.headers)
    for _ in range(6):
        await hub.processor.process_pending()
        async with hub.db.transaction() as session:
            await session.execute(update(RawEvent).values(claimed_until=None))
    async with hub.db.session() as session:
        raw = (await session.execute(select(RawEvent))).scalars().one()
    assert raw.status is RawEventStatus.PROCESSED and "webchat:message:999" in (raw.error or "")


async def test_a_visitor_cannot_mark_another_visitors_messages_read(hub: Hub) -> None:
    async with client_for(hub) as http:
        alice = await Visitor.start(http)
        mallory = await Visitor.start(http)
        await alice.say(http, "hi")
        await drain(hub)
        [greeting] = [m for m in await messages(hub) if m.direction.value == "outbound"]
        receipt = {"type": "read", "id": "forged-read", "message_ids": [greeting.provider_message_id]}
        assert (
            await http.post("/webhooks/webchat/site", json=receipt, headers=mallory.headers)
        ).status_code == 200
        for _ in range(5):
            await drain(hub)
            async with hub.db.transaction() as session:
                await session.execute(update(RawEvent).values(claimed_until=None))
    [greeting] = [m for m in await messages(hub) if m.direction.value == "outbound"]
    assert greeting.status is MessageStatus.SENT


async def test_fields_too_long_for_the_record_are_refused_up_front(make_hub: HubFactory) -> None:
    hub = await make_hub({"site": {"type": "webchat"}, "app": {"type": "api", "secret": "s3cret"}})
    async with client_for(hub) as http:
        visitor = await Visitor.start(http)
        response = await visitor.say(http, "hello", locale="x" * 40)
        assert response.status_code == 400 and "'locale'" in response.json()["error"]["message"]
        for sender, words in (({"phone": "not a phone"}, "phone number"), ("u" * 101, "at most 100")):
            body = json.dumps({"id": "e1", "type": "message", "from": sender, "text": "hi"}).encode()
            response = await http.post(
                "/webhooks/api/app",
                content=body,
                headers={"Content-Type": "application/json", **signed_headers("s3cret", body)},
            )
            assert response.status_code == 400 and words in response.json()["error"]["message"], response.text
        huge = await http.post(
            "/webhooks/api/app",
            content=b"{}",
            headers={"X-Omnihub-Timestamp": "9" * 400, "X-Omnihub-Signature": "sha256=00"},
        )
        assert huge.status_code == 401
    async with hub.db.session() as session:
        assert (await session.execute(select(func.count()).select_from(RawEvent))).scalar_one() == 0


async def test_live_updates_survive_a_dropped_database_connection(hub: Hub) -> None:
    if hub.db.is_sqlite:
        return  # the in-memory bus has no connection to lose
    await hub.bus.publish("inbox", {"type": "ping"})
    pid = hub.bus._notify.get_server_pid()  # type: ignore[attr-defined]
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    await admin.execute("SELECT pg_terminate_backend($1)", pid)
    await admin.close()
    await asyncio.sleep(0.2)
    with hub.bus.subscribe("inbox") as subscription:
        await hub.bus.publish("inbox", {"type": "after"})  # reconnects instead of raising
        await hub.bus.publish("inbox", {"type": "after"})
        got = await subscription.get(5)
    assert got is not None and got.payload["type"] == "after"


async def test_conversation_pages_follow_the_activity_order(hub: Hub) -> None:
    async with client_for(hub) as http:
        visitors = [await Visitor.start(http) for _ in range(5)]
        for visitor in visitors:
            await visitor.say(http, "hello")
        await drain(hub)
        await visitors[0].say(http, "still there?")  # the oldest conversation becomes the most recent
        await drain(hub)
        headers, _ = await agent_headers(hub)
        everything = [c["id"] for c in (await http.get("/api/v1/conversations", headers=headers)).json()]
        paged: list[int] = []
        before = None
        while True:
            query = "/api/v1/conversations?limit=2" + (f"&before_id={before}" if before else "")
            page = [c["id"] for c in (await http.get(query, headers=headers)).json()]
            if not page:
                break
            paged += page
            before = page[-1]
        assert paged == everything and len(everything) == 5

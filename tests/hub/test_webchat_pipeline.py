"""The website chat story through the real pipeline, on SQLite and PostgreSQL: a visitor writes,
the hub stores, threads, greets; an agent reads and replies; the visitor gets the reply."""

from __future__ import annotations

from sqlalchemy import func, select

from crm_core.models import Customer, CustomerEvent, Identity
from hub.inbound.models import RawEvent, RawEventStatus
from hub.outbound.models import OutboxItem, OutboxStatus
from hub.runtime import Hub
from inbox.models import Message, Role
from tests.conftest import agent_headers, client_for, drain
from tests.fakes.webchat import Visitor


async def count(hub: Hub, model: type) -> int:
    async with hub.db.session() as session:
        return (await session.execute(select(func.count()).select_from(model))).scalar_one()


class TestWebchatStory:
    async def test_visitor_writes_bot_greets_agent_replies(self, hub: Hub) -> None:
        async with client_for(hub) as http:
            visitor = await Visitor.start(http)
            response = await visitor.say(http, "Hola, ¿dónde está mi pedido?", name="Olena", locale="es")
            assert response.status_code == 200
            assert response.json() == {"ok": True}
            assert response.headers["x-request-id"]

            # Acknowledged but not processed yet: only the raw event exists.
            assert await count(hub, RawEvent) == 1
            assert await count(hub, Message) == 0

            await drain(hub)
            history = await visitor.history(http)
            assert [(m["direction"], m["author"]) for m in history] == [
                ("inbound", "customer"),
                ("outbound", "bot"),
            ]
            assert history[1]["text"].startswith("¡Hola Olena!")  # the greeting in the customer's locale

            headers, _ = await agent_headers(hub, Role.AGENT)
            conversations = (await http.get("/api/v1/conversations?status=open", headers=headers)).json()
            assert len(conversations) == 1
            conversation = conversations[0]
            assert conversation["customer_name"] == "Olena"
            assert conversation["channel_type"] == "webchat"
            assert conversation["waiting_since"] is not None

            customer = (
                await http.get(f"/api/v1/customers/{conversation['customer_id']}", headers=headers)
            ).json()
            assert customer["locale"] == "es"
            assert [(i["kind"], i["address"], i["verified"]) for i in customer["identities"]] == [
                ("webchat", visitor.visitor_id, True)
            ]
            assert {e["kind"] for e in customer["timeline"]} == {"message.inbound", "message.outbound"}

            reply = await http.post(
                f"/api/v1/conversations/{conversation['id']}/messages",
                json={"text": "Tu pedido sale hoy."},
                headers=headers,
            )
            assert reply.status_code == 201, reply.text
            assert reply.json()["status"] == "queued"
            assert reply.json()["author_kind"] == "agent"
            await drain(hub)

            messages = (
                await http.get(f"/api/v1/conversations/{conversation['id']}/messages", headers=headers)
            ).json()
            assert [m["status"] for m in messages] == ["received", "sent", "sent"]
            assert messages[2]["provider_message_id"].startswith("webchat:")
            assert [m["text"] for m in await visitor.history(http)][-1] == "Tu pedido sale hoy."

            after = (await http.get(f"/api/v1/conversations/{conversation['id']}", headers=headers)).json()
            assert after["first_response_at"] is not None
            assert after["waiting_since"] is None
            assert after["bot_active"] is False

    async def test_read_receipt_moves_status_forward_only(self, hub: Hub) -> None:
        async with client_for(hub) as http:
            visitor = await Visitor.start(http)
            await visitor.say(http, "hi")
            await drain(hub)
            greeting = (await visitor.history(http))[1]
            receipt = {"type": "read", "id": "read-receipt-1", "message_ids": [greeting["provider_id"]]}
            assert (
                await http.post("/webhooks/webchat/site", json=receipt, headers=visitor.headers)
            ).status_code == 200
            await drain(hub)
            async with hub.db.session() as session:
                message = await session.get(Message, greeting["id"])
                assert message is not None and message.status.value == "read" and message.read_at is not None

    async def test_second_message_joins_the_open_conversation(self, hub: Hub) -> None:
        async with client_for(hub) as http:
            visitor = await Visitor.start(http)
            await visitor.say(http, "first")
            await drain(hub)
            await visitor.say(http, "second")
            await drain(hub)
            headers, _ = await agent_headers(hub)
            conversations = (await http.get("/api/v1/conversations", headers=headers)).json()
            assert len(conversations) == 1
            texts = [
                m["text"]
                for m in (
                    await http.get(
                        f"/api/v1/conversations/{conversations[0]['id']}/messages", headers=headers
                    )
                ).json()
            ]
            # One greeting only: the bot greets when a conversation opens, not on every message.
            assert texts[0] == "first" and texts[2] == "second" and len(texts) == 3

    async def test_resolved_conversation_is_not_reused(self, hub: Hub) -> None:
        async with client_for(hub) as http:
            visitor = await Visitor.start(http)
            await visitor.say(http, "first")
            await drain(hub)
            headers, _ = await agent_headers(hub)
            first = (await http.get("/api/v1/conversations", headers=headers)).json()[0]
            resolved = await http.post(
                f"/api/v1/conversations/{first['id']}/status", json={"status": "resolved"}, headers=headers
            )
            assert resolved.json()["status"] == "resolved" and resolved.json()["resolved_at"]
            await visitor.say(http, "again")
            await drain(hub)
            conversations = (await http.get("/api/v1/conversations", headers=headers)).json()
            assert len(conversations) == 2
            assert {c["customer_id"] for c in conversations} == {first["customer_id"]}


class TestInboundSafety:
    async def test_duplicate_delivery_produces_one_message(self, hub: Hub) -> None:
        async with client_for(hub) as http:
            visitor = await Visitor.start(http)
            for _ in range(3):
                response = await visitor.say(http, "same message", message_id="retry-me-123")
                assert response.status_code == 200
            await drain(hub)
            async with hub.db.session() as session:
                inbound = (
                    (await session.execute(select(Message.text).where(Message.direction == "inbound")))
                    .scalars()
                    .all()
                )
            assert inbound == ["same message"]
            assert await count(hub, RawEvent) == 1

    async def test_forged_token_is_rejected_and_nothing_stored(self, hub: Hub) -> None:
        async with client_for(hub) as http:
            visitor = await Visitor.start(http)
            forged = {**visitor.headers, "X-Webchat-Token": "0" * 64}
            response = await http.post("/webhooks/webchat/site", json=visitor.message("hi"), headers=forged)
            assert response.status_code == 401
            assert response.json()["error"]["code"] == "signature_invalid"
            unsigned = await http.post("/webhooks/webchat/site", json=visitor.message("hi"))
            assert unsigned.status_code == 401
            # Another visitor's token does not open this visitor's history either.
            other = await Visitor.start(http)
            stolen = {"X-Webchat-Visitor": visitor.visitor_id, "X-Webchat-Token": other.token}
            assert (await http.get("/webchat/site/messages", headers=stolen)).status_code == 401
        assert await count(hub, RawEvent) == 0
        assert await count(hub, Customer) == 0

    async def test_bad_input_gets_a_clear_error_and_nothing_is_written(self, hub: Hub) -> None:
        async with client_for(hub) as http:
            visitor = await Visitor.start(http)
            cases = {
                b"{not json": (400, "not valid JSON"),
                b"\xff\xfe\x00garbage": (400, "not valid UTF-8"),
                b"[1, 2]": (400, "JSON object"),
                b'{"type": "message", "id": "abcdefgh12", "text": ""}': (400, "'text'"),
                b'{"type": "message", "text": "no id"}': (400, "'id'"),
                b'{"type": "dance", "id": "abcdefgh12"}': (400, "unknown type"),
            }
            for body, (status, words) in cases.items():
                response = await http.post(
                    "/webhooks/webchat/site",
                    content=body,
                    headers={**visitor.headers, "Content-Type": "application/json"},
                )
                assert response.status_code == status, (body, response.text)
                error = response.json()["error"]
                assert words in error["message"], (body, error)
                assert error["request_id"] == response.headers["x-request-id"]

            too_big = visitor.message("x" * 2_000_000)
            response = await visitor.say(http, too_big["text"])
            assert response.status_code == 413
            assert response.json()["error"]["code"] == "body_too_large"

            unknown = await http.post(
                "/webhooks/webchat/nope", json=visitor.message("hi"), headers=visitor.headers
            )
            assert unknown.status_code == 404
            assert "nope" in unknown.json()["error"]["message"]
            wrong_type = await http.post("/webhooks/telegram/site", json={}, headers=visitor.headers)
            assert wrong_type.status_code == 404
        assert await count(hub, RawEvent) == 0
        assert await count(hub, Identity) == 0

    async def test_events_stored_before_a_crash_are_processed_after_restart(self, make_hub) -> None:  # type: ignore[no-untyped-def]
        first = await make_hub()
        async with client_for(first) as http:
            visitor = await Visitor.start(http)
            for text in ("one", "two", "three"):
                assert (await visitor.say(http, text)).status_code == 200
        # The process dies before processing anything; a new one starts on the same database.
        await first.stop()
        restarted = await make_hub()
        await drain(restarted)
        async with restarted.db.session() as session:
            texts = (
                (
                    await session.execute(
                        select(Message.text).where(Message.direction == "inbound").order_by(Message.id)
                    )
                )
                .scalars()
                .all()
            )
            statuses = set((await session.execute(select(RawEvent.status))).scalars())
            outbox = (await session.execute(select(OutboxItem.status))).scalars().all()
        assert texts == ["one", "two", "three"]
        assert statuses == {RawEventStatus.PROCESSED}
        assert outbox == [OutboxStatus.SENT]  # one greeting for the one conversation

    async def test_timeline_records_every_message(self, hub: Hub) -> None:
        async with client_for(hub) as http:
            visitor = await Visitor.start(http)
            await visitor.say(http, "hello")
            await drain(hub)
        async with hub.db.session() as session:
            kinds = (
                (await session.execute(select(CustomerEvent.kind).order_by(CustomerEvent.id))).scalars().all()
            )
        assert kinds == ["message.inbound", "message.outbound"]

"""The agents' workspace API on SQLite and PostgreSQL: list views, filters, search and counts; read
positions; snooze and hand back to the bot; labels; @mentions; reply channels with their limits;
attachments; canned responses; preferences; the customer panel's figures."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from crm_core.columns import utcnow
from crm_core.customers import record_event
from hub.outbound.models import OutboxItem
from hub.runtime import Hub
from inbox import conversations as inbox
from inbox.models import Agent, Message, Role
from tests.conftest import HubFactory, client_for, token_headers
from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN
from tests.inbox.builders import ago, customer_writes, new_agent

TWILIO = {
    "provider": "twilio",
    "account_sid": ACCOUNT_SID,
    "auth_token": AUTH_TOKEN,
    "api_base": "http://127.0.0.1:9",
}
CHANNELS: dict[str, Any] = {
    "site": {"type": "webchat"},
    "sms-main": {"type": "sms", "from": "+15005550006", **TWILIO},
    "whatsapp-main": {"type": "whatsapp", "from": "whatsapp:+14155238886", **TWILIO},
}
PHONE = "+380501234567"


@pytest.fixture
async def hub(make_hub: HubFactory) -> Hub:
    return await make_hub(CHANNELS)


async def log_in(http: httpx.AsyncClient, agent: Agent) -> dict[str, str]:
    response = await http.post(
        "/api/v1/auth/login", json={"email": agent.email, "password": "correct horse battery"}
    )
    assert response.status_code == 200, response.text
    cookie = response.cookies["hub_session"]
    http.cookies.clear()
    return {"Cookie": f"hub_session={cookie}"}


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    return str(response.json()["error"]["message"])


class TestList:
    async def test_views_search_labels_counts_and_unread(self, hub: Hub) -> None:
        async with hub.db.transaction() as session:
            ana = await new_agent(session, "Ana", team="support")
            ben = await new_agent(session, "Ben")
            mine, _ = await customer_writes(
                session, "Maria Lopez", "Where is order 1042?", at=ago(minutes=30)
            )
            await customer_writes(session, "Sam Reed", "Guji for espresso?", at=ago(minutes=1))
            mine.bot_active = False
            await inbox.assign(session, mine, agent_id=ana.id, team_id=ana.team_id)
        async with client_for(hub) as http:
            as_ana = await log_in(http, ana)
            as_ben = await log_in(http, ben)

            def listed(response: httpx.Response) -> list[str]:
                return [c["customer_name"] for c in ok(response)]

            url = "/api/v1/conversations"
            assert listed(await http.get(url, params={"view": "mine"}, headers=as_ana)) == ["Maria Lopez"]
            assert listed(await http.get(url, params={"view": "team"}, headers=as_ana)) == ["Maria Lopez"]
            assert "you belong to no team" in error(
                await http.get(url, params={"view": "team"}, headers=as_ben), 422
            )
            assert listed(await http.get(url, params={"view": "unassigned"}, headers=as_ben)) == ["Sam Reed"]
            found = ok(await http.get(url, params={"q": "1042"}, headers=as_ben))
            assert [(c["customer_name"], c["match_text"]) for c in found] == [
                ("Maria Lopez", "Where is order 1042?")
            ]
            assert listed(await http.get(url, params={"q": "reed"}, headers=as_ben)) == ["Sam Reed"]
            at_risk = {"at_risk": "true", "waiting_minutes": "15"}
            assert listed(await http.get(url, params=at_risk, headers=as_ben)) == ["Maria Lopez"]

            labelled = ok(await http.patch(f"{url}/{mine.id}", json={"labels": ["refund"]}, headers=as_ben))
            assert labelled["labels"] == ["refund"]
            assert listed(await http.get(url, params={"label": "refund"}, headers=as_ben)) == ["Maria Lopez"]
            assert ok(await http.get(f"{url}/labels", headers=as_ben)) == [{"label": "refund", "count": 1}]
            assert "longer than 64" in error(
                await http.patch(f"{url}/{mine.id}", json={"labels": ["x" * 65]}, headers=as_ben), 422
            )

            # Unread counts are the caller's: reading moves Ana's, not Ben's.
            rows = {c["customer_name"]: c for c in ok(await http.get(url, headers=as_ana))}
            assert rows["Maria Lopez"]["unread_count"] == 1
            assert rows["Maria Lopez"]["last_message_text"] == "Where is order 1042?"
            assert ok(await http.get(f"{url}/counts", headers=as_ana)) == {
                "mine": 1,
                "unassigned": 1,
                "team": 1,
                "all": 2,
                "at_risk": 1,
                "sla_at_risk": 0,  # no SLA policy here
                "unread_mine": 1,
            }
            read = ok(await http.post(f"{url}/{mine.id}/read", json={}, headers=as_ana))
            assert read["last_read_message_id"] > 0
            assert ok(await http.get(url, params={"view": "mine"}, headers=as_ana))[0]["unread_count"] == 0
            assert ok(await http.get(f"{url}/counts", headers=as_ana))["unread_mine"] == 0
            assert ok(await http.get(url, params={"q": "maria"}, headers=as_ben))[0]["unread_count"] == 1

            token = await token_headers(hub, Role.ADMIN)
            assert "needs a signed-in agent" in error(
                await http.get(url, params={"view": "mine"}, headers=token), 422
            )
            assert "at most 200" in error(await http.get(url, params={"q": "x" * 201}, headers=token), 422)


class TestManage:
    async def test_snooze_wake_hand_back_to_the_bot(self, hub: Hub) -> None:
        async with hub.db.transaction() as session:
            ana = await new_agent(session, "Ana")
            conversation, _ = await customer_writes(session, "Maria", "hi")
            await inbox.assign(session, conversation, agent_id=ana.id, team_id=None)
        base = f"/api/v1/conversations/{conversation.id}"
        async with client_for(hub) as http:
            headers = await log_in(http, ana)
            past = {"status": "snoozed", "snoozed_until": ago(minutes=1).isoformat()}
            assert "in the future" in error(
                await http.post(f"{base}/status", json=past, headers=headers), 422
            )
            until = utcnow() + timedelta(hours=2)
            snoozed = ok(
                await http.post(
                    f"{base}/status",
                    json={"status": "snoozed", "snoozed_until": until.isoformat()},
                    headers=headers,
                )
            )
            assert snoozed["status"] == "snoozed" and snoozed["snoozed_until"].startswith(
                until.date().isoformat()
            )

            handed = ok(await http.post(f"{base}/bot", headers=headers))
            assert handed["bot_active"] is True and handed["assignee_id"] is None

            ok(await http.post(f"{base}/status", json={"status": "resolved"}, headers=headers))
            assert "reopen it" in error(await http.post(f"{base}/bot", headers=headers), 422)

    async def test_mentions_name_real_agents_who_may_read_notes(self, hub: Hub) -> None:
        async with hub.db.transaction() as session:
            ana = await new_agent(session, "Ana")
            ben = await new_agent(session, "Ben")
            mark = await new_agent(session, "Mark", role=Role.MARKETER)
            conversation, _ = await customer_writes(session, "Maria", "hi")
        notes = f"/api/v1/conversations/{conversation.id}/notes"
        async with client_for(hub) as http:
            headers = await log_in(http, ana)
            note = ok(
                await http.post(
                    notes, json={"text": "@Ben can you check?", "mentions": [ben.id]}, headers=headers
                ),
                201,
            )
            assert note["mentions"] == [ben.id]
            assert ok(await http.get(notes, headers=headers))[0]["mentions"] == [ben.id]
            assert "no such active agent" in error(
                await http.post(notes, json={"text": "@ghost", "mentions": [999_999]}, headers=headers), 422
            )
            assert "Mark cannot read private notes" in error(
                await http.post(notes, json={"text": "@Mark", "mentions": [mark.id]}, headers=headers), 422
            )


class TestReply:
    async def customer_on_whatsapp_and_sms(self, hub: Hub, last_wrote: timedelta) -> int:
        async with hub.db.transaction() as session:
            conversation, _ = await customer_writes(
                session,
                "Olena",
                "Hola",
                channel="whatsapp",
                account="whatsapp-main",
                address=PHONE,
                at=utcnow() - last_wrote,
            )
        assert conversation.id is not None
        return conversation.id

    async def test_options_limits_and_the_whatsapp_window(self, hub: Hub) -> None:
        conversation_id = await self.customer_on_whatsapp_and_sms(hub, timedelta(hours=2))
        async with hub.db.transaction() as session:
            ana = await new_agent(session, "Ana")
        base = f"/api/v1/conversations/{conversation_id}"
        async with client_for(hub) as http:
            headers = await log_in(http, ana)
            options = ok(await http.get(f"{base}/reply-options", headers=headers))
            assert [(o["channel_account"], o["default"], o["address"]) for o in options] == [
                ("whatsapp-main", True, PHONE),
                ("sms-main", False, PHONE),  # the same phone identity reaches SMS
            ]
            assert options[0]["whatsapp_window_open"] is True
            assert options[1]["whatsapp_window_open"] is None and options[1]["max_text_length"] > 0

            sms = ok(
                await http.post(
                    f"{base}/messages",
                    json={"text": "¿Su pedido llegó?", "channel_account": "sms-main"},
                    headers=headers,
                ),
                201,
            )
            assert sms["channel_type"] == "sms"
            async with hub.db.session() as session:
                stored = await session.get(Message, sms["id"])
                assert stored is not None and stored.meta["sms"] == {"segments": 1, "encoding": "UCS-2"}

    async def test_a_whatsapp_reply_after_the_window_is_refused_clearly(self, hub: Hub) -> None:
        conversation_id = await self.customer_on_whatsapp_and_sms(hub, timedelta(hours=30))
        async with hub.db.transaction() as session:
            ana = await new_agent(session, "Ana")
        base = f"/api/v1/conversations/{conversation_id}"
        async with client_for(hub) as http:
            headers = await log_in(http, ana)
            assert (
                ok(await http.get(f"{base}/reply-options", headers=headers))[0]["whatsapp_window_open"]
                is False
            )
            message = error(await http.post(f"{base}/messages", json={"text": "Hola"}, headers=headers), 409)
            assert "24-hour window closed" in message and "write on another channel" in message
            ok(
                await http.post(
                    f"{base}/messages", json={"text": "Hola", "channel_account": "sms-main"}, headers=headers
                ),
                201,
            )
        async with hub.db.session() as session:
            assert (await session.execute(select(OutboxItem.channel_account))).scalars().all() == ["sms-main"]

    async def test_attachments_go_out_as_signed_links(self, hub: Hub) -> None:
        async with hub.db.transaction() as session:
            ana = await new_agent(session, "Ana")
            conversation, _ = await customer_writes(session, "Maria", "send me the invoice")
        async with client_for(hub) as http:
            headers = await log_in(http, ana)
            upload = ok(
                await http.post(
                    "/api/v1/uploads",
                    files={"file": ("invoice 42.pdf", b"%PDF-1.4 pretend", "application/pdf")},
                    headers=headers,
                ),
                201,
            )
            assert upload["kind"] == "file" and upload["url"].startswith("/media/")
            assert upload["filename"] == "invoice 42.pdf"
            reply = ok(
                await http.post(
                    f"/api/v1/conversations/{conversation.id}/messages",
                    json={"text": "", "attachments": [upload]},
                    headers=headers,
                ),
                201,
            )
            link = reply["attachments"][0]["url"]
            assert link.startswith("https://hub.example.com/media/shared/")
            # The customer (or the provider) fetches it without logging in; a forged link opens nothing.
            path = link.removeprefix("https://hub.example.com")
            fetched = await http.get(path)
            assert fetched.status_code == 200 and fetched.content == b"%PDF-1.4 pretend"
            assert (await http.get(path.replace("sig=", "sig=0"))).status_code == 404
            assert (await http.get(upload["url"])).status_code == 401  # the agent link needs a login

            bogus = {"url": "/media/" + "0" * 64 + "/x.pdf", "filename": "x.pdf"}
            assert "upload it first" in error(
                await http.post(
                    f"/api/v1/conversations/{conversation.id}/messages",
                    json={"text": "x", "attachments": [bogus]},
                    headers=headers,
                ),
                422,
            )
            assert "write a reply or attach a file" in error(
                await http.post(
                    f"/api/v1/conversations/{conversation.id}/messages", json={"text": " "}, headers=headers
                ),
                422,
            )


class TestCanned:
    async def test_agents_keep_their_own_admins_share(self, hub: Hub) -> None:
        async with hub.db.transaction() as session:
            ana = await new_agent(session, "Ana Agent")
            ben = await new_agent(session, "Ben")
            mark = await new_agent(session, "Mark", role=Role.MARKETER)
            conversation, _ = await customer_writes(session, "Maria Lopez", "hi", address="maria-web")
        url = "/api/v1/canned-responses"
        async with client_for(hub) as http:
            admin = await token_headers(hub, Role.ADMIN)
            as_ana = await log_in(http, ana)
            as_ben = await log_in(http, ben)
            shared = ok(
                await http.post(
                    url,
                    json={
                        "shortcut": "shipping",
                        "title": "Shipping times",
                        "body": "Hi {{ customer.first_name }}, we ship in 2-3 days. {{ agent.first_name }}",
                        "shared": True,
                    },
                    headers=admin,
                ),
                201,
            )
            assert "canned:manage" in error(
                await http.post(
                    url, json={"shortcut": "x", "title": "x", "body": "x", "shared": True}, headers=as_ana
                ),
                403,
            )
            own = ok(
                await http.post(
                    url, json={"shortcut": "thanks", "title": "Thanks", "body": "Thank you!"}, headers=as_ana
                ),
                201,
            )
            assert "already taken" in error(
                await http.post(
                    url, json={"shortcut": "shipping", "title": "x", "body": "x"}, headers=as_ana
                ),
                409,
            )
            assert "unknown placeholder custmer" in error(
                await http.post(
                    url, json={"shortcut": "bad", "title": "x", "body": "{{ custmer }}"}, headers=as_ana
                ),
                422,
            )

            found = ok(await http.get(url, params={"q": "shiping"}, headers=as_ana))
            assert found[0]["shortcut"] == "shipping"
            assert [c["shortcut"] for c in ok(await http.get(url, headers=as_ben))] == ["shipping"]
            assert [c["shortcut"] for c in ok(await http.get(url, headers=as_ana))] == ["shipping", "thanks"]

            rendered = ok(
                await http.post(
                    f"{url}/{shared['id']}/render", json={"conversation_id": conversation.id}, headers=as_ana
                )
            )
            assert rendered == {"text": "Hi Maria, we ship in 2-3 days. Ana"}

            assert "shared" in error(
                await http.patch(f"{url}/{shared['id']}", json={"title": "T"}, headers=as_ana), 403
            )
            assert (
                await http.patch(f"{url}/{own['id']}", json={"title": "T"}, headers=as_ben)
            ).status_code == 404
            assert (
                ok(await http.patch(f"{url}/{own['id']}", json={"title": "Thanks a lot"}, headers=as_ana))[
                    "title"
                ]
                == "Thanks a lot"
            )
            assert (await http.delete(f"{url}/{own['id']}", headers=as_ana)).status_code == 204

            as_mark = await log_in(http, mark)
            assert "conversations:reply" in error(await http.get(url, headers=as_mark), 403)


class TestWorkspace:
    async def test_preferences_and_customer_insights(self, hub: Hub) -> None:
        async with hub.db.transaction() as session:
            ana = await new_agent(session, "Ana", team="support")
            conversation, _ = await customer_writes(session, "Maria", "hi")
            customer_id = conversation.customer_id
            for amount, day in ((30, 10), (12.5, 5), ("n/a", 3)):
                await record_event(
                    session, customer_id, "order.created", {"amount": amount}, occurred_at=ago(days=day)
                )
            await record_event(session, customer_id, "csat.submitted", {"rating": 5}, occurred_at=ago(days=2))
            await record_event(session, customer_id, "csat.submitted", {"rating": 2}, occurred_at=ago(days=1))
            await record_event(
                session,
                customer_id,
                "call.ended",
                {"duration_seconds": 95, "recording_url": "https://rec.example.com/1"},
            )
        async with client_for(hub) as http:
            headers = await log_in(http, ana)
            me = ok(await http.get("/api/v1/workspace/me", headers=headers))
            assert me["locale"] == "en" and me["team_name"].startswith("support")
            assert (
                ok(await http.patch("/api/v1/workspace/me", json={"locale": "es"}, headers=headers))["locale"]
                == "es"
            )
            assert ok(await http.get("/api/v1/workspace/me", headers=headers))["locale"] == "es"
            assert (
                await http.patch("/api/v1/workspace/me", json={"locale": "fr"}, headers=headers)
            ).status_code == 422

            insights = ok(
                await http.get(f"/api/v1/workspace/customers/{customer_id}/insights", headers=headers)
            )
            assert insights["ltv"] == 42.5 and insights["orders_count"] == 3
            assert [o["payload"]["amount"] for o in insights["last_orders"]] == ["n/a", 12.5, 30]
            assert [c["payload"]["rating"] for c in insights["csat"]] == [2, 5]
            assert insights["csat_average"] == 3.5
            assert insights["calls"][0]["payload"]["recording_url"] == "https://rec.example.com/1"
            assert insights["conversations"] == 1

"""Provider channels through the real pipeline, on SQLite and PostgreSQL, with the real SDKs talking
to local fake provider servers: the reference story (missed call -> SMS with a deep link ->
Telegram -> Viber, all on one customer record), and each channel's inbound, outbound, receipts,
duplicates and forgeries."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from channels.signing import signed_headers
from hub.inbound.models import RawEvent
from hub.runtime import Hub
from inbox.models import Message, Role
from tests.conftest import HubFactory, agent_headers, client_for, drain, hub_config, settings_for
from tests.fakes.telegram_api import retry_after
from tests.fakes.twilio_api import (
    call_webhook,
    inbound_sms,
    inbound_whatsapp,
    message_status,
    signed_request,
)
from tests.hub.channel_helpers import (
    CALLER,
    PBX_SECRET,
    PUBLIC,
    TELEGRAM_SECRET,  # noqa: F401 (test_flow_steps_pipeline imports it from here)
    VIBER_USER,
    Providers,
    fake_providers,
    pbx_call,
    provider_channels,
    telegram_message,
    telegram_post,
    telegram_says,
    telegram_user,
    twilio_posts,
    viber_callback,
    viber_started,
    viber_text,
)

# Twilio's shared WhatsApp sandbox sender, as a first setup uses it.
WHATSAPP_SANDBOX = "whatsapp:+14155238886"


@pytest.fixture
async def providers() -> AsyncIterator[Providers]:
    async with fake_providers() as running:
        yield running


@pytest.fixture
async def hub(make_hub: HubFactory, providers: Providers) -> Hub:
    return await make_hub(provider_channels(providers, whatsapp_from=WHATSAPP_SANDBOX))


async def raw_count(hub: Hub) -> int:
    async with hub.db.session() as session:
        return (await session.execute(select(func.count()).select_from(RawEvent))).scalar_one()


# --- the reference story ------------------------------------------------------------------------


async def test_call_sms_telegram_viber_on_one_record(hub: Hub, providers: Providers) -> None:
    async with client_for(hub) as http:
        headers, _ = await agent_headers(hub, Role.AGENT)

        # 1. A missed call creates the customer by phone number.
        assert (await pbx_call(http, "missed")).status_code == 200
        await drain(hub)
        [customer] = (await http.get(f"/api/v1/customers?identity=phone:{CALLER}", headers=headers)).json()
        [conversation] = (
            await http.get(f"/api/v1/conversations?customer_id={customer['id']}", headers=headers)
        ).json()
        assert conversation["channel_account"] == "pbx"
        messages = (
            await http.get(f"/api/v1/conversations/{conversation['id']}/messages", headers=headers)
        ).json()
        assert [m["text"] for m in messages] == [f"Missed call from {CALLER}"]

        # 2. The agent texts a link that opens the Telegram bot bound to this customer.
        links = (await http.post(f"/api/v1/customers/{customer['id']}/links", headers=headers)).json()
        telegram_link = links["links"]["main"]
        assert telegram_link == f"https://t.me/omnihub_demo_bot?start={links['token']}"
        assert links["links"]["viber-main"].startswith("viber://pa?chatURI=omnihubdemo&context=")
        sms = await http.post(
            f"/api/v1/conversations/{conversation['id']}/messages",
            json={
                "text": f"Sorry we missed you! Chat with us: {telegram_link}",
                "channel_account": "sms-main",
            },
            headers=headers,
        )
        assert sms.status_code == 201, sms.text
        await drain(hub)
        [sent_sms] = providers.twilio.messages
        assert sent_sms.param("To") == CALLER and telegram_link in (sent_sms.param("Body") or "")
        assert sent_sms.param("StatusCallback") == f"{PUBLIC}/webhooks/sms/sms-main"
        async with hub.db.session() as session:
            sms_row = await session.get(Message, sms.json()["id"])
        assert sms_row is not None and sms_row.status.value == "sent" and sms_row.provider_message_id
        # Twilio reports delivery.
        status = message_status(sms_row.provider_message_id, "delivered", to=CALLER)
        assert (await twilio_posts(http, "sms-main", status)).status_code == 200
        await drain(hub)

        # 3. The customer opens the bot with the link: the bot knows who they are.
        assert (await telegram_says(http, f"/start {links['token']}")).status_code == 200
        assert (await telegram_says(http, "Can you call me back tomorrow?")).status_code == 200
        await drain(hub)
        record = (await http.get(f"/api/v1/customers/{customer['id']}", headers=headers)).json()
        assert {(i["kind"], i["address"]) for i in record["identities"]} == {
            ("phone", CALLER),
            ("telegram", "777"),
        }
        conversations = (
            await http.get(f"/api/v1/conversations?customer_id={customer['id']}", headers=headers)
        ).json()
        assert [c["id"] for c in conversations] == [conversation["id"]]
        assert conversations[0]["channel_account"] == "main"  # replies now go where the customer writes

        # 4. The agent's reply goes out on Telegram.
        reply = await http.post(
            f"/api/v1/conversations/{conversation['id']}/messages",
            json={"text": "Sure, what time suits you?"},
            headers=headers,
        )
        assert reply.json()["channel_type"] == "telegram"
        await drain(hub)
        [telegram_reply] = providers.telegram.sent("sendMessage")
        assert telegram_reply.params["chat_id"] == "777"
        assert telegram_reply.params["text"] == "Sure, what time suits you?"

        # 5. Later they pick up the conversation on Viber, through the Viber link.
        viber_context = links["links"]["viber-main"].rsplit("context=", 1)[1]
        assert (await viber_callback(http, viber_started(viber_context))).status_code == 200
        assert (await viber_callback(http, viber_text("Any time after 10, thanks"))).status_code == 200
        await drain(hub)
        reply = await http.post(
            f"/api/v1/conversations/{conversation['id']}/messages",
            json={"text": "Booked for 10:30."},
            headers=headers,
        )
        assert reply.json()["channel_type"] == "viber"
        await drain(hub)
        assert [r.body["receiver"] for r in providers.viber.requests] == [VIBER_USER["id"]]

        # 6. One record, one window: call, SMS, Telegram and Viber.
        record = (await http.get(f"/api/v1/customers/{customer['id']}", headers=headers)).json()
        assert {i["kind"] for i in record["identities"]} == {"phone", "telegram", "viber"}
        assert all(i["verified"] for i in record["identities"])
        channels_seen = {
            (e["kind"], e["payload"].get("channel"))
            for e in record["timeline"]
            if e["kind"].startswith(("message.", "call."))
        }
        assert {
            ("call.missed", None),
            ("message.outbound", "sms"),
            ("message.inbound", "telegram"),
            ("message.inbound", "viber"),
        } <= channels_seen
        messages = (
            await http.get(f"/api/v1/conversations/{conversation['id']}/messages", headers=headers)
        ).json()
        assert [m["channel_type"] for m in messages] == [
            "telephony",
            "sms",
            "telegram",
            "telegram",
            "telegram",
            "viber",
            "viber",
            "viber",
        ]
        assert [m["status"] for m in messages if m["direction"] == "outbound"] == [
            "delivered",
            "sent",
            "sent",
        ]


# --- each channel -------------------------------------------------------------------------------


async def test_forged_requests_are_refused_on_every_channel_and_nothing_stored(hub: Hub) -> None:
    async with client_for(hub) as http:
        assert (await telegram_says(http, "hi", secret="wrong")).status_code == 401
        assert (await viber_callback(http, viber_text("hi"), key="not-the-token")).status_code == 401
        forged_sms = signed_request(f"{PUBLIC}/webhooks/sms/sms-main", inbound_sms("hi"), auth_token="0" * 32)
        response = await http.post(
            "/webhooks/sms/sms-main", content=forged_sms.body, headers=dict(forged_sms.headers)
        )
        assert response.status_code == 403
        body = b'{"call_id": "x", "event": "missed", "caller": "+380501234567", "callee": "+380441112233"}'
        response = await http.post(
            "/webhooks/telephony/pbx", content=body, headers=signed_headers("wrong", body)
        )
        assert response.status_code == 401
    assert await raw_count(hub) == 0


async def test_provider_retries_are_one_message(hub: Hub) -> None:
    async with client_for(hub) as http:
        for _ in range(3):
            assert (await telegram_says(http, "hello", update_id=9001)).status_code == 200
        sms = inbound_sms("hola", sender=CALLER, message_sid="SM" + "1" * 32)
        for _ in range(2):
            assert (await twilio_posts(http, "sms-main", sms)).status_code == 200
        for _ in range(2):
            assert (await pbx_call(http, "missed", call_id="dup-call")).status_code == 200
        await drain(hub)
    async with hub.db.session() as session:
        texts = (
            (await session.execute(select(Message.text).where(Message.direction == "inbound")))
            .scalars()
            .all()
        )
    assert sorted(texts) == sorted(["hello", "hola", f"Missed call from {CALLER}"])


async def test_sms_stop_withdraws_marketing_consent_and_start_restores_it(hub: Hub) -> None:
    async with client_for(hub) as http:
        headers, _ = await agent_headers(hub)
        assert (await twilio_posts(http, "sms-main", inbound_sms("STOP", sender=CALLER))).status_code == 200
        await drain(hub)
        [customer] = (await http.get(f"/api/v1/customers?identity=phone:{CALLER}", headers=headers)).json()
        record = (await http.get(f"/api/v1/customers/{customer['id']}", headers=headers)).json()
        assert [(c["channel"], c["purpose"], c["granted"]) for c in record["consents"]] == [
            ("sms", "marketing", False)
        ]
        assert (await twilio_posts(http, "sms-main", inbound_sms("ALTA", sender=CALLER))).status_code == 200
        await drain(hub)
        record = (await http.get(f"/api/v1/customers/{customer['id']}", headers=headers)).json()
        assert [(c["channel"], c["granted"]) for c in record["consents"]] == [("sms", True)]
        assert [e["kind"] for e in record["timeline"]].count("consent.changed") == 2


async def test_telegram_429_is_retried_after_retry_after(hub: Hub, providers: Providers) -> None:
    async with client_for(hub) as http:
        headers, _ = await agent_headers(hub)
        await telegram_says(http, "hi there")
        await drain(hub)
        providers.telegram.script(retry_after(1))
        [conversation] = (await http.get("/api/v1/conversations", headers=headers)).json()
        reply = await http.post(
            f"/api/v1/conversations/{conversation['id']}/messages", json={"text": "answer"}, headers=headers
        )
        await drain(hub)
        async with hub.db.session() as session:
            message = await session.get(Message, reply.json()["id"])
        assert message is not None and message.status.value == "queued"
        assert [c.params["text"] for c in providers.telegram.sent("sendMessage")][
            -1
        ] == "answer"  # refused once


async def test_receipts_never_move_a_message_backwards(hub: Hub, providers: Providers) -> None:
    async with client_for(hub) as http:
        headers, _ = await agent_headers(hub)
        await twilio_posts(http, "sms-main", inbound_sms("hi", sender=CALLER))
        await drain(hub)
        [conversation] = (await http.get("/api/v1/conversations", headers=headers)).json()
        reply = await http.post(
            f"/api/v1/conversations/{conversation['id']}/messages", json={"text": "yo"}, headers=headers
        )
        await drain(hub)
        async with hub.db.session() as session:
            sid = (await session.get(Message, reply.json()["id"])).provider_message_id  # type: ignore[union-attr]
        for status in ("delivered", "sent", "undelivered"):
            await twilio_posts(
                http,
                "sms-main",
                message_status(sid, status, to=CALLER, error_code=30003 if status == "undelivered" else None),
            )
            await drain(hub)
        messages = (
            await http.get(f"/api/v1/conversations/{conversation['id']}/messages", headers=headers)
        ).json()
        final = next(m for m in messages if m["id"] == reply.json()["id"])
        assert final["status"] == "failed"  # delivered, then the carrier reported it undeliverable
        assert "30003" in final["failure_reason"]


async def test_missed_call_then_answered_call_and_outbound_call(hub: Hub) -> None:
    async with client_for(hub) as http:
        headers, _ = await agent_headers(hub)
        await pbx_call(http, "missed", call_id="c-1")
        await pbx_call(http, "ended", call_id="c-1")  # a PBX may close a missed call too: still one entry
        await pbx_call(http, "answered", call_id="c-2")
        await pbx_call(
            http, "ended", call_id="c-2", duration=125, recording_url="https://pbx.example.com/rec/c-2.mp3"
        )
        await drain(hub)
        [customer] = (await http.get(f"/api/v1/customers?identity=phone:{CALLER}", headers=headers)).json()
        [conversation] = (
            await http.get(f"/api/v1/conversations?customer_id={customer['id']}", headers=headers)
        ).json()
        texts = [
            m["text"]
            for m in (
                await http.get(f"/api/v1/conversations/{conversation['id']}/messages", headers=headers)
            ).json()
        ]
        assert texts == [
            f"Missed call from {CALLER}",
            f"Call with {CALLER}, 2 min 5 s (recording: https://pbx.example.com/rec/c-2.mp3)",
        ]
        record = (await http.get(f"/api/v1/customers/{customer['id']}", headers=headers)).json()
        kinds = [e["kind"] for e in record["timeline"]]
        assert (
            kinds.count("call.missed") == 1
            and kinds.count("call.ended") == 2
            and kinds.count("call.answered") == 1
        )


async def test_whatsapp_sms_and_phone_calls_share_one_customer(hub: Hub, providers: Providers) -> None:
    async with client_for(hub) as http:
        headers, _ = await agent_headers(hub)
        ringing = call_webhook("ringing", call_sid="CA" + "2" * 32, caller=CALLER)
        response = await twilio_posts(http, "voice-main", ringing, channel="voice")
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/xml")
        assert b"<Say" in response.content  # the configured greeting, as TwiML
        no_answer = call_webhook("no-answer", call_sid="CA" + "2" * 32, caller=CALLER)
        assert (await twilio_posts(http, "voice-main", no_answer, channel="voice")).status_code == 200
        whatsapp = inbound_whatsapp("Hola, me llamaron?", sender=CALLER, profile_name="Olena")
        assert (await twilio_posts(http, "whatsapp-main", whatsapp, channel="whatsapp")).status_code == 200
        await drain(hub)

        [customer] = (await http.get(f"/api/v1/customers?identity=phone:{CALLER}", headers=headers)).json()
        assert customer["display_name"] == "Olena"
        [conversation] = (
            await http.get(f"/api/v1/conversations?customer_id={customer['id']}", headers=headers)
        ).json()
        messages = (
            await http.get(f"/api/v1/conversations/{conversation['id']}/messages", headers=headers)
        ).json()
        assert [(m["channel_type"], m["text"]) for m in messages][:2] == [
            ("voice", f"Missed call from {CALLER}"),
            ("whatsapp", "Hola, me llamaron?"),
        ]
        reply = await http.post(
            f"/api/v1/conversations/{conversation['id']}/messages",
            json={"text": "Sí, ¿le llamamos ahora?"},
            headers=headers,
        )
        assert reply.json()["channel_type"] == "whatsapp"
        await drain(hub)
        sent = [m for m in providers.twilio.messages if m.param("Body") == "Sí, ¿le llamamos ahora?"]
        assert [(m.param("To"), m.param("From")) for m in sent] == [
            (f"whatsapp:{CALLER}", "whatsapp:+14155238886")
        ]


async def test_duplicate_suggestions_explain_themselves(hub: Hub) -> None:
    async with client_for(hub) as http:
        headers, _ = await agent_headers(hub)
        await twilio_posts(http, "sms-main", inbound_sms("hi", sender=CALLER))
        await telegram_says(http, "hello", user_id=4242)
        await drain(hub)
        [by_phone] = (await http.get(f"/api/v1/customers?identity=phone:{CALLER}", headers=headers)).json()
        [by_telegram] = (await http.get("/api/v1/customers?identity=telegram:4242", headers=headers)).json()
        # The Telegram customer typed their phone into a form; the SMS customer has that phone.
        await http.patch(
            f"/api/v1/customers/{by_telegram['id']}",
            json={"display_name": "Olena Kovalenko", "attributes": {"phone": "+380 (50) 123-45-67"}},
            headers=headers,
        )
        await http.patch(
            f"/api/v1/customers/{by_phone['id']}", json={"display_name": "Olena Kovalenko"}, headers=headers
        )
        suggestions = (
            await http.get(f"/api/v1/customers/{by_telegram['id']}/duplicates", headers=headers)
        ).json()
        assert [s["customer"]["id"] for s in suggestions] == [by_phone["id"]]
        reasons = " / ".join(suggestions[0]["reasons"])
        assert f"the phone typed on this record ({CALLER}) is their phone" in reasons
        assert "similar name: 'Olena Kovalenko' (100%)" in reasons
        # A suggestion never merges by itself.
        record = (await http.get(f"/api/v1/customers/{by_telegram['id']}", headers=headers)).json()
        assert record["merged_into_id"] is None and len(record["identities"]) == 1
        reverse = (await http.get(f"/api/v1/customers/{by_phone['id']}/duplicates", headers=headers)).json()
        assert [s["customer"]["id"] for s in reverse] == [by_telegram["id"]]


async def test_shared_phone_on_telegram_joins_the_callers_record(hub: Hub) -> None:
    async with client_for(hub) as http:
        headers, _ = await agent_headers(hub)
        await pbx_call(http, "missed")
        await telegram_says(http, "hi, I called you", user_id=555)
        await drain(hub)
        [telegram_only] = (await http.get("/api/v1/customers?identity=telegram:555", headers=headers)).json()
        [by_phone] = (await http.get(f"/api/v1/customers?identity=phone:{CALLER}", headers=headers)).json()
        assert telegram_only["id"] != by_phone["id"]

        # They press "share my phone": Telegram vouches for the number, so it is the same person.
        contact = {"phone_number": CALLER.lstrip("+"), "first_name": "Olena", "user_id": 555}
        response = await telegram_post(http, telegram_message(telegram_user(555), contact=contact))
        assert response.status_code == 200
        await drain(hub)
        [merged] = (await http.get("/api/v1/customers?identity=telegram:555", headers=headers)).json()
        assert merged["id"] == by_phone["id"]  # the older record survives
        record = (await http.get(f"/api/v1/customers/{by_phone['id']}", headers=headers)).json()
        assert {(i["kind"], i["verified"]) for i in record["identities"]} == {
            ("phone", True),
            ("telegram", True),
        }
        assert record["merges"][0]["merged_by"] == "verified phone shared on main"
        assert (
            len(
                (
                    await http.get(f"/api/v1/conversations?customer_id={by_phone['id']}", headers=headers)
                ).json()
            )
            == 2
        )


async def test_viber_subscription_is_marketing_consent_and_a_first_open_is_not_greeted(
    hub: Hub, providers: Providers
) -> None:
    async with client_for(hub) as http:
        headers, _ = await agent_headers(hub)
        assert (await viber_callback(http, viber_started(""))).status_code == 200
        await drain(hub)
        assert providers.viber.requests == []  # Viber would refuse an outbox greeting here
        subscribed = {
            "event": "subscribed",
            "timestamp": int(time.time() * 1000),
            "message_token": 1,
            "user": VIBER_USER,
        }
        assert (await viber_callback(http, subscribed)).status_code == 200
        await drain(hub)
        [customer] = (
            await http.get(f"/api/v1/customers?identity=viber:{VIBER_USER['id']}", headers=headers)
        ).json()
        record = (await http.get(f"/api/v1/customers/{customer['id']}", headers=headers)).json()
        assert [(c["channel"], c["purpose"], c["granted"]) for c in record["consents"]] == [
            ("viber", "marketing", True)
        ]
        unsubscribed = {
            "event": "unsubscribed",
            "timestamp": int(time.time() * 1000),
            "message_token": 2,
            "user_id": VIBER_USER["id"],
        }
        assert (await viber_callback(http, unsubscribed)).status_code == 200
        await drain(hub)
        record = (await http.get(f"/api/v1/customers/{customer['id']}", headers=headers)).json()
        assert [c["granted"] for c in record["consents"]] == [False]


async def test_a_deep_link_binds_once_and_a_forwarded_copy_binds_nobody(hub: Hub) -> None:
    async with client_for(hub) as http:
        headers, _ = await agent_headers(hub)
        await pbx_call(http, "missed")
        await drain(hub)
        [customer] = (await http.get(f"/api/v1/customers?identity=phone:{CALLER}", headers=headers)).json()
        token = (await http.post(f"/api/v1/customers/{customer['id']}/links", headers=headers)).json()[
            "token"
        ]

        await telegram_says(http, f"/start {token}", user_id=777)
        await telegram_says(http, f"/start {token}", user_id=777)  # the same person again: still fine
        await telegram_says(http, f"/start {token}", user_id=888)  # someone the SMS was forwarded to
        await drain(hub)
        [owner] = (await http.get("/api/v1/customers?identity=telegram:777", headers=headers)).json()
        [stranger] = (await http.get("/api/v1/customers?identity=telegram:888", headers=headers)).json()
        assert owner["id"] == customer["id"]
        assert stranger["id"] != customer["id"]
        record = (await http.get(f"/api/v1/customers/{stranger['id']}", headers=headers)).json()
        assert "identity.link_refused" in [e["kind"] for e in record["timeline"]]
        forged = await telegram_says(http, f"/start {token[:-2]}xx", user_id=999)
        assert forged.status_code == 200
        await drain(hub)
        [nobody] = (await http.get("/api/v1/customers?identity=telegram:999", headers=headers)).json()
        assert nobody["id"] != customer["id"]


async def test_a_missed_call_starts_the_flows_that_wait_for_it(database_url: str, tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "callback.yaml").write_text(
        "id: callback\nversion: 1\ntriggers:\n  - event: call.missed\nstart: mark\nsteps:\n"
        "  mark:\n    tag: callback-requested\n    why: missed call\n    next: done\n  done:\n    end: true\n"
    )
    config = hub_config({"pbx": {"type": "telephony", "secret": PBX_SECRET}}, flows_dir=str(flows))
    hub = Hub.build(settings_for(database_url, tmp_path / "var"), config)
    await hub.start(workers=False)
    try:
        async with client_for(hub) as http:
            assert (await pbx_call(http, "missed")).status_code == 200
            await drain(hub)
            headers, _ = await agent_headers(hub)
            [customer] = (
                await http.get(f"/api/v1/customers?identity=phone:{CALLER}", headers=headers)
            ).json()
        assert customer["tags"] == ["callback-requested"]
    finally:
        await hub.stop()

"""GDPR on both backends: a customer's export holds everything about them from every channel and
nothing of anyone else; erasure leaves none of their personal data anywhere in the database (every
row of every table is searched), keeps the counts, and a new message from their phone makes a new
customer. The person is real pipeline traffic: Telegram, SMS and the web chat through the local
fake providers, merges, consent, notes, files, a campaign."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import httpx
import pytest
from sqlalchemy import func, inspect, select, text

from crm_core.models import Customer, CustomerEvent
from crm_core.segments.order_summary import OrderSummary
from hub.campaigns.models import CampaignSend
from hub.outbound.models import OutboxItem, OutboxStatus
from hub.runtime import Hub
from inbox.models import Conversation, Message, Role
from tests.conftest import agent_headers, client_for, drain, hub_config, settings_for, token_headers
from tests.fakes.webchat import Visitor
from tests.hub.channel_helpers import (
    Providers,
    SmsCustomer,
    TelegramCustomer,
    fake_providers,
    provider_channels,
)

PHONE = "+380671112299"
EMAIL = "olesya.zaremba@example.com"
NAME = "Olesya Zaremba"
OLESYA_TEXTS = ("parcel-zebra-4417", "sms-walrus-5521", "webchat-heron-3303", "last-words-8181")
PETRO_TEXT = "petro-otter-9090"
ONLY_HERS = b"olesya passport scan 5590"
SHARED = b"shop terms, version 2"
SEGMENT = {"name": "Newsletter", "conditions": [{"tag": "newsletter"}]}
SALE = {
    "name": "Spring sale",
    "audience": "newsletter",
    "channels": ["sms"],
    "content": {"default": {"en": "Hi {{ name }}! 20% off this week."}},
}


@pytest.fixture
async def providers() -> AsyncIterator[Providers]:
    async with fake_providers() as running:
        yield running


@pytest.fixture
async def hub(database_url: str, tmp_path: Path, providers: Providers) -> AsyncIterator[Hub]:
    config = hub_config(
        {"site": {"type": "webchat"}, **provider_channels(providers)}, marketing={"quiet_hours": "off"}
    )
    running = Hub.build(settings_for(database_url, tmp_path / "var"), config)
    await running.start(workers=False)
    yield running
    await running.stop()


@dataclass
class Story:
    olesya: int
    merged: list[int]
    petro: int
    conversation: int
    visitor_id: str
    only_hers: str
    shared: str
    admin: dict[str, str]
    agent: dict[str, str]


async def upload(
    http: httpx.AsyncClient, headers: dict[str, str], name: str, content: bytes
) -> dict[str, Any]:
    response = await http.post(
        "/api/v1/uploads", files={"file": (name, content, "text/plain")}, headers=headers
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def olesya_and_petro(hub: Hub, http: httpx.AsyncClient, providers: Providers) -> Story:
    """Olesya writes on Telegram, shares her phone, texts by SMS and chats on the website; an agent
    merges the web chat record and the one an order event made from her email, edits her record,
    records her consent, writes a note and sends her files; a campaign texts her. Petro only chats."""
    admin = await token_headers(hub, Role.ADMIN)
    agent, _ = await agent_headers(hub, Role.AGENT)
    telegram = TelegramCustomer(hub, http, providers.telegram, user_id=4242, first_name="Olesya")
    await telegram.says(f"{OLESYA_TEXTS[0]} is late")
    await telegram.share_phone(PHONE)
    await SmsCustomer(hub, http, providers.twilio, PHONE).says(f"{OLESYA_TEXTS[1]} arrived")
    [olesya] = (await http.get(f"/api/v1/customers?identity=phone:{PHONE}", headers=admin)).json()

    visitor = await Visitor.start(http)
    await visitor.say(http, OLESYA_TEXTS[2], name=NAME)
    petro_visitor = await Visitor.start(http)
    await petro_visitor.say(http, PETRO_TEXT, name="Petro Bondar")
    await drain(hub)
    [web] = (await http.get(f"/api/v1/customers?identity=webchat:{visitor.visitor_id}", headers=admin)).json()
    [petro] = (
        await http.get(f"/api/v1/customers?identity=webchat:{petro_visitor.visitor_id}", headers=admin)
    ).json()
    order = {
        "kind": "order.created",
        "identity": f"email:{EMAIL}",
        "payload": {"order": "A-77123", "amount": 42},
    }
    email_customer = (await http.post("/api/v1/events", json=order, headers=agent)).json()["customer_id"]
    for merged in (web["id"], email_customer):
        response = await http.post(
            f"/api/v1/customers/{olesya['id']}/merge", json={"merged_id": merged}, headers=agent
        )
        assert response.status_code == 200, response.text
    changes = {"display_name": NAME, "attributes": {"city": "Uzhhorod"}, "add_tags": ["newsletter"]}
    assert (
        await http.patch(f"/api/v1/customers/{olesya['id']}", json=changes, headers=agent)
    ).status_code == 200
    consent = {"channel": "sms", "purpose": "marketing", "granted": True, "source": "paper form"}
    assert (
        await http.post(f"/api/v1/customers/{olesya['id']}/consents", json=consent, headers=agent)
    ).status_code == 200

    # Her Telegram and SMS messages share one conversation (replies go to SMS, where she last wrote);
    # the web chat's came with the merge.
    conversations = (
        await http.get(f"/api/v1/conversations?customer_id={olesya['id']}", headers=agent)
    ).json()
    [conversation] = [c for c in conversations if c["channel_type"] == "sms"]
    cid = conversation["id"]
    note = {"text": f"{NAME} called about {OLESYA_TEXTS[0]}"}
    assert (
        await http.post(f"/api/v1/conversations/{cid}/notes", json=note, headers=agent)
    ).status_code == 201
    only_hers = await upload(http, agent, "olesya-only.txt", ONLY_HERS)
    shared = await upload(http, agent, "terms.txt", SHARED)
    reply = {"text": "Here you go, Olesya", "attachments": [only_hers, shared]}
    assert (
        await http.post(f"/api/v1/conversations/{cid}/messages", json=reply, headers=agent)
    ).status_code == 201
    [petro_conversation] = (
        await http.get(f"/api/v1/conversations?customer_id={petro['id']}", headers=agent)
    ).json()
    to_petro = {"text": "terms for Petro", "attachments": [shared]}
    response = await http.post(
        f"/api/v1/conversations/{petro_conversation['id']}/messages", json=to_petro, headers=agent
    )
    assert response.status_code == 201, response.text
    await drain(hub)

    marketer = await token_headers(hub, Role.MARKETER)
    assert (await http.put("/api/v1/segments/newsletter", json=SEGMENT, headers=marketer)).status_code == 200
    assert (await http.put("/api/v1/campaigns/spring", json=SALE, headers=marketer)).status_code == 200
    assert (await http.post("/api/v1/campaigns/spring/launch", headers=marketer)).status_code == 200
    assert hub.campaigns is not None
    await hub.campaigns.tick()
    await drain(hub)

    # Left in the outbox: the dispatcher has not run since.
    last = {"text": f"{OLESYA_TEXTS[3]} for you"}
    assert (
        await http.post(f"/api/v1/conversations/{cid}/messages", json=last, headers=agent)
    ).status_code == 201
    return Story(
        olesya=olesya["id"],
        merged=[web["id"], email_customer],
        petro=petro["id"],
        conversation=cid,
        visitor_id=visitor.visitor_id,
        only_hers=only_hers["url"],
        shared=shared["url"],
        admin=admin,
        agent=agent,
    )


async def database_text(hub: Hub) -> str:
    """Every row of every table, as text: bytes decoded, JSON with its escapes undone, and again
    URL-decoded (Twilio posts forms), so a search finds a value however it was stored."""
    parts: list[str] = []
    async with hub.db.engine.connect() as connection:
        tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
        assert {"raw_events", "messages", "outbox", "customers", "audit_log"} <= set(tables)
        for table in tables:
            for row in await connection.execute(text(f'SELECT * FROM "{table}"')):
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        value = bytes(value).decode("utf-8", "replace")
                    value = (
                        value
                        if isinstance(value, str)
                        else json.dumps(value, default=str, ensure_ascii=False)
                    )
                    with contextlib.suppress(ValueError):
                        value += " " + json.dumps(json.loads(value), ensure_ascii=False)
                    parts.append(value)
    dump = "\n".join(parts)
    return dump + "\n" + unquote_plus(dump)


async def count(hub: Hub, model: Any) -> int:
    async with hub.db.session() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


def media_path(hub: Hub, url: str) -> Path | None:
    return hub.media.path_for(url.split("/")[2])


class TestExport:
    async def test_everything_about_her_from_every_channel_and_nothing_of_others(
        self, hub: Hub, providers: Providers
    ) -> None:
        async with client_for(hub) as http:
            story = await olesya_and_petro(hub, http, providers)
            refused = await http.get(f"/api/v1/customers/{story.olesya}/export", headers=story.agent)
            assert refused.status_code == 403 and "customers:export" in refused.text

            response = await http.get(f"/api/v1/customers/{story.olesya}/export", headers=story.admin)
            assert response.status_code == 200
            assert response.headers["content-disposition"] == (
                f'attachment; filename="customer-{story.olesya}-export.json"'
            )
            assert response.headers["cache-control"] == "no-store"
            document = response.json()
            assert document["customer"]["name"] == NAME
            assert document["customer"]["attributes"] == {"city": "Uzhhorod"}
            assert sorted(r["id"] for r in document["merged_records"]) == sorted(story.merged)
            assert {(i["kind"], i["address"]) for i in document["identities"]} >= {
                ("telegram", "4242"),
                ("phone", PHONE),
                ("email", EMAIL),
                ("webchat", story.visitor_id),
            }
            messages = [m for c in document["conversations"] for m in c["messages"]]
            assert {"telegram", "sms", "webchat"} <= {m["channel"] for m in messages}
            texts = " ".join(m["text"] for m in messages)
            assert all(token in texts for token in OLESYA_TEXTS)
            files = {a.get("filename"): a["url"] for m in messages for a in m["attachments"]}
            assert files["olesya-only.txt"].startswith("https://hub.example.com/media/shared/")
            assert [(c["channel"], c["purpose"], c["granted"]) for c in document["consents"]] == [
                ("sms", "marketing", True)
            ]
            assert document["consent_history"][0]["granted"] is True
            assert any(
                e["kind"] == "order.created" and e["details"]["order"] == "A-77123"
                for e in document["timeline"]
            )
            notes = [n["text"] for c in document["conversations"] for n in c["notes"]]
            assert notes == [f"{NAME} called about {OLESYA_TEXTS[0]}"]
            assert [(s["campaign"], s["channel"], s["address"]) for s in document["campaign_messages"]] == [
                ("spring", "sms", PHONE)
            ]
            assert document["segments"] == [{"id": "newsletter", "name": "Newsletter"}]
            assert sorted(m["merged"] for m in document["merges"]) == sorted(story.merged)

            whole = response.text
            for other in (PETRO_TEXT, "Petro", "terms for Petro"):
                assert other not in whole

            without = await http.get(
                f"/api/v1/customers/{story.olesya}/export?notes=false", headers=story.admin
            )
            assert all("notes" not in c for c in without.json()["conversations"])
            logged = (
                await http.get("/api/v1/audit", params={"action": "customer.export"}, headers=story.admin)
            ).json()
            assert [(e["target_id"], e["details"]["notes"]) for e in logged["entries"]] == [
                (str(story.olesya), False),
                (str(story.olesya), True),
            ]

            merged = await http.get(f"/api/v1/customers/{story.merged[0]}/export", headers=story.admin)
            assert merged.status_code == 409 and merged.json()["error"]["code"] == "customer_merged"
            assert f"use {story.olesya}" in merged.json()["error"]["message"]


class TestErase:
    async def test_no_personal_data_is_left_and_the_counts_stay(self, hub: Hub, providers: Providers) -> None:
        async with client_for(hub) as http:
            story = await olesya_and_petro(hub, http, providers)
            needles = [
                NAME,
                "Olesya",
                "Zaremba",
                PHONE,
                PHONE.lstrip("+"),
                EMAIL,
                "Uzhhorod",
                "A-77123",
                story.visitor_id,
                *OLESYA_TEXTS,
            ]
            supervisor, _ = await agent_headers(hub, Role.SUPERVISOR)
            before = await database_text(hub)
            assert all(needle in before for needle in needles), [n for n in needles if n not in before]
            counts = {
                model: await count(hub, model)
                for model in (Customer, Conversation, Message, CampaignSend, CustomerEvent)
            }
            assert media_path(hub, story.only_hers) is not None

            wrong = await http.post(
                f"/api/v1/customers/{story.olesya}/erase", json={"confirm": "Olesya"}, headers=story.admin
            )
            assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "confirmation_mismatch"
            denied = await http.post(
                f"/api/v1/customers/{story.olesya}/erase", json={"confirm": NAME}, headers=supervisor
            )
            assert denied.status_code == 403
            assert await database_text(hub) == before

            response = await http.post(
                f"/api/v1/customers/{story.olesya}/erase", json={"confirm": NAME.lower()}, headers=story.admin
            )
            assert response.status_code == 200, response.text
            erasure = response.json()
            assert sorted(erasure["customer_ids"]) == sorted([story.olesya, *story.merged])
            assert erasure["identities"] == 4 and erasure["files_deleted"] == 1
            assert erasure["raw_events"] >= 4

            after = await database_text(hub)
            assert [needle for needle in needles if needle in after] == []
            assert PETRO_TEXT in after and "Petro Bondar" in after
            for model, number in counts.items():
                assert await count(hub, model) == number + (1 if model is CustomerEvent else 0), model

            assert media_path(hub, story.only_hers) is None
            assert media_path(hub, story.shared) is not None
            async with hub.db.session() as session:
                summary = await session.get(OrderSummary, story.olesya)
                assert summary is not None and (summary.order_count, summary.order_total) == (1, 0.0)
                record = await session.get(Customer, story.olesya)
                assert record is not None and record.display_name == f"Erased customer #{story.olesya}"
                pending = (
                    await session.execute(
                        select(OutboxItem).where(OutboxItem.status == OutboxStatus.CANCELLED)
                    )
                ).scalars()
                assert [(item.recipient, item.payload) for item in pending] == [("", {})]
            sent = len(providers.twilio.messages)
            await drain(hub)
            assert len(providers.twilio.messages) == sent

            [entry] = (
                await http.get("/api/v1/audit", params={"action": "customer.erase"}, headers=story.admin)
            ).json()["entries"]
            assert entry["target_id"] == str(story.olesya)
            assert entry["details"]["customer_ids"] == erasure["customer_ids"]

            again = await http.post(
                f"/api/v1/customers/{story.olesya}/erase",
                json={"confirm": str(story.olesya)},
                headers=story.admin,
            )
            assert again.status_code == 409 and again.json()["error"]["code"] == "customer_erased"
            missing = await http.post(
                "/api/v1/customers/999999/erase", json={"confirm": "999999"}, headers=story.admin
            )
            assert missing.status_code == 404

            # She writes again: a stranger to the hub, on a new record.
            await SmsCustomer(hub, http, providers.twilio, PHONE).says("hello again")
            [fresh] = (
                await http.get(f"/api/v1/customers?identity=phone:{PHONE}", headers=story.admin)
            ).json()
            assert fresh["id"] not in [story.olesya, *story.merged]
            petro = (await http.get(f"/api/v1/customers/{story.petro}", headers=story.admin)).json()
            assert petro["display_name"] == "Petro Bondar" and len(petro["identities"]) == 1

"""What the workspace's campaign editor and list ask the API for, on SQLite and PostgreSQL: the
problems of an unsaved definition with their places (and its YAML, and when it would send), a
preview of an unsaved definition in a chosen language, the hub's options, the marketer's own
identities for a test send, counters per campaign in the list, and an audit entry for every launch,
pause, resume and cancel."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import yaml
from sqlalchemy import select

from crm_core.consent import set_consent
from crm_core.customers import attach_identity, resolve_identity, set_tags
from crm_core.models import IdentityKind
from hub.audit import AuditEntry
from hub.runtime import Hub
from inbox.models import Role
from tests.conftest import agent_headers, client_for, drain, hub_config, settings_for, token_headers
from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioApi

SEGMENT = {"name": "Newsletter", "conditions": [{"tag": "newsletter"}]}
SALE: dict[str, Any] = {
    "id": "spring",
    "name": "Spring sale",
    "audience": "newsletter",
    "channels": ["sms"],
    "content": {"default": {"en": "Hi {{ name }}! 20% off this week.", "es": "¡Hola {{ name }}! 20%."}},
}


@pytest.fixture
async def twilio() -> AsyncIterator[FakeTwilioApi]:
    async with FakeTwilioApi() as fake:
        yield fake


@pytest.fixture
async def hub(database_url: str, tmp_path: Path, twilio: FakeTwilioApi) -> AsyncIterator[Hub]:
    sms = {
        "type": "sms",
        "from": "+15005550006",
        "provider": "twilio",
        "account_sid": ACCOUNT_SID,
        "auth_token": AUTH_TOKEN,
        "api_base": twilio.base_url,
    }
    config = hub_config(
        {"site": {"type": "webchat"}, "sms-main": sms},
        marketing={"quiet_hours": "22:00-08:30", "frequency_cap": {"per_day": 3, "per_week": 6}},
    )
    built = Hub.build(settings_for(database_url, tmp_path / "var"), config)
    await built.start(workers=False)
    yield built
    await built.stop()


async def _customer(hub: Hub, name: str, phone: str, *, consent: bool = True, locale: str = "en") -> int:
    async with hub.db.transaction() as session:
        customer = (
            await resolve_identity(session, IdentityKind.PHONE, phone, verified=True, source="t")
        ).customer
        customer.display_name = name
        customer.locale = locale
        session.add(customer)
        await set_tags(session, customer, ["newsletter"])
        if consent:
            await set_consent(session, customer.id, "sms", "marketing", True, source="t")
        return customer.id  # type: ignore[return-value]


async def _segment(http: httpx.AsyncClient, headers: dict[str, str]) -> None:
    response = await http.put("/api/v1/segments/newsletter", json=SEGMENT, headers=headers)
    assert response.status_code == 200, response.text


class TestCheck:
    async def test_every_problem_is_named_with_its_place(self, hub: Hub) -> None:
        marketer = await token_headers(hub, Role.MARKETER)
        broken = {
            **SALE,
            "audience": "nobody",
            "channels": ["sms", "fax"],
            "schedule": {"cron": "every monday"},
            "variants": [{"id": "a", "weight": 50}, {"id": "b", "weight": 40}],
        }
        async with client_for(hub) as http:
            await _segment(http, marketer)
            response = await http.post("/api/v1/campaigns/check", json=broken, headers=marketer)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["valid"] is False and body["next_times"] == []
        by_path = {p["path"]: p["message"] for p in body["problems"]}
        assert by_path["audience"] == "no segment 'nobody' (segments: newsletter)"
        assert by_path["channels[1]"].startswith("'fax' is not one of telegram")
        assert by_path["schedule.cron"].startswith("not a cron expression")
        assert by_path["variants"] == "the weights add up to 90, not 100"
        # Nothing was saved by checking.
        async with client_for(hub) as http:
            assert (await http.get("/api/v1/campaigns/spring", headers=marketer)).status_code == 404

    async def test_a_valid_definition_gives_its_yaml_and_next_sends(self, hub: Hub) -> None:
        marketer = await token_headers(hub, Role.MARKETER)
        weekly = {**SALE, "schedule": {"cron": "0 10 * * MON", "timezone": "Europe/Madrid"}}
        async with client_for(hub) as http:
            await _segment(http, marketer)
            response = await http.post("/api/v1/campaigns/check", json=weekly, headers=marketer)
            body = response.json()
            assert body["valid"] is True and body["problems"] == []
            # The YAML is the campaigns file that holds exactly this definition.
            assert yaml.safe_load(body["yaml"]) == {"campaigns": [weekly]}
            times = [datetime.fromisoformat(t) for t in body["next_times"]]
            assert len(times) == 3
            madrid = [t.astimezone(ZoneInfo("Europe/Madrid")) for t in times]
            assert all((t.weekday(), t.hour, t.minute) == (0, 10, 0) for t in madrid)
            assert times == sorted(times) and times[1] - times[0] == timedelta(days=7)

            later = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
            once = {**SALE, "schedule": {"at": later.isoformat()}}
            body = (await http.post("/api/v1/campaigns/check", json=once, headers=marketer)).json()
            assert [datetime.fromisoformat(t) for t in body["next_times"]] == [later]

    async def test_not_a_mapping_is_refused(self, hub: Hub) -> None:
        marketer = await token_headers(hub, Role.MARKETER)
        async with client_for(hub) as http:
            response = await http.post("/api/v1/campaigns/check", json=["spring"], headers=marketer)
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "invalid_request"


class TestDraftPreview:
    async def test_an_unsaved_definition_renders_in_the_chosen_language(self, hub: Hub) -> None:
        bea = await _customer(hub, "Bea", "+34600000002", locale="en")
        await _customer(hub, "Cy", "+34600000003", consent=False)
        marketer = await token_headers(hub, Role.MARKETER)
        draft = {
            **SALE,
            "content": {"default": {"en": "Hi {{ name }}! " + "x" * 160, "es": "¡Hola {{ name }}!"}},
        }
        async with client_for(hub) as http:
            await _segment(http, marketer)
            response = await http.post(
                "/api/v1/campaigns/preview",
                json={"definition": draft, "customer_id": bea},
                headers=marketer,
            )
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["audience"] == 2 and body["customer_name"] == "Bea"
            (sms,) = body["messages"]
            assert sms["sms"] == {"encoding": "GSM-7", "characters": 168, "segments": 2}

            spanish = await http.post(
                "/api/v1/campaigns/preview",
                json={"definition": draft, "customer_id": bea, "locale": "es-AR"},
                headers=marketer,
            )
            assert spanish.json()["messages"][0]["text"] == "¡Hola Bea!"
            assert spanish.json()["messages"][0]["language"] == "es"

            broken = await http.post(
                "/api/v1/campaigns/preview",
                json={"definition": {**draft, "channels": ["fax"]}},
                headers=marketer,
            )
            assert broken.status_code == 422
            assert "channels[0]: 'fax' is not one of" in broken.json()["error"]["message"]
            assert (await http.get("/api/v1/campaigns/spring", headers=marketer)).status_code == 404


class TestOptionsAndIdentities:
    async def test_options_show_the_hubs_channels_and_rules(self, hub: Hub) -> None:
        marketer = await token_headers(hub, Role.MARKETER)
        async with client_for(hub) as http:
            body = (await http.get("/api/v1/campaigns/options", headers=marketer)).json()
        assert body["connected"] == ["sms", "webchat"]
        assert body["channel_types"][:2] == ["telegram", "viber"]
        assert body["quiet_hours"] == "22:00-08:30"
        assert body["frequency_cap"] == {"per_day": 3, "per_week": 6}

    async def test_a_marketer_test_sends_to_their_own_phone(self, hub: Hub, twilio: FakeTwilioApi) -> None:
        await _customer(hub, "Bea", "+34600000002")
        headers, _ = await agent_headers(hub, Role.MARKETER, email="mark@example.com")
        async with hub.db.transaction() as session:
            mine = (
                await resolve_identity(
                    session, IdentityKind.EMAIL, "mark@example.com", verified=True, source="t"
                )
            ).customer
            await attach_identity(
                session, mine, IdentityKind.PHONE, "+34600999000", verified=True, source="t"
            )
        async with client_for(hub) as http:
            await _segment(http, headers)
            listed = (await http.get("/api/v1/campaigns/test-identities", headers=headers)).json()
            assert [(i["identity"], i["channels"]) for i in listed] == [
                ("email:mark@example.com", []),
                ("phone:+34600999000", ["sms"]),
            ]
            assert (await http.put("/api/v1/campaigns/spring", json=SALE, headers=headers)).status_code == 200
            sent = await http.post(
                "/api/v1/campaigns/spring/test", json={"identity": listed[1]["identity"]}, headers=headers
            )
            assert sent.status_code == 202, sent.text
        await drain(hub)
        assert [(m.param("To"), m.param("Body")) for m in twilio.messages] == [
            ("+34600999000", "Hi there! 20% off this week.")
        ]

    async def test_api_tokens_have_no_identity_of_their_own(self, hub: Hub) -> None:
        marketer = await token_headers(hub, Role.MARKETER)
        async with client_for(hub) as http:
            assert (await http.get("/api/v1/campaigns/test-identities", headers=marketer)).json() == []


class TestListAndLifecycle:
    async def test_the_list_counts_each_campaigns_messages(self, hub: Hub) -> None:
        await _customer(hub, "Ana", "+34600000001")
        await _customer(hub, "Bea", "+34600000002")
        await _customer(hub, "Cy", "+34600000003", consent=False)
        marketer = await token_headers(hub, Role.MARKETER)
        async with client_for(hub) as http:
            await _segment(http, marketer)
            for campaign_id in ("spring", "summer"):
                body = {**SALE, "id": campaign_id, "name": campaign_id.title()}
                assert (
                    await http.put(f"/api/v1/campaigns/{campaign_id}", json=body, headers=marketer)
                ).status_code == 200
            assert (await http.post("/api/v1/campaigns/spring/launch", headers=marketer)).status_code == 200
            assert hub.campaigns is not None
            await hub.campaigns.tick()
            before_sending = (await http.get("/api/v1/campaigns", headers=marketer)).json()
            await drain(hub)
            after = (await http.get("/api/v1/campaigns", headers=marketer)).json()
        by_id = {c["id"]: c for c in before_sending}
        assert by_id["spring"]["counters"] == {
            "planned": 3, "skipped": 1, "queued": 2, "sent": 0, "delivered": 0, "failed": 0
        }  # fmt: skip
        assert by_id["summer"]["counters"]["planned"] == 0 and by_id["summer"]["status"] == "draft"
        spring = next(c for c in after if c["id"] == "spring")
        assert spring["counters"]["sent"] == 2 and spring["counters"]["queued"] == 0
        assert spring["definition"]["channels"] == ["sms"]

    async def test_launch_pause_resume_and_cancel_are_audited(self, hub: Hub) -> None:
        headers, who = await agent_headers(hub, Role.MARKETER)
        later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        async with client_for(hub) as http:
            await _segment(http, headers)
            body = {**SALE, "schedule": {"at": later}}
            assert (await http.put("/api/v1/campaigns/spring", json=body, headers=headers)).status_code == 200
            for action in ("launch", "pause", "resume", "cancel"):
                response = await http.post(f"/api/v1/campaigns/spring/{action}", headers=headers)
                assert response.status_code == 200, (action, response.text)
            refused = await http.post("/api/v1/campaigns/spring/pause", headers=headers)
            assert refused.status_code == 409
        async with hub.db.session() as session:
            entries = (await session.execute(select(AuditEntry).order_by(AuditEntry.id))).scalars().all()  # type: ignore[arg-type]
        assert [(e.action, e.target_id, e.details["status"]) for e in entries] == [
            ("campaign.launch", "spring", ["draft", "scheduled"]),
            ("campaign.pause", "spring", ["scheduled", "paused"]),
            ("campaign.resume", "spring", ["paused", "scheduled"]),
            ("campaign.cancel", "spring", ["scheduled", "cancelled"]),
        ]
        assert {e.actor_agent_id for e in entries} == {who.agent_id}

    async def test_reserved_names_and_roles(self, hub: Hub) -> None:
        marketer = await token_headers(hub, Role.MARKETER)
        agent = await token_headers(hub, Role.AGENT, name="agent")
        async with client_for(hub) as http:
            await _segment(http, marketer)
            reserved = await http.put(
                "/api/v1/campaigns/options", json={**SALE, "id": "options"}, headers=marketer
            )
            assert reserved.status_code == 422 and "reserved" in reserved.json()["error"]["message"]
            for method, path in (
                ("GET", "/api/v1/campaigns/options"),
                ("GET", "/api/v1/campaigns/test-identities"),
                ("POST", "/api/v1/campaigns/check"),
                ("POST", "/api/v1/campaigns/preview"),
            ):
                body = {"definition": SALE} if path.endswith("preview") else SALE
                response = await http.request(method, path, json=body, headers=agent)
                assert response.status_code == 403, path


class TestJourneys:
    JOURNEY: dict[str, Any] = {
        "id": "welcome",
        "name": "Welcome",
        "audience": "newsletter",
        "schedule": "flow",
        "channels": ["sms"],
        "steps": [
            {"send": "hello", "content": {"default": "Welcome, {{ name }}!"}},
            {"wait": "1d"},
            {
                "send": "tips",
                "content": {"default": {"en": "Three tips, {{ name }}.", "es": "Tres consejos."}},
            },
        ],
    }

    async def test_each_step_is_previewed_and_can_be_test_sent(self, hub: Hub, twilio: FakeTwilioApi) -> None:
        bea = await _customer(hub, "Bea", "+34600000002")
        marketer = await token_headers(hub, Role.MARKETER)
        async with client_for(hub) as http:
            await _segment(http, marketer)
            checked = (await http.post("/api/v1/campaigns/check", json=self.JOURNEY, headers=marketer)).json()
            assert checked["valid"] is True, checked["problems"]
            assert yaml.safe_load(checked["yaml"])["campaigns"][0]["steps"] == self.JOURNEY["steps"]
            preview = await http.post(
                "/api/v1/campaigns/preview",
                json={"definition": self.JOURNEY, "customer_id": bea},
                headers=marketer,
            )
            assert [(m["step"], m["text"]) for m in preview.json()["messages"]] == [
                ("hello", "Welcome, Bea!"),
                ("tips", "Three tips, Bea."),
            ]
            assert (
                await http.put("/api/v1/campaigns/welcome", json=self.JOURNEY, headers=marketer)
            ).status_code == 200
            sent = await http.post(
                "/api/v1/campaigns/welcome/test",
                json={"identity": "phone:+34600000002", "step": "tips"},
                headers=marketer,
            )
            assert sent.status_code == 202, sent.text
            unknown = await http.post(
                "/api/v1/campaigns/welcome/test",
                json={"identity": "phone:+34600000002", "step": "bye"},
                headers=marketer,
            )
            assert unknown.status_code == 422
            assert (
                unknown.json()["error"]["message"]
                == "campaign 'welcome' has no message step 'bye' (steps: hello, tips)"
            )
        await drain(hub)
        assert [m.param("Body") for m in twilio.messages] == ["Three tips, Bea."]

"""Multi-step campaigns (journeys) end to end on SQLite and PostgreSQL: customers enter from a launch
or a business event, messages go through the real outbox and SDKs to the fake Viber and Twilio
servers, waits end on a controlled clock or early on an outcome (an order, a click), branches follow
the provider's read receipts, and a crash or a repeated round sends each step exactly once. Pause,
cancel and unsubscribing stop journeys; mistakes in a journey are named with their place."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import event, select
from sqlalchemy.engine import Engine

from crm_core.consent import set_consent
from crm_core.customers import attach_identity, resolve_identity, set_tags
from crm_core.models import IdentityKind
from hub.campaigns.models import CampaignJourney, CampaignSend, JourneyStatus
from hub.outbound.models import OutboxItem
from hub.runtime import Hub
from inbox.models import Role
from tests.conftest import client_for, drain, hub_config, settings_for, token_headers
from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioApi
from tests.fakes.viber_api import FakeViberApi

DOCS = Path(__file__).resolve().parents[2] / "docs" / "campaigns.md"
VIBER_TOKEN = "445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9"
CLUB = {"name": "Club", "conditions": [{"tag": "club"}]}

WELCOME = {
    "name": "Welcome series",
    "audience": "club",
    "channels": ["viber", "sms"],
    "steps": [
        {
            "send": "welcome",
            "content": {"default": "Welcome, {{ name }}!"},
            "variants": [
                {"id": "warm", "weight": 50},
                {"id": "plain", "weight": 50, "content": {"default": "Hello {{ name }}, welcome."}},
            ],
        },
        {"wait": "1d"},
        {
            "branch": {
                "read": [{"send": "tips", "content": {"default": "Tips for you, {{ name }}."}}],
                "otherwise": [
                    {
                        "send": "nudge",
                        "channels": ["sms"],
                        "content": {"default": "{{ name }}, did you see our welcome?"},
                    }
                ],
            }
        },
    ],
}

CART = {
    "name": "Cart reminders",
    "audience": "club",
    "channels": ["viber"],
    "schedule": {"event": "cart.abandoned", "unless": "order.created"},
    "entry": "always",
    "steps": [
        {"wait": "1h"},
        {
            "send": "reminder",
            "content": {"default": "{{ name }}, your cart: {{ link('https://shop.example/cart') }}"},
        },
        {"wait": {"until": "clicked", "timeout": "1d"}},
        {"branch": {"clicked": "end"}},
        {"send": "last-chance", "content": {"default": "{{ name }}, last chance: 5% off with CART5."}},
    ],
}

TWO_MESSAGES = {
    "name": "Two messages",
    "audience": "club",
    "channels": ["viber"],
    "steps": [
        {"send": "first", "content": {"default": "First, {{ name }}."}},
        {"wait": "1h"},
        {"send": "second", "content": {"default": "Second, {{ name }}."}},
        {"wait": "1h"},
        {"send": "third", "content": {"default": "Third, {{ name }}."}},
    ],
}


@dataclass
class Providers:
    viber: FakeViberApi
    twilio: FakeTwilioApi

    def viber_texts(self) -> list[str]:
        return [r["text"] for r in self.viber.accepted]

    def sms(self) -> list[tuple[str | None, str | None]]:
        return [(m.param("To"), m.param("Body")) for m in self.twilio.messages]


@pytest.fixture
async def providers() -> AsyncIterator[Providers]:
    async with FakeViberApi(VIBER_TOKEN) as viber, FakeTwilioApi() as twilio:
        yield Providers(viber, twilio)


HubMaker = Any


@pytest.fixture
async def make(database_url: str, tmp_path: Path, providers: Providers) -> AsyncIterator[HubMaker]:
    """Hubs on the test database (each one like a process: a restart is a new hub)."""
    hubs: list[Hub] = []
    channels = {
        "sms-main": {
            "type": "sms",
            "from": "+15005550006",
            "provider": "twilio",
            "account_sid": ACCOUNT_SID,
            "auth_token": AUTH_TOKEN,
            "api_base": providers.twilio.base_url,
        },
        "viber-main": {"type": "viber", "auth_token": VIBER_TOKEN, "api_base": providers.viber.api_base},
    }

    async def build(**marketing: Any) -> Hub:
        config = hub_config(channels, marketing={"quiet_hours": "off", **marketing})
        hub = Hub.build(settings_for(database_url, tmp_path / "var"), config)
        await hub.start(workers=False)
        hubs.append(hub)
        return hub

    yield build
    for hub in hubs:
        await hub.stop()


async def customer(
    hub: Hub, name: str, *, viber: str, phone: str | None = None, consents: tuple[str, ...] = ("viber",)
) -> int:
    async with hub.db.transaction() as session:
        found = (
            await resolve_identity(session, IdentityKind.VIBER, viber, verified=True, source="t")
        ).customer
        if phone:
            await attach_identity(session, found, IdentityKind.PHONE, phone, verified=True, source="t")
        found.display_name = name
        found.locale = "en"
        session.add(found)
        await set_tags(session, found, ["club"])
        for channel in consents:
            await set_consent(session, found.id, channel, "marketing", True, source="t")
        return found.id  # type: ignore[return-value]


async def define(hub: Hub, campaign_id: str, campaign: dict[str, Any]) -> dict[str, str]:
    marketer = await token_headers(hub, Role.MARKETER, name=f"m-{campaign_id}")
    async with client_for(hub) as http:
        if (await http.get("/api/v1/segments/club", headers=marketer)).status_code == 404:
            response = await http.put("/api/v1/segments/club", json=CLUB, headers=marketer)
            assert response.status_code == 200, response.text
        response = await http.put(f"/api/v1/campaigns/{campaign_id}", json=campaign, headers=marketer)
        assert response.status_code == 200, response.text
        response = await http.post(f"/api/v1/campaigns/{campaign_id}/launch", headers=marketer)
        assert response.status_code == 200, response.text
    return marketer


async def act(hub: Hub, marketer: dict[str, str], campaign_id: str, action: str) -> str:
    async with client_for(hub) as http:
        response = await http.post(f"/api/v1/campaigns/{campaign_id}/{action}", headers=marketer)
        assert response.status_code == 200, response.text
        return str(response.json()["status"])


async def results(hub: Hub, marketer: dict[str, str], campaign_id: str) -> dict[str, Any]:
    async with client_for(hub) as http:
        response = await http.get(f"/api/v1/campaigns/{campaign_id}/results", headers=marketer)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]


async def run(hub: Hub, now: datetime | None = None) -> None:
    """A campaigns round at ``now`` (the controlled clock) and everything it queued sent. The
    dispatcher reads the real clock, so rows queued for a later "now" are made due."""
    assert hub.campaigns is not None
    await hub.campaigns.tick(now)
    if now is not None:
        async with hub.db.transaction() as session:
            for item in (
                await session.execute(select(OutboxItem).where(OutboxItem.next_attempt_at <= now))
            ).scalars():
                item.next_attempt_at = datetime.now(UTC)
                session.add(item)
    await drain(hub)
    await hub.campaigns.tick(now)


async def journeys(hub: Hub) -> dict[int, CampaignJourney]:
    async with hub.db.session() as session:
        return {j.customer_id: j for j in (await session.execute(select(CampaignJourney))).scalars()}


async def viber_callback(hub: Hub, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    signature = hmac.new(VIBER_TOKEN.encode(), body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-Viber-Content-Signature": signature}
    async with client_for(hub) as http:
        response = await http.post("/webhooks/viber/viber-main", content=body, headers=headers)
        assert response.status_code == 200, response.text
    await drain(hub)


async def business_event(hub: Hub, customer_id: int, kind: str, **payload: Any) -> None:
    api = await token_headers(hub, Role.ADMIN, name=f"shop-{kind}-{customer_id}")
    async with client_for(hub) as http:
        body = {"customer_id": customer_id, "kind": kind, "payload": payload}
        response = await http.post("/api/v1/events", json=body, headers=api)
        assert response.status_code == 201, response.text


class TestAWelcomeJourney:
    async def test_send_wait_a_day_then_branch_on_read_to_two_follow_ups(
        self, make: HubMaker, providers: Providers
    ) -> None:
        hub = await make()
        ana = await customer(hub, "Ana", viber="viber-ana")
        bob = await customer(hub, "Bob", viber="viber-bob", phone="+34600000002", consents=("viber", "sms"))
        marketer = await define(hub, "welcome", WELCOME)
        start = datetime.now(UTC)
        await run(hub, start)
        welcomes = {
            "Ana": {"Welcome, Ana!", "Hello Ana, welcome."},
            "Bob": {"Welcome, Bob!", "Hello Bob, welcome."},
        }
        texts = providers.viber_texts()
        assert (
            len(texts) == 2
            and any(t in welcomes["Ana"] for t in texts)
            and any(t in welcomes["Bob"] for t in texts)
        )

        # Ana reads hers (Viber's "seen" callback); Bob never does.
        async with hub.db.session() as session:
            sent = (
                await session.execute(select(CampaignSend).where(CampaignSend.customer_id == ana))
            ).scalar_one()
        seen = {
            "event": "seen",
            "timestamp": 1714557600456,
            "message_token": int(sent.provider_message_id or 0),
            "user_id": "viber-ana",
        }
        await viber_callback(hub, seen)

        # Not a day yet: everyone waits.
        await run(hub, start + timedelta(hours=23))
        assert len(providers.viber.accepted) == 2 and providers.sms() == []
        assert {j.step for j in (await journeys(hub)).values()} == {"steps[1]"}

        # A day later the branch sends each their follow-up: tips to the reader, a nudge by SMS.
        await run(hub, start + timedelta(days=1, minutes=1))
        assert providers.viber_texts()[2:] == ["Tips for you, Ana."]
        assert providers.sms() == [("+34600000002", "Bob, did you see our welcome?")]
        walked = await journeys(hub)
        assert {walked[ana].status, walked[bob].status} == {JourneyStatus.COMPLETED}

        # Another round (or many) sends nothing more.
        await run(hub, start + timedelta(days=3))
        assert len(providers.viber.accepted) == 3 and len(providers.twilio.messages) == 1

        funnel = await results(hub, marketer, "welcome")
        assert list(funnel["steps"]) == ["welcome", "tips", "nudge"]
        welcome = funnel["steps"]["welcome"]
        assert (welcome["total"]["sent"], welcome["total"]["read"]) == (2, 1)
        assert set(welcome["variants"]) <= {"warm", "plain"}
        assert sum(v["sent"] for v in welcome["variants"].values()) == 2
        assert funnel["steps"]["tips"]["total"]["sent"] == 1
        assert funnel["steps"]["nudge"]["total"]["sent"] == 1
        assert funnel["journeys"] == {"entered": 2, "active": 0, "completed": 2, "exited": {}, "at_step": {}}
        assert funnel["variants"]["total"]["sent"] == 4
        async with client_for(hub) as http:
            status = (await http.get("/api/v1/campaigns/welcome", headers=marketer)).json()["status"]
        assert status == "completed"


class TestAnAbandonedCartJourney:
    async def test_an_order_ends_the_journey_and_a_click_ends_the_wait_early(
        self, make: HubMaker, providers: Providers
    ) -> None:
        hub = await make(frequency_cap="off")
        ana = await customer(hub, "Ana", viber="viber-ana")
        bob = await customer(hub, "Bob", viber="viber-bob")
        cy = await customer(hub, "Cy", viber="viber-cy")
        dee = await customer(hub, "Dee", viber="viber-dee")
        marketer = await define(hub, "cart", CART)
        start = datetime.now(UTC)
        for someone in (ana, bob, cy, dee):
            await business_event(hub, someone, "cart.abandoned")
        await run(hub, start)
        assert providers.viber.accepted == []  # the first step waits an hour

        # Bob orders during the wait: his journey ends at once (the order wakes it), before the hour.
        await business_event(hub, bob, "order.created", amount=30)
        await run(hub)
        walked = await journeys(hub)
        assert (walked[bob].status, walked[bob].exit_reason) == (JourneyStatus.EXITED, "condition_met")
        assert walked[ana].status is JourneyStatus.ACTIVE

        await run(hub, start + timedelta(hours=1, minutes=1))
        texts = providers.viber_texts()
        assert sorted(t.split(",")[0] for t in texts) == ["Ana", "Cy", "Dee"]

        # Ana orders after the reminder: she leaves (and the reminder gets the conversion).
        await business_event(hub, ana, "order.created", amount=42.5)
        # Dee clicks her reminder's tracked link: her wait for the click ends now, not in a day.
        dees = next(t for t in texts if t.startswith("Dee"))
        async with client_for(hub) as http:
            followed = await http.get(dees.split(": ")[1].removeprefix("https://hub.example.com"))
            assert followed.status_code == 302
        await run(hub, start + timedelta(hours=1, minutes=2))
        walked = await journeys(hub)
        assert (walked[ana].status, walked[ana].exit_reason) == (JourneyStatus.EXITED, "condition_met")
        assert walked[dee].status is JourneyStatus.COMPLETED
        assert walked[cy].status is JourneyStatus.ACTIVE  # still waiting for a click

        # A day later Cy, who neither ordered nor clicked, gets the last chance.
        await run(hub, start + timedelta(days=1, hours=2))
        assert providers.viber_texts()[3:] == ["Cy, last chance: 5% off with CART5."]
        funnel = await results(hub, marketer, "cart")
        assert funnel["journeys"]["exited"] == {"condition_met": 2}
        assert funnel["journeys"]["completed"] == 2
        reminder = funnel["steps"]["reminder"]["total"]
        assert (reminder["sent"], reminder["clicked"], reminder["converted"], reminder["revenue"]) == (
            3,
            1,
            1,
            42.5,
        )


ASKING = {
    "name": "Asking",
    "audience": "club",
    "channels": ["viber"],
    "steps": [
        {"send": "hello", "content": {"default": "Hello {{ name }}, how was your order?"}},
        {"wait": {"until": ["read", "replied"], "timeout": "2d"}},
        {
            "branch": {
                "replied": [{"send": "thanks", "content": {"default": "Thanks for answering, {{ name }}!"}}],
                "read": [{"send": "still", "content": {"default": "{{ name }}, a word from you helps us."}}],
            }
        },
    ],
}


class TestOutcomesWakeJourneys:
    async def test_a_read_receipt_and_a_reply_end_the_wait_before_its_timeout(
        self, make: HubMaker, providers: Providers
    ) -> None:
        hub = await make(frequency_cap="off")
        ana = await customer(hub, "Ana", viber="viber-ana")
        await customer(hub, "Bob", viber="viber-bob")
        await define(hub, "asking", ASKING)
        await run(hub)
        assert sorted(providers.viber_texts()) == [
            "Hello Ana, how was your order?",
            "Hello Bob, how was your order?",
        ]
        async with hub.db.session() as session:
            sent = (
                await session.execute(select(CampaignSend).where(CampaignSend.customer_id == ana))
            ).scalar_one()
        token = int(sent.provider_message_id or 0)
        await viber_callback(
            hub, {"event": "seen", "timestamp": 1714557600456, "message_token": token, "user_id": "viber-ana"}
        )
        message = {
            "event": "message",
            "timestamp": 1714557600999,
            "message_token": 9_000_000_777,
            "sender": {"id": "viber-bob", "name": "Bob", "language": "en", "country": "ES", "api_version": 8},
            "message": {"type": "text", "text": "All good, thanks"},
        }
        await viber_callback(hub, message)
        await run(hub)  # now, two days before the waits' timeout
        # (Bob's message also got the greeting bot's answer.)
        follow_ups = {"Ana, a word from you helps us.", "Thanks for answering, Bob!"}
        assert sorted(t for t in providers.viber_texts() if t in follow_ups) == sorted(follow_ups)
        assert {j.status for j in (await journeys(hub)).values()} == {JourneyStatus.COMPLETED}


class TestExactlyOnce:
    async def test_a_restart_between_planning_and_sending_and_repeated_rounds_send_each_step_once(
        self, make: HubMaker, providers: Providers
    ) -> None:
        first = await make(frequency_cap="off")
        await customer(first, "Ana", viber="viber-ana")
        await define(first, "two", TWO_MESSAGES)
        start = datetime.now(UTC)
        assert first.campaigns is not None
        await first.campaigns.tick(start)  # the first message is planned: its outbox row waits
        await first.stop()  # the process dies before sending

        second = await make(frequency_cap="off")  # restarted on the same database
        assert second.campaigns is not None
        await second.campaigns.tick(start)
        await second.campaigns.tick(start)
        await drain(second)
        assert providers.viber_texts() == ["First, Ana."]

        # The next step crashes halfway: its send row is written, then the outbox insert fails,
        # and the whole round is rolled back.
        class Crash(Exception):
            pass

        def crash_on_outbox(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            if statement.lstrip().upper().startswith("INSERT INTO OUTBOX"):
                raise Crash

        later = start + timedelta(hours=1, minutes=1)
        # Every engine (SQLite writes go through their own).
        event.listen(Engine, "before_cursor_execute", crash_on_outbox)
        try:
            with pytest.raises(Crash):
                await second.campaigns.tick(later)
        finally:
            event.remove(Engine, "before_cursor_execute", crash_on_outbox)
        async with second.db.session() as session:
            steps = (await session.execute(select(CampaignSend.step))).scalars().all()
        assert steps == ["first"]
        await run(second, later)
        await run(second, later)
        assert providers.viber_texts() == ["First, Ana.", "Second, Ana."]
        await run(second, later + timedelta(hours=1))
        await run(second, later + timedelta(hours=2))
        assert providers.viber_texts() == ["First, Ana.", "Second, Ana.", "Third, Ana."]


class TestStoppingJourneys:
    async def test_pause_holds_journeys_and_cancel_ends_them(
        self, make: HubMaker, providers: Providers
    ) -> None:
        hub = await make(frequency_cap="off")
        await customer(hub, "Ana", viber="viber-ana")
        await customer(hub, "Bob", viber="viber-bob")
        marketer = await define(hub, "two", TWO_MESSAGES)
        start = datetime.now(UTC)
        await run(hub, start)
        assert sorted(providers.viber_texts()) == ["First, Ana.", "First, Bob."]

        assert await act(hub, marketer, "two", "pause") == "paused"
        await run(hub, start + timedelta(hours=1, minutes=1))
        assert len(providers.viber.accepted) == 2
        assert await act(hub, marketer, "two", "resume") == "running"
        await run(hub, start + timedelta(hours=1, minutes=1))
        assert sorted(providers.viber_texts()[2:]) == ["Second, Ana.", "Second, Bob."]

        assert await act(hub, marketer, "two", "cancel") == "cancelled"
        await run(hub, start + timedelta(hours=3))
        assert len(providers.viber.accepted) == 4
        funnel = await results(hub, marketer, "two")
        assert funnel["journeys"]["exited"] == {"cancelled": 2}
        assert funnel["steps"]["third"]["total"]["planned"] == 0

    async def test_unsubscribing_ends_the_journey(self, make: HubMaker, providers: Providers) -> None:
        hub = await make(frequency_cap="off")
        ana = await customer(hub, "Ana", viber="viber-ana")
        marketer = await define(hub, "two", TWO_MESSAGES)
        start = datetime.now(UTC)
        await run(hub, start)
        async with hub.db.transaction() as session:
            await set_consent(session, ana, "viber", "marketing", False, source="unsubscribed")
        await run(hub, start + timedelta(hours=2))
        assert providers.viber_texts() == ["First, Ana."]
        assert (await results(hub, marketer, "two"))["journeys"]["exited"] == {"unsubscribed": 1}


class TestJourneyMistakes:
    async def test_every_mistake_is_named_with_its_place(self, make: HubMaker) -> None:
        hub = await make()
        marketer = await token_headers(hub, Role.MARKETER, name="m")
        bad = {
            "name": "Broken journey",
            "audience": {"conditions": []},
            "channels": ["viber", "email"],
            "content": {"default": "Hi"},
            "steps": [
                {"send": "welcome", "content": {"default": "Hi {{ name }}"}},
                {"wait": "tomorrow"},
                {"branch": {"seen": "end", "read": "welcome"}},
                {"wait": {"until": "read"}},
                {"send": "welcome", "channels": ["fax"], "content": {"default": "Again"}},
                {"goto": "nowhere"},
                {"sned": "typo"},
            ],
        }
        async with client_for(hub) as http:
            response = await http.put("/api/v1/campaigns/broken", json=bad, headers=marketer)
            assert response.status_code == 422
            message = response.json()["error"]["message"]
            before = {**bad, "content": None, "steps": [{"branch": {"read": "end"}}, {"send": "x"}]}
            del before["content"]
            second = await http.put("/api/v1/campaigns/broken", json=before, headers=marketer)
            assert second.status_code == 422
            message2 = second.json()["error"]["message"]
        for expected in (
            "content: a campaign with steps has its content on each send step",
            "steps[0].content.email: email needs a subject",
            "steps[1].wait: 'tomorrow' is not a duration such as 30m, 1h or 2d",
            "steps[2].branch.seen: not an outcome",
            "steps[2].branch.read: 'welcome' comes before this step: a journey only goes forward",
            "steps[3].wait: give a timeout: how long to wait at most",
            "steps[4]: the name 'welcome' is already used by steps[0]",
            "steps[4].channels[0]: 'fax' is not one of",
            "steps[5].goto: no step 'nowhere' to go to",
            "steps[6]: a step is one of send, wait, branch, goto or end",
        ):
            assert expected in message, (expected, message)
        for expected in (
            "steps[0].branch: no message is sent before this step",
            "steps[1]: a send step needs content",
        ):
            assert expected in message2, (expected, message2)

    async def test_the_journey_in_the_docs_is_valid(self, make: HubMaker) -> None:
        documented = next(
            block
            for block in re.findall(r"```yaml\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.DOTALL)
            if "steps:" in block
        )
        definition = yaml.safe_load(documented)
        hub = await make()
        marketer = await token_headers(hub, Role.MARKETER, name="docs")
        async with client_for(hub) as http:
            segment = {"name": "Club members", "conditions": [{"tag": "club"}]}
            response = await http.put("/api/v1/segments/club-members", json=segment, headers=marketer)
            assert response.status_code == 200, response.text
            response = await http.put(
                f"/api/v1/campaigns/{definition['id']}", json=definition, headers=marketer
            )
            assert response.status_code == 200, response.text
        assert hub.campaigns is not None
        async with hub.db.session() as session:
            parsed = await hub.campaigns.definition(session, definition["id"])
        assert [name for name, _ in parsed.messages()] == ["welcome", "tips", "nudge", "first-order"]

    async def test_a_single_message_campaign_has_no_journey_results(self, make: HubMaker) -> None:
        hub = await make()
        marketer = await define(
            hub,
            "single",
            {"name": "One", "audience": "club", "channels": ["viber"], "content": {"default": "Hi"}},
        )
        funnel = await results(hub, marketer, "single")
        assert "steps" not in funnel and "journeys" not in funnel

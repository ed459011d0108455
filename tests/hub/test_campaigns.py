"""Campaigns end to end on SQLite and PostgreSQL: planned from a segment, sent through the real
outbox and SDKs to the fake Viber and Twilio servers, with consent checked at send time, quiet
hours, the frequency cap, the Viber -> SMS cascade, pause/resume/cancel, triggered sends with a
delay and an `unless`, conversions, a crash mid-planning, and schedules firing once."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import func, select

from crm_core.consent import has_consent, set_consent
from crm_core.customers import attach_identity, resolve_identity, set_tags
from crm_core.models import IdentityKind
from hub.campaigns import jobs
from hub.campaigns.models import CampaignRun, CampaignSend, SendStatus
from hub.outbound.models import OutboxItem
from hub.runtime import Hub
from hub.scheduler import Fire
from inbox.models import Role
from tests.conftest import client_for, drain, hub_config, settings_for, token_headers
from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioApi, message_status, signed_request
from tests.fakes.viber_api import FakeViberApi
from tests.hub.channel_helpers import mail_setup

VIBER_TOKEN = "445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9"
SEGMENT = {"name": "Newsletter", "conditions": [{"tag": "newsletter"}]}
SALE = {
    "name": "Spring sale",
    "audience": "newsletter",
    "channels": ["viber", "sms"],
    "content": {
        "default": {"en": "Hi {{ name }}! 20% off this week.", "es": "¡Hola {{ name }}! 20% de descuento."},
    },
}


def viber_text_from(user_id: str, text: str) -> dict[str, Any]:
    return {
        "event": "message",
        "timestamp": 1714557600456,
        "message_token": 9_000_000_001,
        "sender": {"id": user_id, "name": "Ana", "language": "en", "country": "ES", "api_version": 8},
        "message": {"type": "text", "text": text},
    }


async def viber_callback(http: httpx.AsyncClient, payload: dict[str, Any]) -> httpx.Response:
    body = json.dumps(payload).encode()
    signature = hmac.new(VIBER_TOKEN.encode(), body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-Viber-Content-Signature": signature}
    return await http.post("/webhooks/viber/viber-main", content=body, headers=headers)


async def twilio_posts(http: httpx.AsyncClient, account: str, params: dict[str, str]) -> httpx.Response:
    request = signed_request(f"https://hub.example.com/webhooks/sms/{account}", params)
    return await http.post(f"/webhooks/sms/{account}", content=request.body, headers=dict(request.headers))


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


def _channels(p: Providers) -> dict[str, Any]:
    return {
        "sms-main": {
            "type": "sms",
            "from": "+15005550006",
            "provider": "twilio",
            "account_sid": ACCOUNT_SID,
            "auth_token": AUTH_TOKEN,
            "api_base": p.twilio.base_url,
        },
        "viber-main": {
            "type": "viber",
            "auth_token": VIBER_TOKEN,
            "chat_uri": "omnihubdemo",
            "api_base": p.viber.api_base,
        },
    }


HubMaker = Any


@pytest.fixture
async def make(database_url: str, tmp_path: Path, providers: Providers) -> AsyncIterator[HubMaker]:
    hubs: list[Hub] = []

    async def build(channels: dict[str, Any] | None = None, **marketing: Any) -> Hub:
        rules = {"quiet_hours": "off", **marketing}
        config = hub_config({**_channels(providers), **(channels or {})}, marketing=rules)
        hub = Hub.build(settings_for(database_url, tmp_path / "var"), config)
        await hub.start(workers=False)
        hubs.append(hub)
        return hub

    yield build
    for hub in hubs:
        await hub.stop()


async def _customer(
    hub: Hub,
    name: str,
    *,
    viber: str | None = None,
    phone: str | None = None,
    email: str | None = None,
    consents: tuple[str, ...] = (),
    tags: tuple[str, ...] = ("newsletter",),
    locale: str = "en",
    timezone: str | None = None,
) -> int:
    async with hub.db.transaction() as session:
        first = next(
            (k, a)
            for k, a in (
                (IdentityKind.VIBER, viber),
                (IdentityKind.PHONE, phone),
                (IdentityKind.EMAIL, email),
            )
            if a
        )
        customer = (await resolve_identity(session, first[0], first[1], verified=True, source="t")).customer
        for kind, address in ((IdentityKind.PHONE, phone), (IdentityKind.EMAIL, email)):
            if address and kind != first[0]:
                await attach_identity(session, customer, kind, address, verified=True, source="t")
        customer.display_name = name
        customer.locale = locale
        customer.timezone = timezone
        session.add(customer)
        await set_tags(session, customer, list(tags))
        for channel in consents:
            await set_consent(session, customer.id, channel, "marketing", True, source="t")
        return customer.id  # type: ignore[return-value]


async def _setup(hub: Hub, campaign: dict[str, Any], campaign_id: str = "spring") -> dict[str, str]:
    marketer = await token_headers(hub, Role.MARKETER, name=f"m-{campaign_id}")
    async with client_for(hub) as http:
        if (await http.get("/api/v1/segments/newsletter", headers=marketer)).status_code == 404:
            response = await http.put("/api/v1/segments/newsletter", json=SEGMENT, headers=marketer)
            assert response.status_code == 200, response.text
        response = await http.put(f"/api/v1/campaigns/{campaign_id}", json=campaign, headers=marketer)
        assert response.status_code == 200, response.text
    return marketer


async def _launch(hub: Hub, marketer: dict[str, str], campaign_id: str = "spring") -> None:
    async with client_for(hub) as http:
        response = await http.post(f"/api/v1/campaigns/{campaign_id}/launch", headers=marketer)
        assert response.status_code == 200, response.text


async def _results(hub: Hub, marketer: dict[str, str], campaign_id: str = "spring") -> dict[str, Any]:
    async with client_for(hub) as http:
        response = await http.get(f"/api/v1/campaigns/{campaign_id}/results", headers=marketer)
        assert response.status_code == 200, response.text
        return response.json()["variants"]["total"]


async def _make_due(hub: Hub, now: datetime) -> None:
    async with hub.db.transaction() as session:
        for item in (
            await session.execute(select(OutboxItem).where(OutboxItem.next_attempt_at <= now))
        ).scalars():
            item.next_attempt_at = datetime.now(UTC)
            session.add(item)


async def _run(hub: Hub, now: datetime | None = None) -> None:
    """One campaign round at ``now`` and everything it queued sent. The dispatcher reads the real
    clock, so rows a round in the future queued for "now" are made due now."""
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


async def test_a_broadcast_reaches_each_customer_once_on_their_best_channel(
    make: HubMaker, providers: Providers
) -> None:
    hub = await make()
    await _customer(hub, "Ana", viber="viber-ana", consents=("viber",))
    await _customer(hub, "Bea", viber="viber-bea", phone="+34600000002", consents=("sms",), locale="es")
    await _customer(hub, "Cy", phone="+34600000003")  # no consent anywhere
    await _customer(hub, "Dee", email="dee@example.com", consents=("email",))  # no channel of the campaign
    await _customer(hub, "Eve", viber="viber-eve", consents=("viber",), tags=())  # not in the segment
    marketer = await _setup(hub, SALE)
    await _launch(hub, marketer)
    await _run(hub)

    assert providers.viber_texts() == ["Hi Ana! 20% off this week."]
    assert providers.sms() == [("+34600000002", "¡Hola Bea! 20% de descuento.")]
    funnel = await _results(hub, marketer)
    assert funnel["planned"] == 4
    assert funnel["sent"] == 2
    assert funnel["skipped"] == {"no_consent": 1, "no_reachable_channel": 1}

    # Running every part again sends nothing twice.
    assert hub.campaigns is not None
    async with hub.db.transaction() as session:
        run = (await session.execute(select(CampaignRun))).scalars().one()
        run.finished_at = None
        run.cursor = 0
        session.add(run)
    await _run(hub)
    assert len(providers.viber.accepted) == 1 and len(providers.twilio.messages) == 1
    async with client_for(hub) as http:
        status = (await http.get("/api/v1/campaigns/spring", headers=marketer)).json()["status"]
    assert status == "completed"


async def test_viber_refused_falls_back_to_sms(make: HubMaker, providers: Providers) -> None:
    hub = await make()
    await _customer(hub, "Ana", viber="viber-ana", phone="+34600000001", consents=("viber", "sms"))
    marketer = await _setup(hub, SALE)
    await _launch(hub, marketer)
    providers.viber.fail_with_status(6, "receiverNotSubscribed")
    await _run(hub)
    assert providers.viber_texts() == []
    assert providers.sms() == [("+34600000001", "Hi Ana! 20% off this week.")]
    funnel = await _results(hub, marketer)
    assert funnel["sent"] == 1 and funnel["fell_back_to"] == {"sms": 1}
    async with hub.db.session() as session:
        send = (await session.execute(select(CampaignSend))).scalars().one()
    assert send.tried == ["viber", "sms"] and "receiverNotSubscribed" in (send.reason or "")


async def test_consent_is_checked_again_when_sending(make: HubMaker, providers: Providers) -> None:
    hub = await make()
    ana = await _customer(hub, "Ana", viber="viber-ana", consents=("viber",))
    marketer = await _setup(hub, SALE)
    await _launch(hub, marketer)
    assert hub.campaigns is not None
    await hub.campaigns.tick()  # planned: an outbox row waits
    async with hub.db.transaction() as session:
        await set_consent(session, ana, "viber", "marketing", False, source="unsubscribed")
    await _run(hub)
    assert providers.viber.accepted == []
    assert (await _results(hub, marketer))["skipped"] == {"no_consent": 1}


async def test_quiet_hours_hold_messages_until_morning(make: HubMaker, providers: Providers) -> None:
    now = datetime.now(UTC)
    # Quiet hours around "now" in Kyiv time, ending an hour from now.
    local = now.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Kyiv"))
    start = (local - timedelta(hours=1)).strftime("%H:%M")
    end = (local + timedelta(hours=1)).strftime("%H:%M")
    hub = await make(quiet_hours=f"{start}-{end}")
    await _customer(hub, "Ana", viber="viber-ana", consents=("viber",), timezone="Europe/Kyiv")
    marketer = await _setup(hub, SALE)
    await _launch(hub, marketer)
    await _run(hub)
    assert providers.viber.accepted == []
    funnel = await _results(hub, marketer)
    assert funnel["queued"] == 1 and funnel["held"] == 1
    async with hub.db.session() as session:
        item = (await session.execute(select(OutboxItem))).scalars().one()
    assert timedelta(minutes=55) < item.next_attempt_at - now < timedelta(minutes=65)


async def test_the_frequency_cap_counts_across_campaigns(make: HubMaker, providers: Providers) -> None:
    hub = await make(frequency_cap={"per_day": 1})
    await _customer(hub, "Ana", viber="viber-ana", consents=("viber",))
    marketer = await _setup(hub, SALE)
    await _launch(hub, marketer)
    await _run(hub)
    await _setup(hub, {**SALE, "name": "Second"}, "second")
    await _launch(hub, marketer, "second")
    await _run(hub)
    assert providers.viber_texts() == ["Hi Ana! 20% off this week."]
    assert (await _results(hub, marketer, "second"))["skipped"] == {"frequency_cap": 1}
    # Transactional messages are exempt.
    await _setup(hub, {**SALE, "name": "Order update", "purpose": "transactional"}, "orders")
    await _launch(hub, marketer, "orders")
    await _run(hub)
    assert len(providers.viber.accepted) == 2


async def test_pause_resume_and_cancel(make: HubMaker, providers: Providers) -> None:
    hub = await make()
    await _customer(hub, "Ana", viber="viber-ana", consents=("viber",))
    await _customer(hub, "Bob", viber="viber-bob", consents=("viber",))
    marketer = await _setup(hub, SALE)
    await _launch(hub, marketer)
    assert hub.campaigns is not None
    await hub.campaigns.tick()
    async with client_for(hub) as http:
        assert (await http.post("/api/v1/campaigns/spring/pause", headers=marketer)).json()[
            "status"
        ] == "paused"
        await drain(hub)
        assert providers.viber.accepted == []
        assert (await http.post("/api/v1/campaigns/spring/resume", headers=marketer)).json()[
            "status"
        ] == "running"
        async with hub.db.transaction() as session:  # the held rows are due again
            for item in (await session.execute(select(OutboxItem))).scalars():
                item.next_attempt_at = datetime.now(UTC)
                session.add(item)
        await hub.dispatcher.dispatch_due()
        assert len(providers.viber.accepted) == 2
        cancelled = await http.post("/api/v1/campaigns/spring/cancel", headers=marketer)
        assert cancelled.json()["status"] == "cancelled"
        again = await http.post("/api/v1/campaigns/spring/launch", headers=marketer)
        assert again.status_code == 409 and again.json()["error"]["code"] == "campaign_state"


async def test_cancel_withdraws_what_has_not_left(make: HubMaker, providers: Providers) -> None:
    hub = await make()
    await _customer(hub, "Ana", viber="viber-ana", consents=("viber",))
    marketer = await _setup(hub, SALE)
    await _launch(hub, marketer)
    assert hub.campaigns is not None
    await hub.campaigns.tick()
    async with client_for(hub) as http:
        await http.post("/api/v1/campaigns/spring/cancel", headers=marketer)
    await drain(hub)
    assert providers.viber.accepted == []
    assert (await _results(hub, marketer))["skipped"] == {"cancelled": 1}


async def test_triggered_abandoned_cart_waits_and_respects_unless(
    make: HubMaker, providers: Providers
) -> None:
    hub = await make()
    ana = await _customer(hub, "Ana", viber="viber-ana", consents=("viber",))
    bob = await _customer(hub, "Bob", viber="viber-bob", consents=("viber",))
    cart = {
        **SALE,
        "name": "Abandoned cart",
        "schedule": {"event": "cart.abandoned", "delay": "1h", "unless": "order.created"},
        "content": {"default": "{{ name }}, your cart is waiting."},
        "conversion": {"event": "order.created", "within": "7d"},
        "entry": "always",
    }
    marketer = await _setup(hub, cart, "cart")
    await _launch(hub, marketer, "cart")
    api = await token_headers(hub, Role.ADMIN, name="shop")
    async with client_for(hub) as http:
        for customer in (ana, bob):
            response = await http.post(
                "/api/v1/events", json={"customer_id": customer, "kind": "cart.abandoned"}, headers=api
            )
            assert response.status_code == 201, response.text
        await _run(hub)
        assert providers.viber.accepted == []  # not yet: the delay
        await http.post(
            "/api/v1/events",
            json={"customer_id": bob, "kind": "order.created", "payload": {"amount": 10}},
            headers=api,
        )
        await _run(hub, datetime.now(UTC) + timedelta(hours=1, minutes=1))
        assert providers.viber_texts() == ["Ana, your cart is waiting."]
        await http.post(
            "/api/v1/events",
            json={"customer_id": ana, "kind": "order.created", "payload": {"amount": 42.5}},
            headers=api,
        )
    funnel = await _results(hub, marketer, "cart")
    assert funnel["skipped"] == {"condition_met": 1}
    assert funnel["converted"] == 1 and funnel["revenue"] == 42.5


async def test_planning_resumes_after_a_crash_without_duplicates(
    make: HubMaker, providers: Providers
) -> None:
    hub = await make()
    for i in range(7):
        await _customer(hub, f"C{i}", viber=f"viber-{i}", consents=("viber",))
    marketer = await _setup(hub, SALE)
    await _launch(hub, marketer)
    assert hub.campaigns is not None
    hub.campaigns.planner.batch_size = 3

    class Crash(Exception):
        pass

    def crash_after_first_batch(done: int, total: int) -> None:
        raise Crash

    with pytest.raises(Crash):
        await hub.campaigns.tick(progress=crash_after_first_batch)
    async with hub.db.session() as session:
        assert (await session.execute(select(func.count()).select_from(CampaignSend))).scalar_one() == 3
    await _run(hub)
    assert sorted(providers.viber_texts()) == sorted(f"Hi C{i}! 20% off this week." for i in range(7))


async def test_a_recurring_schedule_is_a_persistent_job_that_plans_each_firing_once(
    make: HubMaker, providers: Providers
) -> None:
    first = await make()
    await _customer(first, "Ana", viber="viber-ana", consents=("viber",))
    weekly = {**SALE, "schedule": {"cron": "0 10 * * MON", "timezone": "Europe/Madrid"}, "entry": "always"}
    marketer = await _setup(first, weekly)
    await _launch(first, marketer)
    # The schedule lives in the database: a second process (or a restarted hub) sees the same job.
    second = await make()
    assert second.scheduler is not None
    job = await second.scheduler.job(jobs.job_id("spring"))
    assert job is not None and "0 10 * * MON" in job.schedule and "Europe/Madrid" in job.schedule
    assert (
        job.next_run_time is not None and job.next_run_time.astimezone(ZoneInfo("Europe/Madrid")).hour == 10
    )

    # One Monday's firing, run twice (as after a failover between leaders): one run, one message.
    monday = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
    for hub in (first, second):
        async with hub.db.transaction() as session:
            await jobs.fire(Fire(jobs.job_id("spring"), monday, session, hub), "spring", "cron")
    async with first.db.session() as session:
        keys = (await session.execute(select(CampaignRun.key))).scalars().all()
    assert keys == ["cron:2030-01-07T09:00:00+00:00"]
    await _run(first, monday)
    assert len(providers.viber.accepted) == 1

    # Paused over a firing: that firing is skipped. Cancelled: the job is gone.
    async with client_for(first) as http:
        await http.post("/api/v1/campaigns/spring/pause", headers=marketer)
        async with first.db.transaction() as session:
            later = Fire(jobs.job_id("spring"), monday + timedelta(days=7), session, first)
            await jobs.fire(later, "spring", "cron")
        await http.post("/api/v1/campaigns/spring/cancel", headers=marketer)
    async with first.db.session() as session:
        assert len((await session.execute(select(CampaignRun.key))).scalars().all()) == 1
    assert first.scheduler is not None
    assert await first.scheduler.job(jobs.job_id("spring")) is None


async def test_mistakes_in_a_campaign_are_named(make: HubMaker) -> None:
    hub = await make()
    marketer = await _setup(hub, SALE)
    bad = {
        "name": "",
        "audience": "nobody",
        "channels": ["viber", "fax"],
        "schedule": {"cron": "every monday"},
        "content": {"default": {"en": "Hi {{ name"}},
        "variants": [{"id": "a", "weight": 70}, {"id": "b", "weight": 20}],
    }
    async with client_for(hub) as http:
        response = await http.put("/api/v1/campaigns/broken", json=bad, headers=marketer)
        assert response.status_code == 422
        message = response.json()["error"]["message"]
        for expected in (
            "name: give the campaign a name",
            "audience: no segment 'nobody' (segments: newsletter)",
            "channels[1]: 'fax' is not one of",
            "schedule.cron: not a cron expression: cron 'every monday': expected 5 fields",
            "content.default.en: the template does not compile",
            "variants: the weights add up to 90, not 100",
        ):
            assert expected in message, (expected, message)
        assert (await http.get("/api/v1/campaigns/broken", headers=marketer)).status_code == 404
        agent = await token_headers(hub, Role.AGENT, name="agent")
        assert (await http.get("/api/v1/campaigns", headers=agent)).status_code == 403


async def test_preview_shows_each_channel_and_sms_segments(make: HubMaker) -> None:
    hub = await make()
    bea = await _customer(hub, "Bea", viber="viber-bea", phone="+34600000002", consents=("sms",), locale="es")
    long_text = {"en": "x" * 200, "es": "¡Hola {{ name }}! " + "á" * 80}
    marketer = await _setup(hub, {**SALE, "content": {"default": long_text}})
    async with client_for(hub) as http:
        response = await http.post(
            "/api/v1/campaigns/spring/preview", json={"customer_id": bea}, headers=marketer
        )
        assert response.status_code == 200, response.text
        body = response.json()
    assert body["audience"] == 1
    sms = next(m for m in body["messages"] if m["channel"] == "sms")
    # "á" is not in the GSM-7 alphabet: the whole text goes as UCS-2, 70 characters per single SMS.
    assert sms["sms"] == {"encoding": "UCS-2", "characters": 91, "segments": 2}
    viber = next(m for m in body["messages"] if m["channel"] == "viber")
    assert viber["text"].startswith("¡Hola Bea!") and "sms" not in viber


async def test_receipts_cascade_and_replies_are_counted(make: HubMaker, providers: Providers) -> None:
    hub = await make()
    await _customer(hub, "Ana", viber="viber-ana", phone="+34600000001", consents=("viber", "sms"))
    marketer = await _setup(hub, SALE)
    await _launch(hub, marketer)
    await _run(hub)
    assert providers.viber_texts() == ["Hi Ana! 20% off this week."]
    async with hub.db.session() as session:
        send = (await session.execute(select(CampaignSend))).scalars().one()
    token = send.provider_message_id
    assert token is not None and send.status is SendStatus.SENT
    async with client_for(hub) as http:
        # Viber reports the message failed (e.g. the app is not installed any more): SMS is next.
        failed = {
            "event": "failed",
            "timestamp": 1714557600123,
            "message_token": int(token),
            "user_id": "viber-ana",
            "desc": "the user does not have Viber installed",
        }
        response = await viber_callback(http, failed)
        assert response.status_code == 200, response.text
        await drain(hub)
        assert providers.sms() == [("+34600000001", "Hi Ana! 20% off this week.")]
        async with hub.db.session() as session:
            send = (await session.execute(select(CampaignSend))).scalars().one()
        assert send.tried == ["viber", "sms"] and send.provider_message_id is not None
        delivered = message_status(send.provider_message_id, "delivered", to="+34600000001")
        assert (await twilio_posts(http, "sms-main", delivered)).status_code == 200
        await drain(hub)
        # Ana answers on Viber: the campaign counts a reply.
        assert (await viber_callback(http, viber_text_from("viber-ana", "I want it!"))).status_code == 200
        await drain(hub)
    funnel = await _results(hub, marketer)
    assert (funnel["delivered"], funnel["fell_back_to"], funnel["replied"]) == (1, {"sms": 1}, 1)


async def test_clicks_are_tracked_and_email_can_be_unsubscribed_in_one_click(
    make: HubMaker, providers: Providers
) -> None:
    async with mail_setup() as mail:
        hub = await make({"mail": mail.account()})
        ana = await _customer(hub, "Ana", viber="viber-ana", consents=("viber",))
        bea = await _customer(hub, "Bea", email="bea@example.com", consents=("email",))
        spring = {
            **SALE,
            "channels": ["viber", "email"],
            "content": {
                "default": "Hi {{ name }}! The sale: {{ link('https://shop.example/spring?x=1') }}",
                "email": {"subject": "Spring sale", "text": "Hi {{ name }}! 20% off."},
            },
        }
        marketer = await _setup(hub, spring)
        await _launch(hub, marketer)
        await _run(hub)
        [viber_text] = providers.viber_texts()
        tracked = viber_text.split("The sale: ")[1]
        assert tracked.startswith("https://hub.example.com/c/")
        [mail_message] = mail.mailbox.received
        unsubscribe = mail_message["List-Unsubscribe"].strip("<>")
        assert unsubscribe.startswith("https://hub.example.com/u/")
        assert mail_message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert unsubscribe in mail_message.get_body(("plain",)).get_content()

        async with client_for(hub) as http:
            path = tracked.removeprefix("https://hub.example.com")
            followed = await http.get(path, follow_redirects=False)
            assert (
                followed.status_code == 302
                and followed.headers["location"] == "https://shop.example/spring?x=1"
            )
            await http.get(path, follow_redirects=False)  # a second click counts once
            forged = await http.get(path[:-3] + "AAA", follow_redirects=False)
            assert forged.status_code == 404
            page = await http.get(unsubscribe.removeprefix("https://hub.example.com"))
            assert page.status_code == 200 and '<form method="post">' in page.text
            done = await http.post(
                unsubscribe.removeprefix("https://hub.example.com"), content=b"List-Unsubscribe=One-Click"
            )
            assert done.status_code == 200 and "unsubscribed" in done.text
        funnel = await _results(hub, marketer)
        assert funnel["clicked"] == 1
        async with hub.db.session() as session:
            assert await has_consent(session, bea, "email", "marketing") is False
            assert await has_consent(session, ana, "viber", "marketing") is True

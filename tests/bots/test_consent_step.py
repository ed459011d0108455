"""The consent step on real databases (SQLite and PostgreSQL): decisions land on the customer's record
through crm_core, per channel, with the flow, step and reason on the timeline."""

from __future__ import annotations

from pathlib import Path

from bots.flows import FlowEngine, FlowSet
from crm_core.consent import consents_of, set_consent
from crm_core.models import ConsentPurpose
from hub.db import Database
from tests.bots.conftest import Clock, Talk, flows_from, new_customer, texts

FLOW = """
id: offers
version: 1
triggers:
  - keyword: [offers]
  - keyword: [stop]
    step: stop
  - keyword: [sms]
    step: sms
start: ask
steps:
  ask:
    ask: "Offers by {{ channel }}?"
    type: yes_no
    save_to: var.agrees
    next: record
  record:
    consent: {purpose: marketing, granted: "{{ var.agrees }}"}
    why: asked in chat
    next: thanks
  thanks:
    say: "Noted"
  stop:
    consent: {purpose: marketing, channel: any, granted: false}
    why: wrote stop
  sms:
    consent: {purpose: transactional, channel: sms, granted: true}
"""


async def talk(db: Database, flows: FlowSet, channel: str = "webchat") -> Talk:
    talking = Talk(db, FlowEngine(flows, clock=Clock()), await new_customer(db))
    talking.channel = channel
    return talking


async def consents(db: Database, customer_id: int) -> set[tuple[str, str, bool]]:
    async with db.session() as session:
        return {(c.channel, c.purpose.value, c.granted) for c in await consents_of(session, customer_id)}


class TestConsent:
    async def test_an_answer_becomes_consent_on_the_current_channel_with_the_reason(
        self, db: Database, tmp_path: Path
    ) -> None:
        talking = await talk(db, flows_from(tmp_path, FLOW), channel="telegram")
        assert texts(await talking.say("offers")) == ["Offers by telegram?"]
        assert texts(await talking.say("yes")) == ["Noted"]
        assert await consents(db, talking.customer_id) == {("telegram", "marketing", True)}
        [event] = await talking.events("consent.changed")
        assert event.source == "flow:offers"
        assert event.payload == {
            "channel": "telegram",
            "purpose": "marketing",
            "granted": True,
            "flow": "offers",
            "step": "record",
            "reason": "asked in chat",
        }
        # The same decision again changes nothing, so the timeline gets nothing new.
        await talking.say("offers")
        await talking.say("yes")
        assert len(await talking.events("consent.changed")) == 1

    async def test_a_named_channel(self, db: Database, tmp_path: Path) -> None:
        talking = await talk(db, flows_from(tmp_path, FLOW))
        await talking.say("sms")
        assert await consents(db, talking.customer_id) == {("sms", "transactional", True)}

    async def test_withdrawing_on_any_channel_withdraws_every_channel(
        self, db: Database, tmp_path: Path
    ) -> None:
        talking = await talk(db, flows_from(tmp_path, FLOW))
        async with db.transaction() as session:
            for channel in ("sms", "viber"):
                await set_consent(
                    session, talking.customer_id, channel, ConsentPurpose.MARKETING, True, source="web form"
                )
            await set_consent(
                session, talking.customer_id, "sms", ConsentPurpose.TRANSACTIONAL, True, source="web form"
            )
        await talking.say("stop")
        assert await consents(db, talking.customer_id) == {
            ("any", "marketing", False),
            ("sms", "marketing", False),
            ("viber", "marketing", False),
            ("sms", "transactional", True),  # another purpose stays
        }
        assert {
            e.payload["channel"] for e in await talking.events("consent.changed") if e.source == "flow:offers"
        } == {
            "any",
            "sms",
            "viber",
        }

    async def test_an_answer_that_is_not_yes_or_no_fails_the_flow(self, db: Database, tmp_path: Path) -> None:
        flows = flows_from(
            tmp_path,
            """
            id: odd
            version: 1
            triggers: [{keyword: [odd]}]
            start: name
            steps:
              name: {ask: "Name?", next: record}
              record: {consent: {purpose: marketing, granted: "{{ var.name }}"}}
            """,
        )
        talking = await talk(db, flows)
        await talking.say("odd")
        await talking.say("Ana")
        [failed] = await talking.events("flow.failed")
        assert failed.payload["error"] == "step 'record': 'granted' must be true or false, it was 'Ana'"
        assert await consents(db, talking.customer_id) == set()

"""The share_contact step on real databases (SQLite and PostgreSQL), per channel: a known phone on
SMS/WhatsApp/calls, the share-phone button on Telegram/Viber, a typed (unverified) number elsewhere;
retries, max_tries, the claim over interrupting triggers, and a restart while it waits."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from bots.flows import FlowEngine, FlowSet, load_flows
from bots.flows.outcomes import WaitingFor
from crm_core.customers import attach_identity
from crm_core.models import Customer, Identity, IdentityKind
from hub.db import Database
from tests.bots.conftest import Clock, Talk, flows_from, new_customer, texts

FLOW = """
id: phone
version: 1
triggers:
  - keyword: [phone]
start: ask
steps:
  ask:
    share_contact: {en: "Share your phone, please", es: "Comparte tu teléfono"}
    button: {en: "Share", es: "Compartir"}
    typed: {en: "Type your phone, please", es: "Escribe tu teléfono"}
    save_to: attribute.phone
    max_tries: 2
    on_fail: person
    next: thanks
  thanks:
    say: "Thanks, {{ attribute.phone }} ({{ 'verified' if var.phone_verified else 'unverified' }})"
  person:
    say: "A person will help"
"""

MENU = """
id: menu
version: 1
triggers:
  - keyword: [menu]
    interrupt: true
start: hi
steps:
  hi: {say: "Menu"}
"""


async def talk(db: Database, flows: FlowSet, channel: str, **customer: object) -> Talk:
    talking = Talk(db, FlowEngine(flows, clock=Clock()), await new_customer(db, **customer))
    talking.channel = channel
    return talking


async def phones(db: Database, customer_id: int) -> set[tuple[str, bool]]:
    async with db.session() as session:
        rows = await session.execute(
            select(Identity.address, Identity.verified).where(
                Identity.customer_id == customer_id, Identity.kind == IdentityKind.PHONE
            )
        )
        return {(address, verified) for address, verified in rows}


async def give_phone(db: Database, customer_id: int, phone: str, *, verified: bool) -> None:
    async with db.transaction() as session:
        customer = await session.get(Customer, customer_id)
        assert customer is not None
        await attach_identity(session, customer, IdentityKind.PHONE, phone, verified=verified, source="test")


class TestKnownPhone:
    @pytest.mark.parametrize("channel", ["sms", "whatsapp", "telephony"])
    async def test_the_phone_the_customer_writes_from_is_taken_at_once(
        self, db: Database, tmp_path: Path, channel: str
    ) -> None:
        talking = await talk(db, flows_from(tmp_path, FLOW), channel)
        phone = {"sms": "+380501230001", "whatsapp": "+380501230002", "telephony": "+380501230003"}[channel]
        await give_phone(db, talking.customer_id, phone, verified=True)
        assert texts(await talking.say("phone")) == [f"Thanks, {phone} (verified)"]
        assert await talking.state() is None


class TestShareButton:
    @pytest.mark.parametrize("channel", ["telegram", "viber"])
    async def test_a_shared_contact_after_a_restart_is_stored_verified(
        self, db: Database, tmp_path: Path, channel: str
    ) -> None:
        talking = await talk(db, flows_from(tmp_path, FLOW, MENU), channel, locale="es")
        [prompt] = (await talking.say("phone")).replies
        assert prompt.text == "Comparte tu teléfono"
        assert [(b.title, b.request_contact) for b in prompt.buttons] == [("Compartir", True)]
        state = await talking.state()
        assert state is not None and state.waiting_for is WaitingFor.CONTACT

        talking.engine = FlowEngine(load_flows(tmp_path), clock=Clock())  # a restart
        phone = "+380501230010" if channel == "telegram" else "+380501230011"
        assert texts(await talking.say(shared_phone=phone)) == [f"Thanks, {phone} (verified)"]
        assert (await talking.customer()).attributes["phone"] == phone
        assert await phones(db, talking.customer_id) == {(phone, True)}

    async def test_a_shared_contact_is_never_taken_by_an_interrupting_trigger(
        self, db: Database, tmp_path: Path
    ) -> None:
        talking = await talk(db, flows_from(tmp_path, FLOW, MENU), "telegram")
        await talking.say("phone")
        # Telegram sends the contact with no text; even a caption saying "menu" is still the answer.
        assert texts(await talking.say("menu", shared_phone="+380501230012")) == [
            "Thanks, +380501230012 (verified)"
        ]
        await talking.say("phone")
        assert texts(await talking.say("menu")) == ["Menu"]  # a typed keyword still interrupts

    async def test_typing_the_number_instead_of_pressing_works_too(
        self, db: Database, tmp_path: Path
    ) -> None:
        talking = await talk(db, flows_from(tmp_path, FLOW), "telegram")
        await talking.say("phone")
        assert texts(await talking.say("+380 50 123 0013")) == ["Thanks, +380501230013 (unverified)"]


class TestTypedPhone:
    @pytest.mark.parametrize("channel", ["webchat", "email", "api"])
    async def test_a_typed_number_is_checked_and_stored_unverified(
        self, db: Database, tmp_path: Path, channel: str
    ) -> None:
        talking = await talk(db, flows_from(tmp_path, FLOW), channel)
        [prompt] = (await talking.say("phone")).replies
        assert (prompt.text, prompt.buttons) == ("Type your phone, please", ())
        phone = {"webchat": "+380501230020", "email": "+380501230021", "api": "+380501230022"}[channel]
        assert texts(await talking.say("call me maybe")) == [
            "That doesn't look like a phone number. Please write it with the country code, e.g. "
            "+380501234567."
        ]
        assert texts(await talking.say(phone.replace("+380", "+380 "))) == [f"Thanks, {phone} (unverified)"]
        assert await phones(db, talking.customer_id) == {(phone, False)}

    async def test_too_many_wrong_numbers_go_to_on_fail(self, db: Database, tmp_path: Path) -> None:
        talking = await talk(db, flows_from(tmp_path, FLOW), "webchat")
        await talking.say("phone")
        await talking.say("12")
        assert texts(await talking.say("34")) == ["A person will help"]
        assert await talking.state() is None

    async def test_someone_elses_number_joins_nobody(self, db: Database, tmp_path: Path) -> None:
        other = await new_customer(db)
        await give_phone(db, other, "+380501230030", verified=True)
        talking = await talk(db, flows_from(tmp_path, FLOW), "webchat")
        await talking.say("phone")
        assert texts(await talking.say("+380501230030")) == ["Thanks, +380501230030 (unverified)"]
        assert await phones(db, talking.customer_id) == set()
        assert await phones(db, other) == {("+380501230030", True)}

    async def test_a_number_already_verified_on_the_record_stays_verified(
        self, db: Database, tmp_path: Path
    ) -> None:
        talking = await talk(db, flows_from(tmp_path, FLOW), "webchat")
        await give_phone(db, talking.customer_id, "+380501230031", verified=True)
        await talking.say("phone")
        assert texts(await talking.say("+380501230031")) == ["Thanks, +380501230031 (verified)"]

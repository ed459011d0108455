"""Canned responses: checked when saved, found by fuzzy search, filled in a sandbox."""

from __future__ import annotations

import pytest

from crm_core.customers import get_customer, identities_of
from crm_core.models import Customer
from hub.runtime import Hub
from inbox import canned
from inbox.models import CannedResponse
from tests.inbox.builders import customer_writes, new_agent


def response(shortcut: str, title: str, body: str = "text", language: str | None = None) -> CannedResponse:
    return CannedResponse(
        id=hash(shortcut) % 1000, shortcut=shortcut, title=title, body=body, language=language
    )


RESPONSES = [
    response("shipping", "Shipping times", "We ship in 2-3 days to most of Europe."),
    response("refund", "Refund policy", "Refunds take 5 business days."),
    response("envio", "Plazos de envío", "Enviamos en 2-3 días.", language="es"),
    response("hours", "Opening hours", "We are open 9 to 5, Monday to Friday."),
]


class TestSearch:
    def test_shortcut_typed_exactly_or_started_comes_first(self) -> None:
        assert canned.search_canned(RESPONSES, "/ship")[0].canned.shortcut == "shipping"
        assert canned.search_canned(RESPONSES, "refund")[0].score == 100.0

    def test_typos_and_words_from_the_body(self) -> None:
        assert canned.search_canned(RESPONSES, "refnud")[0].canned.shortcut == "refund"
        assert canned.search_canned(RESPONSES, "business days")[0].canned.shortcut == "refund"
        assert canned.search_canned(RESPONSES, "opening hours monday")[0].canned.shortcut == "hours"
        assert canned.search_canned(RESPONSES, "qqqqzzzz") == []

    def test_empty_query_lists_all_customer_language_first(self) -> None:
        found = canned.search_canned(RESPONSES, "", language="es")
        assert found[0].canned.shortcut == "envio" and len(found) == 4


class TestBodies:
    @pytest.mark.parametrize(
        ("body", "problem"),
        [
            ("Hi {{ customer.name ", "line 1: the placeholder does not read"),
            ("Hi {{ custmer.name }}", "unknown placeholder custmer; use customer, agent, conversation"),
            ("   ", "write the text"),
        ],
    )
    def test_bad_bodies_are_refused_with_a_sentence(self, body: str, problem: str) -> None:
        with pytest.raises(canned.InvalidCanned, match=problem):
            canned.check_body(body)

    async def test_placeholders_are_filled_from_the_record(self, hub: Hub) -> None:
        async with hub.db.transaction() as session:
            conversation, _ = await customer_writes(session, "Maria Lopez", "hi", address="maria@example.com")
            customer = await get_customer(session, conversation.customer_id)
            customer.attributes = {"order_id": 1042}
            identities = await identities_of(session, customer.id)  # type: ignore[arg-type]
        body = (
            "Hi {{ customer.first_name }}, order {{ customer.attributes.order_id }} "
            "({{ customer.attributes.missing }}) on {{ conversation.channel }}. {{ agent.first_name }}"
        )
        values = canned.placeholder_values(customer, identities, "Ana Agent", conversation)
        rendered = canned.render_canned(response("x", "x", body), values)
        assert rendered == "Hi Maria, order 1042 () on webchat. Ana"

    def test_the_sandbox_keeps_python_internals_out(self) -> None:
        customer = Customer(id=1, display_name="Maria", tags=["a"], attributes={})
        values = canned.placeholder_values(customer, [], "Ana", None)
        # An underscored attribute is simply not there: nothing about the objects leaks.
        sneaky = response("x", "x", "[{{ customer.attributes.__class__.__mro__ }}]")
        assert canned.render_canned(sneaky, values) == "[]"
        mutating = response("y", "y", "{{ customer.tags.append('vip') }}")
        with pytest.raises(canned.CannedRenderError, match="not allowed"):
            canned.render_canned(mutating, values)
        assert customer.tags == ["a"]


class TestStore:
    async def test_shortcuts_are_unique_among_what_one_agent_sees(self, hub: Hub) -> None:
        async with hub.db.transaction() as session:
            ana = await new_agent(session, "Ana")
            ben = await new_agent(session, "Ben")
            await canned.create_canned(
                session,
                shortcut="hi",
                title="Hello",
                body="Hello!",
                language=None,
                owner_agent_id=None,
                by="t",
            )
            await canned.create_canned(
                session,
                shortcut="mine",
                title="Mine",
                body="Mine",
                language=None,
                owner_agent_id=ana.id,
                by="t",
            )
            # Ben may have his own /mine; nobody may hide the shared /hi.
            await canned.create_canned(
                session,
                shortcut="mine",
                title="Ben's",
                body="B",
                language=None,
                owner_agent_id=ben.id,
                by="t",
            )
            with pytest.raises(canned.CannedConflict, match="/hi is already taken"):
                await canned.create_canned(
                    session,
                    shortcut="hi",
                    title="Hi",
                    body="Hi",
                    language=None,
                    owner_agent_id=ana.id,
                    by="t",
                )
            with pytest.raises(canned.InvalidCanned, match="shortcut 'Hi there'"):
                await canned.create_canned(
                    session,
                    shortcut="Hi there",
                    title="x",
                    body="x",
                    language=None,
                    owner_agent_id=None,
                    by="t",
                )
            assert [c.title for c in await canned.canned_for(session, ana.id)] == ["Hello", "Mine"]
            assert [c.title for c in await canned.canned_for(session, ben.id)] == ["Hello", "Ben's"]
            with pytest.raises(canned.CannedNotFound):
                mine = (await canned.canned_for(session, ana.id))[1]
                await canned.get_canned(session, mine.id, ben.id)  # type: ignore[arg-type]

"""Flows through the real hub pipeline (web chat visitor -> webhook -> processor -> FlowBot ->
outbox -> visitor), on SQLite and PostgreSQL. The hub is rebuilt between messages, so the flow
resumes from the database: the restart-in-the-middle story."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from bots.flows import FlowBot, FlowEngine, load_flows
from bots.flows.state import FlowState
from crm_core.models import Customer, CustomerEvent
from hub.actions.conversations import set_status
from hub.flows import fire_timeouts, hand_to_people
from hub.runtime import Hub
from inbox.models import Conversation, ConversationStatus, Message, Note, Team
from tests.bots.conftest import Clock
from tests.conftest import REPO, HubFactory, client_for, drain
from tests.fakes.webchat import Visitor

FLOWS = load_flows(REPO / "flows")


def engine(clock: Callable[[], datetime] | None = None, open_now: bool = True) -> FlowEngine:
    return FlowEngine(
        FLOWS, business_hours=lambda _moment: open_now, clock=clock or (lambda: datetime.now(UTC))
    )


async def restarted(make_hub: HubFactory, flow_engine: FlowEngine) -> Hub:
    """A new hub process: new engine, new bot, nothing in memory but the loaded flows."""
    hub = await make_hub(bots=[FlowBot(flow_engine, on_handoff=hand_to_people)])
    hub.flows = flow_engine  # events and timeouts use the same engine (and test clock) as the bot
    return hub


async def bot_texts(hub: Hub, visitor: Visitor, after: int = 0) -> list[str]:
    async with client_for(hub) as http:
        history = await visitor.history(http)
    return [m["text"] for m in history[after:] if m["direction"] == "outbound"]


async def say(hub: Hub, visitor: Visitor, text: str, **extra: Any) -> list[str]:
    async with client_for(hub) as http:
        before = len(await visitor.history(http))
        response = await visitor.say(http, text, **extra)
        assert response.status_code == 200, response.text
    await drain(hub)
    return await bot_texts(hub, visitor, before)


async def one(hub: Hub, model: type, *where: Any) -> Any:
    async with hub.db.session() as session:
        return (await session.execute(select(model).where(*where))).scalars().first()


class TestSupportThroughThePipeline:
    async def test_restart_between_question_and_answer_then_handoff(self, make_hub: HubFactory) -> None:
        first = await restarted(make_hub, engine())
        async with client_for(first) as http:
            visitor = await Visitor.start(http)
        assert await say(first, visitor, "Hello", name="Ana", locale="en") == [
            "Hi Ana! I'm the support assistant.",
            "How can I help you?",
        ]
        menu = await one(first, Message, Message.text == "How can I help you?")
        assert [b["title"] for b in menu.buttons] == ["Order status", "I have a question", "Talk to a person"]
        state = await one(first, FlowState)
        assert (state.flow_id, state.step, state.waiting_for) == ("support", "menu", "answer")

        # Restart: the web chat sends button titles as text; the new engine finds the menu in the database.
        second = await restarted(make_hub, engine())
        assert await say(second, visitor, "Talk to a person") == [
            "Sure. In a few words, what is it about? A person will read it before replying."
        ]

        third = await restarted(make_hub, engine())
        assert await say(third, visitor, "My parcel arrived broken") == [
            "Thanks! I'm passing you to our team; someone will reply here shortly."
        ]
        conversation = await one(third, Conversation)
        assert conversation.bot_active is False
        team = await one(third, Team, Team.id == conversation.team_id)
        assert team.name == "support"
        note = await one(third, Note, Note.conversation_id == conversation.id)
        assert note.text == 'Bot flow "support" collected:\n- menu: person\n- topic: My parcel arrived broken'
        assert await one(third, FlowState) is None

        # The bot stays quiet with a person in charge, even for its interrupting keyword.
        assert await say(third, visitor, "menu") == []
        assert await say(third, visitor, "hello?") == []

    async def test_faq_answers_in_spanish(self, make_hub: HubFactory) -> None:
        hub = await restarted(make_hub, engine())
        async with client_for(hub) as http:
            visitor = await Visitor.start(http)
        await say(hub, visitor, "Hola", name="Olena", locale="es")
        assert await say(hub, visitor, "Tengo una pregunta") == ["Adelante, ¿qué te gustaría saber?"]
        hub = await restarted(make_hub, engine())
        assert await say(hub, visitor, "¿cuánto tarda el envío a Lviv?") == [
            "Los pedidos salen en 1 día hábil y suelen llegar en 2-4 días.",
            "¿Te puedo ayudar con algo más?",
        ]


class TestFeedbackThroughThePipeline:
    async def test_resolving_asks_for_a_rating_and_the_answer_in_a_new_conversation_is_stored(
        self, make_hub: HubFactory
    ) -> None:
        hub = await restarted(make_hub, engine())
        async with client_for(hub) as http:
            visitor = await Visitor.start(http)
        await say(hub, visitor, "Talk to a person", name="Ana", locale="en")
        await say(hub, visitor, "Where is my refund?")
        first = await one(hub, Conversation)
        assert first.bot_active is False  # handed off; an agent helps, then resolves

        await set_status(hub, first.id, ConversationStatus.RESOLVED, None)  # the agent resolves it
        state = await one(hub, FlowState)
        assert state.flow_id == "feedback"
        await drain(hub)
        assert (await bot_texts(hub, visitor))[-1].startswith("Your conversation with us is closed.")

        hub = await restarted(make_hub, engine())
        assert await say(hub, visitor, "5") == ['Thank you! Anything you\'d like to tell us? (or write "no")']
        assert await say(hub, visitor, "All good") == ["Thanks for your feedback, Ana! 💙"]
        customer = await one(hub, Customer)
        assert customer.attributes["csat"] == 5
        assert "promoter" in customer.tags
        event = await one(hub, CustomerEvent, CustomerEvent.kind == "csat.submitted")
        assert (event.payload["rating"], event.payload["comment"]) == (5, "All good")
        # The rating opened a second conversation; the support greeting did not start over it.
        second = await one(hub, Conversation, Conversation.id != first.id)
        assert second is not None and second.bot_active


class TestTimeoutsThroughThePipeline:
    async def test_the_periodic_job_sends_the_timeout_message(self, make_hub: HubFactory) -> None:
        clock = Clock(datetime.now(UTC))
        hub = await restarted(make_hub, engine(clock))
        async with client_for(hub) as http:
            visitor = await Visitor.start(http)
        await say(hub, visitor, "Hello", locale="en")
        assert await fire_timeouts(hub.db, engine(clock)) == []
        clock.now += timedelta(hours=25)
        assert len(await fire_timeouts(hub.db, engine(clock))) >= 1
        await drain(hub)
        assert (await bot_texts(hub, visitor))[-1] == 'Talk soon! Write "menu" whenever you need me.'
        assert await one(hub, FlowState) is None

"""The flow engine on real databases (SQLite and PostgreSQL): triggers, questions, record changes,
timeouts, versions, failures, events, concurrency and merges. Every turn is its own committed
transaction, and most tests build a fresh engine between turns, so state always comes from the
database."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bots.flows import FlowEngine, FlowSet, FlowStateMergeParticipant
from bots.flows.state import lock_customer
from bots.turn import BotTurn
from crm_core.merge import merge_customers, undo_merge
from crm_core.models import AttributeDefinition, AttributeType, Customer
from hub.db import Database
from tests.bots.conftest import Clock, Talk, flows_from, new_customer, texts

MENU = """
id: menu
version: 1
triggers:
  - conversation_opened: true
  - keyword: [menu, menú]
    interrupt: true
  - button: "offer-*"
    step: offer
  - start: [promo-*]
    step: offer
  - intent: ["talk to a person"]
    step: person
    channels: [webchat]
start: pick
steps:
  pick:
    ask: {en: "Pick one", es: "Elige una"}
    type: choice
    choices:
      - {value: a, title: {en: Apples, es: Manzanas}, goto: apples}
      - {value: b, title: {en: Bananas, es: Plátanos}}
    retry: {en: "Pick from the buttons", es: "Elige un botón"}
    max_tries: 2
    on_fail: person
    next: bananas
  apples:
    say: "Apples it is, {{ name }}"
  bananas:
    say: "Bananas, {{ name }}"
  offer:
    say: "Offer for {{ var.start_payload or var.button_payload }}"
  person:
    handoff: support
    message: Passing you on
"""


async def talk(db: Database, flows: FlowSet, clock: Clock | None = None, **customer: object) -> Talk:
    engine = FlowEngine(flows, clock=clock or Clock())
    return Talk(db, engine, await new_customer(db, **customer))


class TestTriggers:
    async def test_a_new_conversation_starts_the_menu_and_the_answer_continues_it(
        self, db: Database, tmp_path: Path
    ) -> None:
        talking = await talk(db, flows_from(tmp_path, MENU), display_name="Ana", locale="es")
        result = await talking.say("hola")
        assert texts(result) == ["Elige una"]
        assert [(b.title, b.payload) for b in result.replies[0].buttons] == [
            ("Manzanas", "a"),
            ("Plátanos", "b"),
        ]
        assert result.flow_id == "menu"
        state = await talking.state()
        assert state is not None and (state.flow_id, state.flow_version, state.step) == ("menu", "1", "pick")
        assert texts(await talking.say("manzanas")) == ["Apples it is, Ana"]
        assert await talking.state() is None

    async def test_a_message_in_an_existing_conversation_starts_nothing(
        self, db: Database, tmp_path: Path
    ) -> None:
        talking = await talk(db, flows_from(tmp_path, MENU))
        talking.opened = False
        result = await talking.say("hello")
        assert result.replies == () and not result.handled
        assert await talking.state() is None

    @pytest.mark.parametrize(
        ("say", "payload", "start", "expected"),
        [
            ("", "offer-spring", None, ["Offer for offer-spring"]),
            ("/start promo-7", None, "promo-7", ["Offer for promo-7"]),
            ("hi, can I talk to a person?", None, None, ["Passing you on"]),
            ("Menú, please", None, None, ["Pick one"]),
        ],
    )
    async def test_the_most_explicit_trigger_wins_over_the_opened_conversation(
        self,
        db: Database,
        tmp_path: Path,
        say: str,
        payload: str | None,
        start: str | None,
        expected: list[str],
    ) -> None:
        talking = await talk(db, flows_from(tmp_path, MENU))
        assert texts(await talking.say(say, payload=payload, start=start)) == expected

    async def test_a_trigger_listens_only_on_its_channels(self, db: Database, tmp_path: Path) -> None:
        talking = await talk(db, flows_from(tmp_path, MENU))
        talking.channel = "telegram"
        talking.opened = False
        assert not (await talking.say("I want to talk to a person")).handled

    async def test_a_person_talking_is_never_interrupted_and_stops_the_flow(
        self, db: Database, tmp_path: Path
    ) -> None:
        talking = await talk(db, flows_from(tmp_path, MENU))
        await talking.say("hi")
        assert await talking.state() is not None
        talking.bot_active = False
        assert (await talking.say("menu")).replies == ()
        assert await talking.state() is None
        assert (await talking.say("", payload="offer-x")).replies == ()

    async def test_an_interrupting_keyword_restarts_while_others_are_answers(
        self, db: Database, tmp_path: Path
    ) -> None:
        talking = await talk(db, flows_from(tmp_path, MENU))
        await talking.say("hi")
        # Not an interrupting trigger: it is taken as an (invalid) answer.
        assert texts(await talking.say("talk to a person")) == ["Pick from the buttons"]
        assert texts(await talking.say("menu")) == ["Pick one"]
        state = await talking.state()
        assert state is not None and state.tries == 0


class TestQuestions:
    FORM = """
    id: form
    version: 1
    triggers: [{keyword: form}]
    start: email
    steps:
      email:
        ask: Your email?
        type: email
        save_to: attribute.email
        retry: "Not an email: try again"
        max_tries: 3
        on_fail: failed
        next: birthday
      birthday:
        ask: Your birthday?
        type: text
        save_to: attribute.birthday
        retry: "Use a date like 1990-03-31"
        next: rating
      rating:
        ask: "Rate us 1-5"
        type: number
        min: 1
        max: 5
        next: code
      code:
        ask: Your code?
        type: regex
        pattern: "[A-Z]{3}-[0-9]{3}"
        save_to: var.code
        next: done
      done:
        say: "Thanks: {{ attribute.email }}, {{ attribute.birthday }}, {{ var.rating }}, {{ var.code }}"
      failed:
        say: Never mind
    """

    async def test_answers_are_checked_converted_and_stored(self, db: Database, tmp_path: Path) -> None:
        async with db.transaction() as session:
            if await session.get(AttributeDefinition, "birthday") is None:
                session.add(AttributeDefinition(key="birthday", type=AttributeType.DATE))
        flows = flows_from(tmp_path, self.FORM)
        talking = await talk(db, flows)
        assert texts(await talking.say("form")) == ["Your email?"]
        assert texts(await talking.say("not an email")) == ["Not an email: try again"]
        state = await talking.state()
        assert state is not None and state.tries == 1
        assert texts(await talking.say(" Ana@Example.com ")) == ["Your birthday?"]
        # A text the attribute's declared type (date) refuses is an invalid answer too.
        assert texts(await talking.say("next tuesday")) == ["Use a date like 1990-03-31"]
        assert texts(await talking.say("1990-03-31")) == ["Rate us 1-5"]
        assert texts(await talking.say("9")) == ["Rate us 1-5"]  # no retry text: the question again
        assert texts(await talking.say("4,5")) == ["Your code?"]
        result = await talking.say("ABC-123")
        assert texts(result) == ["Thanks: ana@example.com, 1990-03-31, 4.5, ABC-123"]
        assert result.variables == {"rating": 4.5, "code": "ABC-123"}
        customer = await talking.customer()
        assert customer.attributes == {"email": "ana@example.com", "birthday": "1990-03-31"}
        changes = [e.payload for e in await talking.events("attributes.changed")]
        assert [c["changes"] for c in changes] == [{"email": "ana@example.com"}, {"birthday": "1990-03-31"}]
        assert {(c["flow"], c["reason"]) for c in changes} == {("form", "answer to a question")}

    async def test_max_tries_then_on_fail(self, db: Database, tmp_path: Path) -> None:
        talking = await talk(db, flows_from(tmp_path, self.FORM))
        await talking.say("form")
        await talking.say("x")
        await talking.say("y")
        assert texts(await talking.say("z")) == ["Never mind"]
        assert await talking.state() is None

    async def test_choices_by_number_typo_or_payload(self, db: Database, tmp_path: Path) -> None:
        flows = flows_from(tmp_path, MENU)
        for answer, payload, expected in [
            ("2", None, "Bananas"),
            ("Aples", None, "Apples"),
            ("", "b", "Bananas"),
        ]:
            talking = await talk(db, flows)
            await talking.say("hi")
            assert texts(await talking.say(answer, payload=payload))[0].startswith(expected)


class TestRecordChanges:
    FLOW = """
    id: record
    version: 3
    triggers: [{keyword: go}]
    start: rate
    steps:
      rate:
        ask: Rate?
        type: choice
        choices: [1, 2, 3, 4, 5]
        next: keep
      keep:
        set:
          attribute.csat: "{{ var.rate }}"
          attribute.note: "rated {{ var.rate }} on {{ channel }}"
          var.kept: true
        why: customer rated us
        next: mark
      mark:
        tag: [rated, happy]
        why: left a rating
        next: unmark
      unmark:
        untag: unrated
        next: log
      log:
        record_event: csat.submitted
        payload: {rating: "{{ var.rate }}", kept: "{{ var.kept }}", source: survey}
    """

    async def test_set_tag_untag_and_events_land_on_the_record_with_a_reason(
        self, db: Database, tmp_path: Path
    ) -> None:
        talking = await talk(db, flows_from(tmp_path, self.FLOW), tags=["unrated", "vip"])
        await talking.say("go")
        result = await talking.say("", payload="5")
        assert result.variables == {"rate": 5, "kept": True}
        customer = await talking.customer()
        assert customer.attributes == {"csat": 5, "note": "rated 5 on webchat"}
        assert customer.tags == ["vip", "rated", "happy"]
        changed = (await talking.events("attributes.changed"))[0]
        assert changed.source == "flow:record"
        assert changed.payload == {
            "changes": {"csat": 5, "note": "rated 5 on webchat"},
            "flow": "record",
            "step": "keep",
            "reason": "customer rated us",
        }
        tags = [e.payload for e in await talking.events("tags.changed")]
        assert [(t["added"], t["removed"], t["reason"]) for t in tags] == [
            (["rated", "happy"], [], "left a rating"),
            ([], ["unrated"], ""),
        ]
        event = (await talking.events("csat.submitted"))[0]
        assert event.payload == {
            "rating": 5,
            "kept": True,
            "source": "survey",
            "flow": "record",
            "step": "log",
        }


class TestTimeouts:
    FLOW = """
    id: slow
    version: 1
    triggers: [{keyword: start}]
    start: question
    steps:
      question:
        ask: Still there?
        type: yes_no
        timeout: 10m
        on_timeout: reminder
        next: thanks
      reminder:
        ask: Just checking - still there?
        type: yes_no
        timeout: 1h
        on_timeout: bye
        next: thanks
      thanks:
        say: "Thanks ({{ var.question }}/{{ var.reminder }})"
      bye:
        say: Bye for now
    """

    async def test_the_deadline_is_stored_and_fired_by_expire_timeouts(
        self, db: Database, tmp_path: Path
    ) -> None:
        clock = Clock()
        flows = flows_from(tmp_path, self.FLOW)
        talking = await talk(db, flows, clock)
        await talking.say("start")
        state = await talking.state()
        assert state is not None and state.deadline == clock.now.replace(minute=10)

        async with db.transaction() as session:
            assert await FlowEngine(flows).expire_timeouts(session, clock.advance(minutes=9)) == []
        async with db.transaction() as session:
            fired = await FlowEngine(flows).expire_timeouts(session, clock.advance(minutes=1))
        mine = [t for t in fired if t.customer_id == talking.customer_id]
        assert len(mine) == 1
        assert (mine[0].conversation_id, mine[0].channel_type) == (1, "webchat")
        assert texts(mine[0].result) == ["Just checking - still there?"]
        state = await talking.state()
        assert state is not None and state.step == "reminder"

        talking.engine = FlowEngine(flows, clock=clock)
        assert texts(await talking.say("yes")) == ["Thanks (/True)"]

    async def test_an_answer_after_the_deadline_applies_the_timeout_first(
        self, db: Database, tmp_path: Path
    ) -> None:
        clock = Clock()
        talking = await talk(db, flows_from(tmp_path, self.FLOW), clock)
        await talking.say("start")
        clock.advance(hours=2)  # nobody ran expire_timeouts meanwhile
        result = await talking.say("yes")
        assert texts(result) == ["Just checking - still there?", "Thanks (/True)"]

    async def test_a_conversation_a_person_took_over_times_out_silently(
        self, db: Database, tmp_path: Path
    ) -> None:
        clock = Clock()
        flows = flows_from(tmp_path, self.FLOW)
        talking = await talk(db, flows, clock)
        await talking.say("start")

        async def nobody_may_speak(_session: object, _conversation_id: int) -> bool:
            return False

        async with db.transaction() as session:
            fired = await FlowEngine(flows).expire_timeouts(
                session,
                clock.advance(hours=1),
                is_active=nobody_may_speak,  # type: ignore[arg-type]
            )
        assert [t for t in fired if t.customer_id == talking.customer_id] == []
        assert await talking.state() is None


class TestVersions:
    V1 = """
    id: poll
    version: 1
    triggers: [{keyword: poll}]
    start: q
    steps:
      q: {ask: "Question v1", next: a}
      a: {say: "Answer v1: {{ var.q }}"}
    """
    V2 = V1.replace("version: 1", "version: 2").replace("v1", "v2")

    def versions(self, folder: Path) -> tuple[FlowSet, FlowSet]:
        (folder / "v1").mkdir()
        (folder / "v2").mkdir()
        return flows_from(folder / "v1", self.V1), flows_from(folder / "v2", self.V2)

    async def test_a_flow_in_flight_finishes_on_its_version(self, db: Database, tmp_path: Path) -> None:
        old, new = self.versions(tmp_path)
        engine = FlowEngine(old)
        early = Talk(db, engine, await new_customer(db))
        assert texts(await early.say("poll")) == ["Question v1"]
        engine.activate(new)
        late = Talk(db, engine, await new_customer(db))
        assert texts(await late.say("poll")) == ["Question v2"]
        assert texts(await early.say("blue")) == ["Answer v1: blue"]
        assert texts(await late.say("red")) == ["Answer v2: red"]

    async def test_a_version_no_longer_loaded_is_dropped_and_the_message_starts_afresh(
        self, db: Database, tmp_path: Path
    ) -> None:
        old, new = self.versions(tmp_path)
        talking = Talk(db, FlowEngine(old), await new_customer(db))
        await talking.say("poll")
        talking.engine = FlowEngine(new)  # a restart after the file changed
        assert texts(await talking.say("poll again")) == ["Question v2"]
        state = await talking.state()
        assert state is not None and state.flow_version == "2"


class TestFailures:
    async def test_a_failing_step_ends_the_flow_on_the_timeline_without_raising(
        self, db: Database, tmp_path: Path
    ) -> None:
        flows = flows_from(
            tmp_path,
            """
            id: fragile
            version: 1
            triggers: [{keyword: go}]
            start: hi
            steps:
              hi: {say: "Hello", next: bad}
              bad: {say: "{{ tags.append('x') }}"}
            """,
        )
        talking = await talk(db, flows)
        result = await talking.say("go")
        assert texts(result) == ["Hello"]
        failures = await talking.events("flow.failed")
        assert [e.payload["flow"] for e in failures] == ["fragile"]
        assert "is not allowed" in failures[0].payload["error"]
        assert await talking.state() is None

    async def test_an_attribute_type_refusing_a_set_value_fails_the_flow(
        self, db: Database, tmp_path: Path
    ) -> None:
        async with db.transaction() as session:
            if await session.get(AttributeDefinition, "ltv") is None:
                session.add(AttributeDefinition(key="ltv", type=AttributeType.NUMBER))
        flows = flows_from(
            tmp_path,
            """
            id: typed
            version: 1
            triggers: [{keyword: go}]
            start: s
            steps:
              s: {set: {attribute.ltv: lots}}
            """,
        )
        talking = await talk(db, flows)
        assert (await talking.say("go")).replies == ()
        assert [e.payload["error"] for e in await talking.events("flow.failed")] == [
            "attribute 'ltv' is a number, got 'lots'"
        ]
        assert "ltv" not in (await talking.customer()).attributes

    async def test_too_many_steps_in_one_turn_stop_the_flow(self, db: Database, tmp_path: Path) -> None:
        flows = flows_from(
            tmp_path,
            """
            id: chatty
            version: 1
            triggers: [{keyword: go}]
            start: a
            steps:
              a: {say: one, next: b}
              b: {say: two, next: c}
              c: {say: three}
            """,
        )
        talking = Talk(db, FlowEngine(flows, max_steps_per_turn=2), await new_customer(db))
        assert texts(await talking.say("go")) == ["one", "two"]
        assert "more than 2 steps" in (await talking.events("flow.failed"))[0].payload["error"]


class TestEvents:
    FLOWS = (
        """
        id: orders
        version: 1
        triggers: [{event: "order.*"}]
        start: thanks
        steps:
          thanks: {say: "Thanks for order {{ var.event.number }} ({{ var.event_kind }})"}
        """,
        """
        id: missed
        version: 1
        triggers: [{event: call.missed, interrupt: true}]
        start: sorry
        steps:
          sorry: {say: "Sorry we missed your call"}
        """,
        MENU,
    )

    async def test_an_event_starts_its_flow_with_the_payload(self, db: Database, tmp_path: Path) -> None:
        talking = await talk(db, flows_from(tmp_path, *self.FLOWS))
        result = await talking.event("order.created", {"number": 1042})
        assert texts(result) == ["Thanks for order 1042 (order.created)"]
        assert not (await talking.event("cart.abandoned")).handled

    async def test_a_busy_customer_is_only_interrupted_when_the_trigger_says_so(
        self, db: Database, tmp_path: Path
    ) -> None:
        talking = await talk(db, flows_from(tmp_path, *self.FLOWS))
        await talking.say("hi")
        assert (await talking.event("order.created", {"number": 1})).replies == ()
        state = await talking.state()
        assert state is not None and state.flow_id == "menu"
        assert texts(await talking.event("call.missed")) == ["Sorry we missed your call"]
        assert await talking.state() is None


class TestStop:
    async def test_stop_drops_a_paused_flow(self, db: Database, tmp_path: Path) -> None:
        talking = await talk(db, flows_from(tmp_path, MENU))
        await talking.say("hi")
        async with db.transaction() as session:
            assert await talking.engine.stop(session, talking.customer_id) is True
            assert await talking.engine.stop(session, talking.customer_id) is False
        assert await talking.state() is None


class TestConcurrency:
    FLOW = """
    id: form
    version: 1
    triggers: [{keyword: form}]
    start: first
    steps:
      first: {ask: "First?", next: second}
      second: {ask: "Second?", next: done}
      done: {say: "Got {{ var.first }} then {{ var.second }}"}
    """

    async def test_two_messages_at_once_are_answered_one_after_the_other(
        self, db: Database, tmp_path: Path
    ) -> None:
        flows = flows_from(tmp_path, self.FLOW)
        customer_id = await new_customer(db)
        await Talk(db, FlowEngine(flows), customer_id).say("form")
        one = Talk(db, FlowEngine(flows), customer_id, opened=False)
        two = Talk(db, FlowEngine(flows), customer_id, opened=False)
        results = await asyncio.gather(one.say("apple"), two.say("pear"))
        said = sorted(texts(results[0]) + texts(results[1]))
        assert said in (
            ["Got apple then pear", "Second?"],
            ["Got pear then apple", "Second?"],
        )
        assert await one.state() is None


class TestLocking:
    """PostgreSQL runs transactions side by side, so the engine locks the customer row first (SQLite
    runs one writer at a time, so there is nothing to see there)."""

    async def test_a_turn_holds_the_customer_and_timeouts_skip_it_meanwhile(
        self, db: Database, tmp_path: Path
    ) -> None:
        if db.is_sqlite:
            pytest.skip("SQLite serialises write transactions")
        flows = flows_from(tmp_path, TestTimeouts.FLOW)
        clock = Clock()
        talking = Talk(db, FlowEngine(flows, clock=clock), await new_customer(db))
        await talking.say("start")
        late = clock.advance(hours=1)
        async with db.transaction() as busy:
            customer = await busy.get(Customer, talking.customer_id)
            assert customer is not None
            turn = BotTurn(customer, 1, opened=False, bot_active=True, channel_type="webchat", text="maybe")
            await FlowEngine(flows, clock=clock).handle_turn(busy, turn)
            async with db.transaction() as other:
                assert await lock_customer(other, talking.customer_id, skip_locked=True) is False
                fired = await FlowEngine(flows).expire_timeouts(other, late)
                assert [t for t in fired if t.customer_id == talking.customer_id] == []
            busy.expunge_all()
            await busy.rollback()
        async with db.transaction() as session:
            fired = await FlowEngine(flows).expire_timeouts(session, late)
        assert [texts(t.result) for t in fired if t.customer_id == talking.customer_id] == [
            ["Just checking - still there?"]
        ]


class TestMerge:
    async def test_a_paused_flow_follows_a_merge_and_its_undo(self, db: Database, tmp_path: Path) -> None:
        flows = flows_from(tmp_path, MENU)
        survivor = await new_customer(db, display_name="Old")
        merged = Talk(db, FlowEngine(flows), await new_customer(db, display_name="New"))
        await merged.say("hi")
        participants = [FlowStateMergeParticipant()]
        async with db.transaction() as session:
            record = await merge_customers(
                session, survivor, merged.customer_id, by="test", participants=participants
            )
        assert await merged.state() is None
        on_survivor = Talk(db, FlowEngine(flows), survivor, opened=False)
        state = await on_survivor.state()
        assert state is not None and state.step == "pick"
        async with db.transaction() as session:
            await undo_merge(session, record.id, by="test", participants=participants)  # type: ignore[arg-type]
        assert await on_survivor.state() is None
        assert await merged.state() is not None

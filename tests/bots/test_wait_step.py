"""The wait step on real databases (SQLite and PostgreSQL): for a duration, until a time of day in the
right time zone, until a business event; messages meanwhile; and a new engine (a restart) between
every turn, so the pause lives in the database only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bots.flows import FlowEngine, FlowSet, load_flows
from bots.flows.outcomes import WaitingFor
from hub.db import Database
from tests.bots.conftest import Clock, Talk, flows_from, new_customer, texts

NAP = """
id: nap
version: 1
triggers:
  - keyword: [nap]
start: hello
steps:
  hello:
    say: "Back in two hours"
    next: nap
  nap:
    wait: 2h
    next: back
  back:
    ask: "I'm back. Still there?"
    type: yes_no
    next: bye
  bye:
    say: "Bye"
"""

MENU = """
id: menu
version: 1
triggers:
  - keyword: [menu]
    interrupt: true
  - keyword: [help]
start: pick
steps:
  pick:
    say: "The menu"
"""


async def talk(db: Database, flows: FlowSet, clock: Clock, **customer: object) -> Talk:
    engine = FlowEngine(flows, clock=clock)
    return Talk(db, engine, await new_customer(db, **customer))


def restart(talking: Talk, folder: Path, clock: Clock, **options: object) -> None:
    """A new process: flows read from disk again, a new engine, nothing in memory."""
    talking.engine = FlowEngine(load_flows(folder), clock=clock, **options)  # type: ignore[arg-type]


class TestWaitForATime:
    async def test_a_duration_pauses_in_the_database_and_the_timeout_round_resumes_it(
        self, db: Database, tmp_path: Path
    ) -> None:
        clock = Clock()
        talking = await talk(db, flows_from(tmp_path, NAP), clock)
        assert texts(await talking.say("nap please")) == ["Back in two hours"]
        state = await talking.state()
        assert state is not None
        assert (state.step, state.waiting_for, state.deadline) == (
            "nap",
            WaitingFor.TIME,
            clock.now + timedelta(hours=2),
        )

        restart(talking, tmp_path, clock)
        assert await talking.expire(clock.advance(hours=1, minutes=59)) == []
        restart(talking, tmp_path, clock)
        [result] = await talking.expire(clock.advance(minutes=1))
        assert texts(result) == ["I'm back. Still there?"]
        state = await talking.state()
        assert state is not None and (state.step, state.deadline) == ("back", None)
        restart(talking, tmp_path, clock)
        assert texts(await talking.say("yes")) == ["Bye"]
        assert await talking.state() is None

    @pytest.mark.parametrize(
        ("customer_zone", "business_zone", "expected"),
        [
            # Monday 10:00 UTC is 05:00 in New York: 09:00 there comes the same day.
            ("America/New_York", "Europe/Kyiv", datetime(2026, 1, 5, 14, 0, tzinfo=UTC)),
            # No zone of their own: the business's. 12:00 in Kyiv, so tomorrow 09:00 (07:00 UTC).
            (None, "Europe/Kyiv", datetime(2026, 1, 6, 7, 0, tzinfo=UTC)),
            # An unknown zone on the record is ignored rather than failing the flow.
            ("Mars/Olympus", None, datetime(2026, 1, 6, 9, 0, tzinfo=UTC)),
        ],
    )
    async def test_until_a_time_of_day_is_the_next_one_in_the_customers_zone(
        self,
        db: Database,
        tmp_path: Path,
        customer_zone: str | None,
        business_zone: str | None,
        expected: datetime,
    ) -> None:
        clock = Clock()
        flows = flows_from(
            tmp_path,
            """
            id: morning
            version: 1
            triggers: [{keyword: [later]}]
            start: wait
            steps:
              wait: {wait: {until: "09:00"}, next: hi}
              hi: {say: "Good morning"}
            """,
        )
        talking = Talk(
            db,
            FlowEngine(flows, clock=clock, timezone=business_zone),
            await new_customer(db, timezone=customer_zone),
        )
        await talking.say("later")
        state = await talking.state()
        assert state is not None and state.deadline == expected
        [result] = await talking.expire(expected)
        assert texts(result) == ["Good morning"]

    async def test_until_a_moment_from_a_variable_and_a_past_one_goes_on_at_once(
        self, db: Database, tmp_path: Path
    ) -> None:
        clock = Clock()
        flows = flows_from(
            tmp_path,
            """
            id: delivery
            version: 1
            triggers: [{event: order.shipped}]
            start: wait
            steps:
              wait: {wait: {until: "{{ var.event.deliver_at }}"}, next: hi}
              hi: {say: "Your parcel should be there"}
            """,
        )
        talking = await talk(db, flows, clock)
        await talking.event("order.shipped", {"deliver_at": "2026-01-07T15:30:00+02:00"})
        state = await talking.state()
        assert state is not None and state.deadline == datetime(2026, 1, 7, 13, 30, tzinfo=UTC)

        other = await talk(db, flows, clock)
        result = await other.event("order.shipped", {"deliver_at": "2026-01-01T09:00"})
        assert texts(result) == ["Your parcel should be there"]
        assert await other.state() is None

    async def test_a_moment_that_is_not_a_time_fails_the_flow_with_the_reason(
        self, db: Database, tmp_path: Path
    ) -> None:
        flows = flows_from(
            tmp_path,
            """
            id: delivery
            version: 1
            triggers: [{event: order.shipped}]
            start: wait
            steps:
              wait: {wait: {until: "{{ var.event.deliver_at }}"}, next: hi}
              hi: {say: "Your parcel should be there"}
            """,
        )
        talking = await talk(db, flows, Clock())
        assert (await talking.event("order.shipped", {"deliver_at": "soon"})).replies == ()
        [failed] = await talking.events("flow.failed")
        assert failed.payload["error"] == (
            "step 'wait': until 'soon' is not a time; write HH:MM (09:00) or an ISO date and time "
            "(2026-01-10T09:00)"
        )
        assert await talking.state() is None


class TestMessagesWhileWaiting:
    async def test_a_message_is_left_for_people_and_the_wait_stays(
        self, db: Database, tmp_path: Path
    ) -> None:
        clock = Clock()
        talking = await talk(db, flows_from(tmp_path, NAP, MENU), clock)
        await talking.say("nap")
        before = await talking.state()
        talking.opened = True  # even a message that opens a conversation starts nothing
        result = await talking.say("help, anyone there?")
        assert result.replies == () and not result.handled
        after = await talking.state()
        assert before is not None and after is not None
        assert (after.step, after.deadline) == ("nap", before.deadline)
        [resumed] = await talking.expire(clock.advance(hours=2))
        assert texts(resumed) == ["I'm back. Still there?"]

    async def test_an_interrupting_trigger_replaces_the_wait(self, db: Database, tmp_path: Path) -> None:
        clock = Clock()
        talking = await talk(db, flows_from(tmp_path, NAP, MENU), clock)
        await talking.say("nap")
        assert texts(await talking.say("menu")) == ["The menu"]
        assert await talking.state() is None
        assert await talking.expire(clock.advance(hours=3)) == []

    async def test_a_message_after_the_moment_resumes_the_flow_first_and_may_answer_it(
        self, db: Database, tmp_path: Path
    ) -> None:
        clock = Clock()
        talking = await talk(db, flows_from(tmp_path, NAP), clock)
        await talking.say("nap")
        clock.advance(hours=3)  # the timeout round has not run yet
        result = await talking.say("yes")
        assert texts(result) == ["I'm back. Still there?", "Bye"]


WAIT_FOR_PAYMENT = """
id: order
version: 1
triggers:
  - event: order.created
start: paid
steps:
  paid:
    wait: {event: [order.paid, order.settled]}
    timeout: 2d
    on_timeout: reminder
    next: thanks
  thanks:
    say: "Thanks for paying {{ var.event.total }} ({{ var.event_kind }})"
  reminder:
    say: "Your order is waiting for payment"
"""

CANCEL = """
id: cancel
version: 1
triggers:
  - event: order.cancelled
    interrupt: true
  - event: order.refunded
start: bye
steps:
  bye:
    say: "Sorry to see it go"
"""


class TestWaitForAnEvent:
    async def test_the_event_resumes_the_flow_after_a_restart(self, db: Database, tmp_path: Path) -> None:
        clock = Clock()
        talking = await talk(db, flows_from(tmp_path, WAIT_FOR_PAYMENT, CANCEL), clock)
        assert (await talking.event("order.created", {"id": 1})).replies == ()
        state = await talking.state()
        assert state is not None
        assert (state.step, state.waiting_for, state.deadline) == (
            "paid",
            WaitingFor.EVENT,
            clock.now + timedelta(days=2),
        )
        restart(talking, tmp_path, clock)
        assert (await talking.event("order.shipped")).replies == ()  # not what it waits for
        assert (await talking.say("when do I pay?")).replies == ()  # left for people
        restart(talking, tmp_path, clock)
        result = await talking.event("order.settled", {"total": 20})
        assert texts(result) == ["Thanks for paying 20 (order.settled)"]
        assert result.variables["event"] == {"total": 20}
        assert await talking.state() is None

    async def test_it_times_out_at_on_timeout(self, db: Database, tmp_path: Path) -> None:
        clock = Clock()
        talking = await talk(db, flows_from(tmp_path, WAIT_FOR_PAYMENT, CANCEL), clock)
        await talking.event("order.created")
        assert await talking.expire(clock.advance(days=1)) == []
        [result] = await talking.expire(clock.advance(days=1))
        assert texts(result) == ["Your order is waiting for payment"]

    async def test_a_late_event_finds_the_timeout_applied_first(self, db: Database, tmp_path: Path) -> None:
        clock = Clock()
        talking = await talk(db, flows_from(tmp_path, WAIT_FOR_PAYMENT, CANCEL), clock)
        await talking.event("order.created")
        clock.advance(days=3)  # the timeout round has not run yet
        result = await talking.event("order.paid", {"total": 20})
        assert texts(result) == ["Your order is waiting for payment"]
        assert await talking.state() is None

    async def test_other_events_start_flows_only_when_they_interrupt(
        self, db: Database, tmp_path: Path
    ) -> None:
        talking = await talk(db, flows_from(tmp_path, WAIT_FOR_PAYMENT, CANCEL), Clock())
        await talking.event("order.created")
        assert (await talking.event("order.refunded")).replies == ()
        assert (await talking.state()) is not None
        assert texts(await talking.event("order.cancelled")) == ["Sorry to see it go"]
        assert await talking.state() is None

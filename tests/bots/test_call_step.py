"""The call step on real databases (SQLite and PostgreSQL): a sub-flow runs on the caller's variables
and returns to ``next``; a pause inside it survives a restart (the call stack is in the state row);
a handoff inside ends every flow; versions and vanished flows are handled like paused flows."""

from __future__ import annotations

from pathlib import Path

from bots.flows import FlowEngine, FlowSet, load_flows
from hub.db import Database
from tests.bots.conftest import Clock, Talk, flows_from, new_customer, texts, write_flow

ORDER = """
id: order
version: 1
triggers:
  - keyword: [order]
start: hello
steps:
  hello:
    set: {var.item: pizza}
    next: address
  address:
    call: address
    next: confirm
  confirm:
    say: "{{ var.item }} to {{ var.street }}, {{ var.city }}"
"""

ADDRESS = """
id: address
version: 1
start: street
steps:
  street:
    ask: "Which street, for the {{ var.item }}?"
    timeout: 1h
    on_timeout: lost
    next: city
  city:
    call: city
    next: done
  done:
    end: true
  lost:
    handoff: support
    message: "Let me find a person"
"""

CITY = """
id: city
version: 1
start: ask
steps:
  ask:
    ask: "Which city?"
    type: choice
    choices: [Lviv, Kyiv]
    save_to: var.city
"""


async def talk(db: Database, flows: FlowSet, clock: Clock | None = None) -> Talk:
    return Talk(db, FlowEngine(flows, clock=clock or Clock()), await new_customer(db, display_name="Ana"))


def restart(talking: Talk, folder: Path, clock: Clock | None = None) -> None:
    talking.engine = FlowEngine(load_flows(folder), clock=clock or Clock())


class TestCalls:
    async def test_called_flows_share_the_variables_and_return_after_restarts(
        self, db: Database, tmp_path: Path
    ) -> None:
        flows = flows_from(tmp_path, ORDER, ADDRESS, CITY)
        talking = await talk(db, flows)
        assert texts(await talking.say("order")) == ["Which street, for the pizza?"]
        state = await talking.state()
        assert state is not None
        assert (state.flow_id, state.step) == ("address", "street")
        assert state.call_stack == [{"flow": "order", "version": "1", "step": "address", "then": "confirm"}]

        restart(talking, tmp_path)
        assert texts(await talking.say("Shevchenka 1")) == ["Which city?"]
        state = await talking.state()
        assert state is not None and (state.flow_id, state.step) == ("city", "ask")
        assert [frame["flow"] for frame in state.call_stack] == ["order", "address"]

        restart(talking, tmp_path)
        result = await talking.say("Lviv")
        # city ends (no next) -> address continues at done (end) -> order continues at confirm.
        assert texts(result) == ["pizza to Shevchenka 1, Lviv"]
        assert result.variables == {"item": "pizza", "street": "Shevchenka 1", "city": "Lviv"}
        assert await talking.state() is None

    async def test_a_call_that_never_waits_returns_in_the_same_turn(
        self, db: Database, tmp_path: Path
    ) -> None:
        flows = flows_from(
            tmp_path,
            """
            id: quick
            version: 1
            triggers: [{keyword: [quick]}]
            start: go
            steps:
              go: {call: city, step: quick, next: show}
              show: {say: "City {{ var.city }}"}
            """,
            # Its quick step is only ever started by the call (validation counts that as reachable).
            CITY.replace(
                "    save_to: var.city\n", "    save_to: var.city\n  quick:\n    set: {var.city: Lviv}\n"
            ),
        )
        talking = await talk(db, flows)
        assert texts(await talking.say("quick")) == ["City Lviv"]
        assert await talking.state() is None

    async def test_a_handoff_inside_a_called_flow_ends_every_flow(self, db: Database, tmp_path: Path) -> None:
        clock = Clock()
        flows = flows_from(tmp_path, ORDER, ADDRESS, CITY)
        talking = await talk(db, flows, clock)
        await talking.say("order")
        [result] = await talking.expire(clock.advance(hours=1))
        assert texts(result) == ["Let me find a person"]
        assert result.handoff is not None and result.handoff.team == "support"
        assert result.handoff.flow_id == "address"
        assert await talking.state() is None

    async def test_a_failure_inside_a_called_flow_ends_every_flow(self, db: Database, tmp_path: Path) -> None:
        flows = flows_from(
            tmp_path,
            """
            id: outer
            version: 1
            triggers: [{keyword: [go]}]
            start: go
            steps:
              go: {call: broken, next: after}
              after: {say: "never"}
            """,
            """
            id: broken
            version: 1
            start: bad
            steps:
              bad: {say: "{{ tags.append('x') }}"}
            """,
        )
        talking = await talk(db, flows)
        assert (await talking.say("go")).replies == ()
        [failed] = await talking.events("flow.failed")
        assert failed.payload["flow"] == "broken" and "not allowed" in failed.payload["error"]
        assert await talking.state() is None


class TestVersionsAndRestarts:
    async def test_the_caller_finishes_on_its_version_when_it_changes_meanwhile(
        self, db: Database, tmp_path: Path
    ) -> None:
        flows = flows_from(tmp_path, ORDER, ADDRESS, CITY)
        talking = await talk(db, flows)
        await talking.say("order")
        # The caller's file changes while the customer is inside the call (the hub keeps running).
        write_flow(
            tmp_path,
            ORDER.replace("version: 1", "version: 2").replace("{{ var.item }} to", "v2:"),
            "flow0.yaml",
        )
        talking.engine.activate(load_flows(tmp_path))
        await talking.say("Shevchenka 1")
        assert texts(await talking.say("Kyiv")) == ["pizza to Shevchenka 1, Kyiv"]

    async def test_a_caller_no_longer_loaded_lets_the_customer_go(self, db: Database, tmp_path: Path) -> None:
        talking = await talk(db, flows_from(tmp_path, ORDER, ADDRESS, CITY))
        await talking.say("order")
        write_flow(tmp_path, ORDER.replace("version: 1", "version: 2"), "flow0.yaml")
        restart(talking, tmp_path)  # after a restart only version 2 of the caller exists
        result = await talking.say("Shevchenka 1")
        assert not result.handled and await talking.state() is None

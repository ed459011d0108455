"""Running one flow for one customer: steps run until the flow waits or ends, and the state row
follows (written when the flow pauses, deleted when it ends).

A ``call`` step runs another flow inside this one: the caller is pushed on a stack (kept in the
state row while the called flow waits), the called flow runs on the same variables, and when it
ends the caller continues at the call step's ``next``. A handoff or a failure anywhere ends them
all.

A step that fails at run time (a template reaching for a Python internal, a ``set`` value the
attribute's type refuses, a run of more than ``max_steps`` steps) ends the flow: the failure is
logged and put on the customer's timeline as ``flow.failed``, and the turn goes on. Raising instead
would roll back the customer's message with it and retry it until the hub parks it, for a mistake
no retry can fix. Database errors are not caught: those must roll the transaction back.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Mapping
from typing import Any, Protocol

from bots.flows.context import TurnContext
from bots.flows.model import Flow
from bots.flows.outcomes import Call, Finish, HandOff, Next, Outcome, Wait, after
from bots.flows.state import FlowState, Frame, drop_state
from bots.flows.steps.base import Answer, WaitingStep
from bots.flows.steps.wait import WaitStep
from bots.flows.templating import RenderError
from crm_core.attributes import InvalidAttribute

log = logging.getLogger(__name__)

# Validation refuses flows that call themselves; this only guards against what it cannot see (a
# flow file edited while a customer was inside it).
MAX_CALL_DEPTH = 8


class FlowRuntimeError(RuntimeError):
    """A flow that cannot go on (see the module docstring)."""


class FlowLookup(Protocol):
    """The flows a runner can move between (the engine's loaded versions)."""

    def loaded(self, flow_id: str, version: str) -> Flow | None:
        """That exact version, if it is still known."""

    def current(self, flow_id: str) -> Flow | None:
        """The active version, which a ``call`` step starts."""


class FlowRunner:
    def __init__(
        self,
        ctx: TurnContext,
        state: FlowState | None,
        *,
        conversation_id: int,
        flows: FlowLookup,
        max_steps: int = 100,
    ) -> None:
        self.ctx = ctx
        self.state = state
        self.conversation_id = conversation_id
        self.flows = flows
        self.max_steps = max_steps
        self.handoff: HandOff | None = None
        # The flows waiting for the one running to end, outermost first.
        self.stack: list[Frame] = [Frame.from_json(f) for f in state.call_stack] if state is not None else []
        if state is not None:
            state.conversation_id = conversation_id
            state.channel_type = ctx.channel

    @property
    def flow_id(self) -> str:
        return self.ctx.flow.id

    @property
    def paused_step(self) -> WaitingStep | None:
        """The step the flow waits in (None once it has ended)."""
        if self.state is None:
            return None
        step = self.ctx.flow.steps[self.state.step]
        assert isinstance(step, WaitingStep)
        return step

    async def start(self, step: str | None = None) -> None:
        """Run the flow from ``step`` (default: its start step)."""
        await self._guarded(self._drive(step or self.ctx.flow.start))

    async def answer(self, text: str, payload: str | None, shared_phone: str | None = None) -> None:
        """Hand the customer's message to the step the flow waits in, and carry on from there."""
        state, step = self.state, self.paused_step
        assert state is not None and step is not None and step.takes_messages

        async def run() -> None:
            answer = Answer(text, payload, state.tries, dict(state.step_data), shared_phone)
            outcome = await step.on_answer(self.ctx, answer)
            failed = isinstance(outcome, Wait) and outcome.failed_try
            await self._drive(step.name, outcome, tries=state.tries + 1 if failed else 0)

        await self._guarded(run())

    async def expire(self) -> None:
        """The waiting step's deadline passed: its timeout (``on_timeout``, or the end), or for a
        wait step the moment to go on."""
        step = self.paused_step
        assert step is not None
        await self._guarded(self._drive(step.name, step.expired()))

    async def event(self, kind: str, payload: Mapping[str, Any]) -> None:
        """The business event a wait step waits for arrived: go on at its ``next``."""
        step = self.paused_step
        assert isinstance(step, WaitStep)
        await self._guarded(self._drive(step.name, step.on_event(self.ctx, kind, payload)))

    # ---------------------------------------------------------------------------------------------

    async def _guarded(self, work: Awaitable[None]) -> None:
        try:
            await work
        except (RenderError, InvalidAttribute, FlowRuntimeError) as exc:
            log.warning("flow %s failed for customer %s: %s", self.flow_id, self.ctx.customer.id, exc)
            await self.ctx.record("flow.failed", {"flow": self.flow_id, "error": str(exc)})
            await self._end()

    async def _drive(self, step_name: str, outcome: Outcome | None = None, *, tries: int = 0) -> None:
        """Run steps from ``step_name`` (or, with ``outcome``, act on that step's outcome first) until
        the flow waits or ends, entering called flows and returning from them on the way."""
        for _ in range(self.max_steps):
            if outcome is None:
                outcome = await self.ctx.flow.steps[step_name].run(self.ctx)
                tries = 0
            if isinstance(outcome, Next):
                step_name, outcome = outcome.step, None
            elif isinstance(outcome, Call):
                step_name, outcome = self._enter(step_name, outcome), None
            elif isinstance(outcome, Finish) and self.stack:
                # The called flow is done: its caller goes on (and may itself be done).
                outcome = self._leave()
            else:
                await self._settle(step_name, outcome, tries=tries)
                return
        raise FlowRuntimeError(f"more than {self.max_steps} steps in one turn (last: {step_name!r})")

    def _enter(self, step_name: str, call: Call) -> str:
        if len(self.stack) >= MAX_CALL_DEPTH:
            raise FlowRuntimeError(f"flows call each other more than {MAX_CALL_DEPTH} deep")
        callee = self.flows.current(call.flow_id)
        if callee is None:
            raise FlowRuntimeError(f"step {step_name!r} calls the flow {call.flow_id!r}, which is not loaded")
        first = call.step or callee.start
        if first not in callee.steps:
            raise FlowRuntimeError(f"step {step_name!r} calls {call.flow_id!r} at {first!r}, which it lacks")
        self.stack.append(Frame(self.ctx.flow.id, self.ctx.flow.version, step_name, call.then))
        self.ctx.flow = callee
        return first

    def _leave(self) -> Outcome:
        frame = self.stack.pop()
        caller = self.flows.loaded(frame.flow_id, frame.flow_version)
        if caller is None:
            raise FlowRuntimeError(
                f"the flow {frame.flow_id!r} (version {frame.flow_version}) that called "
                f"{self.ctx.flow.id!r} is no longer loaded"
            )
        self.ctx.flow = caller
        return after(frame.then)

    async def _settle(self, step_name: str, outcome: Outcome, *, tries: int) -> None:
        if isinstance(outcome, Wait):
            await self._pause(step_name, outcome, tries)
        elif isinstance(outcome, HandOff):
            # A handoff anywhere ends every flow of the stack: people take it from here.
            self.handoff = outcome
            await self._end()
        else:
            assert isinstance(outcome, Finish)
            await self._end()

    async def _pause(self, step_name: str, wait: Wait, tries: int) -> None:
        step = self.ctx.flow.steps[step_name]
        assert isinstance(step, WaitingStep)
        deadline = wait.deadline
        if deadline is None and step.timeout is not None:
            deadline = self.ctx.now + step.timeout
        if self.state is None:
            self.state = FlowState(
                customer_id=self.ctx.customer.id,  # type: ignore[arg-type]
                conversation_id=self.conversation_id,
                channel_type=self.ctx.channel,
                flow_id=self.ctx.flow.id,
                flow_version=self.ctx.flow.version,
                step=step_name,
                waiting_for=wait.waiting_for,
                started_at=self.ctx.now,
            )
        state = self.state
        # A call or a return may have moved the flow to another one since it last paused.
        state.flow_id = self.ctx.flow.id
        state.flow_version = self.ctx.flow.version
        state.step = step_name
        state.waiting_for = wait.waiting_for
        # New list and dict objects, so the JSON columns are seen as changed.
        state.call_stack = [frame.to_json() for frame in self.stack]
        state.variables = dict(self.ctx.variables)
        state.step_data = dict(wait.data)
        state.tries = tries
        state.deadline = deadline
        state.updated_at = self.ctx.now
        self.ctx.session.add(state)
        await self.ctx.session.flush()

    async def _end(self) -> None:
        if self.state is not None and self.state.id is not None:
            await drop_state(self.ctx.session, self.state)
        self.state = None
        self.stack = []

"""Running one flow for one customer: steps run until the flow waits or ends, and the state row
follows (written when the flow pauses, deleted when it ends).

A step that fails at run time (a template reaching for a Python internal, a ``set`` value the
attribute's type refuses, a run of more than ``max_steps`` steps) ends the flow: the failure is
logged and put on the customer's timeline as ``flow.failed``, and the turn goes on. Raising instead
would roll back the customer's message with it and retry it until the hub parks it, for a mistake
no retry can fix. Database errors are not caught: those must roll the transaction back.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable

from bots.flows.context import TurnContext
from bots.flows.outcomes import Finish, HandOff, Next, Outcome, Wait
from bots.flows.state import FlowState, drop_state
from bots.flows.steps.base import Answer, WaitingStep
from bots.flows.templating import RenderError
from crm_core.attributes import InvalidAttribute

log = logging.getLogger(__name__)


class FlowRuntimeError(RuntimeError):
    """A flow that cannot go on (see the module docstring)."""


class FlowRunner:
    def __init__(
        self,
        ctx: TurnContext,
        state: FlowState | None,
        *,
        conversation_id: int,
        max_steps: int = 100,
    ) -> None:
        self.ctx = ctx
        self.state = state
        self.conversation_id = conversation_id
        self.max_steps = max_steps
        self.handoff: HandOff | None = None
        if state is not None:
            state.conversation_id = conversation_id
            state.channel_type = ctx.channel

    @property
    def flow_id(self) -> str:
        return self.ctx.flow.id

    async def start(self, step: str | None = None) -> None:
        """Run the flow from ``step`` (default: its start step)."""
        await self._guarded(self._go(step or self.ctx.flow.start))

    async def answer(self, text: str, payload: str | None) -> None:
        """Hand the customer's message to the step the flow waits in, and carry on from there."""
        assert self.state is not None
        state = self.state
        step = self.ctx.flow.steps[state.step]
        assert isinstance(step, WaitingStep)

        async def run() -> None:
            answer = Answer(text, payload, state.tries, dict(state.step_data))
            await self._continue(step.name, await step.on_answer(self.ctx, answer), answering=True)

        await self._guarded(run())

    async def expire(self) -> None:
        """The waiting step's timeout passed: continue at its ``on_timeout`` step (or end)."""
        assert self.state is not None
        step = self.ctx.flow.steps[self.state.step]
        assert isinstance(step, WaitingStep)
        await self._guarded(self._continue(step.name, step.expired(), answering=False))

    # ---------------------------------------------------------------------------------------------

    async def _guarded(self, work: Awaitable[None]) -> None:
        try:
            await work
        except (RenderError, InvalidAttribute, FlowRuntimeError) as exc:
            log.warning("flow %s failed for customer %s: %s", self.flow_id, self.ctx.customer.id, exc)
            await self.ctx.record("flow.failed", {"flow": self.flow_id, "error": str(exc)})
            await self._end()

    async def _go(self, step_name: str) -> None:
        for _ in range(self.max_steps):
            step = self.ctx.flow.steps[step_name]
            outcome = await step.run(self.ctx)
            if isinstance(outcome, Next):
                step_name = outcome.step
                continue
            await self._settle(step_name, outcome, tries=0)
            return
        raise FlowRuntimeError(f"more than {self.max_steps} steps in one turn (last: {step_name!r})")

    async def _continue(self, step_name: str, outcome: Outcome, *, answering: bool) -> None:
        if isinstance(outcome, Next):
            await self._go(outcome.step)
            return
        tries = 0
        if answering and isinstance(outcome, Wait) and outcome.failed_try and self.state is not None:
            tries = self.state.tries + 1
        await self._settle(step_name, outcome, tries=tries)

    async def _settle(self, step_name: str, outcome: Outcome, *, tries: int) -> None:
        if isinstance(outcome, Wait):
            await self._pause(step_name, outcome, tries)
        elif isinstance(outcome, HandOff):
            self.handoff = outcome
            await self._end()
        else:
            assert isinstance(outcome, Finish)
            await self._end()

    async def _pause(self, step_name: str, wait: Wait, tries: int) -> None:
        step = self.ctx.flow.steps[step_name]
        assert isinstance(step, WaitingStep)
        deadline = self.ctx.now + step.timeout if step.timeout is not None else None
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
        state.step = step_name
        state.waiting_for = wait.waiting_for
        # New dict objects, so the JSON columns are seen as changed.
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

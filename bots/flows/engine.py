"""The flow engine: starts flows on triggers, resumes paused ones, fires their timeouts.

Everything it knows between turns is in the database (bots.flows.state); an engine object holds
only the loaded flows, so it can be rebuilt at any time (a restart, a second worker) and carry on.

Per message (``handle_turn``), in this order:

1. A conversation a person has taken over (``turn.bot_active`` False) is left alone: no trigger
   fires, and a flow still waiting there is stopped.
2. A paused flow gets the message as its answer, unless a trigger marked ``interrupt: true``
   matches, which replaces it (a message that is unmistakably an answer, such as one of the
   question's own buttons, is always the answer). When the paused step's deadline has already
   passed (the periodic ``expire_timeouts`` has not run yet), its timeout is applied first, then
   the message goes on.
3. Otherwise the first matching trigger (see bots.flows.triggers) starts its flow.

``activate`` swaps in a new set of flows; flows paused on an older version keep running on it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bots.flows.context import BusinessHours, TurnContext
from bots.flows.model import Flow, FlowSet
from bots.flows.result import FlowResult, Handoff, TimedOut
from bots.flows.runner import FlowRunner
from bots.flows.state import (
    FlowState,
    drop_state,
    due_states,
    load_due_state,
    load_state,
    lock_customer,
)
from bots.flows.steps.base import Answer, WaitingStep
from bots.flows.triggers import TriggerHit, match_event, match_message
from bots.turn import BotReply, BotTurn
from crm_core.columns import utcnow
from crm_core.customers import get_customer
from crm_core.models import Customer

log = logging.getLogger(__name__)

# Whether the bot may still speak in a conversation (the hub answers from the inbox).
ConversationCheck = Callable[[AsyncSession, int], Awaitable[bool]]


class _Collected:
    """Replies and the handoff gathered over one call, possibly from two flows (one timing out, the
    next starting)."""

    def __init__(self) -> None:
        self.replies: list[BotReply] = []
        self.handoff: Handoff | None = None
        self.flow_id: str | None = None
        self.variables: dict[str, Any] = {}

    def take(self, runner: FlowRunner) -> None:
        self.flow_id = runner.flow_id
        self.variables = dict(runner.ctx.variables)
        if runner.handoff is not None:
            self.handoff = Handoff(
                team=runner.handoff.team,
                summary=runner.handoff.summary,
                flow_id=runner.flow_id,
                variables=dict(runner.ctx.variables),
            )

    def result(self) -> FlowResult:
        return FlowResult(tuple(self.replies), self.handoff, self.flow_id, self.variables)


class FlowEngine:
    def __init__(
        self,
        flows: FlowSet,
        *,
        business_hours: BusinessHours | None = None,
        clock: Callable[[], datetime] = utcnow,
        default_region: str | None = None,
        max_steps_per_turn: int = 100,
    ) -> None:
        self.business_hours = business_hours
        self.clock = clock
        self.default_region = default_region
        self.max_steps_per_turn = max_steps_per_turn
        self._versions: dict[tuple[str, str], Flow] = {}
        self.flows = FlowSet()
        self.activate(flows)

    def activate(self, flows: FlowSet) -> None:
        """Make ``flows`` the ones triggers start. Earlier versions stay known, so flows paused on
        them finish on the version they started with."""
        self.flows = flows
        for flow in flows:
            self._versions[(flow.id, flow.version)] = flow

    # -- entry points ------------------------------------------------------------------------------

    async def handle_turn(self, session: AsyncSession, turn: BotTurn) -> FlowResult:
        """React to a customer's message, inside the transaction that stores it."""
        customer = turn.customer
        assert customer.id is not None
        await lock_customer(session, customer.id)
        state = await load_state(session, customer.id)
        if not turn.bot_active:
            if state is not None:
                log.info("a person took over customer %s: flow %s stopped", customer.id, state.flow_id)
                await drop_state(session, state)
            return FlowResult()
        now = self.clock()
        collected = _Collected()
        flow = await self._resumable(session, state)
        if (
            state is not None
            and flow is not None
            and await self._continue_paused(session, turn, flow, state, now, collected)
        ):
            return collected.result()
        hit = match_message(self.flows, turn)
        if hit is not None:
            await self._start(session, customer, hit, turn.conversation_id, turn.channel_type, now, collected)
        return collected.result()

    async def handle_event(
        self,
        session: AsyncSession,
        *,
        customer: Customer,
        conversation_id: int,
        channel_type: str,
        kind: str,
        payload: Mapping[str, Any] | None = None,
    ) -> FlowResult:
        """Start the flow a business event triggers (``order.created``, ``conversation.resolved``...)
        in ``conversation_id``. A flow already waiting for the customer is not interrupted unless the
        trigger says ``interrupt: true``. The caller decides whether the bot may speak there at all."""
        assert customer.id is not None
        await lock_customer(session, customer.id)
        state = await load_state(session, customer.id)
        flow = await self._resumable(session, state)
        busy = state is not None and flow is not None
        hit = match_event(self.flows, kind, payload or {}, channel_type, interrupting=busy)
        collected = _Collected()
        if hit is None:
            return collected.result()
        if busy and state is not None:
            await drop_state(session, state)
        await self._start(session, customer, hit, conversation_id, channel_type, self.clock(), collected)
        return collected.result()

    async def expire_timeouts(
        self,
        session: AsyncSession,
        now: datetime | None = None,
        *,
        limit: int = 100,
        is_active: ConversationCheck | None = None,
    ) -> list[TimedOut]:
        """Fire the timeouts that are due: each paused flow whose deadline passed continues at its
        ``on_timeout`` step. Returns what to send, per conversation. The hub calls this periodically
        in a transaction and queues the replies (and applies any handoff) in that same transaction.

        ``is_active`` tells whether the bot may still speak in a conversation; a flow in one a person
        took over is stopped silently. Customers busy in another transaction are skipped (their turn
        takes care of the deadline, or the next call does)."""
        now = now or self.clock()
        timed_out: list[TimedOut] = []
        for state_id, customer_id in await due_states(session, now, limit):
            if not await lock_customer(session, customer_id, skip_locked=True):
                continue
            state = await load_due_state(session, state_id, now)
            if state is None:
                continue
            conversation_id, channel = state.conversation_id, state.channel_type
            if is_active is not None and not await is_active(session, conversation_id):
                await drop_state(session, state)
                continue
            flow = await self._resumable(session, state)
            if flow is None:
                continue
            customer = await get_customer(session, customer_id)
            collected = _Collected()
            runner = self._runner(session, customer, flow, state, conversation_id, channel, now, collected)
            await runner.expire()
            collected.take(runner)
            timed_out.append(TimedOut(customer_id, conversation_id, channel, collected.result()))
        return timed_out

    async def stop(self, session: AsyncSession, customer_id: int) -> bool:
        """Stop the customer's paused flow, if any (an agent took the conversation over)."""
        await lock_customer(session, customer_id)
        state = await load_state(session, customer_id)
        if state is None:
            return False
        await drop_state(session, state)
        return True

    # ---------------------------------------------------------------------------------------------

    async def _continue_paused(
        self,
        session: AsyncSession,
        turn: BotTurn,
        flow: Flow,
        state: FlowState,
        now: datetime,
        collected: _Collected,
    ) -> bool:
        """Give the message to the paused flow, or to a trigger that may interrupt it. Returns False
        when the message is still unhandled: the flow's overdue timeout ended it first."""
        waiting = flow.steps[state.step]
        assert isinstance(waiting, WaitingStep)
        answer = Answer(turn.text, turn.button_payload, state.tries, state.step_data)
        interrupting = None if waiting.claims(answer) else match_message(self.flows, turn, interrupting=True)
        if interrupting is not None:
            await drop_state(session, state)
            await self._start(
                session, turn.customer, interrupting, turn.conversation_id, turn.channel_type, now, collected
            )
            return True
        runner = self._runner(
            session, turn.customer, flow, state, turn.conversation_id, turn.channel_type, now, collected
        )
        if state.deadline is not None and state.deadline <= now:
            await runner.expire()
            collected.take(runner)
            if runner.state is None:
                # Ended by its timeout; after a handoff the bot must stay quiet, else start afresh.
                return collected.handoff is not None
        await runner.answer(turn.text, turn.button_payload)
        collected.take(runner)
        return True

    async def _resumable(self, session: AsyncSession, state: FlowState | None) -> Flow | None:
        """The flow version a paused state belongs to. A state whose flow or step is gone (the
        version is no longer loaded, e.g. after a restart with edited files) cannot resume: it is
        dropped, so the customer is not stuck in a flow nobody can run."""
        if state is None:
            return None
        flow = self._versions.get((state.flow_id, state.flow_version))
        step = flow.steps.get(state.step) if flow is not None else None
        if flow is None or step is None or not step.waits:
            log.warning(
                "flow %s version %s step %s is not loaded: dropping the paused flow of customer %s",
                state.flow_id,
                state.flow_version,
                state.step,
                state.customer_id,
            )
            await drop_state(session, state)
            return None
        return flow

    def _runner(
        self,
        session: AsyncSession,
        customer: Customer,
        flow: Flow,
        state: FlowState | None,
        conversation_id: int,
        channel: str,
        now: datetime,
        collected: _Collected,
        variables: Mapping[str, Any] | None = None,
    ) -> FlowRunner:
        ctx = TurnContext(
            session,
            customer,
            flow,
            channel=channel,
            now=now,
            variables=state.variables if state is not None else variables,
            business_hours=self.business_hours,
            default_region=self.default_region,
            replies=collected.replies,
        )
        return FlowRunner(ctx, state, conversation_id=conversation_id, max_steps=self.max_steps_per_turn)

    async def _start(
        self,
        session: AsyncSession,
        customer: Customer,
        hit: TriggerHit,
        conversation_id: int,
        channel: str,
        now: datetime,
        collected: _Collected,
    ) -> None:
        runner = self._runner(
            session, customer, hit.flow, None, conversation_id, channel, now, collected, hit.variables
        )
        await runner.start(hit.trigger.step)
        collected.take(runner)

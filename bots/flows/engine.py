"""The flow engine: starts flows on triggers, resumes paused ones, fires their timeouts.

Everything it knows between turns is in the database (bots.flows.state); an engine object holds
only the loaded flows, so it can be rebuilt at any time (a restart, a second worker) and carry on.

Per message (``handle_turn``), in this order:

1. A conversation a person has taken over (``turn.bot_active`` False) is left alone: no trigger
   fires, and a flow still waiting there is stopped.
2. A paused flow gets the message as its answer, unless a trigger marked ``interrupt: true``
   matches, which replaces it (a message that is unmistakably an answer, such as one of the
   question's own buttons or a shared contact, is always the answer). When the paused step's
   deadline has already passed (the periodic ``expire_timeouts`` has not run yet), its timeout is
   applied first, then the message goes on.
   A flow paused in a ``wait`` step takes no messages: only an interrupting trigger (which replaces
   it) reacts; anything else is left for people, and the wait stays until its moment or event.
3. Otherwise the first matching trigger (see bots.flows.triggers) starts its flow.

Per business event (``handle_event``): a flow waiting for that event (a ``wait: {event: ...}``
step) continues first; otherwise an event trigger may start a flow (interrupting a paused one only
with ``interrupt: true``).

``activate`` swaps in a new set of flows; flows paused on an older version keep running on it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bots.flows.context import BusinessHours, TurnContext
from bots.flows.host import Host
from bots.flows.model import Flow, FlowSet, Trigger
from bots.flows.result import FlowResult, Handoff, TimedOut
from bots.flows.runner import FlowRunner
from bots.flows.state import (
    FlowState,
    Frame,
    drop_state,
    due_states,
    load_due_state,
    load_state,
    lock_customer,
)
from bots.flows.steps.base import Answer, WaitingStep
from bots.flows.steps.wait import WaitStep
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
                step=runner.handoff.step,
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
        host: Host | None = None,
        timezone: str | None = None,
    ) -> None:
        """``host``: what the hub lends flows (deep links, accounts per channel type; see
        bots.flows.host). ``timezone``: the business's, for ``wait: {until: ...}`` when the customer
        has none of their own."""
        self.business_hours = business_hours
        self.clock = clock
        self.default_region = default_region
        self.max_steps_per_turn = max_steps_per_turn
        self.host = host or Host()
        self.timezone = timezone
        self._versions: dict[tuple[str, str], Flow] = {}
        self.flows = FlowSet()
        self.activate(flows)

    def activate(self, flows: FlowSet) -> None:
        """Make ``flows`` the ones triggers start. Earlier versions stay known, so flows paused on
        them finish on the version they started with."""
        self.flows = flows
        for flow in flows:
            self._versions[(flow.id, flow.version)] = flow

    def loaded(self, flow_id: str, version: str) -> Flow | None:
        """A flow version the engine knows (the active one or an earlier one still finishing)."""
        return self._versions.get((flow_id, version))

    def current(self, flow_id: str) -> Flow | None:
        """The active version of a flow: what a ``call`` step runs."""
        return self.flows.get(flow_id)

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
        """Continue the customer's flow if it waits for this event (``wait: {event: order.paid}``),
        else start the flow a business event triggers (``order.created``, ``conversation.resolved``...)
        in ``conversation_id``. A flow already waiting for the customer is not interrupted unless the
        trigger says ``interrupt: true``. The caller decides whether the bot may speak there at all."""
        assert customer.id is not None
        await lock_customer(session, customer.id)
        state = await load_state(session, customer.id)
        flow = await self._resumable(session, state)
        now = self.clock()
        collected = _Collected()
        overdue = state is not None and state.deadline is not None and state.deadline <= now
        if state is not None and flow is not None and (overdue or _awaits(flow.steps[state.step], kind)):
            # (A runner moves the state to this conversation: only make one when the flow moves.)
            runner = self._runner(
                session, customer, flow, state, conversation_id, channel_type, now, collected
            )
            if overdue:
                # The pause ran out before this event: its timeout comes first, then the event.
                await runner.expire()
                collected.take(runner)
                if collected.handoff is not None:
                    return collected.result()  # people have it now: no flow starts
            if runner.paused_step is not None and _awaits(runner.paused_step, kind):
                await runner.event(kind, payload or {})
                collected.take(runner)
                return collected.result()
            state = runner.state
        busy = state is not None
        hit = match_event(self.flows, kind, payload or {}, channel_type, interrupting=busy)
        if hit is None:
            return collected.result()
        if state is not None:
            await drop_state(session, state)
        await self._start(session, customer, hit, conversation_id, channel_type, now, collected)
        return collected.result()

    async def start_by_trigger(
        self,
        session: AsyncSession,
        *,
        customer: Customer,
        flow_id: str,
        trigger: Trigger,
        conversation_id: int,
        channel_type: str,
        variables: Mapping[str, Any] | None = None,
    ) -> FlowResult:
        """Start ``flow_id`` for a customer because of one of its triggers the hub fires itself (a
        ``schedule``, entering a ``segment``). A flow already waiting for the customer is left alone
        unless the trigger says ``interrupt: true``."""
        assert customer.id is not None
        await lock_customer(session, customer.id)
        state = await load_state(session, customer.id)
        collected = _Collected()
        flow = self.flows.get(flow_id)
        if flow is None or trigger not in flow.triggers:
            return collected.result()  # reloaded away meanwhile
        if await self._resumable(session, state) is not None and state is not None:
            if not trigger.interrupt:
                return collected.result()
            await drop_state(session, state)
        hit = TriggerHit(flow, trigger, dict(variables or {}))
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
        ``on_timeout`` step (a ``wait`` step whose moment came, at its ``next``). Returns what to
        send, per conversation. The hub calls this periodically
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
        answer = Answer(turn.text, turn.button_payload, state.tries, state.step_data, turn.shared_phone)
        claimed = waiting.takes_messages and waiting.claims(answer)
        interrupting = None if claimed else match_message(self.flows, turn, interrupting=True)
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
        step = runner.paused_step
        assert step is not None
        if not step.takes_messages:
            # A wait: the message is left for people (no reply), and the flow goes on later.
            return True
        await runner.answer(turn.text, turn.button_payload, turn.shared_phone)
        collected.take(runner)
        return True

    async def _resumable(self, session: AsyncSession, state: FlowState | None) -> Flow | None:
        """The flow version a paused state belongs to. A state whose flow or step is gone (the
        version is no longer loaded, e.g. after a restart with edited files), or whose callers (see
        ``call``) are, cannot resume: it is dropped, so the customer is not stuck in a flow nobody
        can run."""
        if state is None:
            return None
        flow = self._versions.get((state.flow_id, state.flow_version))
        step = flow.steps.get(state.step) if flow is not None else None
        callers_known = all(self._returnable(Frame.from_json(frame)) for frame in state.call_stack)
        if flow is None or step is None or not step.waits or not callers_known:
            log.warning(
                "flow %s version %s step %s (or a flow that called it) is not loaded: dropping the "
                "paused flow of customer %s",
                state.flow_id,
                state.flow_version,
                state.step,
                state.customer_id,
            )
            await drop_state(session, state)
            return None
        return flow

    def _returnable(self, frame: Frame) -> bool:
        caller = self._versions.get((frame.flow_id, frame.flow_version))
        return caller is not None and (frame.then is None or frame.then in caller.steps)

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
            host=self.host,
            timezone=self.timezone,
        )
        return FlowRunner(
            ctx, state, conversation_id=conversation_id, flows=self, max_steps=self.max_steps_per_turn
        )

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


def _awaits(step: object, event_kind: str) -> bool:
    """Whether ``step`` is a wait for this kind of business event."""
    return isinstance(step, WaitStep) and step.listens_for(event_kind)

"""Playing a transcript against the real engine and a real database, and comparing.

Every turn runs in its own transaction on a *new* FlowEngine, as if the server had restarted in
between: whatever the flow remembers must come from the database. The runner stands in for the hub
around the engine: it threads conversations (the first message opens one; after
``conversation.resolved`` the next message opens a new one), turns the bot off on a handoff, and on
``wait`` moves the clock and fires due timeouts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bots.flows.engine import FlowEngine
from bots.flows.model import FlowSet
from bots.flows.result import FlowResult, Handoff
from bots.flows.state import FlowState
from bots.flows.transcripts.database import Transactions
from bots.flows.transcripts.model import UNSET, Expectation, Transcript, Turn
from bots.turn import BotReply, BotTurn
from crm_core.models import Customer, CustomerEvent

# Monday 2026-01-05 10:00 UTC: transcripts do not depend on when they run.
START = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
RESOLVED = "conversation.resolved"


@dataclass
class TranscriptResult:
    file: str
    name: str
    line: int
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


@dataclass
class _Conversation:
    """The hub's side of the story, as much as the engine needs."""

    id: int = 1
    opened: bool = False  # whether the customer has written in it yet
    bot_active: bool = True
    resolved: bool = False

    def message(self) -> bool:
        """A customer message arrives; returns whether it opened a conversation."""
        if self.resolved:
            self.id += 1
            self.opened = False
            self.bot_active = True
            self.resolved = False
        opened = not self.opened
        self.opened = True
        return opened


class _Player:
    def __init__(self, transcript: Transcript, flows: FlowSet, transactions: Transactions) -> None:
        self.transcript = transcript
        self.flows = flows
        self.transactions = transactions
        self.now = START
        self.conversation = _Conversation()
        self.customer_id = 0
        self.variables: dict[str, Any] = {}
        self.handoffs: list[Handoff] = []
        self.failures: list[str] = []

    def engine(self) -> FlowEngine:
        return FlowEngine(
            self.flows,
            business_hours=lambda _moment: self.transcript.business_hours,
            clock=lambda: self.now,
        )

    async def play(self) -> list[str]:
        await self._create_customer()
        try:
            for number, turn in enumerate(self.transcript.turns, start=1):
                before = len(self.handoffs)
                replies = await self._act(turn)
                where = f"turn {number} ({turn.describe()}, line {turn.line})"
                self._check_replies(where, turn, replies)
                if turn.expect is not None:
                    await self._check(where, turn.expect, self.handoffs[before:])
            if self.transcript.expect is not None:
                await self._check("at the end", self.transcript.expect, self.handoffs)
        finally:
            # Leave nothing paused behind: another transcript's clock must not fire it.
            async with self.transactions() as session:
                await self.engine().stop(session, self.customer_id)
        return self.failures

    async def _create_customer(self) -> None:
        spec = self.transcript.customer
        async with self.transactions() as session:
            customer = Customer(
                display_name=spec.name,
                locale=spec.locale,
                attributes=dict(spec.attributes),
                tags=list(spec.tags),
            )
            session.add(customer)
            await session.flush()
            assert customer.id is not None
            self.customer_id = customer.id

    def _take(self, result: FlowResult) -> list[BotReply]:
        if result.flow_id is not None:
            self.variables = dict(result.variables)
        if result.handoff is not None:
            self.handoffs.append(result.handoff)
            self.conversation.bot_active = False
        return list(result.replies)

    async def _act(self, turn: Turn) -> list[BotReply]:
        engine = self.engine()
        async with self.transactions() as session:
            customer = await session.get(Customer, self.customer_id)
            assert customer is not None
            if turn.action == "wait":
                self.now += turn.wait
                replies: list[BotReply] = []

                async def is_active(_session: AsyncSession, _conversation_id: int) -> bool:
                    return self.conversation.bot_active or self.conversation.resolved

                for timed_out in await engine.expire_timeouts(session, self.now, is_active=is_active):
                    if timed_out.customer_id == self.customer_id:
                        replies += self._take(timed_out.result)
                return replies
            if turn.action == "event":
                if turn.text == RESOLVED:
                    self.conversation.resolved = True
                elif not self.conversation.bot_active:
                    return []  # a person is talking: the hub starts no flow on events
                result = await engine.handle_event(
                    session,
                    customer=customer,
                    conversation_id=self.conversation.id,
                    channel_type=self.transcript.channel,
                    kind=turn.text,
                    payload=turn.event_payload,
                )
                return self._take(result)
            opened = self.conversation.message()
            bot_turn = BotTurn(
                customer=customer,
                conversation_id=self.conversation.id,
                opened=opened,
                bot_active=self.conversation.bot_active,
                channel_type=self.transcript.channel,
                text=turn.text,
                button_payload=turn.payload if turn.action == "press" else None,
                start_payload=turn.payload if turn.action == "start" else None,
            )
            return self._take(await engine.handle_turn(session, bot_turn))

    def _check_replies(self, where: str, turn: Turn, replies: list[BotReply]) -> None:
        said = [reply.text for reply in replies]
        if turn.bot is not None:
            if len(said) != len(turn.bot):
                expected = list(turn.bot)
                self.failures.append(
                    f"{where}: expected {len(expected)} bot message(s) {expected}, got {said}"
                )
            else:
                for index, (expected, actual) in enumerate(zip(turn.bot, said, strict=True), start=1):
                    matches = actual == expected if turn.exact else expected in actual
                    if not matches:
                        how = "be" if turn.exact else "contain"
                        self.failures.append(
                            f"{where}: bot message {index} should {how} {expected!r}, it was {actual!r}"
                        )
        if turn.buttons is not None:
            titles = [button.title for button in replies[-1].buttons] if replies else []
            if titles != list(turn.buttons):
                self.failures.append(f"{where}: expected buttons {list(turn.buttons)}, got {titles}")

    async def _check(self, where: str, expect: Expectation, handoffs: list[Handoff]) -> None:
        async with self.transactions() as session:
            customer = await session.get(Customer, self.customer_id)
            assert customer is not None
            state = (
                (await session.execute(select(FlowState).where(FlowState.customer_id == self.customer_id)))
                .scalars()
                .first()
            )
            events = list(
                (
                    await session.execute(
                        select(CustomerEvent)
                        .where(CustomerEvent.customer_id == self.customer_id)
                        .order_by(CustomerEvent.id)
                    )
                ).scalars()
            )
        fail = self.failures.append
        if expect.variables is not None:
            _compare_subset(f"{where}: var", expect.variables, self.variables, fail)
        if expect.attributes is not None:
            _compare_subset(f"{where}: attribute", expect.attributes, customer.attributes, fail)
        for tag in expect.tags:
            if tag not in customer.tags:
                fail(f"{where}: expected tag {tag!r}, the customer has {customer.tags}")
        for tag in expect.no_tags:
            if tag in customer.tags:
                fail(f"{where}: tag {tag!r} should not be there, the customer has {customer.tags}")
        if expect.waiting is not UNSET:
            actual = f"{state.flow_id}.{state.step}" if state is not None else None
            if actual != expect.waiting:
                fail(f"{where}: expected the flow to wait at {expect.waiting!r}, it waits at {actual!r}")
        if expect.handoff is not None:
            _check_handoff(where, expect.handoff, handoffs, fail)
        for wanted in expect.events:
            if not any(
                e.kind == wanted.kind and all(e.payload.get(k) == v for k, v in wanted.payload.items())
                for e in events
            ):
                same_kind = [(e.kind, e.payload) for e in events if e.kind == wanted.kind]
                found = same_kind or sorted({e.kind for e in events}) or "an empty timeline"
                payload = f" with {dict(wanted.payload)}" if wanted.payload else ""
                fail(f"{where}: expected a timeline event {wanted.kind!r}{payload}, found {found}")


def _compare_subset(
    what: str, expected: Mapping[str, Any], actual: Mapping[str, Any], fail: Callable[[str], None]
) -> None:
    for key, value in expected.items():
        if key not in actual:
            fail(f"{what}.{key} should be {value!r}, it is not set")
        elif actual[key] != value:
            fail(f"{what}.{key} should be {value!r}, it is {actual[key]!r}")


def _check_handoff(where: str, expected: Any, handoffs: list[Handoff], fail: Callable[[str], None]) -> None:
    if not expected.happened:
        if handoffs:
            fail(f"{where}: expected no handoff, got one to {handoffs[-1].team!r}")
        return
    if not handoffs:
        fail(f"{where}: expected a handoff, none happened")
        return
    handoff = handoffs[-1]
    if expected.team is not UNSET and handoff.team != expected.team:
        fail(f"{where}: expected a handoff to {expected.team!r}, it went to {handoff.team!r}")
    for text in expected.summary:
        if text not in handoff.summary:
            fail(f"{where}: the handoff summary should contain {text!r}; it is {handoff.summary!r}")


async def play(transcript: Transcript, flows: FlowSet, transactions: Transactions) -> TranscriptResult:
    """Run one transcript; its failures say turn, line and what differed."""
    failures = await _Player(transcript, flows, transactions).play()
    return TranscriptResult(transcript.file, transcript.name, transcript.line, failures)

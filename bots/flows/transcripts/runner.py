"""Playing a transcript against the real engine and a real database, and comparing.

The hub's part around the engine (a new engine per turn, threading conversations, handoffs, the
clock) is bots.flows.transcripts.simulation; here each turn is played through it and what happened is
compared with what the transcript expects.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from bots.flows.model import FlowSet
from bots.flows.result import FlowResult, Handoff
from bots.flows.state import FlowState
from bots.flows.transcripts.database import Transactions
from bots.flows.transcripts.model import UNSET, Expectation, Transcript, Turn
from bots.flows.transcripts.simulation import STAND_IN_HOST, Simulation
from bots.turn import BotReply
from crm_core.consent import consents_of
from crm_core.models import Customer, CustomerEvent

# The business time zone transcripts run in (a wait until "09:00" for a customer without their own).
TIMEZONE = "UTC"


@dataclass
class TranscriptResult:
    file: str
    name: str
    line: int
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


class _Player:
    def __init__(self, transcript: Transcript, flows: FlowSet, transactions: Transactions) -> None:
        self.transcript = transcript
        self.transactions = transactions
        self.simulation = Simulation(
            flows,
            transactions,
            channel=transcript.channel,
            business_hours=lambda _moment: transcript.business_hours,
            engine_options={"host": STAND_IN_HOST, "timezone": TIMEZONE},
        )
        self.failures: list[str] = []

    @property
    def customer_id(self) -> int:
        return self.simulation.customer_id

    @property
    def handoffs(self) -> list[Handoff]:
        return self.simulation.handoffs

    async def play(self) -> list[str]:
        spec = self.transcript.customer
        await self.simulation.create_customer(
            name=spec.name,
            locale=spec.locale,
            attributes=spec.attributes,
            tags=spec.tags,
            phone=spec.phone,
            timezone=spec.timezone,
        )
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
            await self.simulation.stop()
        return self.failures

    async def _act(self, turn: Turn) -> list[BotReply]:
        simulation = self.simulation
        result: FlowResult
        if turn.action == "wait":
            result = await simulation.wait(turn.wait)
        elif turn.action == "event":
            result = await simulation.event(turn.text, turn.event_payload)
        elif turn.action == "press":
            result = await simulation.press(turn.payload or "", turn.text)
        elif turn.action == "start":
            result = await simulation.start(turn.payload or "", turn.text)
        elif turn.action == "share":
            assert turn.shared_phone is not None
            result = await simulation.share(turn.shared_phone)
        else:
            result = await simulation.say(turn.text)
        return list(result.replies)

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
        if turn.qr is not None:
            codes = [a.data.get("qr") for r in replies for a in r.attachments if "qr" in a.data]
            if codes != list(turn.qr):
                self.failures.append(f"{where}: expected QR codes of {list(turn.qr)}, got {codes}")
        if turn.channels is not None:
            channels = [reply.channel_type or self.transcript.channel for reply in replies]
            if channels != list(turn.channels):
                self.failures.append(f"{where}: expected replies on {list(turn.channels)}, got {channels}")

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
            consents = {
                (c.channel, c.purpose.value): c.granted for c in await consents_of(session, self.customer_id)
            }
        fail = self.failures.append
        if expect.variables is not None:
            _compare_subset(f"{where}: var", expect.variables, self.simulation.variables, fail)
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
        for consent in expect.consents:
            actual = consents.get((consent.channel, consent.purpose))
            if actual is not consent.granted:
                fail(
                    f"{where}: expected {consent.purpose} consent on {consent.channel} to be "
                    f"{consent.granted}, it is {'not recorded' if actual is None else actual}"
                )
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

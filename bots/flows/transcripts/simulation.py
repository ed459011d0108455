"""The hub's part around the flow engine, played for one customer: by transcript tests and by the
console simulator (`hub flows chat`).

Every action runs in its own transaction on a *new* FlowEngine, as if the server had restarted in
between, so whatever a flow remembers must come from the database. Around the engine it does what
the hub does: threads conversations (the first message opens one; after ``conversation.resolved``
the next message opens a new one), turns the bot off on a handoff, starts no flow on an event while
a person is in charge, on ``wait`` moves the clock and fires the timeouts (and wait steps) that are
due, and on ``share`` puts the shared phone on the customer's record, verified, before the bot sees
the message (as the hub's pipeline stitches a shared contact).

``STAND_IN_HOST`` lends flows what the hub would (bots.flows.host): a deep link that names the
channel and the customer (``https://deep-link.invalid/telegram/7``), and an account for every
channel type, named after the type.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bots.flows.context import BusinessHours
from bots.flows.engine import FlowEngine
from bots.flows.host import Host
from bots.flows.model import FlowSet
from bots.flows.result import FlowResult, Handoff
from bots.flows.state import FlowState
from bots.flows.transcripts.database import Transactions
from bots.turn import BotTurn
from crm_core.customers import attach_identity
from crm_core.models import Customer, Identity, IdentityKind

# Monday 2026-01-05 10:00 UTC: transcripts do not depend on when they run.
START = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
RESOLVED = "conversation.resolved"
STAND_IN_HOST = Host(
    deep_link=lambda customer_id, channel: f"https://deep-link.invalid/{channel}/{customer_id}",
    account_for=lambda channel_type: channel_type,
)


@dataclass
class Conversation:
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


@dataclass
class Simulation:
    """One customer talking to ``flows`` on ``channel``. ``variables`` are the last flow's variables
    as it left them; ``handoffs`` every handoff so far."""

    flows: FlowSet
    transactions: Transactions
    channel: str = "webchat"
    business_hours: BusinessHours | None = None
    now: datetime = START
    default_region: str | None = None
    # More FlowEngine keyword arguments, for what the hub lends the engine in a real deployment.
    engine_options: Mapping[str, Any] = field(default_factory=dict)
    customer_id: int = 0
    conversation: Conversation = field(default_factory=Conversation)
    variables: dict[str, Any] = field(default_factory=dict)
    handoffs: list[Handoff] = field(default_factory=list)

    def engine(self) -> FlowEngine:
        return FlowEngine(
            self.flows,
            business_hours=self.business_hours,
            clock=lambda: self.now,
            default_region=self.default_region,
            **self.engine_options,
        )

    async def create_customer(
        self,
        *,
        name: str,
        locale: str | None,
        attributes: Mapping[str, Any] | None = None,
        tags: Sequence[str] = (),
        phone: str | None = None,
        timezone: str | None = None,
    ) -> int:
        """A new customer; ``phone`` is a verified number of theirs (what they write or call from on
        SMS, WhatsApp or the phone)."""
        async with self.transactions() as session:
            customer = Customer(
                display_name=name,
                locale=locale,
                timezone=timezone,
                attributes=dict(attributes or {}),
                tags=list(tags),
            )
            session.add(customer)
            await session.flush()
            assert customer.id is not None
            self.customer_id = customer.id
            if phone is not None:
                await _own_phone(session, customer, phone)
        return self.customer_id

    # -- what the customer (or the world) does ------------------------------------------------------

    async def say(self, text: str) -> FlowResult:
        """The customer writes ``text``."""
        return await self._message(text)

    async def press(self, payload: str, text: str = "") -> FlowResult:
        """The customer presses a button with ``payload`` (``text``: the title the channel sends)."""
        return await self._message(text, button_payload=payload)

    async def start(self, payload: str, text: str | None = None) -> FlowResult:
        """The customer starts the bot from a deep link (``""``: a plain start); the message's text
        is ``/start PAYLOAD`` unless given."""
        return await self._message(
            f"/start {payload}".strip() if text is None else text, start_payload=payload
        )

    async def share(self, phone: str) -> FlowResult:
        """The customer shares their own contact (the share-phone button): ``phone`` in E.164."""
        return await self._message("", shared_phone=phone)

    async def event(self, kind: str, payload: Mapping[str, Any] | None = None) -> FlowResult:
        """A business event about the customer arrives. ``conversation.resolved`` resolves the
        conversation first; other events start nothing while a person is in charge."""
        if kind == RESOLVED:
            self.conversation.resolved = True
        elif not self.conversation.bot_active:
            return FlowResult()
        async with self.transactions() as session:
            result = await self.engine().handle_event(
                session,
                customer=await self._customer(session),
                conversation_id=self.conversation.id,
                channel_type=self.channel,
                kind=kind,
                payload=payload,
            )
        return self._take(result)

    async def wait(self, duration: timedelta) -> FlowResult:
        """Time passes: the clock moves on and the customer's due timeout, if any, fires."""
        self.now += duration

        async def is_active(_session: AsyncSession, _conversation_id: int) -> bool:
            return self.conversation.bot_active or self.conversation.resolved

        async with self.transactions() as session:
            timed_out = await self.engine().expire_timeouts(session, self.now, is_active=is_active)
        results = [self._take(item.result) for item in timed_out if item.customer_id == self.customer_id]
        return results[0] if results else FlowResult()

    async def stop(self) -> None:
        """Stop the customer's paused flow (so another simulation's clock cannot fire it)."""
        async with self.transactions() as session:
            await self.engine().stop(session, self.customer_id)

    # -- what there is to see ------------------------------------------------------------------------

    async def waiting(self) -> FlowState | None:
        """Where a flow waits for the customer, if one does."""
        async with self.transactions() as session:
            statement = select(FlowState).where(FlowState.customer_id == self.customer_id)
            return (await session.execute(statement)).scalars().first()

    async def customer(self) -> Customer:
        async with self.transactions() as session:
            return await self._customer(session)

    # ---------------------------------------------------------------------------------------------

    async def _customer(self, session: AsyncSession) -> Customer:
        customer = await session.get(Customer, self.customer_id)
        assert customer is not None, "create_customer first"
        return customer

    async def _message(
        self,
        text: str,
        *,
        button_payload: str | None = None,
        start_payload: str | None = None,
        shared_phone: str | None = None,
    ) -> FlowResult:
        async with self.transactions() as session:
            opened = self.conversation.message()
            customer = await self._customer(session)
            if shared_phone is not None:
                await _own_phone(session, customer, shared_phone)
            turn = BotTurn(
                customer=customer,
                conversation_id=self.conversation.id,
                opened=opened,
                bot_active=self.conversation.bot_active,
                channel_type=self.channel,
                text=text,
                button_payload=button_payload,
                start_payload=start_payload,
                shared_phone=shared_phone,
            )
            result = await self.engine().handle_turn(session, turn)
        return self._take(result)

    def _take(self, result: FlowResult) -> FlowResult:
        if result.flow_id is not None:
            self.variables = dict(result.variables)
        if result.handoff is not None:
            self.handoffs.append(result.handoff)
            self.conversation.bot_active = False
        return result


async def _own_phone(session: AsyncSession, customer: Customer, phone: str) -> None:
    """A phone a channel vouches for, on the customer's record as the hub's pipeline puts it. One
    scratch database serves many simulations, so a number another customer holds is handed over
    (the hub would merge the two records; here they are strangers who reused a test number)."""
    owner = await attach_identity(session, customer, IdentityKind.PHONE, phone, verified=True, source="test")
    if isinstance(owner, Customer):
        await session.execute(
            update(Identity)
            .where(Identity.kind == IdentityKind.PHONE, Identity.address == phone)  # type: ignore[arg-type]
            .values(customer_id=customer.id, verified=True)
        )

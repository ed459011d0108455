"""Synthetic inbox data for load tests (`hub seed`, bench/inbox.py): customers with an identity on a
configured channel, their conversations and messages, the timeline entry of every message, agents
and teams to assign to, and labels — in the shapes the pipeline writes, inserted in bulk.

The mix is a support desk after half a year: most conversations resolved, about one in five still
open, pending or snoozed; most open ones assigned; some labelled or urgent; customers waiting. Ids
are allocated here (after the highest already in use), so seeding adds to a database that has data;
on PostgreSQL the id sequences are moved past them at the end.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.columns import utcnow
from crm_core.models import Customer, CustomerEvent, Identity, IdentityKind
from inbox.models import (
    Agent,
    AuthorKind,
    Conversation,
    ConversationLabel,
    ConversationStatus,
    Direction,
    Message,
    MessageStatus,
    Priority,
    Role,
    Team,
)

# Which identity a channel type addresses customers by (the hub's accounts table says the same).
KIND_OF_CHANNEL = {
    "webchat": IdentityKind.WEBCHAT,
    "telegram": IdentityKind.TELEGRAM,
    "viber": IdentityKind.VIBER,
    "sms": IdentityKind.PHONE,
    "whatsapp": IdentityKind.PHONE,
    "email": IdentityKind.EMAIL,
    "api": IdentityKind.API,
}
CUSTOMERS_PER_CHUNK = 1000
LABELS = ("refund", "shipping", "vip", "wholesale", "complaint", "decaf", "subscription", "bug")
TEAMS = ("Support", "Sales", "Billing")
FIRST = ("Maria", "Olena", "Sam", "Lucia", "Pablo", "Ana", "John", "Iryna", "Carmen", "Diego", "Emma")
LAST = ("Lopez", "Kovalenko", "Reed", "Gomez", "Ruiz", "Smith", "Shevchenko", "Garcia", "Brown", "Diaz")
CITIES = ("Lisbon", "Madrid", "Kyiv", "Sevilla", "London", "Porto", "Lviv", "Valencia")
INBOUND = (
    "Hi! Where is my order {n}?",
    "Do you ship to {city}?",
    "¿Tenéis café descafeinado?",
    "The grinder I bought (order {n}) makes a strange noise",
    "Can I change the delivery address for order {n}?",
    "Is the Guji good for espresso?",
    "Necesito la factura del pedido {n}",
    "Thanks, that helped!",
)
OUTBOUND = (
    "Order {n} left our roastery today; it arrives in 2-3 days.",
    "Yes, we ship to {city} in 2-3 days.",
    "Sí, tenemos un descafeinado de Colombia.",
    "Sorry about that! I have sent a replacement for order {n}.",
    "Done: order {n} now goes to the new address.",
)


@dataclass(frozen=True)
class SeedPlan:
    customers: int
    messages: int
    # (account name, channel type) customers write from; types without a customer identity skip.
    channels: Sequence[tuple[str, str]] = (("site", "webchat"),)
    agents: int = 12
    days: int = 180
    seed: int = 7

    def __post_init__(self) -> None:
        if self.customers < 1:
            raise ValueError("--customers must be at least 1")
        if self.messages < self.customers:
            raise ValueError("--messages must be at least --customers (every customer wrote once)")
        if not [c for c in self.channels if c[1] in KIND_OF_CHANNEL]:
            raise ValueError("no channel account customers can write from (webchat, sms, whatsapp, ...)")


@dataclass
class SeedReport:
    customers: int = 0
    conversations: int = 0
    messages: int = 0
    agents: int = 0
    rows: int = 0  # every row inserted, all tables
    open_conversations: int = 0


@dataclass
class _Ids:
    customer: int
    identity: int
    conversation: int
    message: int
    event: int


def _address(kind: IdentityKind, customer_id: int) -> str:
    match kind:
        case IdentityKind.PHONE:
            return f"+3460{customer_id:07d}"
        case IdentityKind.EMAIL:
            return f"customer{customer_id}@seed.example"
        case IdentityKind.TELEGRAM:
            return str(700_000_000 + customer_id)
        case _:
            return f"seed{customer_id:012d}"


class _Generator:
    """Rows per table for one chunk of customers at a time."""

    def __init__(
        self, plan: SeedPlan, ids: _Ids, agents: Sequence[tuple[int, int | None]], now: datetime
    ) -> None:
        self.plan = plan
        self.rng = random.Random(plan.seed)
        self.ids = ids
        self.agents = agents
        self.now = now
        self.channels = [c for c in plan.channels if c[1] in KIND_OF_CHANNEL]
        self.customers_left = plan.customers
        self.messages_left = plan.messages

    def _messages_for_this_customer(self) -> int:
        if self.customers_left == 1:
            return self.messages_left
        mean = self.messages_left / self.customers_left
        # Between half and one and a half times the mean, always leaving one for each customer after.
        wanted = self.rng.randint(max(1, int(mean / 2)), max(1, int(mean * 1.5)))
        return max(1, min(wanted, self.messages_left - (self.customers_left - 1)))

    def chunk(self, size: int) -> dict[str, list[dict[str, Any]]]:
        rows: dict[str, list[dict[str, Any]]] = {
            name: [] for name in ("customers", "identities", "conversations", "labels", "messages", "events")
        }
        for _ in range(size):
            count = self._messages_for_this_customer()
            self._customer(rows, count)
            self.customers_left -= 1
            self.messages_left -= count
        return rows

    def _customer(self, rows: dict[str, list[dict[str, Any]]], message_count: int) -> None:
        rng = self.rng
        self.ids.customer += 1
        customer_id = self.ids.customer
        account, channel = rng.choice(self.channels)
        kind = KIND_OF_CHANNEL[channel]
        address = _address(kind, customer_id)
        first_contact = self.now - timedelta(seconds=rng.randrange(self.plan.days * 86400))
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        rows["customers"].append(
            {
                "id": customer_id,
                "display_name": name,
                "locale": rng.choice(("es", "en", "uk", None)),
                "timezone": None,
                "attributes": {"city": rng.choice(CITIES)},
                "tags": ["vip"] if rng.random() < 0.05 else [],
                "merged_into_id": None,
                "created_at": first_contact,
                "updated_at": first_contact,
            }
        )
        self.ids.identity += 1
        rows["identities"].append(
            {
                "id": self.ids.identity,
                "customer_id": customer_id,
                "kind": kind,
                "address": address,
                "display_name": name,
                "verified": True,
                "source": f"{account} seed",
                "created_at": first_contact,
            }
        )
        conversations = 2 if message_count >= 4 and rng.random() < 0.25 else 1
        split = rng.randint(2, message_count - 2) if conversations == 2 else message_count
        start = first_contact
        for index, count in enumerate((split, message_count - split)[:conversations]):
            last = index == conversations - 1
            start = self._conversation(rows, customer_id, account, channel, address, count, start, last)

    def _conversation(
        self,
        rows: dict[str, list[dict[str, Any]]],
        customer_id: int,
        account: str,
        channel: str,
        address: str,
        count: int,
        start: datetime,
        last: bool,
    ) -> datetime:
        """One conversation of ``count`` messages from ``start``; returns when the next may start."""
        # A customer's next conversation may be due after "now"; it starts now at the latest, like
        # its messages (a conversation opened after its own messages has negative response times).
        start = min(start, self.now)
        rng = self.rng
        self.ids.conversation += 1
        conversation_id = self.ids.conversation
        roll = rng.random()
        if not last or roll < 0.8:
            status = ConversationStatus.RESOLVED
        elif roll < 0.95:
            status = ConversationStatus.OPEN
        elif roll < 0.98:
            status = ConversationStatus.PENDING
        else:
            status = ConversationStatus.SNOOZED
        # Recent activity for what is still unresolved, so the open list looks like a live desk.
        if status is not ConversationStatus.RESOLVED:
            start = max(start, self.now - timedelta(hours=rng.uniform(1, 72)))
        at = start
        first_response = None
        waiting_since: datetime | None = None
        for number in range(count):
            inbound = number % 2 == 0 or rng.random() < 0.2
            at = min(at + timedelta(seconds=rng.randrange(20, 3600)), self.now)
            self._message(rows, conversation_id, customer_id, account, channel, address, inbound, at)
            # As inbox.conversations does: an agent's reply keeps when the wait it ended began.
            rows["messages"][-1]["waited_since"] = None if inbound else waiting_since
            if inbound:
                waiting_since = waiting_since or at
            else:
                first_response = first_response or at
                waiting_since = None
        assignee, team = (None, None)
        if status is ConversationStatus.RESOLVED or rng.random() < 0.65:
            assignee, team = rng.choice(self.agents)
        labels = sorted(rng.sample(LABELS, rng.randint(1, 2))) if rng.random() < 0.12 else []
        for label in labels:
            rows["labels"].append({"conversation_id": conversation_id, "label": label})
        urgency = rng.random()
        priority = Priority.URGENT if urgency < 0.01 else Priority.HIGH if urgency < 0.06 else Priority.NORMAL
        rows["conversations"].append(
            {
                "id": conversation_id,
                "customer_id": customer_id,
                "channel_account": account,
                "channel_type": channel,
                "status": status,
                "assignee_id": assignee,
                "team_id": team,
                "priority": priority,
                "labels": labels,
                "bot_active": False,
                "snoozed_until": self.now + timedelta(hours=rng.uniform(1, 48))
                if status is ConversationStatus.SNOOZED
                else None,
                "created_at": start,
                "last_message_at": at,
                "waiting_since": None if status is ConversationStatus.RESOLVED else waiting_since,
                "first_response_at": first_response,
                "resolved_at": at if status is ConversationStatus.RESOLVED else None,
            }
        )
        return at + timedelta(days=rng.uniform(1, 20))

    def _message(
        self,
        rows: dict[str, list[dict[str, Any]]],
        conversation_id: int,
        customer_id: int,
        account: str,
        channel: str,
        address: str,
        inbound: bool,
        at: datetime,
    ) -> None:
        rng = self.rng
        self.ids.message += 1
        message_id = self.ids.message
        words = {"n": rng.randrange(1000, 99999), "city": rng.choice(CITIES)}
        body = (rng.choice(INBOUND) if inbound else rng.choice(OUTBOUND)).format(**words)
        agent = None if inbound else rng.choice(self.agents)[0]
        rows["messages"].append(
            {
                "id": message_id,
                "conversation_id": conversation_id,
                "customer_id": customer_id,
                "direction": Direction.INBOUND if inbound else Direction.OUTBOUND,
                "author_kind": AuthorKind.CUSTOMER if inbound else AuthorKind.AGENT,
                "author_agent_id": agent,
                "channel_account": account,
                "channel_type": channel,
                "address": address,
                "text": body,
                "attachments": [],
                "buttons": [],
                "provider_message_id": f"seed-{message_id}",
                "status": MessageStatus.RECEIVED if inbound else MessageStatus.READ,
                "failure_reason": None,
                "meta": {},
                "created_at": at,
                "sent_at": None if inbound else at,
                "delivered_at": None if inbound else at,
                "read_at": None if inbound else at,
                "edited_at": None,
            }
        )
        self.ids.event += 1
        payload: dict[str, Any] = {
            "message_id": message_id,
            "conversation_id": conversation_id,
            "channel": channel,
            "account": account,
            "text": body,
        }
        if not inbound:
            payload["author"] = AuthorKind.AGENT.value
        rows["events"].append(
            {
                "id": self.ids.event,
                "customer_id": customer_id,
                "kind": "message.inbound" if inbound else "message.outbound",
                "occurred_at": at,
                "payload": payload,
                "source": account,
            }
        )


_TABLES = {
    "customers": Customer,
    "identities": Identity,
    "conversations": Conversation,
    "labels": ConversationLabel,
    "messages": Message,
    "events": CustomerEvent,
}
# Inserted in this order (foreign keys).
_ORDER = ("customers", "identities", "conversations", "labels", "messages", "events")
_SEQUENCED = (Customer, Identity, Conversation, Message, CustomerEvent, Agent, Team)


async def _next_ids(session: AsyncSession) -> _Ids:
    async def top(model: Any) -> int:
        return int((await session.execute(select(func.coalesce(func.max(model.id), 0)))).scalar_one())

    return _Ids(
        customer=await top(Customer),
        identity=await top(Identity),
        conversation=await top(Conversation),
        message=await top(Message),
        event=await top(CustomerEvent),
    )


async def seed_agents(session: AsyncSession, count: int, password_hash: str) -> list[tuple[int, int | None]]:
    """``count`` agents spread over the teams (created when missing); (agent id, team id) each. They
    share one password hash the caller chose (hashing is slow by design)."""
    teams: list[int] = []
    for name in TEAMS:
        team = (await session.execute(select(Team).where(Team.name == name))).scalars().first()
        if team is None:
            team = Team(name=name)
            session.add(team)
            await session.flush()
        teams.append(team.id)  # type: ignore[arg-type]
    taken = int((await session.execute(select(func.count()).select_from(Agent))).scalar_one())
    agents = []
    for number in range(count):
        agent = Agent(
            email=f"seed-agent-{taken + number + 1}@seed.example",
            name=f"{FIRST[number % len(FIRST)]} Seed{taken + number + 1}",
            role=Role.AGENT,
            password_hash=password_hash,
            team_id=teams[number % len(teams)],
        )
        session.add(agent)
        await session.flush()
        agents.append((agent.id, agent.team_id))
    return agents  # type: ignore[return-value]


def chunks(plan: SeedPlan) -> Iterator[int]:
    left = plan.customers
    while left > 0:
        size = min(CUSTOMERS_PER_CHUNK, left)
        yield size
        left -= size


async def insert_chunk(session: AsyncSession, rows: dict[str, list[dict[str, Any]]]) -> int:
    inserted = 0
    for name in _ORDER:
        if rows[name]:
            # Core, not ORM, insert: one executemany per table (the ORM's bulk path splits rows
            # whose None columns differ into separate statements).
            await session.execute(insert(_TABLES[name].__table__), rows[name])  # type: ignore[attr-defined]
            inserted += len(rows[name])
    return inserted


async def move_sequences(session: AsyncSession) -> None:
    """PostgreSQL: the next id of each table follows the ones seeding chose (SQLite needs nothing)."""
    if session.bind is None or session.bind.dialect.name != "postgresql":
        return
    for model in _SEQUENCED:
        table = model.__tablename__  # type: ignore[attr-defined]
        await session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
            )
        )


Transaction = Callable[[], Any]


async def seed(
    transaction: Transaction,
    plan: SeedPlan,
    password_hash: str,
    progress: Callable[[int], None] = lambda _messages: None,
) -> SeedReport:
    """Fill the database per ``plan``. ``transaction()`` is the hub's ``Database.transaction``; every
    chunk commits on its own, and ``progress`` hears how many messages each one added."""
    report = SeedReport()
    now = utcnow()
    async with transaction() as session:
        agents = await seed_agents(session, plan.agents, password_hash)
        ids = await _next_ids(session)
    report.agents = len(agents)
    generator = _Generator(plan, ids, agents, now)
    for size in chunks(plan):
        rows = generator.chunk(size)
        async with transaction() as session:
            report.rows += await insert_chunk(session, rows)
        report.customers += len(rows["customers"])
        report.conversations += len(rows["conversations"])
        report.messages += len(rows["messages"])
        report.open_conversations += sum(
            c["status"] is ConversationStatus.OPEN for c in rows["conversations"]
        )
        progress(len(rows["messages"]))
    async with transaction() as session:
        await move_sequences(session)
    return report

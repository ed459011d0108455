"""Fast seeding for bench/bots.py: many customers in the state the real pipeline left a template in.

Sending 10,000 first messages through the pipeline would take most of the benchmark's time budget,
so the bench sends a few template customers through it and copies what it wrote for each of them
with bulk inserts: the customer, its identity, its conversation, the messages and timeline entries,
and the paused flow. Copies get new ids (foreign keys and the ids inside timeline payloads follow),
their own web chat visitor id and display name, and nothing else changes, so a copy is what the
pipeline would have written for that visitor (the schema and the flows decide, not this module).

Raw events and outbox rows are the pipeline's bookkeeping, not a customer's state, and are not
copied. If the pipeline starts writing a customer's state into another table, seeding stops with
an error naming it rather than benchmark customers that lack it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from hub.tables import metadata

# Copied per customer, in foreign-key order.
CUSTOMER_TABLES = ("customers", "identities", "conversations", "messages", "customer_events", "flow_states")
# Written while processing a message, or hub settings written at start (the business hours seeded from
# hub.yaml), but not part of the customer's state.
BOOKKEEPING_TABLES = frozenset({"raw_events", "outbox", "alembic_version", "business_hours"})
CHUNK = 2000


class SeedError(RuntimeError):
    """The template database holds something the copier does not know how to copy."""


@dataclass(frozen=True)
class Template:
    """A customer the real pipeline created, and the visitor id it wrote to us from."""

    customer_id: int
    visitor: str


@dataclass(frozen=True)
class Clone:
    """One customer to create as a copy of ``template``."""

    template: Template
    visitor: str
    name: str


def table(name: str) -> Table:
    return metadata.tables[name]


async def check_copied_tables(session: AsyncSession) -> None:
    """SeedError naming any table, besides the copied and bookkeeping ones, that holds rows."""
    for name in metadata.tables:
        if name in CUSTOMER_TABLES or name in BOOKKEEPING_TABLES:
            continue
        if (await session.execute(select(func.count()).select_from(table(name)))).scalar_one():
            raise SeedError(
                f"the pipeline wrote rows into {name!r}, which bench/seed_customers.py does not copy: "
                "add it to CUSTOMER_TABLES (with its foreign keys) or to BOOKKEEPING_TABLES"
            )


async def read_template(session: AsyncSession, template: Template) -> dict[str, list[dict[str, Any]]]:
    """Every row of the template customer, per table, oldest first."""
    rows: dict[str, list[dict[str, Any]]] = {}
    for name in CUSTOMER_TABLES:
        columns = table(name).c
        owner = columns.id if name == "customers" else columns.customer_id
        statement = select(table(name)).where(owner == template.customer_id).order_by(columns.id)
        rows[name] = [dict(row) for row in (await session.execute(statement)).mappings()]
    return rows


class Ids:
    """The next free id of every copied table (ids are given explicitly, so rows can point at each
    other before anything is inserted)."""

    def __init__(self, start: dict[str, int]) -> None:
        self._next = dict(start)

    @classmethod
    async def after_existing(cls, session: AsyncSession) -> Ids:
        start = {}
        for name in CUSTOMER_TABLES:
            start[name] = (await session.execute(select(func.max(table(name).c.id)))).scalar_one() or 0
        return cls({name: value + 1 for name, value in start.items()})

    def take(self, name: str) -> int:
        value = self._next[name]
        self._next[name] = value + 1
        return value


def copy_rows(
    rows: dict[str, list[dict[str, Any]]], clone: Clone, ids: Ids
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(table, row) of one copy of the template's rows, with new ids and the clone's visitor."""
    new_id: dict[str, dict[int, int]] = {name: {} for name in CUSTOMER_TABLES}
    for name in CUSTOMER_TABLES:
        for row in rows[name]:
            new_id[name][row["id"]] = ids.take(name)
    customers, conversations, messages = new_id["customers"], new_id["conversations"], new_id["messages"]

    def visitor(value: str | None) -> str | None:
        # Addresses are the visitor id; provider message ids are "<visitor>:<client message id>".
        if value is None or not value.startswith(clone.template.visitor):
            return value
        return clone.visitor + value[len(clone.template.visitor) :]

    for name in CUSTOMER_TABLES:
        for row in rows[name]:
            copy = dict(row, id=new_id[name][row["id"]])
            if "customer_id" in copy:
                copy["customer_id"] = customers[copy["customer_id"]]
            if "conversation_id" in copy:
                copy["conversation_id"] = conversations[copy["conversation_id"]]
            if name == "customers":
                copy["display_name"] = clone.name
            elif name == "identities":
                copy.update(address=visitor(copy["address"]), display_name=clone.name)
            elif name == "messages":
                copy.update(
                    address=visitor(copy["address"]),
                    provider_message_id=visitor(copy["provider_message_id"]),
                )
            elif name == "customer_events":
                payload = dict(copy["payload"])
                if "message_id" in payload:
                    payload["message_id"] = messages[payload["message_id"]]
                if "conversation_id" in payload:
                    payload["conversation_id"] = conversations[payload["conversation_id"]]
                copy["payload"] = payload
            yield name, copy


async def copy_customers(
    session: AsyncSession, templates: Sequence[Template], clones: Sequence[Clone]
) -> int:
    """Create every clone in ``session``'s transaction; returns the number of rows inserted."""
    await check_copied_tables(session)
    rows = {template: await read_template(session, template) for template in templates}
    for template, template_rows in rows.items():
        if not template_rows["customers"]:
            raise SeedError(f"template customer {template.customer_id} does not exist")
    ids = await Ids.after_existing(session)
    batches: dict[str, list[dict[str, Any]]] = {name: [] for name in CUSTOMER_TABLES}
    for clone in clones:
        for name, row in copy_rows(rows[clone.template], clone, ids):
            batches[name].append(row)
    inserted = 0
    for name in CUSTOMER_TABLES:  # parents first: foreign keys are checked per statement
        batch = batches[name]
        for start in range(0, len(batch), CHUNK):
            await session.execute(table(name).insert(), batch[start : start + CHUNK])
        inserted += len(batch)
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        for name in CUSTOMER_TABLES:
            # Explicit ids do not move the sequences: the pipeline's next insert must not collide.
            await session.execute(
                text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))")
            )
    return inserted

"""Actions on customers and their identities. They write within the caller's transaction and never
commit: the caller owns the unit of work and publishes events after it commits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.attributes import coerce_attribute
from crm_core.columns import utcnow
from crm_core.models import AttributeDefinition, Customer, CustomerEvent, Identity, IdentityKind
from crm_core.segments.order_summary import ORDER_EVENTS, add_order


class CustomerNotFound(LookupError):
    pass


@dataclass(frozen=True)
class ResolvedIdentity:
    customer: Customer
    identity: Identity
    created: bool  # a new customer was created for this identity


def _insert(session: AsyncSession, table: Any) -> Any:
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


async def get_customer(session: AsyncSession, customer_id: int) -> Customer:
    customer = await session.get(Customer, customer_id)
    if customer is None:
        raise CustomerNotFound(f"customer {customer_id} does not exist")
    return customer


async def find_by_identity(session: AsyncSession, kind: IdentityKind, address: str) -> Customer | None:
    result = await session.execute(
        select(Customer)
        .join(Identity, Identity.customer_id == Customer.id)
        .where(Identity.kind == kind, Identity.address == address)
    )
    return result.scalars().first()


async def resolve_identity(
    session: AsyncSession,
    kind: IdentityKind,
    address: str,
    *,
    verified: bool,
    source: str,
    display_name: str | None = None,
    locale: str | None = None,
) -> ResolvedIdentity:
    """The customer behind an address, creating customer and identity on first contact.

    Safe under concurrency on PostgreSQL: the identity insert is ON CONFLICT DO NOTHING, and a
    process that loses the race drops the customer it just created and uses the winner's.
    """
    existing = (
        (await session.execute(select(Identity).where(Identity.kind == kind, Identity.address == address)))
        .scalars()
        .first()
    )
    if existing is not None:
        if verified and not existing.verified:
            existing.verified = True
            existing.source = source
            session.add(existing)
        if display_name and not existing.display_name:
            existing.display_name = display_name
            session.add(existing)
        customer = await get_customer(session, existing.customer_id)
        if display_name and not customer.display_name:
            customer.display_name = display_name
            customer.updated_at = utcnow()
            session.add(customer)
        return ResolvedIdentity(customer, existing, created=False)

    customer = Customer(display_name=display_name or "", locale=locale)
    session.add(customer)
    await session.flush()
    statement = (
        _insert(session, Identity)
        .values(
            customer_id=customer.id,
            kind=kind,
            address=address,
            verified=verified,
            source=source,
            display_name=display_name,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["kind", "address"])
        .returning(Identity.id)
    )
    inserted_id = (await session.execute(statement)).scalar_one_or_none()
    if inserted_id is None:
        # Another transaction created this identity between our select and insert.
        await session.execute(delete(Customer).where(Customer.id == customer.id))
        session.expunge(customer)
        return await resolve_identity(
            session, kind, address, verified=verified, source=source, display_name=display_name
        )
    identity = await session.get(Identity, inserted_id)
    assert identity is not None
    return ResolvedIdentity(customer, identity, created=True)


async def attach_identity(
    session: AsyncSession,
    customer: Customer,
    kind: IdentityKind,
    address: str,
    *,
    verified: bool,
    source: str,
) -> Identity | Customer:
    """Give ``customer`` an identity. Returns the new Identity, or the *other* Customer who already
    owns that address (the caller decides: merge when verified, suggest a merge otherwise)."""
    owner = (
        (await session.execute(select(Identity).where(Identity.kind == kind, Identity.address == address)))
        .scalars()
        .first()
    )
    if owner is not None:
        if owner.customer_id == customer.id:
            if verified and not owner.verified:
                owner.verified = True
                owner.source = source
                session.add(owner)
            return owner
        return await get_customer(session, owner.customer_id)
    identity = Identity(customer_id=customer.id, kind=kind, address=address, verified=verified, source=source)
    session.add(identity)
    await session.flush()
    return identity


async def update_attributes(
    session: AsyncSession, customer: Customer, changes: Mapping[str, Any]
) -> dict[str, Any]:
    """Set (or with None, clear) custom attributes, checked against their definitions. Returns the
    changes as stored. Raises InvalidAttribute before anything is written."""
    definitions = {
        d.key: d
        for d in (
            await session.execute(
                select(AttributeDefinition).where(AttributeDefinition.key.in_(list(changes)))
            )
        ).scalars()
    }
    stored = {key: coerce_attribute(key, value, definitions.get(key)) for key, value in changes.items()}
    attributes = dict(customer.attributes)
    for key, value in stored.items():
        if value is None:
            attributes.pop(key, None)
        else:
            attributes[key] = value
    customer.attributes = attributes
    customer.updated_at = utcnow()
    session.add(customer)
    return stored


async def set_tags(
    session: AsyncSession, customer: Customer, add: Sequence[str] = (), remove: Sequence[str] = ()
) -> None:
    tags = [t for t in customer.tags if t not in set(remove)]
    tags.extend(t for t in add if t not in tags)
    customer.tags = tags
    customer.updated_at = utcnow()
    session.add(customer)


async def search_customers(
    session: AsyncSession, query: str, limit: int = 50, offset: int = 0
) -> list[Customer]:
    """Customers whose name, or any identity address, contains ``query`` (case-insensitive).
    Merged-away records are left out."""
    pattern = f"%{query.strip().lower()}%"
    matching_identity = select(Identity.customer_id).where(func.lower(Identity.address).like(pattern))
    statement = (
        select(Customer)
        .where(Customer.merged_into_id.is_(None))
        .where(or_(func.lower(Customer.display_name).like(pattern), Customer.id.in_(matching_identity)))
        .order_by(Customer.updated_at.desc(), Customer.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list((await session.execute(statement)).scalars())


async def list_customers(session: AsyncSession, limit: int = 50, offset: int = 0) -> list[Customer]:
    statement = (
        select(Customer)
        .where(Customer.merged_into_id.is_(None))
        .order_by(Customer.updated_at.desc(), Customer.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list((await session.execute(statement)).scalars())


async def identities_of(session: AsyncSession, customer_id: int) -> list[Identity]:
    statement = select(Identity).where(Identity.customer_id == customer_id).order_by(Identity.id)
    return list((await session.execute(statement)).scalars())


async def record_event(
    session: AsyncSession,
    customer: Customer | int,
    kind: str,
    payload: Mapping[str, Any] | None = None,
    *,
    source: str = "",
    occurred_at: Any = None,
) -> CustomerEvent:
    """Add an entry to the customer's timeline (an order also counts in their order summary)."""
    customer_id = customer if isinstance(customer, int) else customer.id
    assert customer_id is not None
    event = CustomerEvent(
        customer_id=customer_id,
        kind=kind,
        payload=dict(payload or {}),
        source=source,
        occurred_at=occurred_at or utcnow(),
    )
    session.add(event)
    await session.flush()
    if kind == ORDER_EVENTS.event:
        await add_order(session, customer_id, event.payload, event.occurred_at)
    return event


async def timeline(
    session: AsyncSession, customer_id: int, limit: int = 100, before_id: int | None = None
) -> list[CustomerEvent]:
    """Newest first."""
    statement = select(CustomerEvent).where(CustomerEvent.customer_id == customer_id)
    if before_id is not None:
        # Keyset paging on the sort order (time, then id): pages never skip or repeat an entry.
        reference = select(CustomerEvent.occurred_at).where(CustomerEvent.id == before_id).scalar_subquery()
        statement = statement.where(
            or_(
                CustomerEvent.occurred_at < reference,
                and_(CustomerEvent.occurred_at == reference, CustomerEvent.id < before_id),
            )
        )
    statement = statement.order_by(CustomerEvent.occurred_at.desc(), CustomerEvent.id.desc()).limit(limit)
    return list((await session.execute(statement)).scalars())

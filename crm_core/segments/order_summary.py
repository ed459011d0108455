"""Each customer's order summary: how many orders, their total, the first and the last.

Segments ask about order figures (lifetime value, frequency, average order value, recency) across
every customer; aggregating the order events for that took seconds over a million customers on
PostgreSQL. This table keeps the figures per customer, so a segment reads one narrow row per buyer
instead (crm_core.segments.sql). It is written in the transaction that changes what it sums:

- recording an order event adds it (``add_order``, called by crm_core.customers.record_event);
- a merge and its undo move events between two records: both are rebuilt from their events
  (crm_core.merge);
- anything else that adds, moves or deletes order events in bulk (an erasure, an import that
  writes events directly) calls ``rebuild_order_summary(session, customer_id)`` for the customers
  it touched, or ``rebuild_order_summaries(session)`` for everyone. Migration 0014 fills the table
  for existing databases.

A row exists exactly for customers with at least one order event. Which events are orders:
``ORDER_EVENTS`` (kind ``order.created``, the amount in the payload's numeric ``amount``; an amount
that is not a number counts as an order of 0, as in the segment figures).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from crm_core.columns import BigId, UTCDateTime
from crm_core.models import CustomerEvent
from crm_core.segments.json_sql import JsonNumber


@dataclass(frozen=True)
class OrderEvents:
    """Which timeline events are orders and where their amount is."""

    event: str = "order.created"
    amount: str = "amount"


# The order events the summary counts. Segments configured with other order events aggregate the
# events themselves (crm_core.segments.sql).
ORDER_EVENTS = OrderEvents()


class OrderSummary(SQLModel, table=True):
    __tablename__ = "order_summaries"

    customer_id: int = Field(primary_key=True, foreign_key="customers.id", sa_type=BigId)
    order_count: int
    # The sum of the numeric amounts (lifetime value).
    order_total: float
    first_order_at: datetime = Field(sa_type=UTCDateTime)
    last_order_at: datetime = Field(sa_type=UTCDateTime)


_SUMMARY = OrderSummary.__table__.c  # type: ignore[attr-defined]
_EVENTS = CustomerEvent.__table__.c  # type: ignore[attr-defined]


def order_amount(payload: Mapping[str, Any]) -> float | None:
    """The order's amount as the segment SQL reads it (crm_core.segments.json_sql.JsonNumber): a
    JSON number, else nothing."""
    value = payload.get(ORDER_EVENTS.amount)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


async def add_order(
    session: AsyncSession, customer_id: int, payload: Mapping[str, Any], occurred_at: datetime
) -> None:
    """Count one new order event in the customer's summary (one upsert; concurrent orders of one
    customer add up, each under the row's lock)."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    earlier, later = (func.least, func.greatest) if dialect == "postgresql" else (func.min, func.max)
    statement = insert(OrderSummary.__table__).values(  # type: ignore[arg-type]
        customer_id=customer_id,
        order_count=1,
        order_total=order_amount(payload) or 0.0,
        first_order_at=occurred_at,
        last_order_at=occurred_at,
    )
    new = statement.excluded
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["customer_id"],
            set_={
                "order_count": _SUMMARY.order_count + 1,
                "order_total": _SUMMARY.order_total + new.order_total,
                "first_order_at": earlier(_SUMMARY.first_order_at, new.first_order_at),
                "last_order_at": later(_SUMMARY.last_order_at, new.last_order_at),
            },
        )
    )


async def rebuild_order_summaries(session: AsyncSession, customer_ids: Sequence[int] | None = None) -> None:
    """Recompute the summaries of these customers (None: of everyone) from their order events."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    amount = JsonNumber(_EVENTS.payload, ORDER_EVENTS.amount)
    figures = select(
        _EVENTS.customer_id,
        func.count(),
        func.coalesce(func.sum(amount), 0.0),
        func.min(_EVENTS.occurred_at),
        func.max(_EVENTS.occurred_at),
    ).where(_EVENTS.kind == ORDER_EVENTS.event)
    has_orders = (
        select(_EVENTS.id)
        .where(_EVENTS.customer_id == _SUMMARY.customer_id, _EVENTS.kind == ORDER_EVENTS.event)
        .exists()
    )
    stale = delete(OrderSummary.__table__).where(~has_orders)  # type: ignore[arg-type]
    if customer_ids is not None:
        ids = sorted(set(customer_ids))
        figures = figures.where(_EVENTS.customer_id.in_(ids))
        stale = stale.where(_SUMMARY.customer_id.in_(ids))
    await session.execute(stale)
    columns = ["customer_id", "order_count", "order_total", "first_order_at", "last_order_at"]
    # An upsert rather than delete-and-insert: an order recorded meanwhile cannot make it collide.
    statement = insert(OrderSummary.__table__).from_select(  # type: ignore[arg-type]
        columns, figures.group_by(_EVENTS.customer_id)
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["customer_id"],
            set_={name: statement.excluded[name] for name in columns[1:]},
        )
    )


async def rebuild_order_summary(session: AsyncSession, customer_id: int) -> None:
    """Recompute one customer's summary from their order events (after deleting or moving some)."""
    await rebuild_order_summaries(session, [customer_id])

"""Who entered a segment, and when: the memory behind "entering a segment" triggers.

A segment is a filter evaluated now; "entered" needs yesterday's answer too. ``segment_entries``
holds the customers found in the segment at the last look, each with the time they were first seen
there. Each look (``refresh_entries``) adds the newcomers (returned, so the caller can react) and
forgets those who left (so coming back counts as entering again).

The first look at a segment only records who is in it: a flow added today that reacts to "entered
VIP" must not greet every existing VIP as if they had just arrived.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, exists, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from crm_core.columns import BigId, UTCDateTime
from crm_core.models import Customer
from crm_core.segments.definition import SegmentDefinition
from crm_core.segments.sql import SegmentContext, segment_filter


class SegmentWatch(SQLModel, table=True):
    """A segment someone reacts to entering; ``since`` is the first look."""

    __tablename__ = "segment_watches"

    segment_id: str = Field(primary_key=True, max_length=64)
    since: datetime = Field(sa_type=UTCDateTime)
    checked_at: datetime = Field(sa_type=UTCDateTime)


class SegmentEntry(SQLModel, table=True):
    __tablename__ = "segment_entries"

    segment_id: str = Field(primary_key=True, max_length=64)
    customer_id: int = Field(primary_key=True, foreign_key="customers.id", sa_type=BigId)
    entered_at: datetime = Field(sa_type=UTCDateTime)


_CUSTOMERS = Customer.__table__.c  # type: ignore[attr-defined]
_ENTRIES = SegmentEntry.__table__  # type: ignore[attr-defined]


async def refresh_entries(
    session: AsyncSession,
    segment_id: str,
    definition: SegmentDefinition,
    ctx: SegmentContext,
    *,
    limit: int = 1000,
) -> list[int]:
    """Customers who entered the segment since the last look (at most ``limit``; the rest are found
    by the next look). Returns none on the first look, which records the current members."""
    now = ctx.now
    members = segment_filter(definition.conditions, ctx)
    watch = await session.get(SegmentWatch, segment_id, with_for_update=True)
    if watch is None:
        await session.execute(
            insert(_ENTRIES).from_select(
                ["segment_id", "customer_id", "entered_at"],
                select(literal(segment_id), _CUSTOMERS.id, literal(now, UTCDateTime())).where(members),
            )
        )
        session.add(SegmentWatch(segment_id=segment_id, since=now, checked_at=now))
        await session.flush()
        return []
    known = exists().where(_ENTRIES.c.segment_id == segment_id, _ENTRIES.c.customer_id == _CUSTOMERS.id)
    newcomers = [
        row[0]
        for row in (
            await session.execute(
                select(_CUSTOMERS.id).where(members, ~known).order_by(_CUSTOMERS.id).limit(limit)
            )
        ).all()
    ]
    if newcomers:
        await session.execute(
            insert(_ENTRIES),
            [{"segment_id": segment_id, "customer_id": c, "entered_at": now} for c in newcomers],
        )
    still_in = select(_CUSTOMERS.id).where(members)
    await session.execute(
        delete(_ENTRIES).where(_ENTRIES.c.segment_id == segment_id, _ENTRIES.c.customer_id.not_in(still_in))
    )
    watch.checked_at = now
    session.add(watch)
    return newcomers

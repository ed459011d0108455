"""Saved segments and the questions asked of them: how many, who (a sample, or every id in
batches for a campaign), and whether one customer is in.

A saved segment keeps its definition as written (JSON); it is parsed again when used, so a segment
saved before a new condition kind existed keeps working and one that no longer parses fails with
its problems named rather than matching the wrong people.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from crm_core.columns import JsonDoc, UTCDateTime, utcnow
from crm_core.models import AttributeDefinition, AttributeType, Customer
from crm_core.segments.definition import SegmentDefinition, parse_segment
from crm_core.segments.sql import FactCompiler, OrderEvents, SegmentContext, segment_filter


class Segment(SQLModel, table=True):
    """A saved filter over customers, addressed by its id (``spanish-vips``)."""

    __tablename__ = "segments"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    description: str = Field(default="")
    definition: dict[str, Any] = Field(default_factory=dict, sa_type=JsonDoc)
    # Where it came from: "api" or the YAML file that declares it.
    source: str = Field(default="api", max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_by: str = Field(default="", max_length=200)


class Segments:
    """Evaluates definitions against the database with the hub's facts and order settings."""

    def __init__(
        self,
        *,
        facts: Mapping[str, FactCompiler] | None = None,
        orders: OrderEvents | None = None,
        order_summaries: bool = True,
    ) -> None:
        self.facts = dict(facts or {})
        self.orders = orders or OrderEvents()
        # False: order figures aggregate the events even where the summaries could answer.
        self.order_summaries = order_summaries

    def parse(self, data: Any) -> SegmentDefinition:
        return parse_segment(data, facts=sorted(self.facts))

    async def context(
        self, session: AsyncSession, now: datetime | None = None, today: date | None = None
    ) -> SegmentContext:
        rows = (await session.execute(select(AttributeDefinition.key, AttributeDefinition.type))).all()
        types: dict[str, AttributeType] = {row[0]: AttributeType(row[1]) for row in rows}
        return SegmentContext(now or utcnow(), today, types, self.facts, self.orders, self.order_summaries)

    async def count(
        self, session: AsyncSession, segment: SegmentDefinition, *, now: datetime | None = None
    ) -> int:
        ctx = await self.context(session, now)
        statement = select(func.count()).select_from(Customer).where(segment_filter(segment.conditions, ctx))
        return int((await session.execute(statement)).scalar_one())

    async def sample(
        self,
        session: AsyncSession,
        segment: SegmentDefinition,
        *,
        limit: int = 20,
        now: datetime | None = None,
    ) -> list[Customer]:
        """The most recently created matching customers (a preview, not the whole audience)."""
        ctx = await self.context(session, now)
        statement = (
            select(Customer)
            .where(segment_filter(segment.conditions, ctx))
            .order_by(Customer.id.desc())  # type: ignore[union-attr]
            .limit(limit)
        )
        return list((await session.execute(statement)).scalars())

    async def member_ids(
        self,
        session: AsyncSession,
        segment: SegmentDefinition,
        *,
        after_id: int = 0,
        limit: int = 1000,
        now: datetime | None = None,
    ) -> list[int]:
        """The next ``limit`` matching customer ids above ``after_id``, ascending: walk the whole
        audience in batches (keyset paging stays fast at any depth)."""
        ctx = await self.context(session, now)
        statement = (
            select(Customer.id)
            .where(segment_filter(segment.conditions, ctx), Customer.id > after_id)  # type: ignore[operator]
            .order_by(Customer.id)
            .limit(limit)
        )
        return [row[0] for row in (await session.execute(statement)).all()]

    async def contains(
        self,
        session: AsyncSession,
        segment: SegmentDefinition,
        customer_id: int,
        *,
        now: datetime | None = None,
    ) -> bool:
        ctx = await self.context(session, now)
        statement = select(Customer.id).where(
            Customer.id == customer_id, segment_filter(segment.conditions, ctx)
        )
        return (await session.execute(statement)).first() is not None

    async def segments_of(
        self, session: AsyncSession, customer_id: int, *, now: datetime | None = None
    ) -> list[Segment]:
        """The saved segments the customer is in (for the customer panel and flow conditions)."""
        found = []
        for saved in await list_segments(session):
            try:
                definition = self.parse(saved.definition)
            except ValueError:
                continue
            if await self.contains(session, definition, customer_id, now=now):
                found.append(saved)
        return found


async def save_segment(
    session: AsyncSession, definition: SegmentDefinition, *, by: str, source: str = "api"
) -> Segment:
    """Create or replace the saved segment with the definition's id."""
    segment = await session.get(Segment, definition.id, with_for_update=True)
    now = utcnow()
    if segment is None:
        segment = Segment(id=definition.id, name=definition.name, created_at=now)
    segment.name = definition.name
    segment.description = definition.description
    segment.definition = dict(definition.source)
    segment.source = source
    segment.updated_at = now
    segment.updated_by = by
    session.add(segment)
    await session.flush()
    return segment


async def get_segment(session: AsyncSession, segment_id: str) -> Segment | None:
    return await session.get(Segment, segment_id)


async def list_segments(session: AsyncSession) -> Sequence[Segment]:
    return list((await session.execute(select(Segment).order_by(Segment.name, Segment.id))).scalars())


async def delete_segment(session: AsyncSession, segment_id: str) -> bool:
    result = await session.execute(delete(Segment).where(Segment.id == segment_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]

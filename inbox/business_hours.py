"""The business hours the hub keeps in its database (one row), as OpeningHours.

hub.yaml's ``business_hours`` only seeds an empty database (``seed``, at every start, a no-op once a
row exists); from then on the stored hours are the ones in force and the admin screen edits them
(``save``). Everyone reads them from here: SLA clocks inside their transaction (``load``), the flow
engine of every process through hub/business_hours.py, which reloads on a version change.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.columns import utcnow
from inbox.business_time import OpeningHours, parse_hours
from inbox.sla_models import StoredBusinessHours

ROW_ID = 1


def _from_row(row: StoredBusinessHours) -> OpeningHours:
    return parse_hours({"timezone": row.timezone, "weekly": row.weekly, "holidays": row.holidays})


async def load(session: AsyncSession) -> OpeningHours:
    """The hours in force (always open when none were ever stored)."""
    row = await session.get(StoredBusinessHours, ROW_ID)
    return _from_row(row) if row is not None else OpeningHours()


async def version(session: AsyncSession) -> int:
    """Raised by every save: what other processes compare to notice a change (0: none stored)."""
    found = await session.execute(select(StoredBusinessHours.version).where(StoredBusinessHours.id == ROW_ID))
    return int(found.scalar_one_or_none() or 0)


async def seed(session: AsyncSession, hours: OpeningHours) -> bool:
    """Store ``hours`` if the database has none yet; whether it did. Several processes starting at
    once store one row (the insert does nothing when the row exists)."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    document = hours.to_document()
    statement = (
        insert(StoredBusinessHours)
        .values(
            id=ROW_ID,
            timezone=document["timezone"],
            weekly=document["weekly"],
            holidays=document["holidays"],
            version=1,
            updated_at=utcnow(),
            updated_by="hub.yaml",
        )
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(StoredBusinessHours.id)
    )
    return (await session.execute(statement)).scalar_one_or_none() is not None


async def save(session: AsyncSession, hours: OpeningHours, by: str) -> tuple[OpeningHours, OpeningHours]:
    """Replace the stored hours; returns (before, after)."""
    row = await session.get(StoredBusinessHours, ROW_ID, with_for_update=True)
    before = _from_row(row) if row is not None else OpeningHours()
    document = hours.to_document()
    if row is None:
        row = StoredBusinessHours(id=ROW_ID, timezone=document["timezone"], version=0)
    row.timezone = document["timezone"]
    row.weekly = document["weekly"]
    row.holidays = document["holidays"]
    row.version += 1
    row.updated_at = utcnow()
    row.updated_by = by
    session.add(row)
    await session.flush()
    return before, hours

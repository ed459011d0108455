"""Claiming outbox rows: a claim is a lease on a batch of due rows for one worker.

A claimed row is ``sending`` with ``lease_until`` in the future and the worker's id in
``claimed_by``; its ``attempts`` went up by one. A worker that dies leaves the lease to expire, and
the row is due again for anyone. Several workers share the outbox without taking the same row
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL; on SQLite the write lock serialises claims). Whatever a
worker later writes about a row, it writes only while it still holds that very claim (``held``).
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, tuple_, update

from crm_core.columns import utcnow
from hub.db import Database
from hub.outbound.models import OutboxItem, OutboxStatus


@dataclass(frozen=True)
class Claimed:
    id: int
    channel_account: str
    recipient: str
    attempts: int
    payload: dict[str, Any]
    message_id: int | None
    claimed_by: str = ""
    # time.monotonic() of the claim: a claim this fresh is certainly still held.
    claimed_at: float = field(default=0.0, compare=False)


def held(item: Claimed) -> ColumnElement[bool]:
    """The row is still under this claim (not taken over by another worker after its lease ran
    out, nor settled)."""
    return (
        (OutboxItem.id == item.id)
        & (OutboxItem.claimed_by == item.claimed_by)
        & (OutboxItem.status == OutboxStatus.SENDING)
        & (OutboxItem.attempts == item.attempts)
    )


async def claim_due(
    db: Database, worker_id: str, limit: int, lease: timedelta, skip_accounts: Collection[str] = ()
) -> list[Claimed]:
    """Claim up to ``limit`` due rows (pending and due, or sending with an expired lease), oldest
    first, none of ``skip_accounts`` (the worker has enough of theirs waiting for their rate)."""
    now = utcnow()
    conditions = [
        OutboxItem.status.in_((OutboxStatus.PENDING, OutboxStatus.SENDING)),  # type: ignore[attr-defined]
        or_(
            (OutboxItem.status == OutboxStatus.PENDING) & (OutboxItem.next_attempt_at <= now),
            (OutboxItem.status == OutboxStatus.SENDING) & (OutboxItem.lease_until < now),
        ),
    ]
    if skip_accounts:
        conditions.append(OutboxItem.channel_account.not_in(sorted(skip_accounts)))  # type: ignore[attr-defined]
    due = (
        select(OutboxItem.id)
        .where(*conditions)
        .order_by(OutboxItem.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    async with db.transaction() as session:
        ids = list((await session.execute(due)).scalars())
        if not ids:
            return []
        rows = await session.execute(
            update(OutboxItem)
            .where(OutboxItem.id.in_(ids))  # type: ignore[union-attr]
            .values(
                status=OutboxStatus.SENDING,
                lease_until=now + lease,
                claimed_by=worker_id,
                attempts=OutboxItem.attempts + 1,
            )
            .returning(
                OutboxItem.id,
                OutboxItem.channel_account,
                OutboxItem.recipient,
                OutboxItem.attempts,
                OutboxItem.payload,
                OutboxItem.message_id,
            )
        )
        claimed_at = time.monotonic()
        claimed = [Claimed(*row, claimed_by=worker_id, claimed_at=claimed_at) for row in rows]
    claimed.sort(key=lambda c: c.id)
    return claimed


async def renew(db: Database, item: Claimed, lease: timedelta) -> bool:
    """Extend a claim that has not expired; False when it has (another worker may have the row)."""
    now = utcnow()
    async with db.transaction() as session:
        renewed = await session.execute(
            update(OutboxItem)
            .where(held(item) & (OutboxItem.lease_until > now))
            .values(lease_until=now + lease)
        )
    return bool(renewed.rowcount)  # type: ignore[attr-defined]


async def next_due(db: Database) -> datetime | None:
    """When the earliest pending row is due (rows waiting in line for a rate limit, retries)."""
    async with db.session() as session:
        return (
            await session.execute(
                select(func.min(OutboxItem.next_attempt_at)).where(OutboxItem.status == OutboxStatus.PENDING)
            )
        ).scalar_one_or_none()


async def keep(db: Database, items: Collection[Claimed], lease: timedelta) -> int:
    """Extend the claims on ``items`` that are still held (a worker's heartbeat for the rows it has
    under way: a request a provider holds longer than the lease must not be taken over and sent
    again). Returns how many were extended."""
    if not items:
        return 0
    now = utcnow()
    async with db.transaction() as session:
        renewed = await session.execute(
            update(OutboxItem)
            .where(
                tuple_(OutboxItem.id, OutboxItem.attempts).in_([(item.id, item.attempts) for item in items]),
                OutboxItem.claimed_by == next(iter(items)).claimed_by,
                OutboxItem.status == OutboxStatus.SENDING,
                OutboxItem.lease_until > now,
            )
            .values(lease_until=now + lease)
        )
    return int(renewed.rowcount or 0)  # type: ignore[attr-defined]

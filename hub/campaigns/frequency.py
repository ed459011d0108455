"""The frequency cap, checked right before a marketing message leaves, so that it holds even when
several worker processes send to the same customer at the same moment.

Counting what was sent is not enough: two workers can both count "one so far" and both send the
second message. So each check first upserts the customer's ``marketing_contacts`` row, which
locks it until the check's transaction ends (on PostgreSQL a concurrent upsert of the same row
waits for it; SQLite runs one write transaction at a time anyway), then counts the messages
already *admitted* — including ones another worker admitted a moment ago and is sending now — and
marks this one admitted in the same transaction. The second worker's check runs after the first
one committed and sees its message.

A send is admitted once: a retry or a fallback to another channel is the same contact and is not
counted again. Admitted sends that end up skipped or failed on every channel do not count.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.campaigns.models import CampaignSend, MarketingContact, SendStatus
from hub.campaigns.planner import dialect_insert
from hub.campaigns.rules import FrequencyCap

_NOT_CONTACTS = (SendStatus.SKIPPED, SendStatus.FAILED)


async def lock_contact(session: AsyncSession, customer_id: int, now: datetime) -> None:
    """Take the customer's contact row lock until the end of the transaction."""
    insert = dialect_insert(session)(MarketingContact).values(customer_id=customer_id, checked_at=now)
    await session.execute(
        insert.on_conflict_do_update(index_elements=["customer_id"], set_={"checked_at": now})
    )


async def admitted_since(session: AsyncSession, customer_id: int, since: datetime, *, besides: int) -> int:
    """Marketing messages admitted for the customer since ``since`` (other than send ``besides``)."""
    statement = select(func.count()).where(
        CampaignSend.customer_id == customer_id,
        CampaignSend.purpose == "marketing",
        CampaignSend.admitted_at >= since,  # type: ignore[operator]
        CampaignSend.id != besides,
        CampaignSend.status.not_in(_NOT_CONTACTS),  # type: ignore[attr-defined]
    )
    return int((await session.execute(statement)).scalar_one())


async def admit(session: AsyncSession, send: CampaignSend, cap: FrequencyCap, now: datetime) -> bool:
    """Whether the marketing message of ``send`` fits the customer's cap now; when it does, it is
    counted (admitted) in the caller's transaction."""
    if send.admitted_at is not None:
        return True
    limits = [(cap.per_day, timedelta(days=1)), (cap.per_week, timedelta(days=7))]
    if any(limit is not None for limit, _ in limits):
        await lock_contact(session, send.customer_id, now)
        for limit, span in limits:
            if limit is None:
                continue
            if await admitted_since(session, send.customer_id, now - span, besides=send.id or 0) >= limit:
                return False
    send.admitted_at = now
    session.add(send)
    return True

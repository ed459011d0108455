"""Consent per channel kind and purpose: what a customer agreed to, and when and how it changed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.columns import utcnow
from crm_core.customers import record_event
from crm_core.models import Consent, ConsentPurpose


async def set_consent(
    session: AsyncSession,
    customer_id: int,
    channel: str,
    purpose: ConsentPurpose | str,
    granted: bool,
    *,
    source: str,
    at: datetime | None = None,
) -> Consent:
    """Record a consent decision (and a consent.changed timeline entry when it changes)."""
    purpose = ConsentPurpose(purpose)
    at = at or utcnow()
    consent = (
        (
            await session.execute(
                select(Consent).where(
                    Consent.customer_id == customer_id, Consent.channel == channel, Consent.purpose == purpose
                )
            )
        )
        .scalars()
        .first()
    )
    changed = consent is None or consent.granted != granted
    if consent is None:
        consent = Consent(customer_id=customer_id, channel=channel, purpose=purpose, granted=granted)
    consent.granted = granted
    consent.changed_at = at
    consent.source = source
    session.add(consent)
    if changed:
        await record_event(
            session,
            customer_id,
            "consent.changed",
            {"channel": channel, "purpose": purpose.value, "granted": granted},
            source=source,
            occurred_at=at,
        )
    await session.flush()
    return consent


async def consents_of(session: AsyncSession, customer_id: int) -> list[Consent]:
    statement = (
        select(Consent).where(Consent.customer_id == customer_id).order_by(Consent.channel, Consent.purpose)
    )
    return list((await session.execute(statement)).scalars())


async def has_consent(
    session: AsyncSession, customer_id: int, channel: str, purpose: ConsentPurpose | str
) -> bool | None:
    """True/False for a recorded decision, None when the customer never decided."""
    consent = (
        await session.execute(
            select(Consent.granted).where(
                Consent.customer_id == customer_id,
                Consent.channel == channel,
                Consent.purpose == ConsentPurpose(purpose),
            )
        )
    ).scalar_one_or_none()
    return consent

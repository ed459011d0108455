"""Merging customers at the crm_core level, on both backends: consent conflicts and exact undo."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from crm_core.columns import utcnow
from crm_core.consent import consents_of, set_consent
from crm_core.customers import resolve_identity
from crm_core.merge import MergeError, merge_customers, undo_merge
from crm_core.models import ConsentPurpose, Identity, IdentityKind
from hub.runtime import Hub


async def test_newer_consent_wins_and_undo_restores_the_older(hub: Hub) -> None:
    now = utcnow()
    async with hub.db.transaction() as session:
        a = (
            await resolve_identity(session, IdentityKind.PHONE, "+380501112233", verified=True, source="t")
        ).customer
        b = (
            await resolve_identity(session, IdentityKind.EMAIL, "b@example.com", verified=True, source="t")
        ).customer
        await set_consent(
            session,
            a.id,
            "sms",
            ConsentPurpose.MARKETING,
            True,
            source="web form",
            at=now - timedelta(days=3),
        )
        await set_consent(session, b.id, "sms", ConsentPurpose.MARKETING, False, source="STOP", at=now)
        await set_consent(session, b.id, "email", ConsentPurpose.MARKETING, True, source="newsletter", at=now)
        record = await merge_customers(session, a.id, b.id, by="test")
        merge_id = record.id
        a_id, b_id = a.id, b.id

    async with hub.db.session() as session:
        merged = {(c.channel, c.granted, c.source) for c in await consents_of(session, a_id)}
        assert merged == {("sms", False, "STOP"), ("email", True, "newsletter")}
        kinds = {
            i.kind
            for i in (await session.execute(select(Identity).where(Identity.customer_id == a_id))).scalars()
        }
        assert kinds == {IdentityKind.PHONE, IdentityKind.EMAIL}

    async with hub.db.transaction() as session:
        await undo_merge(session, merge_id, by="test")
    async with hub.db.session() as session:
        assert {(c.channel, c.granted, c.source) for c in await consents_of(session, a_id)} == {
            ("sms", True, "web form")
        }
        assert {(c.channel, c.granted) for c in await consents_of(session, b_id)} == {
            ("sms", False),
            ("email", True),
        }


async def test_chained_merges_undo_in_reverse_order_only(hub: Hub) -> None:
    async with hub.db.transaction() as session:
        ids = [
            (
                await resolve_identity(session, IdentityKind.TELEGRAM, str(n), verified=True, source="t")
            ).customer.id
            for n in (1, 2, 3)
        ]
        first = await merge_customers(session, ids[1], ids[2], by="test")
        await merge_customers(session, ids[0], ids[1], by="test")
        first_id = first.id
    with pytest.raises(MergeError, match="merged again later"):
        async with hub.db.transaction() as session:
            await undo_merge(session, first_id, by="test")
    with pytest.raises(MergeError, match="into itself"):
        async with hub.db.transaction() as session:
            await merge_customers(session, ids[0], ids[0], by="test")

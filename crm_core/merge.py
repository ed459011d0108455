"""Merging two customer records into one, and undoing it.

A merge moves identities, consents and timeline events of ``merged`` onto ``survivor`` and lets every
registered MergeParticipant (the inbox moves conversations) move what it owns. A MergeRecord keeps
exactly which rows moved and which survivor fields were filled or overwritten, so ``undo_merge`` puts
everything back. The merged record stays as a tombstone (``merged_into_id``) until undone.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.columns import utcnow
from crm_core.customers import get_customer, record_event
from crm_core.models import Consent, Customer, CustomerEvent, Identity, MergeRecord
from crm_core.segments.order_summary import rebuild_order_summaries


class MergeError(ValueError):
    """A merge or undo that cannot be done; the message says why."""


class MergeParticipant(Protocol):
    """Something outside crm_core that hangs off a customer (conversations, messages)."""

    name: str

    async def move(self, session: AsyncSession, from_customer_id: int, to_customer_id: int) -> list[int]:
        """Move rows; return their ids."""

    async def move_back(self, session: AsyncSession, ids: list[int], to_customer_id: int) -> None:
        """Undo a move of exactly these rows."""


async def _lock_customers(session: AsyncSession, *customer_ids: int) -> None:
    """Lock both records (PostgreSQL; in id order, so two merges can't deadlock) and re-read them:
    a merge running at the same time must not leave rows on a record it just turned into a tombstone."""
    await session.execute(
        select(Customer.id).where(Customer.id.in_(customer_ids)).order_by(Customer.id).with_for_update()
    )
    for customer_id in customer_ids:
        customer = await session.get(Customer, customer_id)
        if customer is not None:
            await session.refresh(customer)


async def _move_rows(session: AsyncSession, model: Any, from_id: int, to_id: int) -> list[int]:
    ids = list((await session.execute(select(model.id).where(model.customer_id == from_id))).scalars())
    if ids:
        await session.execute(update(model).where(model.id.in_(ids)).values(customer_id=to_id))
    return ids


async def merge_customers(
    session: AsyncSession,
    survivor_id: int,
    merged_id: int,
    *,
    by: str,
    participants: Sequence[MergeParticipant] = (),
) -> MergeRecord:
    if survivor_id == merged_id:
        raise MergeError("a customer cannot be merged into itself")
    await _lock_customers(session, survivor_id, merged_id)
    survivor = await get_customer(session, survivor_id)
    merged = await get_customer(session, merged_id)
    for customer in (survivor, merged):
        if customer.merged_into_id is not None:
            raise MergeError(f"customer {customer.id} was already merged into {customer.merged_into_id}")

    moved: dict[str, Any] = {}
    moved["identities"] = await _move_rows(session, Identity, merged_id, survivor_id)
    moved["events"] = await _move_rows(session, CustomerEvent, merged_id, survivor_id)
    if moved["events"]:
        await rebuild_order_summaries(session, [survivor_id, merged_id])
    moved["consents"], moved["consents_overwritten"] = await _merge_consents(session, merged_id, survivor_id)
    for participant in participants:
        moved[participant.name] = await participant.move(session, merged_id, survivor_id)

    # Survivor's own values win; it only gains what it lacked.
    filled = {key: value for key, value in merged.attributes.items() if key not in survivor.attributes}
    moved["attributes_filled"] = sorted(filled)
    moved["tags_added"] = [tag for tag in merged.tags if tag not in survivor.tags]
    moved["fields_filled"] = {}
    for field in ("display_name", "locale", "timezone"):
        if not getattr(survivor, field) and getattr(merged, field):
            moved["fields_filled"][field] = getattr(merged, field)
            setattr(survivor, field, getattr(merged, field))
    survivor.attributes = {**survivor.attributes, **filled}
    survivor.tags = [*survivor.tags, *moved["tags_added"]]
    survivor.updated_at = utcnow()
    merged.merged_into_id = survivor_id
    merged.updated_at = utcnow()
    session.add_all([survivor, merged])

    record = MergeRecord(survivor_id=survivor_id, merged_id=merged_id, moved=moved, merged_by=by)
    session.add(record)
    await session.flush()
    await record_event(
        session, survivor_id, "customer.merged", {"merged_id": merged_id, "merge_id": record.id}, source=by
    )
    return record


async def _merge_consents(
    session: AsyncSession, from_id: int, to_id: int
) -> tuple[list[int], list[dict[str, Any]]]:
    """Move consents the survivor lacks; where both decided, the newer decision wins on the survivor
    and the survivor's old decision is kept in the record for undo."""
    theirs = list((await session.execute(select(Consent).where(Consent.customer_id == from_id))).scalars())
    ours = {
        (c.channel, c.purpose): c
        for c in (await session.execute(select(Consent).where(Consent.customer_id == to_id))).scalars()
    }
    moved: list[int] = []
    overwritten: list[dict[str, Any]] = []
    for consent in theirs:
        mine = ours.get((consent.channel, consent.purpose))
        if mine is None:
            consent.customer_id = to_id
            session.add(consent)
            moved.append(consent.id)  # type: ignore[arg-type]
        elif consent.changed_at > mine.changed_at:
            overwritten.append(
                {
                    "id": mine.id,
                    "granted": mine.granted,
                    "changed_at": mine.changed_at.isoformat(),
                    "source": mine.source,
                    # What the merge wrote: undo restores only a decision nobody changed since.
                    "merged_changed_at": consent.changed_at.isoformat(),
                }
            )
            mine.granted, mine.changed_at, mine.source = consent.granted, consent.changed_at, consent.source
            session.add(mine)
    await session.flush()
    return moved, overwritten


async def undo_merge(
    session: AsyncSession, merge_id: int, *, by: str, participants: Sequence[MergeParticipant] = ()
) -> MergeRecord:
    """Put back exactly what the merge moved. Rows added to the survivor after the merge stay."""
    record = await session.get(MergeRecord, merge_id)
    if record is None:
        raise MergeError(f"merge {merge_id} does not exist")
    if record.undone_at is not None:
        raise MergeError(f"merge {merge_id} was already undone")
    later = (
        await session.execute(
            select(MergeRecord.id).where(
                MergeRecord.merged_id == record.survivor_id,
                MergeRecord.undone_at.is_(None),
                MergeRecord.id > record.id,
            )
        )
    ).scalar_one_or_none()
    if later is not None:
        raise MergeError(
            f"customer {record.survivor_id} was merged again later (merge {later}); undo that first"
        )
    await _lock_customers(session, record.survivor_id, record.merged_id)
    survivor = await get_customer(session, record.survivor_id)
    merged = await get_customer(session, record.merged_id)
    moved = record.moved

    for model, key in ((Identity, "identities"), (CustomerEvent, "events"), (Consent, "consents")):
        ids = moved.get(key) or []
        if ids:
            await session.execute(update(model).where(model.id.in_(ids)).values(customer_id=merged.id))
    if moved.get("events"):
        await rebuild_order_summaries(session, [record.survivor_id, record.merged_id])
    for old in moved.get("consents_overwritten") or []:
        await session.execute(
            update(Consent)
            .where(Consent.id == old["id"])
            .where(Consent.changed_at == datetime.fromisoformat(old["merged_changed_at"]))
            .values(
                granted=old["granted"],
                changed_at=datetime.fromisoformat(old["changed_at"]),
                source=old["source"],
            )
        )
    for participant in participants:
        await participant.move_back(session, moved.get(participant.name) or [], merged.id)  # type: ignore[arg-type]

    survivor.attributes = {
        k: v for k, v in survivor.attributes.items() if k not in set(moved.get("attributes_filled") or [])
    }
    survivor.tags = [t for t in survivor.tags if t not in set(moved.get("tags_added") or [])]
    for field in moved.get("fields_filled") or {}:
        setattr(survivor, field, None if field != "display_name" else "")
    survivor.updated_at = utcnow()
    merged.merged_into_id = None
    merged.updated_at = utcnow()
    record.undone_at = utcnow()
    record.undone_by = by
    session.add_all([survivor, merged, record])
    await session.flush()
    await record_event(
        session,
        survivor.id,
        "customer.merge_undone",
        {"merged_id": merged.id, "merge_id": record.id},
        source=by,  # type: ignore[arg-type]
    )
    return record


async def merges_of(session: AsyncSession, customer_id: int) -> list[MergeRecord]:
    statement = (
        select(MergeRecord)
        .where((MergeRecord.survivor_id == customer_id) | (MergeRecord.merged_id == customer_id))
        .order_by(MergeRecord.id.desc())
    )
    return list((await session.execute(statement)).scalars())

"""Keeping a paused flow when its customer record is merged into another (crm_core merge).

The flow moves to the surviving record unless the survivor has one of its own (one paused flow per
customer; the survivor's wins and the other stays with the merged record, where undo finds it).
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bots.flows.state import FlowState


class FlowStateMergeParticipant:
    name = "flow_states"

    async def move(self, session: AsyncSession, from_customer_id: int, to_customer_id: int) -> list[int]:
        survivor_has_one = (
            await session.execute(select(FlowState.id).where(FlowState.customer_id == to_customer_id))
        ).first() is not None
        if survivor_has_one:
            return []
        ids = list(
            (
                await session.execute(select(FlowState.id).where(FlowState.customer_id == from_customer_id))
            ).scalars()
        )
        if ids:
            await session.execute(
                update(FlowState).where(FlowState.id.in_(ids)).values(customer_id=to_customer_id)
            )  # type: ignore[union-attr]
        return [i for i in ids if i is not None]

    async def move_back(self, session: AsyncSession, ids: list[int], to_customer_id: int) -> None:
        if ids:
            await session.execute(
                update(FlowState).where(FlowState.id.in_(ids)).values(customer_id=to_customer_id)
            )  # type: ignore[union-attr]

"""Where a paused flow is kept: one row per customer whose flow waits for an answer.

The row names the flow *and its version* (so a conversation started on an old version finishes on
it), the step, what the step waits for, the flow's variables, failed tries and the timeout deadline
(or, for a ``wait`` step, the moment it continues). When the flow waits inside another flow it called
(a ``call`` step), the row names the called flow, and ``call_stack`` lists the callers to return to,
outermost first.

It is written in the same transaction as the message that moved the flow, so after a crash or a
restart the flow resumes exactly where the last committed message left it. A flow that ends (or
hands off) deletes its row.

The row is keyed by customer, not conversation: the threading rule gives a customer at most one
unresolved conversation, and a flow must survive the conversation changing under it (a feedback
flow asks after the conversation was resolved; the answer opens a new one). ``conversation_id``
follows the latest turn.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import UniqueConstraint, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from bots.flows.outcomes import WaitingFor
from crm_core.columns import BigId, JsonDoc, UTCDateTime, enum_column, utcnow
from crm_core.models import Customer


class FlowState(SQLModel, table=True):
    """A flow waiting for a customer."""

    __tablename__ = "flow_states"
    # One paused flow per customer (see the module docstring).
    __table_args__ = (UniqueConstraint("customer_id", name="uq_flow_states_customer"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    customer_id: int = Field(foreign_key="customers.id", sa_type=BigId)
    # The conversation the flow last spoke in (inbox's conversations.id; no foreign key, since bots
    # build on crm_core only).
    conversation_id: int = Field(sa_type=BigId, index=True)
    channel_type: str = Field(max_length=32)
    flow_id: str = Field(max_length=64)
    flow_version: str = Field(max_length=32)
    step: str = Field(max_length=64)
    waiting_for: WaitingFor = Field(sa_type=enum_column(WaitingFor))
    variables: dict[str, Any] = Field(default_factory=dict, sa_type=JsonDoc)
    # Private to the waiting step (the FAQ entries it suggested, say).
    step_data: dict[str, Any] = Field(default_factory=dict, sa_type=JsonDoc)
    # Invalid answers given to the current step so far.
    tries: int = 0
    # When the step's timeout fires, or a wait step's moment comes (None: it has none).
    deadline: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    # The flows that called the one waiting, outermost first (Frame.to_json each).
    call_stack: list[dict[str, Any]] = Field(default_factory=list, sa_type=JsonDoc)
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


@dataclass(frozen=True)
class Frame:
    """A flow waiting for the flow it called: which flow and version, the ``call`` step, and where it
    continues when the called flow ends (None: it ends too)."""

    flow_id: str
    flow_version: str
    step: str
    then: str | None

    def to_json(self) -> dict[str, Any]:
        return {"flow": self.flow_id, "version": self.flow_version, "step": self.step, "then": self.then}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Frame:
        return cls(str(data["flow"]), str(data["version"]), str(data["step"]), data.get("then"))


async def lock_customer(session: AsyncSession, customer_id: int, *, skip_locked: bool = False) -> bool:
    """Lock the customer's row (PostgreSQL; SQLite serialises writers anyway). Every path that moves
    a flow takes this lock first and the state row second, in that order, so turns, events and
    timeouts of one customer run one after another and never deadlock. With ``skip_locked``,
    returns False instead of waiting when another transaction holds it."""
    statement = select(Customer.id).where(Customer.id == customer_id).with_for_update(skip_locked=skip_locked)
    return (await session.execute(statement)).scalar_one_or_none() is not None


async def load_state(session: AsyncSession, customer_id: int) -> FlowState | None:
    """The customer's paused flow, locked for this transaction."""
    statement = select(FlowState).where(FlowState.customer_id == customer_id).with_for_update()
    return (await session.execute(statement)).scalars().first()


async def drop_state(session: AsyncSession, state: FlowState) -> None:
    await session.execute(delete(FlowState).where(FlowState.id == state.id))
    session.expunge(state)


async def due_states(session: AsyncSession, now: datetime, limit: int) -> list[tuple[int, int]]:
    """(state id, customer id) of paused flows whose deadline has passed, oldest deadline first."""
    statement = (
        select(FlowState.id, FlowState.customer_id)
        .where(FlowState.deadline.is_not(None), FlowState.deadline <= now)  # type: ignore[union-attr]
        .order_by(FlowState.deadline, FlowState.id)
        .limit(limit)
    )
    return [(row[0], row[1]) for row in (await session.execute(statement)).all()]


async def load_due_state(session: AsyncSession, state_id: int, now: datetime) -> FlowState | None:
    """The state row, locked, if its deadline is still passed (an answer may have moved it since)."""
    statement = (
        select(FlowState)
        .where(FlowState.id == state_id, FlowState.deadline <= now)  # type: ignore[operator]
        .with_for_update()
    )
    return (await session.execute(statement)).scalars().first()

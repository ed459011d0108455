"""flow state: where a paused bot flow waits for a customer

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

import crm_core.columns

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "flow_states",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("conversation_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("channel_type", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("flow_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("flow_version", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("step", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column(
            "waiting_for",
            sa.Enum("answer", "question", "suggestion", name="waitingfor", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column(
            "variables",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "step_data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("deadline", crm_core.columns.UTCDateTime(timezone=True), nullable=True),
        sa.Column("started_at", crm_core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", crm_core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("customer_id", name="uq_flow_states_customer"),
    )
    with op.batch_alter_table("flow_states", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_flow_states_conversation_id"), ["conversation_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_flow_states_deadline"), ["deadline"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("flow_states", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_flow_states_deadline"))
        batch_op.drop_index(batch_op.f("ix_flow_states_conversation_id"))
    op.drop_table("flow_states")

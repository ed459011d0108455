"""scheduler: APScheduler's job store and the fire-once ledger

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import crm_core.columns

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The job store table exactly as APScheduler's SQLAlchemyJobStore declares it (hub/scheduler/tables.py).
    op.create_table(
        "scheduler_jobs",
        sa.Column("id", sa.Unicode(length=191), nullable=False),
        sa.Column("next_run_time", sa.Float(precision=25), nullable=True),
        sa.Column("job_state", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("scheduler_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_scheduler_jobs_next_run_time"), ["next_run_time"], unique=False)

    op.create_table(
        "schedule_fires",
        sa.Column("job_id", sa.Unicode(length=191), nullable=False),
        sa.Column("fire_time", crm_core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "due", "done", "failed", "missed", "skipped", name="firestate", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("func_ref", sa.String(length=300), nullable=False),
        sa.Column(
            "arguments",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("misfire_grace_seconds", sa.Float(), nullable=True),
        sa.Column("reserved_at", crm_core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", crm_core.columns.UTCDateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("job_id", "fire_time"),
    )
    with op.batch_alter_table("schedule_fires", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_schedule_fires_state"), ["state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("schedule_fires", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_schedule_fires_state"))
    op.drop_table("schedule_fires")
    with op.batch_alter_table("scheduler_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scheduler_jobs_next_run_time"))
    op.drop_table("scheduler_jobs")

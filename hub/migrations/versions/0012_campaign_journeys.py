"""campaign journeys and a frequency cap that holds across workers

Multi-step campaigns keep one journey row per customer and enrolment; campaign sends record when
the send-time check admitted them (what the frequency cap counts); marketing_contacts holds the
per-customer row that check locks. Sends already made count from when they were sent.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import crm_core.columns

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "campaign_journeys",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("campaign_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("run_key", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("customer_id", _BIG_ID, nullable=False),
        sa.Column(
            "status",
            sa.Enum("active", "completed", "exited", name="journeystatus", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("step", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("wake_at", crm_core.columns.UTCDateTime(timezone=True), nullable=True),
        sa.Column("deadline", crm_core.columns.UTCDateTime(timezone=True), nullable=True),
        sa.Column("listening", sa.Boolean(), nullable=False),
        sa.Column("last_send", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("entered_at", crm_core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", crm_core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", crm_core.columns.UTCDateTime(timezone=True), nullable=True),
        sa.Column("exit_reason", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"]),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("campaign_id", "run_key", "customer_id", name="uq_campaign_journeys_once"),
    )
    op.create_index("ix_campaign_journeys_due", "campaign_journeys", ["status", "wake_at"], unique=False)
    op.create_index(
        "ix_campaign_journeys_customer", "campaign_journeys", ["customer_id", "status"], unique=False
    )
    op.create_index(
        "ix_campaign_journeys_campaign", "campaign_journeys", ["campaign_id", "status"], unique=False
    )
    op.create_table(
        "marketing_contacts",
        sa.Column("customer_id", _BIG_ID, autoincrement=False, nullable=False),
        sa.Column("checked_at", crm_core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.PrimaryKeyConstraint("customer_id"),
    )
    with op.batch_alter_table("campaign_sends") as batch:
        batch.add_column(sa.Column("admitted_at", crm_core.columns.UTCDateTime(timezone=True), nullable=True))
    # What was sent before this revision counts against the cap from when it was sent.
    op.execute("UPDATE campaign_sends SET admitted_at = sent_at WHERE sent_at IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("campaign_sends") as batch:
        batch.drop_column("admitted_at")
    op.drop_table("marketing_contacts")
    op.drop_index("ix_campaign_journeys_campaign", table_name="campaign_journeys")
    op.drop_index("ix_campaign_journeys_customer", table_name="campaign_journeys")
    op.drop_index("ix_campaign_journeys_due", table_name="campaign_journeys")
    op.drop_table("campaign_journeys")

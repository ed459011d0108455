"""sla and assignment: agent presence and capacity, team auto-assignment, business hours, SLA
policies, SLA due times on conversations and the ledger of SLA alerts

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

import crm_core.columns

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_WHEN = crm_core.columns.UTCDateTime(timezone=True)
_PRIORITY = sa.Enum("low", "normal", "high", "urgent", name="priority", native_enum=False, length=16)
_CONVERSATION_SLA = (
    "sla_started_at",
    "first_response_due_at",
    "next_response_due_at",
    "resolution_due_at",
    "sla_at_risk_at",
    "sla_check_at",
)


def upgrade() -> None:
    with op.batch_alter_table("teams", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("auto_assign", sa.Boolean(), nullable=False, server_default=sa.text("true"))
        )

    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "presence",
                sa.Enum("online", "away", "offline", name="presence", native_enum=False, length=16),
                nullable=False,
                server_default="offline",
            )
        )
        batch_op.add_column(sa.Column("seen_at", _WHEN, nullable=True))
        batch_op.add_column(sa.Column("capacity", sa.Integer(), nullable=False, server_default=sa.text("5")))
        batch_op.add_column(sa.Column("last_assigned_at", _WHEN, nullable=True))

    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sla_policy_id", _ID, nullable=True))
        for column in _CONVERSATION_SLA:
            batch_op.add_column(sa.Column(column, _WHEN, nullable=True))
        batch_op.create_index("ix_conversations_sla_check", ["sla_check_at"], unique=False)
        batch_op.create_index("ix_conversations_status_sla_risk", ["status", "sla_at_risk_at"], unique=False)
    # Conversations people already hold: their clocks count from the customer's wait (or their
    # start), so a policy created later applies to them too.
    op.execute(
        "UPDATE conversations SET sla_started_at = COALESCE(waiting_since, created_at) "
        "WHERE bot_active = false AND status <> 'resolved'"
    )

    op.create_table(
        "business_hours",
        sa.Column("id", _ID, nullable=False),
        sa.Column("timezone", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("weekly", _JSON, nullable=False),
        sa.Column("holidays", _JSON, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", _WHEN, nullable=False),
        sa.Column("updated_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )

    op.create_table(
        "sla_policies",
        sa.Column("id", _ID, nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("team_id", _ID, nullable=True),
        sa.Column("priority", _PRIORITY, nullable=True),
        sa.Column("channel_type", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("first_response_minutes", sa.Integer(), nullable=True),
        sa.Column("next_response_minutes", sa.Integer(), nullable=True),
        sa.Column("resolution_minutes", sa.Integer(), nullable=True),
        sa.Column("business_hours", sa.Boolean(), nullable=False),
        sa.Column("at_risk_percent", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.text("true")),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("updated_at", _WHEN, nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"]),
        sa.PrimaryKeyConstraint("id"),
    )

    op.create_table(
        "sla_alerts",
        sa.Column("id", _ID, nullable=False),
        sa.Column("conversation_id", _ID, nullable=False),
        sa.Column(
            "target",
            sa.Enum(
                "first_response",
                "next_response",
                "resolution",
                name="slatarget",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "kind",
            sa.Enum("at_risk", "breached", name="slaalertkind", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("started_at", _WHEN, nullable=False),
        sa.Column("due_at", _WHEN, nullable=False),
        sa.Column("policy_id", _ID, nullable=True),
        sa.Column("raised_at", _WHEN, nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("conversation_id", "target", "kind", "started_at", name="uq_sla_alerts_once"),
    )


def downgrade() -> None:
    op.drop_table("sla_alerts")
    op.drop_table("sla_policies")
    op.drop_table("business_hours")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_index("ix_conversations_status_sla_risk")
        batch_op.drop_index("ix_conversations_sla_check")
        for column in reversed(_CONVERSATION_SLA):
            batch_op.drop_column(column)
        batch_op.drop_column("sla_policy_id")
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.drop_column("last_assigned_at")
        batch_op.drop_column("capacity")
        batch_op.drop_column("seen_at")
        batch_op.drop_column("presence")
    with op.batch_alter_table("teams", schema=None) as batch_op:
        batch_op.drop_column("auto_assign")

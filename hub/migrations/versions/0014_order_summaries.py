"""order summaries: per-customer order count, total, first and last order (segments read them)

Existing databases get every customer's summary computed from their order events here, with the
same reading of the amount as the segment SQL (a JSON number, else 0).

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import crm_core.columns

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_AMOUNT = {
    "sqlite": (
        "CASE WHEN json_type(payload, '$.\"amount\"') IN ('integer', 'real') "
        "THEN json_extract(payload, '$.\"amount\"') END"
    ),
    "postgresql": (
        "CASE WHEN jsonb_typeof(payload -> 'amount') = 'number' "
        "THEN CAST(payload ->> 'amount' AS DOUBLE PRECISION) END"
    ),
}


def upgrade() -> None:
    op.create_table(
        "order_summaries",
        sa.Column("customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("order_count", sa.Integer(), nullable=False),
        sa.Column("order_total", sa.Float(), nullable=False),
        sa.Column("first_order_at", crm_core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_order_at", crm_core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.PrimaryKeyConstraint("customer_id"),
    )
    amount = _AMOUNT[op.get_bind().dialect.name]
    op.execute(
        "INSERT INTO order_summaries (customer_id, order_count, order_total, first_order_at, last_order_at) "
        f"SELECT customer_id, count(*), coalesce(sum({amount}), 0.0), min(occurred_at), max(occurred_at) "
        "FROM customer_events WHERE kind = 'order.created' GROUP BY customer_id"
    )


def downgrade() -> None:
    op.drop_table("order_summaries")

"""flow call stack: the flows waiting for a called flow to end

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("flow_states", schema=None) as batch_op:
        # Flows paused before this migration were not inside a call: their stack is empty. The
        # server default fills them (and stays, harmlessly: the engine always writes the column).
        batch_op.add_column(
            sa.Column(
                "call_stack",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=False,
                server_default=sa.text("'[]'"),
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("flow_states", schema=None) as batch_op:
        batch_op.drop_column("call_stack")

"""shared rate limits

One row per rate limit key (a channel account, a recipient, a campaign) holding when its next
message may leave and the holds late messages put on the next window, so every dispatcher process
enforces the same limit (hub/outbound/ratelimit.py); and a partial index of the outbox rows not yet
settled, which claims read.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The outbox rows not yet settled: claims read them in id order through this partial index
# instead of scanning past every row ever sent.
OPEN_ROWS = "status IN ('pending', 'sending')"


def upgrade() -> None:
    op.create_table(
        "rate_limits",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=600), nullable=False),
        sa.Column("next_at", sa.Float(), nullable=False),
        sa.Column("holds", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index(
        "ix_outbox_open",
        "outbox",
        ["id"],
        unique=False,
        postgresql_where=sa.text(OPEN_ROWS),
        sqlite_where=sa.text(OPEN_ROWS),
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_open", table_name="outbox")
    op.drop_table("rate_limits")

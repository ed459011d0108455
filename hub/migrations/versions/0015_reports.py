"""reports: the wait each agent reply ended (messages.waited_since, filled in for existing replies),
the bot handoff log, and the indexes the reports read through

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import crm_core.columns

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# Replies written before this revision: the wait each ended began at the first inbound message after
# the previous agent reply of the conversation (what inbox.conversations records from now on).
_BACKFILL_WAITS = """
UPDATE messages SET waited_since = (
    SELECT min(q.created_at) FROM messages q
    WHERE q.conversation_id = messages.conversation_id
      AND q.direction = 'inbound'
      AND q.id < messages.id
      AND q.id > coalesce((
          SELECT max(p.id) FROM messages p
          WHERE p.conversation_id = messages.conversation_id
            AND p.author_kind = 'agent'
            AND p.id < messages.id
      ), 0)
)
WHERE author_kind = 'agent'
"""


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("waited_since", crm_core.columns.UTCDateTime(timezone=True), nullable=True)
        )
    op.create_index("ix_conversations_created", "conversations", ["created_at"], unique=False)
    op.create_index(
        "ix_messages_reports",
        "messages",
        ["author_kind", "created_at", "conversation_id", "channel_type", "author_agent_id", "waited_since"],
        unique=False,
    )
    op.create_index(
        "ix_messages_conversation_kind",
        "messages",
        ["conversation_id", "author_kind", "created_at"],
        unique=False,
    )
    op.execute(_BACKFILL_WAITS)

    op.create_table(
        "bot_handoffs",
        sa.Column("id", _ID, nullable=False),
        sa.Column("conversation_id", _ID, nullable=False),
        sa.Column("at", crm_core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("flow", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("step", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("team_id", _ID, nullable=True),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"]),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_bot_handoffs_conversation", "bot_handoffs", ["conversation_id"], unique=False)
    op.create_index("ix_bot_handoffs_at", "bot_handoffs", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_bot_handoffs_at", table_name="bot_handoffs")
    op.drop_index("ix_bot_handoffs_conversation", table_name="bot_handoffs")
    op.drop_table("bot_handoffs")
    op.drop_index("ix_messages_conversation_kind", table_name="messages")
    op.drop_index("ix_messages_reports", table_name="messages")
    op.drop_index("ix_conversations_created", table_name="conversations")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("waited_since")

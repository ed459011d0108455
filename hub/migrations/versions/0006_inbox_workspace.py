"""inbox workspace: labels as rows, read positions, canned responses, note mentions, list and search
indexes

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

import crm_core.columns

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_SEARCH_INDEXES = (
    ("ix_customers_name_trgm", "customers", "display_name"),
    ("ix_identities_address_trgm", "identities", "address"),
    ("ix_messages_text_trgm", "messages", "text"),
)


def upgrade() -> None:
    op.create_table(
        "canned_responses",
        sa.Column("id", _ID, nullable=False),
        sa.Column("shortcut", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("body", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("owner_agent_id", _ID, nullable=True),
        sa.Column("created_at", crm_core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", crm_core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.ForeignKeyConstraint(["owner_agent_id"], ["agents.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("canned_responses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_canned_responses_owner_agent_id"), ["owner_agent_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_canned_responses_shortcut"), ["shortcut"], unique=False)

    op.create_table(
        "conversation_labels",
        sa.Column("conversation_id", _ID, nullable=False),
        sa.Column("label", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"]),
        sa.PrimaryKeyConstraint("conversation_id", "label"),
    )
    with op.batch_alter_table("conversation_labels", schema=None) as batch_op:
        batch_op.create_index("ix_conversation_labels_label", ["label", "conversation_id"], unique=False)
    _copy_labels_into_rows()

    op.create_table(
        "conversation_reads",
        sa.Column("agent_id", _ID, nullable=False),
        sa.Column("conversation_id", _ID, nullable=False),
        sa.Column("last_read_message_id", _ID, nullable=False),
        sa.Column("read_at", crm_core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"]),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"]),
        sa.PrimaryKeyConstraint("agent_id", "conversation_id"),
    )

    # The new composite indexes start with assignee_id / team_id, so the single-column ones go.
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conversations_assignee_id"))
        batch_op.drop_index(batch_op.f("ix_conversations_team_id"))
        batch_op.create_index(
            "ix_conversations_assignee_status_last",
            ["assignee_id", "status", "last_message_at", "id"],
            unique=False,
        )
        batch_op.create_index("ix_conversations_last", ["last_message_at", "id"], unique=False)
        batch_op.create_index("ix_conversations_status_snoozed", ["status", "snoozed_until"], unique=False)
        batch_op.create_index("ix_conversations_status_waiting", ["status", "waiting_since"], unique=False)
        batch_op.create_index(
            "ix_conversations_team_status_last", ["team_id", "status", "last_message_at", "id"], unique=False
        )

    # Substring search on PostgreSQL goes through trigram indexes (inbox/models.py SEARCH_INDEXES);
    # on SQLite the same declarations are empty partial indexes. pg_trgm ships with PostgreSQL
    # (contrib) and is a trusted extension: the database owner may create it.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, column in _SEARCH_INDEXES:
        op.create_index(
            name,
            table,
            [column],
            unique=False,
            postgresql_using="gin",
            postgresql_ops={column: "gin_trgm_ops"},
            sqlite_where=sa.text("0"),
        )

    # Existing notes mention nobody; the server default fills them.
    with op.batch_alter_table("notes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mentions", _JSON, nullable=False, server_default=sa.text("'[]'")))


def _copy_labels_into_rows() -> None:
    """Labels set before this revision get their rows, so filtering finds them too."""
    conversations = sa.table("conversations", sa.column("id", _ID), sa.column("labels", _JSON))
    rows = sa.table("conversation_labels", sa.column("conversation_id", _ID), sa.column("label", sa.String))
    bind = op.get_bind()
    found = bind.execute(sa.select(conversations.c.id, conversations.c.labels)).all()
    values = [
        {"conversation_id": conversation_id, "label": label[:64]}
        for conversation_id, labels in found
        for label in sorted({str(x).strip() for x in labels or [] if str(x).strip()})
    ]
    if values:
        bind.execute(rows.insert(), values)


def downgrade() -> None:
    with op.batch_alter_table("notes", schema=None) as batch_op:
        batch_op.drop_column("mentions")
    for name, table, _ in _SEARCH_INDEXES:
        op.drop_index(name, table_name=table)

    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_index("ix_conversations_team_status_last")
        batch_op.drop_index("ix_conversations_status_waiting")
        batch_op.drop_index("ix_conversations_status_snoozed")
        batch_op.drop_index("ix_conversations_last")
        batch_op.drop_index("ix_conversations_assignee_status_last")
        batch_op.create_index(batch_op.f("ix_conversations_team_id"), ["team_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_conversations_assignee_id"), ["assignee_id"], unique=False)

    op.drop_table("conversation_reads")
    with op.batch_alter_table("conversation_labels", schema=None) as batch_op:
        batch_op.drop_index("ix_conversation_labels_label")
    op.drop_table("conversation_labels")
    with op.batch_alter_table("canned_responses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_canned_responses_shortcut"))
        batch_op.drop_index(batch_op.f("ix_canned_responses_owner_agent_id"))
    op.drop_table("canned_responses")

"""Revision 0006 on a database that already has conversations: labels set before it become rows the
list can filter on, existing notes mention nobody, and it can be rolled back."""

from __future__ import annotations

import asyncio

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from hub.migrate import alembic_config, upgrade


async def _execute(url: str, *statements: str) -> list[tuple[object, ...]]:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            rows: list[tuple[object, ...]] = []
            for statement in statements:
                result = await connection.execute(text(statement))
                if result.returns_rows:
                    rows = [tuple(row) for row in result.all()]
            return rows
    finally:
        await engine.dispose()


@pytest.mark.parametrize(
    "empty_database_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_labels_become_rows_and_the_revision_rolls_back(empty_database_url: str) -> None:
    url = empty_database_url
    upgrade(url, "0005")
    now = "'2026-01-01 10:00:00'"
    labels = '["refund", "vip", " vip "]'
    asyncio.run(
        _execute(
            url,
            "INSERT INTO customers (id, display_name, attributes, tags, created_at, updated_at) "
            f"VALUES (1, 'Maria', '{{}}', '[]', {now}, {now})",
            "INSERT INTO conversations (id, customer_id, channel_account, channel_type, status, priority, "
            "labels, bot_active, created_at, last_message_at) VALUES "
            f"(1, 1, 'site', 'webchat', 'open', 'normal', '{labels}', false, {now}, {now}),"
            f"(2, 1, 'site', 'webchat', 'open', 'normal', '[]', false, {now}, {now})",
            f"INSERT INTO notes (id, conversation_id, text, created_at) VALUES (1, 1, 'old note', {now})",
        )
    )
    upgrade(url, "0006")
    rows = asyncio.run(
        _execute(
            url, "SELECT conversation_id, label FROM conversation_labels ORDER BY conversation_id, label"
        )
    )
    assert rows == [(1, "refund"), (1, "vip")]
    mentions = asyncio.run(_execute(url, "SELECT mentions FROM notes"))[0][0]
    assert mentions in ("[]", [])

    command.downgrade(alembic_config(url), "0005")
    assert asyncio.run(_execute(url, "SELECT labels FROM conversations WHERE id = 1"))

"""Migration 0002 creates exactly the flow_states table the model declares, on both backends, and
can be undone; 0004 adds the call stack, empty for flows paused before it.
(tests/hub/test_migrations.py covers it too once hub.db imports bots.flows.state.)"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

import bots.flows.state  # noqa: F401  (registers flow_states)
import hub.db  # noqa: F401  (registers the hub's tables)
from hub.migrate import alembic_config, upgrade


def schema_state(url: str) -> tuple[list[object], list[str]]:
    async def run() -> tuple[list[object], list[str]]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as connection:
                diff = await connection.run_sync(
                    lambda c: compare_metadata(
                        MigrationContext.configure(c, opts={"compare_type": True}), SQLModel.metadata
                    )
                )
                tables = await connection.run_sync(lambda c: inspect(c).get_table_names())
            return diff, tables
        finally:
            await engine.dispose()

    return asyncio.run(run())


@pytest.mark.parametrize(
    "empty_database_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_0002_matches_the_model_and_downgrades(empty_database_url: str) -> None:
    upgrade(empty_database_url)
    diff, tables = schema_state(empty_database_url)
    assert diff == [], f"models and migrations differ: {diff}"
    assert "flow_states" in tables
    command.downgrade(alembic_config(empty_database_url), "0001")
    _, tables = schema_state(empty_database_url)
    assert "flow_states" not in tables
    upgrade(empty_database_url)
    assert schema_state(empty_database_url)[0] == []


@pytest.mark.parametrize(
    "empty_database_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_0004_gives_flows_paused_before_it_an_empty_call_stack_and_downgrades(
    empty_database_url: str,
) -> None:
    config = alembic_config(empty_database_url)
    command.upgrade(config, "0003")

    async def columns_and_stacks(insert: bool) -> tuple[list[str], list[object]]:
        engine = create_async_engine(empty_database_url)
        try:
            async with engine.begin() as connection:
                if insert:
                    await connection.execute(
                        text(
                            "INSERT INTO customers (id, display_name, attributes, tags, created_at, "
                            "updated_at) VALUES (1, 'Ana', '{}', '[]', :now, :now)"
                        ),
                        {"now": datetime(2026, 1, 5, tzinfo=UTC)},
                    )
                    await connection.execute(
                        text(
                            "INSERT INTO flow_states (customer_id, conversation_id, channel_type, flow_id, "
                            "flow_version, step, waiting_for, variables, step_data, tries, started_at, "
                            "updated_at) VALUES (1, 1, 'webchat', 'support', '1', 'menu', 'answer', '{}', "
                            "'{}', 0, :now, :now)"
                        ),
                        {"now": datetime(2026, 1, 5, tzinfo=UTC)},
                    )
                names = await connection.run_sync(
                    lambda c: [column["name"] for column in inspect(c).get_columns("flow_states")]
                )
                stacks = []
                if "call_stack" in names:
                    stacks = list(
                        (await connection.execute(text("SELECT call_stack FROM flow_states"))).scalars()
                    )
            return names, stacks
        finally:
            await engine.dispose()

    names, _ = asyncio.run(columns_and_stacks(insert=True))
    assert "call_stack" not in names
    command.upgrade(config, "0004")
    names, stacks = asyncio.run(columns_and_stacks(insert=False))
    assert "call_stack" in names
    assert [json.loads(s) if isinstance(s, str) else s for s in stacks] == [[]]
    command.downgrade(config, "0003")
    names, _ = asyncio.run(columns_and_stacks(insert=False))
    assert "call_stack" not in names

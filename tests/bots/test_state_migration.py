"""Migration 0002 creates exactly the flow_states table the model declares, on both backends, and
can be undone. (tests/hub/test_migrations.py covers it too once hub.db imports bots.flows.state.)"""

from __future__ import annotations

import asyncio

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
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

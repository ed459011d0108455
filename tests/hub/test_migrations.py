"""Migrations run up from an empty database on both backends and produce exactly the schema the
models declare (no drift between the tables in code and the migration scripts)."""

from __future__ import annotations

import asyncio

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from hub.migrate import missing_revisions, upgrade
from hub.tables import metadata


@pytest.mark.parametrize(
    "empty_database_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_upgrade_from_empty_matches_the_models(empty_database_url: str) -> None:
    async def state() -> tuple[list[str], list[object]]:
        engine = create_async_engine(empty_database_url)
        try:
            missing = await missing_revisions(engine)
            async with engine.connect() as connection:
                diff = await connection.run_sync(
                    lambda c: compare_metadata(
                        MigrationContext.configure(c, opts={"compare_type": True}), metadata
                    )
                )
            return missing, diff
        finally:
            await engine.dispose()

    before, _ = asyncio.run(state())
    assert before, "an empty database should be missing every revision"
    upgrade(empty_database_url)
    missing, diff = asyncio.run(state())
    assert missing == []
    assert diff == [], f"models and migrations differ: {diff}"
    upgrade(empty_database_url)  # running it again is a no-op

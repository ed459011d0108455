"""A throwaway SQLite database for ``run_transcripts`` when the caller brings none.

It holds just the tables the engine touches (the customer record, consent and flow states),
created from the models. The hub's own tests run transcripts on fully migrated SQLite and
PostgreSQL databases instead, by passing their session factory.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlmodel import SQLModel

from bots.flows.state import FlowState
from crm_core.models import AttributeDefinition, Consent, Customer, CustomerEvent, Identity

# A write transaction: committed when the block ends, rolled back on error.
Transactions = Callable[[], AbstractAsyncContextManager[AsyncSession]]

_TABLES = [Customer, AttributeDefinition, Identity, Consent, CustomerEvent, FlowState]


@asynccontextmanager
async def scratch_database() -> AsyncIterator[Transactions]:
    with tempfile.TemporaryDirectory(prefix="omnihub-transcripts-") as folder:
        engine = create_async_engine(f"sqlite+aiosqlite:///{Path(folder) / 'transcripts.db'}")
        try:
            async with engine.begin() as connection:
                await connection.run_sync(
                    lambda sync: SQLModel.metadata.create_all(
                        sync,
                        tables=[model.__table__ for model in _TABLES],  # type: ignore[attr-defined]
                    )
                )
            sessions = async_sessionmaker(engine, expire_on_commit=False)

            @asynccontextmanager
            async def transaction() -> AsyncIterator[AsyncSession]:
                async with sessions() as session, session.begin():
                    yield session

            yield transaction
        finally:
            await engine.dispose()

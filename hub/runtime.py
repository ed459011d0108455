"""The running hub: every long-lived component of one process, built in one place."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bots.flows import FlowBot, FlowEngine, FlowStateMergeParticipant
from bots.greeting import GreetingBot, load_greetings
from bots.turn import Bot
from crm_core.models import Customer
from hub.accounts import Accounts
from hub.config import HubConfig
from hub.db import Database
from hub.flows import build_flow_engine, hand_to_people, on_business_event, run_timeouts
from hub.inbound.apply import EventApplier
from hub.inbound.listeners import listening_accounts, run_listener
from hub.inbound.process import InboundProcessor
from hub.live import LiveEvent, LocalBus, make_bus
from hub.media import MediaStore
from hub.migrate import missing_revisions
from hub.outbound.dispatcher import Dispatcher
from hub.settings import Settings
from inbox.conversations import ConversationsMergeParticipant
from inbox.models import Conversation

log = logging.getLogger(__name__)

MERGE_PARTICIPANTS = (ConversationsMergeParticipant(), FlowStateMergeParticipant())


class SchemaOutdated(RuntimeError):
    pass


def build_bots(config: HubConfig, flows: FlowEngine | None = None) -> list[Bot]:
    """The flow engine when the flows folder has flows (its support flow greets), else the greeting
    bot."""
    if flows is not None:
        return [FlowBot(flows, on_handoff=hand_to_people)]
    greeting = config.flows_dir / "greeting.yaml"
    if greeting.exists():
        return [GreetingBot(load_greetings(greeting))]
    log.info("no %s: new conversations are not greeted", greeting)
    return []


async def _flow_event(
    engine: FlowEngine,
    session: AsyncSession,
    customer: Customer,
    kind: str,
    payload: Mapping[str, Any],
    conversation: Conversation,
) -> list[LiveEvent]:
    return await on_business_event(session, engine, customer, kind, payload, conversation)


@dataclass
class Hub:
    settings: Settings
    config: HubConfig
    db: Database
    bus: LocalBus
    accounts: Accounts
    media: MediaStore
    processor: InboundProcessor
    dispatcher: Dispatcher
    flows: FlowEngine | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    def build(cls, settings: Settings, config: HubConfig, *, bots: list[Bot] | None = None) -> Hub:
        db = Database(settings.database_url)
        bus = make_bus(settings.database_url)
        accounts = Accounts(config, settings.secret_key, bus.publish)
        media = MediaStore(settings.hub_data_dir / "media")
        flows = build_flow_engine(config)
        applier = EventApplier(
            bots if bots is not None else build_bots(config, flows),
            media,
            MERGE_PARTICIPANTS,
            config.default_region,
            deep_link_secret=settings.secret_key,
            on_business_event=partial(_flow_event, flows) if flows is not None else None,
        )
        processor = InboundProcessor(db, accounts, bus, applier)
        dispatcher = Dispatcher(
            db,
            accounts,
            bus,
            worker_id=settings.hub_worker_id,
            lease_seconds=settings.hub_outbox_lease_seconds,
        )
        return cls(settings, config, db, bus, accounts, media, processor, dispatcher, flows)

    async def start(self, *, workers: bool, listeners: bool = False) -> None:
        missing = await missing_revisions(self.db.engine)
        if missing:
            raise SchemaOutdated(
                f"the database schema is behind ({len(missing)} migration(s) not applied): run `hub migrate`"
            )
        await self.bus.start()
        if workers:
            self.start_workers()
        if listeners:
            self.start_listeners()

    def start_workers(self) -> None:
        self._tasks.append(asyncio.create_task(self.processor.run(), name="inbound-processor"))
        self._tasks.append(asyncio.create_task(self.dispatcher.run(), name="outbox-dispatcher"))
        if self.flows is not None:
            self._tasks.append(
                asyncio.create_task(
                    run_timeouts(self.db, self.flows, self.bus.publish_all), name="flow-timeouts"
                )
            )

    def start_listeners(self) -> None:
        """SMTP servers and IMAP pollers of email accounts. Run them in one process only (the SMTP
        port can be bound once): inside `hub serve` on SQLite, or `hub listen` on PostgreSQL."""
        for account in listening_accounts(self.accounts):
            task = asyncio.create_task(
                run_listener(self.db, self.bus, account), name=f"listener-{account.name}"
            )
            self._tasks.append(task)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.accounts.aclose()
        await self.bus.stop()
        await self.db.dispose()

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
from hub.business_hours import BusinessHoursKeeper
from hub.campaigns.files import sync_campaign_files
from hub.campaigns.links import CampaignLinks
from hub.campaigns.service import Campaigns
from hub.config import HubConfig
from hub.db import Database
from hub.flow_reload import FlowReloader
from hub.flow_triggers import sync_schedules
from hub.flows import build_flow_engine, hand_to_people, on_business_event, run_timeouts
from hub.inbound.listeners import listening_accounts, run_listener
from hub.inbound.process import InboundProcessor
from hub.live import LiveEvent, LocalBus, make_bus
from hub.media import MediaStore
from hub.migrate import missing_revisions
from hub.outbound.dispatcher import Dispatcher
from hub.routing import RoutingApplier
from hub.scheduler import HubScheduler
from hub.segments import segments_for, sync_segment_files
from hub.settings import Settings
from hub.sla_watch import run_sla_watch
from hub.snoozes import run_snooze_wakeups
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
    # Reloads edited flow files into ``flows`` (None without flows, or with reloading turned off).
    flow_reloader: FlowReloader | None = None
    campaigns: Campaigns | None = None
    # Runs campaign schedules in the one elected process (hub.scheduler).
    scheduler: HubScheduler | None = None
    # The business hours in force (database, seeded from hub.yaml), kept in the flow engine.
    hours: BusinessHoursKeeper | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    def build(cls, settings: Settings, config: HubConfig, *, bots: list[Bot] | None = None) -> Hub:
        db = Database(settings.database_url)
        bus = make_bus(settings.database_url)
        accounts = Accounts(config, settings.secret_key, bus.publish)
        media = MediaStore(
            settings.hub_data_dir / "media", secret=settings.secret_key, public_url=config.public_url
        )
        links = CampaignLinks(settings.secret_key, config.public_url)
        campaigns = Campaigns(db, accounts, config.marketing, segments_for(config), links=links)
        # Flows enrol customers in campaigns (a flow's `campaign:` step).
        flows = build_flow_engine(config, secret_key=settings.secret_key, media=media, enrol=campaigns.enrol)
        applier = RoutingApplier(
            bots if bots is not None else build_bots(config, flows),
            media,
            MERGE_PARTICIPANTS,
            config.default_region,
            deep_link_secret=settings.secret_key,
            on_business_event=partial(_flow_event, flows) if flows is not None else None,
            campaigns=campaigns,
            # Without bot flows, new conversations are people's from the start (hub/routing.py).
            direct_team=config.default_team if flows is None else None,
        )
        processor = InboundProcessor(db, accounts, bus, applier)
        dispatcher = Dispatcher(
            db,
            accounts,
            bus,
            worker_id=settings.hub_worker_id,
            lease_seconds=settings.hub_outbox_lease_seconds,
            hooks=(campaigns.delivery,),
        )
        reloader = None
        if flows is not None and settings.hub_flows_reload_seconds > 0:
            reloader = FlowReloader(
                config.flows_dir,
                flows,
                teams=config.teams or None,
                interval=settings.hub_flows_reload_seconds,
            )
        scheduler = HubScheduler(db, misfire_grace_seconds=settings.hub_scheduler_misfire_grace_seconds)
        campaigns.scheduler = scheduler
        hub = cls(
            settings,
            config,
            db,
            bus,
            accounts,
            media,
            processor,
            dispatcher,
            flows,
            reloader,
            campaigns=campaigns,
            scheduler=scheduler,
            hours=BusinessHoursKeeper(db, config.business_hours, flows),
        )
        # Scheduled jobs get the hub they run in (fire.context).
        scheduler.context = hub
        return hub

    async def start(self, *, workers: bool, listeners: bool = False) -> None:
        missing = await missing_revisions(self.db.engine)
        if missing:
            raise SchemaOutdated(
                f"the database schema is behind ({len(missing)} migration(s) not applied): run `hub migrate`"
            )
        await self.bus.start()
        if self.hours is not None:
            await self.hours.start()
            self._tasks.append(asyncio.create_task(self.hours.run(), name="business-hours-reload"))
        self.start_flow_reload()
        if workers:
            await self.sync_definition_files()
            self.start_workers()
        if listeners:
            self.start_listeners()

    def start_workers(self) -> None:
        if self.scheduler is not None and self.settings.hub_scheduler:
            self.scheduler.start()
        if self.flows is not None and self.scheduler is not None:
            # The flows' schedule and segment triggers become scheduled jobs (again after a reload).
            self._tasks.append(asyncio.create_task(self._sync_flow_triggers(), name="flow-triggers"))
            if self.flow_reloader is not None:
                self.flow_reloader.on_reload = self._sync_flow_triggers
        self._tasks.append(asyncio.create_task(self.processor.run(), name="inbound-processor"))
        self._tasks.append(asyncio.create_task(self.dispatcher.run(), name="outbox-dispatcher"))
        if self.campaigns is not None:
            self._tasks.append(asyncio.create_task(self.campaigns.run(), name="campaigns"))
        if self.flows is not None:
            self._tasks.append(
                asyncio.create_task(
                    run_timeouts(self.db, self.flows, self.bus.publish_all), name="flow-timeouts"
                )
            )
        self._tasks.append(
            asyncio.create_task(run_snooze_wakeups(self.db, self.bus.publish_all), name="snooze-wakeups")
        )
        # SLA alerts (at risk, breached) and the team queues' safety net (hub/sla_watch.py).
        self._tasks.append(asyncio.create_task(run_sla_watch(self), name="sla-watch"))

    async def sync_definition_files(self) -> None:
        """Save the segments and campaigns defined in files next to the flows. A file with a
        problem stops the start (DefinitionFileError, each problem with file and line), as an
        invalid flow does."""
        await sync_segment_files(self.db, self.config)
        if self.campaigns is not None:
            await sync_campaign_files(self.db, self.campaigns, self.config)

    async def _sync_flow_triggers(self) -> None:
        try:
            await sync_schedules(self)
        except Exception:
            log.exception("the flows' scheduled triggers could not be registered")

    def start_flow_reload(self) -> None:
        """Every process watches the flows folder on its own (web processes start flows too, on
        business events from the API), so each activates edited flows without a restart."""
        if self.flow_reloader is not None:
            self._tasks.append(asyncio.create_task(self.flow_reloader.run(), name="flow-reload"))

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
        if self.scheduler is not None:
            await self.scheduler.stop()
        await self.accounts.aclose()
        await self.bus.stop()
        await self.db.dispose()

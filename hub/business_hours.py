"""The business hours of a running hub process: seeded from hub.yaml into an empty database, kept
in the flow engine (the flows' ``business_hours`` condition and ``wait: {until}``'s time zone), and
reloaded when an admin changes them in any process.

Every process (``hub serve``, ``hub worker``) runs a ``BusinessHoursKeeper``: every
``RELOAD_SECONDS`` it reads the stored hours' version (one tiny query) and, when it moved, loads the
hours and hands them to its flow engine — as the flows folder's hot reload does for flow files. The
process that saves a change applies it at once. SLA clocks read the stored hours inside their own
transactions (inbox/sla.py), so they never lag.
"""

from __future__ import annotations

import asyncio
import logging

from bots.flows import FlowEngine
from hub.config import BusinessHours
from hub.db import Database
from inbox import business_hours
from inbox.business_time import OpeningHours

log = logging.getLogger(__name__)

RELOAD_SECONDS = 2.0
DAY = 24 * 60


def from_config(hours: BusinessHours) -> OpeningHours:
    """hub.yaml's business_hours (no holidays there: they are kept in the database). hub.yaml lets
    a span end at 24:MM; a day ends at 24:00."""
    return OpeningHours(
        timezone=hours.timezone,
        weekly={
            day: tuple((start, min(end, DAY)) for start, end in spans if start < DAY)
            for day, spans in hours.weekly.items()
        },
    )


class BusinessHoursKeeper:
    def __init__(
        self,
        db: Database,
        configured: BusinessHours,
        engine: FlowEngine | None,
        interval: float = RELOAD_SECONDS,
    ) -> None:
        self.db = db
        self.configured = from_config(configured)
        self.engine = engine
        self.interval = interval
        self.hours = self.configured
        self.version = -1

    async def start(self) -> None:
        """Seed an empty database from hub.yaml, then load what is stored."""
        async with self.db.transaction() as session:
            if await business_hours.seed(session, self.configured):
                log.info("business hours stored from hub.yaml (edit them on the admin screen from now on)")
        await self.check()

    async def check(self) -> bool:
        """Load the stored hours if they changed since the last look; whether they did."""
        async with self.db.session() as session:
            stored = await business_hours.version(session)
            if stored == self.version:
                return False
            hours = await business_hours.load(session)
        self.use(hours, stored)
        return True

    def use(self, hours: OpeningHours, version: int) -> None:
        self.hours, self.version = hours, version
        if self.engine is not None:
            self.engine.business_hours = hours.is_open
            self.engine.timezone = hours.timezone

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                if await self.check():
                    log.info("business hours reloaded (version %s)", self.version)
            except Exception:
                log.exception("reading the business hours failed; trying again in %s s", self.interval)

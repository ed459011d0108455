"""Scheduled and recurring jobs for the hub: APScheduler with its job store in the hub's database,
one leader process running them, and a ledger that makes each fire happen once.

    scheduler = HubScheduler(db, context=hub)
    await scheduler.schedule_cron("campaign:42", "hub.campaigns.jobs:send", cron="0 10 * * MON",
                                  timezone="Europe/Kyiv", args=[42])
    scheduler.start()   # in processes that may run jobs

A job is ``async def send(fire: Fire, campaign_id: int) -> None``: it works in ``fire.session``,
which commits together with the record that this fire happened.
"""

from hub.scheduler.cron import InvalidSchedule, cron_trigger, next_fire_times
from hub.scheduler.jobs import ScheduledJob
from hub.scheduler.ledger import FireRecord, ReservedFire
from hub.scheduler.runner import Fire, FireOutcome
from hub.scheduler.scheduler import HubScheduler
from hub.scheduler.tables import FireState, scheduler_metadata

__all__ = [
    "Fire",
    "FireOutcome",
    "FireRecord",
    "FireState",
    "HubScheduler",
    "InvalidSchedule",
    "ReservedFire",
    "ScheduledJob",
    "cron_trigger",
    "next_fire_times",
    "scheduler_metadata",
]

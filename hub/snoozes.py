"""The periodic job that wakes snoozed conversations when their time comes (inbox/snooze.py), then
tells the agents' screens. Every worker process may run it: the wake-up UPDATE is its own claim."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from crm_core.columns import utcnow
from hub.db import Database
from hub.live import LiveEvent
from inbox.snooze import BATCH, wake_due

log = logging.getLogger(__name__)

# A conversation reopens at most this long after its snooze ends.
WAKE_INTERVAL_SECONDS = 15.0

PublishAll = Callable[[list[LiveEvent]], Awaitable[None]]


async def wake_snoozed(db: Database, publish_all: PublishAll) -> int:
    """One round: reopen every conversation whose snooze has ended; how many were woken."""
    total = 0
    while True:
        async with db.transaction() as session:
            ids = await wake_due(session, utcnow())
        if ids:
            # The screens reload the conversation; its agent is told it is back.
            await publish_all(
                [
                    LiveEvent("inbox", {"type": kind, "conversation_id": i})
                    for i in ids
                    for kind in ("conversation.updated", "conversation.woke")
                ]
            )
            total += len(ids)
        if len(ids) < BATCH:
            return total


async def run_snooze_wakeups(
    db: Database, publish_all: PublishAll, interval: float = WAKE_INTERVAL_SECONDS
) -> None:
    while True:
        try:
            woken = await wake_snoozed(db, publish_all)
            if woken:
                log.info("woke %d snoozed conversation(s)", woken)
        except Exception:
            log.exception("waking snoozed conversations failed; retrying in %s s", interval)
        await asyncio.sleep(interval)

"""Channels that receive by themselves (an SMTP server, IMAP polling) hand what they receive to the
same durable path as webhooks: stored raw, deduplicated on the provider's id, then processed."""

from __future__ import annotations

import asyncio
import logging

from channels.contract import Listener, WebhookRequest
from hub.accounts import Account, Accounts
from hub.db import Database
from hub.inbound.receive import WAKE_TOPIC, store_raw
from hub.live import LocalBus

log = logging.getLogger(__name__)

RESTART_DELAY_SECONDS = 5.0


def listening_accounts(accounts: Accounts) -> list[Account]:
    return [account for account in accounts if isinstance(account.adapter, Listener)]


async def run_listener(db: Database, bus: LocalBus, account: Account) -> None:
    """Run one account's listener until cancelled, restarting it after a failure (a mail server
    that was down, a port briefly taken) rather than losing the channel for good."""
    adapter = account.adapter
    assert isinstance(adapter, Listener)

    async def ingest(request: WebhookRequest) -> None:
        # Raising here makes the listener refuse the item (SMTP 451, IMAP leaves it unseen), so the
        # sender retries: nothing is acknowledged before it is stored.
        adapter.verify(request)  # type: ignore[attr-defined]
        key = adapter.event_id(request)  # type: ignore[attr-defined]
        raw_id = await store_raw(db, account, request, key)
        if raw_id is not None:
            await bus.publish(WAKE_TOPIC, {"id": raw_id})

    while True:
        try:
            await adapter.listen(ingest)
            return  # nothing to listen to on this account
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("listener of %s failed; restarting in %.0fs", account.name, RESTART_DELAY_SECONDS)
            await asyncio.sleep(RESTART_DELAY_SECONDS)

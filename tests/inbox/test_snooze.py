"""Snoozed conversations reopen when their time comes — once, even with two workers — and the hub's
periodic job tells the screens."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from crm_core.columns import utcnow
from hub.live import LiveEvent
from hub.runtime import Hub
from hub.snoozes import wake_snoozed
from inbox import conversations as inbox
from inbox.models import Conversation, ConversationStatus
from inbox.snooze import wake_due
from tests.inbox.builders import customer_writes


async def snooze(hub: Hub, name: str, minutes: float) -> int:
    async with hub.db.transaction() as session:
        conversation, _ = await customer_writes(session, name, "call me later")
        await inbox.set_status(
            session,
            conversation,
            ConversationStatus.SNOOZED,
            snoozed_until=utcnow() + timedelta(minutes=minutes),
        )
        assert conversation.id is not None
        return conversation.id


async def status_of(hub: Hub, conversation_id: int) -> tuple[ConversationStatus, object]:
    async with hub.db.session() as session:
        conversation = await session.get(Conversation, conversation_id)
        assert conversation is not None
        return conversation.status, conversation.snoozed_until


class TestWakeUp:
    async def test_due_snoozes_reopen_and_later_ones_wait(self, hub: Hub) -> None:
        due = await snooze(hub, "Due", 1)
        later = await snooze(hub, "Later", 120)
        async with hub.db.transaction() as session:
            assert await wake_due(session, utcnow()) == []
        async with hub.db.transaction() as session:
            assert await wake_due(session, utcnow() + timedelta(minutes=2)) == [due]
        assert await status_of(hub, due) == (ConversationStatus.OPEN, None)
        assert (await status_of(hub, later))[0] is ConversationStatus.SNOOZED

    async def test_a_conversation_the_agent_resolved_meanwhile_stays_resolved(self, hub: Hub) -> None:
        conversation_id = await snooze(hub, "Resolved", 1)
        async with hub.db.transaction() as session:
            conversation = await inbox.get_conversation(session, conversation_id)
            await inbox.set_status(session, conversation, ConversationStatus.RESOLVED)
        async with hub.db.transaction() as session:
            assert await wake_due(session, utcnow() + timedelta(minutes=2)) == []
        assert (await status_of(hub, conversation_id))[0] is ConversationStatus.RESOLVED

    async def test_the_periodic_job_wakes_and_publishes_once(self, hub: Hub) -> None:
        conversation_id = await snooze(hub, "Due", 0.005)
        await asyncio.sleep(0.5)
        published: list[LiveEvent] = []

        async def publish_all(events: list[LiveEvent]) -> None:
            published.extend(events)

        # Two workers at once: the conversation is woken by one of them only.
        woken = await asyncio.gather(wake_snoozed(hub.db, publish_all), wake_snoozed(hub.db, publish_all))
        assert sorted(woken) == [0, 1]
        assert published == [
            LiveEvent("inbox", {"type": "conversation.updated", "conversation_id": conversation_id}),
            LiveEvent("inbox", {"type": "conversation.woke", "conversation_id": conversation_id}),
        ]
        assert (await status_of(hub, conversation_id))[0] is ConversationStatus.OPEN

"""Read positions and unread counts per agent, on SQLite and PostgreSQL."""

from __future__ import annotations

from hub.runtime import Hub
from inbox import conversations as inbox
from inbox.models import AuthorKind, ConversationStatus
from inbox.reads import mark_read, unread_conversations_assigned, unread_counts
from tests.inbox.builders import customer_writes, new_agent


class TestUnread:
    async def test_customer_messages_after_the_read_position_are_unread(self, hub: Hub) -> None:
        async with hub.db.transaction() as session:
            ana = await new_agent(session, "Ana")
            ben = await new_agent(session, "Ben")
            conversation, first = await customer_writes(session, "Maria", "one", address="maria")
            _, second = await customer_writes(session, "Maria", "two", address="maria")
            # Replies are not unread for anyone.
            await inbox.add_outbound_message(
                session, conversation, text="hello", author_kind=AuthorKind.BOT, address="maria"
            )
        cid = conversation.id
        assert cid is not None and ana.id is not None and ben.id is not None
        async with hub.db.session() as session:
            assert await unread_counts(session, ana.id, [cid]) == {cid: 2}

        async with hub.db.transaction() as session:
            assert await mark_read(session, ana.id, cid, first.id) == first.id
        async with hub.db.session() as session:
            assert await unread_counts(session, ana.id, [cid]) == {cid: 1}
            assert await unread_counts(session, ben.id, [cid]) == {cid: 2}  # per agent

        async with hub.db.transaction() as session:
            newest = await mark_read(session, ana.id, cid)
            # Another tab reporting an older position does not move it back.
            assert await mark_read(session, ana.id, cid, first.id) == newest
        assert newest > second.id  # type: ignore[operator]  (the bot's reply is the newest)
        async with hub.db.session() as session:
            assert await unread_counts(session, ana.id, [cid]) == {}

    async def test_unread_conversations_assigned_to_an_agent(self, hub: Hub) -> None:
        async with hub.db.transaction() as session:
            ana = await new_agent(session, "Ana")
            read, _ = await customer_writes(session, "Read", "hi")
            unread, _ = await customer_writes(session, "Unread", "hi")
            resolved, _ = await customer_writes(session, "Resolved", "hi")
            await customer_writes(session, "Someone else's", "hi")
            for conversation in (read, unread, resolved):
                await inbox.assign(session, conversation, agent_id=ana.id, team_id=None)
            await inbox.set_status(session, resolved, ConversationStatus.RESOLVED)
            await mark_read(session, ana.id, read.id)  # type: ignore[arg-type]
        async with hub.db.session() as session:
            assert await unread_conversations_assigned(session, ana.id) == 1  # type: ignore[arg-type]

"""The conversation list on SQLite and PostgreSQL: views, filters, labels, SLA at risk, search over
customers and message text (with its recent-messages window), and keyset paging."""

from __future__ import annotations

import pytest

from hub.runtime import Hub
from inbox import conversations as inbox
from inbox import listing
from inbox.listing import ConversationFilter, InvalidFilter, list_conversations
from inbox.models import AuthorKind, ConversationStatus, Priority
from tests.inbox.builders import ago, customer_writes, new_agent


async def names(hub: Hub, filters: ConversationFilter, **paging: int) -> list[str]:
    from crm_core.models import Customer

    async with hub.db.session() as session:
        found = await list_conversations(session, filters, **paging)
        return [(await session.get(Customer, c.customer_id)).display_name for c in found]  # type: ignore[union-attr]


class TestViewsAndFilters:
    async def test_views_status_channel_priority(self, hub: Hub) -> None:
        async with hub.db.transaction() as session:
            ana = await new_agent(session, "Ana", team="support")
            ben = await new_agent(session, "Ben")
            mine, _ = await customer_writes(session, "Mine", "hi", at=ago(minutes=5))
            theirs, _ = await customer_writes(session, "Theirs", "hi", at=ago(minutes=4))
            await customer_writes(session, "Nobody's", "hi", at=ago(minutes=3))
            sms, _ = await customer_writes(
                session,
                "By SMS",
                "hi",
                channel="sms",
                account="sms-main",
                address="+15550001",
                at=ago(minutes=2),
            )
            done, _ = await customer_writes(session, "Done", "hi", at=ago(minutes=1))
            await inbox.assign(session, mine, agent_id=ana.id, team_id=ana.team_id)
            await inbox.assign(session, theirs, agent_id=ben.id, team_id=None)
            await inbox.set_status(session, done, ConversationStatus.RESOLVED)
            await inbox.set_priority_and_labels(session, sms, priority=Priority.URGENT, labels=None)

        open_ = ConversationStatus.OPEN
        assert await names(hub, ConversationFilter(status=open_)) == ["By SMS", "Nobody's", "Theirs", "Mine"]
        assert await names(hub, ConversationFilter()) == ["Done", "By SMS", "Nobody's", "Theirs", "Mine"]
        assert await names(hub, ConversationFilter(status=open_, assignee_id=ana.id)) == ["Mine"]
        assert await names(hub, ConversationFilter(status=open_, unassigned=True)) == ["By SMS", "Nobody's"]
        assert await names(hub, ConversationFilter(team_id=ana.team_id)) == ["Mine"]
        assert await names(hub, ConversationFilter(channel_type="sms")) == ["By SMS"]
        assert await names(hub, ConversationFilter(priority=Priority.URGENT)) == ["By SMS"]
        assert await names(hub, ConversationFilter(status=ConversationStatus.RESOLVED)) == ["Done"]
        async with hub.db.session() as session:
            assert await listing.count_conversations(session, ConversationFilter(status=open_)) == 4

    async def test_labels_filter_through_their_rows(self, hub: Hub) -> None:
        async with hub.db.transaction() as session:
            refund, _ = await customer_writes(session, "Refund", "money back please")
            both, _ = await customer_writes(session, "Both", "where is my order")
            await customer_writes(session, "None", "hello")
            await inbox.set_priority_and_labels(session, refund, priority=None, labels=["refund", " refund "])
            await inbox.set_priority_and_labels(session, both, priority=None, labels=["refund", "shipping"])
        assert refund.labels == ["refund"]
        assert await names(hub, ConversationFilter(label="refund")) == ["Both", "Refund"]
        assert await names(hub, ConversationFilter(label="shipping")) == ["Both"]

        # Replacing the labels moves the rows too: the filter never disagrees with what is shown.
        async with hub.db.transaction() as session:
            both = await inbox.get_conversation(session, both.id)  # type: ignore[arg-type]
            await inbox.set_priority_and_labels(session, both, priority=None, labels=["shipping", "vip"])
        assert await names(hub, ConversationFilter(label="refund")) == ["Refund"]
        assert await names(hub, ConversationFilter(label="vip")) == ["Both"]
        async with hub.db.session() as session:
            assert await listing.labels_in_use(session) == [("refund", 1), ("shipping", 1), ("vip", 1)]

    async def test_a_too_long_label_is_refused_by_name(self, hub: Hub) -> None:
        async with hub.db.transaction() as session:
            conversation, _ = await customer_writes(session, "Long", "hi")
            with pytest.raises(inbox.InvalidLabel, match="longer than 64 characters"):
                await inbox.set_priority_and_labels(session, conversation, priority=None, labels=["x" * 65])

    async def test_sla_at_risk_means_waiting_for_people_too_long(self, hub: Hub) -> None:
        async with hub.db.transaction() as session:
            late, _ = await customer_writes(session, "Waiting long", "hello?", at=ago(minutes=40))
            recent, _ = await customer_writes(session, "Just wrote", "hi", at=ago(minutes=2))
            with_bot, _ = await customer_writes(session, "With the bot", "menu", at=ago(minutes=50))
            answered, _ = await customer_writes(session, "Answered", "hi", at=ago(minutes=60))
            snoozed, _ = await customer_writes(session, "Put aside", "hi", at=ago(minutes=70))
            for conversation in (late, recent, answered, snoozed):
                conversation.bot_active = False
            await inbox.add_outbound_message(
                session, answered, text="On it", author_kind=AuthorKind.AGENT, address="x"
            )
            await inbox.set_status(
                session, snoozed, ConversationStatus.SNOOZED, snoozed_until=ago(minutes=-60)
            )
        assert with_bot.bot_active
        assert await names(hub, ConversationFilter(waiting_since_before=ago(minutes=15))) == ["Waiting long"]


class TestSearch:
    async def test_name_address_and_message_text(self, hub: Hub) -> None:
        async with hub.db.transaction() as session:
            await customer_writes(session, "Olena Kovalenko", "hello")
            await customer_writes(session, "Sam", "my order 100_42% is late", address="sam@example.com")
            await customer_writes(session, "Maria", "Do you ship to LISBON?")
        assert await names(hub, ConversationFilter(search="kovalenko")) == ["Olena Kovalenko"]
        assert await names(hub, ConversationFilter(search="SAM@EXAMPLE")) == ["Sam"]
        assert await names(hub, ConversationFilter(search="lisbon")) == ["Maria"]
        # LIKE wildcards typed by an agent are plain characters.
        assert await names(hub, ConversationFilter(search="100_42%")) == ["Sam"]
        assert await names(hub, ConversationFilter(search="1000")) == []
        assert await names(hub, ConversationFilter(search="%")) == ["Sam"]

    async def test_the_matching_message_is_shown(self, hub: Hub) -> None:
        async with hub.db.transaction() as session:
            conversation, _ = await customer_writes(session, "Maria", "first: beans?", address="maria")
            await customer_writes(session, "Maria", "second: grinder", address="maria")
        async with hub.db.session() as session:
            found = await listing.matching_messages(session, [conversation.id], "beans")  # type: ignore[list-item]
        assert found == {conversation.id: "first: beans?"}

    async def test_message_text_is_searched_in_the_recent_window(
        self, hub: Hub, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        async with hub.db.transaction() as session:
            await customer_writes(session, "Old", "an ancient espresso question", at=ago(days=400))
            for number in range(3):
                await customer_writes(session, f"New {number}", f"recent {number}")
        monkeypatch.setattr(listing, "MESSAGE_SEARCH_WINDOW", 3)
        assert await names(hub, ConversationFilter(search="espresso")) == []
        assert await names(hub, ConversationFilter(search="old")) == ["Old"]  # customers are always found
        monkeypatch.setattr(listing, "MESSAGE_SEARCH_WINDOW", 4)
        assert await names(hub, ConversationFilter(search="espresso")) == ["Old"]

    async def test_only_the_newest_matching_messages_count(
        self, hub: Hub, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        async with hub.db.transaction() as session:
            await customer_writes(session, "First", "decaf please", at=ago(minutes=3))
            await customer_writes(session, "Second", "more decaf", at=ago(minutes=2))
        monkeypatch.setattr(listing, "MESSAGE_MATCHES", 1)
        assert await names(hub, ConversationFilter(search="decaf")) == ["Second"]
        monkeypatch.setattr(listing, "MESSAGE_MATCHES", 2)
        assert await names(hub, ConversationFilter(search="decaf")) == ["Second", "First"]

    async def test_an_overlong_search_is_refused(self, hub: Hub) -> None:
        with pytest.raises(InvalidFilter, match="at most 200"):
            await names(hub, ConversationFilter(search="x" * 201))


class TestPaging:
    async def test_pages_neither_skip_nor_repeat_on_equal_times(self, hub: Hub) -> None:
        same = ago(minutes=10)
        async with hub.db.transaction() as session:
            for number in range(7):
                await customer_writes(
                    session, f"C{number}", "hi", at=same if number < 5 else ago(minutes=number)
                )
        seen: list[str] = []
        before: int | None = None
        async with hub.db.session() as session:
            while True:
                page = await list_conversations(session, ConversationFilter(), limit=3, before_id=before)
                if not page:
                    break
                seen.extend(str(c.id) for c in page)
                before = page[-1].id
        assert len(seen) == 7 and len(set(seen)) == 7
        assert await names(hub, ConversationFilter(), limit=2) == ["C5", "C6"]

    async def test_last_messages_per_conversation(self, hub: Hub) -> None:
        async with hub.db.transaction() as session:
            conversation, _ = await customer_writes(session, "Maria", "one", address="maria-1")
            await customer_writes(session, "Maria", "two", address="maria-1")
        async with hub.db.session() as session:
            last = await listing.last_messages(session, [conversation.id])  # type: ignore[list-item]
        assert last[conversation.id].text == "two"  # type: ignore[index]

"""`hub seed`: synthetic inbox data in the shapes the pipeline writes, on both backends, that the
real queries read back consistently; and the command line with its progress and its refusals."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from crm_core.models import Customer, CustomerEvent, Identity
from hub.auth.passwords import hash_password
from hub.runtime import Hub
from inbox.listing import ConversationFilter, list_conversations
from inbox.models import Conversation, ConversationLabel, ConversationStatus, Message
from inbox.seed import SeedPlan, seed
from tests.conftest import REPO

CHANNELS = [("site", "webchat"), ("sms-main", "sms"), ("tg", "telegram"), ("pbx", "telephony")]


async def test_seeded_data_is_consistent(hub: Hub) -> None:
    seen: list[int] = []
    plan = SeedPlan(customers=300, messages=3000, channels=CHANNELS, agents=4)
    report = await seed(hub.db.transaction, plan, hash_password("seed password"), seen.append)
    assert (report.customers, report.messages, report.agents) == (300, 3000, 4)
    assert sum(seen) == 3000

    async with hub.db.session() as session:

        async def count(model: type, *where: object) -> int:
            statement = select(func.count()).select_from(model).where(*where)  # type: ignore[arg-type]
            return int((await session.execute(statement)).scalar_one())

        assert await count(Customer) == 300 and await count(Identity) == 300
        assert await count(Message) == 3000 and await count(CustomerEvent) == 3000
        assert await count(Conversation) == report.conversations
        assert (
            await count(Conversation, Conversation.status == ConversationStatus.OPEN)
            == report.open_conversations
        )
        # Only channels customers write from: no phone-call accounts.
        channels = set((await session.execute(select(Conversation.channel_type).distinct())).scalars())
        assert channels <= {"webchat", "sms", "telegram"}
        # Each conversation's last activity is its newest message, and its labels have their rows.
        newest = (
            select(Message.conversation_id, func.max(Message.created_at).label("at"))
            .group_by(Message.conversation_id)
            .subquery()
        )
        mismatched = await session.execute(
            select(func.count())
            .select_from(Conversation)
            .join(newest, newest.c.conversation_id == Conversation.id)
            .where(newest.c.at != Conversation.last_message_at)
        )
        assert mismatched.scalar_one() == 0
        labelled = [c for c in (await session.execute(select(Conversation))).scalars() if c.labels]
        rows = await count(ConversationLabel)
        assert rows == sum(len(c.labels) for c in labelled) and rows > 0
        # The list reads it like any other data.
        page = await list_conversations(session, ConversationFilter(status=ConversationStatus.OPEN), limit=10)
        assert len(page) == min(10, report.open_conversations)

    # Ids continue after the seeded ones (PostgreSQL sequences were moved past them).
    async with hub.db.transaction() as session:
        customer = Customer(display_name="After the seed")
        session.add(customer)
        await session.flush()
        assert customer.id == 301


def test_the_command_seeds_with_a_progress_bar_and_refuses_bad_numbers(tmp_path: Path) -> None:
    (tmp_path / "hub.yaml").write_text(
        "public_url: http://127.0.0.1\nflows_dir: flows\nchannels:\n  site:\n    type: webchat\n"
    )
    env = {
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}",
        "HUB_CONFIG": str(tmp_path / "hub.yaml"),
        "HUB_DATA_DIR": str(tmp_path / "var"),
        "HUB_SECRET_KEY": "test",
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(REPO),
    }

    def hub(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "hub.cli", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    done = hub("seed", "--customers", "50", "--messages", "400", "--agents", "2")
    assert done.returncode == 0, done.stderr
    assert "seeding messages" in done.stdout
    assert "added 50 customers" in done.stdout and "400 messages, 2 agents" in done.stdout

    refused = hub("seed", "--customers", "50", "--messages", "10")
    assert refused.returncode == 2
    assert "--messages must be at least --customers" in refused.stderr


@pytest.mark.parametrize(
    ("plan", "problem"),
    [
        ({"customers": 0, "messages": 10}, "--customers must be at least 1"),
        ({"customers": 5, "messages": 10, "channels": [("pbx", "telephony")]}, "no channel account"),
    ],
)
def test_impossible_plans_are_refused_by_name(plan: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        SeedPlan(**plan)  # type: ignore[arg-type]

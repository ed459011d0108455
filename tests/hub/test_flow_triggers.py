"""Flow triggers the hub fires itself, on SQLite and PostgreSQL: a ``schedule`` for a segment's
customers and a customer entering a ``segment``, registered as scheduled jobs, run through the real
pipeline to web chat visitors; and the mistakes validation names."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from bots.flows import FlowError, load_flows
from crm_core.customers import get_customer, set_tags
from crm_core.segments import Segments, save_segment
from hub.flow_triggers import SEGMENT_JOB_ID, fire_schedule, schedule_job_id, sweep_segments, sync_schedules
from hub.runtime import Hub
from hub.scheduler import Fire
from inbox.models import Conversation
from tests.conftest import client_for, drain, hub_config, settings_for
from tests.fakes.webchat import Visitor

REMINDER = """
id: reminder
version: 1
triggers:
  - schedule: "0 10 * * MON"
    audience: vip
    timezone: Europe/Madrid
start: hello
steps:
  hello:
    say: "Good morning {{ name }}! Your weekly VIP picks are in."
"""

OFFERS = """
id: offers
version: 1
triggers:
  - keyword: [offers]
start: which
steps:
  which:
    branch:
      - if: "'vip' in segments"
        then: vip
    else: regular
  vip:
    say: "VIP offer for {{ name }}"
  regular:
    say: "This week's offers"
"""

WELCOME_VIP = """
id: welcome_vip
version: 1
triggers:
  - segment: vip
start: hello
steps:
  hello:
    say: "Welcome to VIP, {{ name }}!"
"""


@pytest.fixture
async def hub(database_url: str, tmp_path: Path) -> AsyncIterator[Hub]:
    folder = tmp_path / "flows"
    folder.mkdir()
    for name, text in {
        "reminder.yaml": REMINDER,
        "welcome_vip.yaml": WELCOME_VIP,
        "offers.yaml": OFFERS,
    }.items():
        (folder / name).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    hub = Hub.build(
        settings_for(database_url, tmp_path / "var"),
        hub_config({"site": {"type": "webchat"}}, flows_dir=str(folder)),
    )
    await hub.start(workers=False)
    async with hub.db.transaction() as session:
        segments = Segments()
        await save_segment(
            session, segments.parse({"id": "vip", "name": "VIP", "conditions": [{"tag": "vip"}]}), by="t"
        )
    yield hub
    await hub.stop()


async def _visitors(hub: Hub, names: list[str]) -> dict[str, tuple[Visitor, int]]:
    """Visitors who wrote once (so the bot has a conversation to speak in), by name -> customer id."""
    found = {}
    async with client_for(hub) as http:
        for name in names:
            visitor = await Visitor.start(http)
            await visitor.say(http, "hi", name=name)
            await drain(hub)
            async with hub.db.session() as session:
                conversation = (
                    (await session.execute(select(Conversation).order_by(Conversation.id.desc()).limit(1)))
                    .scalars()
                    .one()
                )
            found[name] = (visitor, conversation.customer_id)
    return found


async def _tag(hub: Hub, customer_id: int, add: Sequence[str] = (), remove: Sequence[str] = ()) -> None:
    async with hub.db.transaction() as session:
        await set_tags(session, await get_customer(session, customer_id), add, remove)


async def _bot_texts(hub: Hub, visitor: Visitor) -> list[str]:
    async with client_for(hub) as http:
        return [m["text"] for m in await visitor.history(http) if m["direction"] == "outbound"]


async def _fire(hub: Hub, job: str, when: datetime, *args: str) -> None:
    async with hub.db.transaction() as session:
        fire = Fire(job, when, session, hub)
        if job == SEGMENT_JOB_ID:
            await sweep_segments(fire)
        else:
            await fire_schedule(fire, *args)
        callbacks = list(fire._after_commit)
    for callback in callbacks:
        await callback()  # type: ignore[misc]
    await drain(hub)


async def test_the_triggers_become_scheduled_jobs(hub: Hub) -> None:
    assert hub.scheduler is not None and hub.flows is not None
    await sync_schedules(hub)
    jobs = {job.id: job for job in await hub.scheduler.jobs()}
    flow = hub.flows.flows.get("reminder")
    assert flow is not None
    job_id = schedule_job_id(flow, flow.triggers[0])
    assert set(jobs) == {job_id, SEGMENT_JOB_ID}
    assert "0 10 * * MON" in jobs[job_id].schedule and "Europe/Madrid" in jobs[job_id].schedule
    assert jobs[job_id].args == ["reminder", flow.triggers[0].describe()]
    await sync_schedules(hub)  # idempotent
    assert len(await hub.scheduler.jobs()) == 2


async def test_a_schedule_starts_the_flow_for_its_audience(hub: Hub) -> None:
    people = await _visitors(hub, ["Ana", "Bob"])
    await _tag(hub, people["Ana"][1], ["vip"])
    assert hub.flows is not None
    flow = hub.flows.flows.get("reminder")
    assert flow is not None
    monday = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
    await _fire(hub, "x", monday, "reminder", flow.triggers[0].describe())
    assert (await _bot_texts(hub, people["Ana"][0]))[-1] == "Good morning Ana! Your weekly VIP picks are in."
    assert not any("VIP picks" in t for t in await _bot_texts(hub, people["Bob"][0]))
    # A trigger that no longer exists (the flow was edited) starts nothing.
    await _fire(hub, "x", monday, "reminder", "schedule:0 9 * * *:vip:")
    assert sum("VIP picks" in t for t in await _bot_texts(hub, people["Ana"][0])) == 1


async def test_entering_a_segment_starts_the_flow_for_newcomers_only(hub: Hub) -> None:
    people = await _visitors(hub, ["Ana", "Bob", "Cy"])
    await _tag(hub, people["Ana"][1], ["vip"])
    now = datetime.now(UTC)
    await _fire(hub, SEGMENT_JOB_ID, now)  # the first look records who is in already
    assert not any("Welcome to VIP" in t for t in await _bot_texts(hub, people["Ana"][0]))
    await _tag(hub, people["Bob"][1], ["vip"])
    await _fire(hub, SEGMENT_JOB_ID, now)
    await _fire(hub, SEGMENT_JOB_ID, now)  # nothing new the second time
    assert [t for t in await _bot_texts(hub, people["Bob"][0]) if "VIP" in t] == ["Welcome to VIP, Bob!"]
    assert not any("Welcome to VIP" in t for t in await _bot_texts(hub, people["Ana"][0]))
    # Leaving and coming back is entering again; a person talking to Cy keeps the bot away.
    await _tag(hub, people["Bob"][1], remove=["vip"])
    await _fire(hub, SEGMENT_JOB_ID, now)
    await _tag(hub, people["Bob"][1], ["vip"])
    async with hub.db.transaction() as session:
        cys = select(Conversation).where(Conversation.customer_id == people["Cy"][1])
        conversation = (await session.execute(cys)).scalars().one()
        conversation.bot_active = False
        session.add(conversation)
    await _tag(hub, people["Cy"][1], ["vip"])
    await _fire(hub, SEGMENT_JOB_ID, now)
    assert [t for t in await _bot_texts(hub, people["Bob"][0]) if "VIP" in t] == ["Welcome to VIP, Bob!"] * 2
    assert not any("Welcome to VIP" in t for t in await _bot_texts(hub, people["Cy"][0]))


async def test_a_branch_can_ask_whether_the_customer_is_in_a_segment(hub: Hub) -> None:
    people = await _visitors(hub, ["Ana", "Bob"])
    await _tag(hub, people["Ana"][1], ["vip"])
    async with client_for(hub) as http:
        for name in ("Ana", "Bob"):
            await people[name][0].say(http, "offers")
            await drain(hub)
    assert (await _bot_texts(hub, people["Ana"][0]))[-1] == "VIP offer for Ana"
    assert (await _bot_texts(hub, people["Bob"][0]))[-1] == "This week's offers"


@pytest.mark.parametrize(
    ("trigger", "problem"),
    [
        ('- schedule: "0 10 * * MON"', "add 'audience: <segment id>'"),
        ('- schedule: "every monday"\n    audience: vip', "expected 5 fields"),
        ('- schedule: "0 25 * * *"\n    audience: vip', "schedule '0 25 * * *'"),
        ("- segment: Not A Segment", "segment takes the id of a saved segment"),
        ("- segment: vip\n    timezone: Europe/Madrid", "'timezone' only applies to schedule triggers"),
        (
            '- schedule: "0 10 * * *"\n    audience: vip\n    timezone: Mars/Base',
            "'Mars/Base' is not a time zone",
        ),
    ],
)
def test_mistakes_in_these_triggers_are_named(tmp_path: Path, trigger: str, problem: str) -> None:
    (tmp_path / "f.yaml").write_text(
        f"id: f\nversion: 1\ntriggers:\n  {trigger}\nstart: a\nsteps:\n  a:\n    say: hi\n", encoding="utf-8"
    )
    with pytest.raises(FlowError) as caught:
        load_flows(tmp_path)
    assert any(problem in str(p) for p in caught.value.problems), caught.value.problems

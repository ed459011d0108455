"""Fast campaign planning gives exactly what the one-customer path gives.

- Templates whose placeholders are plain lookups are filled in without Jinja
  (hub.campaigns.simple_templates); over many templates and values the text is Jinja's, or the
  fast path declines and Jinja renders it.
- BatchPlan's row tuples equal plan_customer's rows, for both backends' encodings.
- Planning a run through the Planner (bulk inserts, reading ahead) writes, on SQLite and
  PostgreSQL, the rows plan_customer describes; two planners on one run plan each customer once.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import asyncpg
from sqlalchemy.dialects.sqlite import aiosqlite
from sqlalchemy.engine import Dialect

from bots.flows.templating import RenderError, compile_template
from crm_core.consent import set_consent
from crm_core.customers import attach_identity, resolve_identity, update_attributes
from crm_core.models import IdentityKind
from crm_core.segments import Segments, save_segment
from hub.campaigns.bulk_insert import Encoder
from hub.campaigns.content import ContentRenderer, render
from hub.campaigns.definition import CampaignDefinition, parse_campaign
from hub.campaigns.links import CampaignLinks, SendRef
from hub.campaigns.models import Campaign, CampaignRun, CampaignSend
from hub.campaigns.planner import (
    OUTBOX_COLUMNS,
    SEND_COLUMNS,
    BatchPlan,
    Planner,
    plan_customer,
)
from hub.campaigns.reach import CustomerReach, Person, Router, load_reach
from hub.campaigns.rules import MarketingRules
from hub.campaigns.simple_templates import compile_simple
from hub.db import Database
from hub.outbound.models import OutboxItem

# 11:30 UTC: 12:30 in Madrid (sends now), 20:30 in Tokyo (after the 09:00-20:00 send window), 06:30
# in New York (quiet hours, 21:00-09:00).
NOW = datetime(2026, 3, 2, 11, 30, tzinfo=UTC)
LINKS = CampaignLinks(b"test-secret-key-test-secret-key", "https://hub.example.com")


def _link(url: str) -> str:
    if not str(url).startswith(("https://", "http://")):
        raise RenderError(f"link({url!r}): only http(s) links can be tracked")
    return f"https://hub.example.com/c/{len(url)}"


TEMPLATES = [
    "Hi {{ name }}, 20% off this week.",
    "{{ attribute.city }} / {{ attribute['city'] }} / {{ attribute.missing }}",
    "[{{ attribute.missing.deeper }}] [{{ unsubscribe_url.deeper }}]",
    "{{ campaign.name }} ({{ campaign.id }}) on {{ channel }} in {{ locale }}",
    "{{- name -}}   \n   right after the name  ",
    "Trailing newline for {{ name }}\n",
    "  {{ attribute.score }} points  ",
    "{{ attribute['a b'] }} and {{ attribute.nested.k }}",
    "Shop: {{ link('https://shop.example.com/sale') }}",
    "Broken: {{ link('ftp://files.example.com') }}",
    "Leave: {{ unsubscribe_url }}",
    "{{ attribute.items }}",  # a dict method, not the key: Jinja's answer
    "{{ attribute.__class__ }}",
    "{{ tags }}",
    "plain text only",
    "<b>{{ name }}</b> & co",
]
NOT_SIMPLE = [
    "{{ name|upper }}",
    "{% if name %}Hi {{ name }}{% endif %}",
    "{{ range }}",
    "{{ self }}",
    "{{ name ~ '!' }}",
    "{{ 'literal' }}",
    "{{ link(attribute.url) }}",
    "{{ attribute[0] }}",
]
NAMES: list[dict[str, Any]] = [
    {
        "name": "Ana",
        "attribute": {
            "city": "Madrid",
            "score": 7,
            "a b": "spaced",
            "nested": {"k": "v"},
            "url": "https://x",
        },
        "tags": ["vip"],
        "locale": "es-AR",
        "channel": "sms",
        "campaign": {"id": "spring", "name": "Spring sale"},
        "link": _link,
        "unsubscribe_url": "https://hub.example.com/u/abc",
    },
    {
        "name": "there",
        "attribute": {},
        "tags": [],
        "locale": "en",
        "channel": "email",
        "campaign": {"id": "spring", "name": "Spring sale"},
        "link": _link,
    },
    {
        "name": "Ñandú 🙂",
        "attribute": {"city": None, "score": 2.5, "nested": {"k": 1}, "items": "a key named items"},
        "tags": [],
        "locale": "es",
        "channel": "viber",
        "campaign": {"id": "spring", "name": "Spring sale"},
        "link": _link,
    },
    {
        "name": "Bo",
        "attribute": {"city": ["a", "list"], "score": True, "nested": "not a dict"},
        "tags": [],
        "locale": "en",
        "channel": "telegram",
        "campaign": {"id": "spring", "name": "Spring sale"},
        "link": _link,
    },
]


def _jinja(source: str, names: dict[str, Any]) -> str:
    try:
        return compile_template(source).render(names)
    except RenderError as exc:
        return f"RenderError: {exc}"


def _fast(source: str, names: dict[str, Any]) -> str | None:
    simple = compile_simple(compile_template(source))
    assert simple is not None, source
    try:
        return simple.render(names)
    except RenderError as exc:
        return f"RenderError: {exc}"


@pytest.mark.parametrize("source", TEMPLATES)
def test_a_simple_template_renders_what_jinja_renders(source: str) -> None:
    for names in NAMES:
        fast = _fast(source, names)
        if fast is not None:  # None: these values need Jinja, which then renders them
            assert fast == _jinja(source, names), (source, names["name"])


def test_the_fast_path_takes_plain_values_and_declines_the_rest() -> None:
    ana, _, odd, bo = NAMES
    assert _fast("Hi {{ name }}, 20% off this week.", ana) == "Hi Ana, 20% off this week."
    assert _fast("  {{ attribute.score }} points  ", odd) == "2.5 points"
    assert _fast("  {{ attribute.score }} points  ", bo) == "True points"
    assert _fast("{{ attribute.city }}", odd) == "None"  # as Jinja prints None
    assert _fast("{{ attribute.city }}", bo) is None  # a list: Jinja's job
    assert _fast("{{ attribute.nested.k }}", bo) is None  # a lookup on a text
    assert _fast("{{ attribute.items }}", ana) is None
    assert _fast("{{ tags }}", ana) is None
    assert _fast("Broken: {{ link('ftp://files.example.com') }}", ana) == _jinja(
        "Broken: {{ link('ftp://files.example.com') }}", ana
    )


@pytest.mark.parametrize("source", NOT_SIMPLE)
def test_templates_with_more_than_lookups_are_left_to_jinja(source: str) -> None:
    assert compile_simple(compile_template(source)) is None


CAMPAIGN: dict[str, Any] = {
    "id": "spring",
    "name": "Spring sale",
    "audience": "everyone",
    "channels": ["telegram", "viber", "sms", "email"],
    "send_window": "09:00-20:00",
    "content": {
        "default": {
            "en": "Hi {{ name }}! {{ attribute.city }} deals: {{ link('https://shop.example.com/spring') }}",
            "es": "¡Hola {{ name }}! Ofertas en {{ attribute.city }}",
        },
        "email": {
            "subject": {"en": "Spring for {{ name }}", "es": "Primavera"},
            "text": {"en": "Dear {{ name }}, see you.", "es": "Hola {{ name }}. Baja: {{ unsubscribe_url }}"},
        },
        "telegram": {
            "text": {"en": "{{ name }}: {{ campaign.name }}"},
            "buttons": [{"title": {"en": "Shop {{ attribute.city }}"}, "url": "https://shop.example.com/tg"}],
        },
    },
    "variants": [
        {"id": "a", "weight": 50},
        # Not simple (a filter): every customer of variant b goes through Jinja.
        {"id": "b", "weight": 50, "content": {"sms": {"en": "{{ name|upper }} {{ link(attribute.site) }}"}}},
    ],
}


def _definition(data: dict[str, Any] | None = None) -> CampaignDefinition:
    segments = Segments()
    everyone = segments.parse({"id": "everyone", "name": "Everyone", "conditions": []})
    return parse_campaign(data or CAMPAIGN, segments=segments, saved_segments={"everyone": everyone})


PEOPLE = [
    Person(1, "Ana", "es-AR", "Europe/Madrid", {"city": "Madrid"}, ["vip"]),
    Person(2, "", "en", "Asia/Tokyo", {}, []),
    Person(3, "Bo", None, None, {"city": ["not", "text"], "site": "https://bo.example.com"}, []),
    Person(4, "Cy", "en-GB", "Nowhere/Unknown", {"city": "Leeds", "site": "ftp://bad"}, []),
    Person(5, "Dee", "es", "America/New_York", {"city": "Quito"}, []),
]
ADDRESSES = {"telegram": "1001", "viber": "v-1", "phone": "+34600000001", "email": "c@example.com"}
ROUTER = Router([("telegram", "tg"), ("viber", "vb"), ("sms", "sms-main"), ("email", "mail")])


def _reaches() -> list[CustomerReach]:
    """Every person on every channel type, so each channel's content is exercised."""
    reaches = []
    for kind in ("telegram", "viber", "phone", "email", None):
        for person in PEOPLE:
            reach = CustomerReach(person)
            if kind is not None:
                reach.addresses[kind] = ADDRESSES[kind]
                reach.consents[({"phone": "sms"}.get(kind, kind), "marketing")] = True
            reaches.append(reach)
    return reaches


def _encoded(row: dict[str, Any], table: Any, columns: tuple[str, ...], dialect: Dialect) -> tuple[Any, ...]:
    return tuple(Encoder(table, column, dialect)(row[column]) for column in columns)


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


@pytest.mark.parametrize(
    "dialect",
    [aiosqlite.dialect(), asyncpg.dialect(), aiosqlite.dialect(json_serializer=_compact)],
    ids=["sqlite", "postgres", "own json serializer"],
)
def test_batch_rows_equal_the_one_customer_rows(dialect: Dialect) -> None:
    definition = _definition()
    rules = MarketingRules()
    plan = BatchPlan(definition, run_key="launch", rules=rules, now=NOW, dialect=dialect, links=LINKS)
    sends, outbox = CampaignSend.__table__, OutboxItem.__table__  # type: ignore[attr-defined]
    seen_outcomes = set()
    for reach in _reaches():
        route = ROUTER.route(reach, definition.channels, definition.purpose.value)
        reference = plan_customer(
            definition, reach.customer, route, run_key="launch", rules=rules, now=NOW, links=LINKS
        )
        send, queued = plan.rows(reach.customer, route)
        assert send == _encoded(reference.send, sends, SEND_COLUMNS, dialect)
        assert {k: v for k, v in reference.send.items() if k not in SEND_COLUMNS and v is not None} == {}
        if reference.outbox is None:
            assert queued is None
        else:
            assert queued == _encoded(reference.outbox, outbox, OUTBOX_COLUMNS, dialect)
            assert reference.outbox["message_id"] is None
        seen_outcomes.add((reference.send["status"], reference.send["held_for"], route.__class__.__name__))
    # The cases this was meant to cover did occur: sent now, held by quiet hours or the send
    # window, skipped for no route and for content that failed (variant b's ftp link).
    statuses = {(status.value, held) for status, held, _ in seen_outcomes}
    assert {
        ("queued", None),
        ("queued", "quiet_hours"),
        ("queued", "send_window"),
        ("skipped", None),
    } <= statuses


def test_content_renderer_matches_render_for_every_channel_variant_and_language() -> None:
    definition = _definition()
    renderer = ContentRenderer(definition, LINKS)
    for person in PEOPLE:
        for channel in ("telegram", "viber", "sms", "email"):
            for variant in ("a", "b"):
                ref = SendRef("spring", "launch", "main", person.id)
                try:
                    expected: Any = render(definition, channel, variant, person, links=LINKS, ref=ref)
                except RenderError as exc:
                    expected = f"RenderError: {exc}"
                try:
                    got: Any = renderer.render(channel, variant, person, ref)
                except RenderError as exc:
                    got = f"RenderError: {exc}"
                assert got == expected, (person.id, channel, variant)
    assert renderer.reads_documents()  # attribute.city is read, and variant b is not simple
    plain = _definition(
        {**CAMPAIGN, "channels": ["sms"], "content": {"default": {"en": "Hi {{ name }}"}}, "variants": None}
    )
    assert not ContentRenderer(plain, LINKS).reads_documents()


# -- through the database ---------------------------------------------------------------------------


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


async def _people(db: Database) -> list[int]:
    """Customers on various channels, languages and time zones; one refused SMS marketing."""
    ids = []
    async with db.transaction() as session:
        for n in range(11):
            kind, address = [
                (IdentityKind.TELEGRAM, f"{2000 + n}"),
                (IdentityKind.VIBER, f"viber-{n}"),
                (IdentityKind.PHONE, f"+3460000{n:04d}"),
                (IdentityKind.EMAIL, f"c{n}@example.com"),
            ][n % 4]
            customer = (await resolve_identity(session, kind, address, verified=True, source="t")).customer
            if n % 3 == 0:
                await attach_identity(
                    session, customer, IdentityKind.PHONE, f"+3461000{n:04d}", verified=False, source="t"
                )
            customer.display_name = "" if n == 5 else f"C{n}"
            customer.locale = ["es", "en", None, "es-MX"][n % 4]
            customer.timezone = ["Europe/Madrid", "Asia/Tokyo", None][n % 3]
            session.add(customer)
            await update_attributes(session, customer, {"city": f"City {n}", "site": "https://c.example.com"})
            for channel in ("telegram", "viber", "sms", "email"):
                await set_consent(session, customer.id, channel, "marketing", n != 7, source="t")
            ids.append(customer.id)
        everyone = Segments().parse({"id": "everyone", "name": "Everyone", "conditions": []})
        await save_segment(session, everyone, by="test")
        session.add(Campaign(id="spring", name="Spring sale", definition=CAMPAIGN))
    return ids  # type: ignore[return-value]


async def _run(db: Database, key: str) -> int:
    async with db.transaction() as session:
        run = CampaignRun(campaign_id="spring", key=key)
        session.add(run)
        await session.flush()
        return run.id  # type: ignore[return-value]


def _planner(db: Database, batch_size: int) -> Planner:
    return Planner(db, ROUTER, MarketingRules(), Segments(), batch_size=batch_size, links=LINKS)


Rows = dict[int, tuple[dict[str, Any], dict[str, Any] | None]]


async def _written(db: Database, run_key: str) -> Rows:
    async with db.session() as session:
        sends = (await session.execute(select(CampaignSend).where(CampaignSend.run_key == run_key))).scalars()
        outbox = {
            o.idempotency_key: o
            for o in (await session.execute(select(OutboxItem))).scalars()
            if f":{run_key}:" in o.idempotency_key
        }
    found: Rows = {}
    for send in sends:
        row = send.model_dump(include=set(SEND_COLUMNS))
        key = f"campaign:spring:{run_key}:main:{send.customer_id}:0"
        item = outbox.get(key)
        found[send.customer_id] = (row, item.model_dump(include=set(OUTBOX_COLUMNS)) if item else None)
    return found


async def _reference(db: Database, ids: list[int], run_key: str) -> Rows:
    definition = _definition()
    async with db.session() as session:
        reach = await load_reach(session, ids)
    expected: Rows = {}
    for customer_id in ids:
        facts = reach[customer_id]
        route = ROUTER.route(facts, definition.channels, definition.purpose.value)
        planned = plan_customer(
            definition, facts.customer, route, run_key=run_key, rules=MarketingRules(), now=NOW, links=LINKS
        )
        send = {k: planned.send[k] for k in SEND_COLUMNS}
        outbox = {k: planned.outbox[k] for k in OUTBOX_COLUMNS} if planned.outbox else None
        expected[customer_id] = (send, outbox)
    return expected


async def test_the_planner_writes_the_rows_of_the_one_customer_path(db: Database) -> None:
    ids = await _people(db)
    run_id = await _run(db, "launch")
    progress: list[tuple[int, int]] = []
    run = await _planner(db, batch_size=4).plan_run(
        run_id, _definition(), now=NOW, progress=lambda done, total: progress.append((done, total))
    )
    assert run.finished_at is not None and run.planned == len(ids) and run.cursor == ids[-1]
    assert progress == [(4, 11), (8, 11), (11, 11)]
    written = await _written(db, "launch")
    assert written == await _reference(db, ids, "launch")
    assert {send["status"] for send, _ in written.values()} >= {"queued", "skipped"}


async def test_two_planners_on_one_run_plan_each_customer_once(db: Database) -> None:
    ids = await _people(db)
    run_id = await _run(db, "launch")
    first, second = _planner(db, batch_size=2), _planner(db, batch_size=3)
    runs = await asyncio.gather(
        first.plan_run(run_id, _definition(), now=NOW), second.plan_run(run_id, _definition(), now=NOW)
    )
    assert all(r.finished_at is not None for r in runs)
    async with db.session() as session:
        run = await session.get(CampaignRun, run_id)
    assert run is not None and run.planned == len(ids)
    assert await _written(db, "launch") == await _reference(db, ids, "launch")


class Crash(Exception):
    """The process stopping mid-planning."""


def _crash_after(batches: int) -> Callable[[int, int], None]:
    calls = {"n": 0}

    def progress(done: int, total: int) -> None:
        calls["n"] += 1
        if calls["n"] == batches:
            raise Crash

    return progress


async def test_planning_stopped_midway_resumes_where_it_was(db: Database) -> None:
    ids = await _people(db)
    run_id = await _run(db, "launch")
    with pytest.raises(Crash):
        await _planner(db, batch_size=3).plan_run(run_id, _definition(), now=NOW, progress=_crash_after(2))
    assert len(await _written(db, "launch")) == 6
    run = await _planner(db, batch_size=5).plan_run(run_id, _definition(), now=NOW)
    assert run.planned == len(ids)
    assert await _written(db, "launch") == await _reference(db, ids, "launch")

"""Segments evaluated in SQL on both backends, against a small population whose expected members
are worked out by hand; and definitions with mistakes, each reported at its place.

Every case runs twice: with order figures read from the order summaries (the default) and with
them aggregated from the order events, which must agree — also after a merge and its undo."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from crm_core.columns import utcnow
from crm_core.consent import set_consent
from crm_core.customers import attach_identity, record_event, resolve_identity, set_tags, update_attributes
from crm_core.merge import merge_customers, undo_merge
from crm_core.models import AttributeDefinition, AttributeType, Customer, IdentityKind
from crm_core.segments import SegmentError, Segments, parse_segment
from crm_core.segments.sql import FactCompiler
from hub.runtime import Hub

NOW = utcnow().replace(microsecond=0)


async def _population(hub: Hub) -> dict[str, int]:
    """ana: Madrid VIP with two recent orders, birthday today, Telegram + phone, SMS marketing yes.
    bob: Sevilla, no orders, SMS marketing refused, abandoned a cart half an hour ago.
    dee: one old order with a broken amount, a low CSAT, a text where others have a number.
    cy: was merged into ana (never matches anything)."""
    ids: dict[str, int] = {}
    async with hub.db.transaction() as session:
        session.add(AttributeDefinition(key="age", type=AttributeType.NUMBER))
        session.add(AttributeDefinition(key="birthday", type=AttributeType.DATE))
        session.add(AttributeDefinition(key="newsletter", type=AttributeType.BOOLEAN))
        session.add(AttributeDefinition(key="member_since", type=AttributeType.DATETIME))
        await session.flush()

        ana = (
            await resolve_identity(session, IdentityKind.TELEGRAM, "1001", verified=True, source="t")
        ).customer
        await attach_identity(session, ana, IdentityKind.PHONE, "+34600111222", verified=True, source="t")
        ana.locale = "es-AR"
        await update_attributes(
            session,
            ana,
            {
                "city": "Madrid",
                "age": 34,
                "birthday": NOW.date().replace(year=1990).isoformat(),
                "newsletter": True,
                "member_since": (NOW - timedelta(days=400)).isoformat(),
                "score": 7,
            },
        )
        await set_tags(session, ana, ["vip", "early_adopter"])
        await set_consent(session, ana.id, "sms", "marketing", True, source="t")
        await record_event(
            session, ana, "order.created", {"amount": 120}, occurred_at=NOW - timedelta(days=10)
        )
        await record_event(
            session, ana, "order.created", {"amount": 80.5}, occurred_at=NOW - timedelta(days=40)
        )

        bob = (
            await resolve_identity(session, IdentityKind.EMAIL, "bob@example.com", verified=True, source="t")
        ).customer
        bob.locale = "en"
        await update_attributes(session, bob, {"city": "Sevilla", "age": 19, "newsletter": False})
        await set_consent(session, bob.id, "sms", "marketing", False, source="STOP")
        await record_event(
            session,
            bob,
            "cart.abandoned",
            {"total": 59, "coupon": True},
            occurred_at=NOW - timedelta(minutes=30),
        )

        dee = (
            await resolve_identity(session, IdentityKind.PHONE, "+34600333444", verified=True, source="t")
        ).customer
        await update_attributes(session, dee, {"csat": 2, "score": "n/a", "city": "madrid centro"})
        await record_event(
            session, dee, "order.created", {"amount": "oops"}, occurred_at=NOW - timedelta(days=100)
        )

        cy = (
            await resolve_identity(session, IdentityKind.VIBER, "cy-viber", verified=True, source="t")
        ).customer
        await set_tags(session, cy, ["vip"])
        cy.merged_into_id = ana.id
        session.add_all([ana, bob, cy])
        ids.update(ana=ana.id, bob=bob.id, dee=dee.id, cy=cy.id)
    return ids


async def _members(hub: Hub, segments: Segments, conditions: list[Any], ids: dict[str, int]) -> set[str]:
    segment = segments.parse({"id": "s", "name": "S", "conditions": conditions})
    names = {v: k for k, v in ids.items()}
    async with hub.db.session() as session:
        found: list[int] = []
        after = 0
        while batch := await segments.member_ids(session, segment, after_id=after, limit=2, now=NOW):
            found += batch
            after = batch[-1]
        count = await segments.count(session, segment, now=NOW)
    assert count == len(found)
    return {names[i] for i in found}


CASES: list[tuple[str, list[Any], set[str]]] = [
    ("everyone", [], {"ana", "bob", "dee"}),
    ("a tag", [{"tag": "vip"}], {"ana"}),
    ("without a tag", [{"no_tag": "vip"}], {"bob", "dee"}),
    ("language prefix", [{"locale": "es"}], {"ana"}),
    ("text equality", [{"attribute": "city", "eq": "Madrid"}], {"ana"}),
    ("text in a list", [{"attribute": "city", "in": ["Madrid", "Sevilla"]}], {"ana", "bob"}),
    ("text contains, any case", [{"attribute": "city", "contains": "MADRID"}], {"ana", "dee"}),
    (
        "not: missing values count as not matching",
        [{"not": {"attribute": "city", "eq": "Madrid"}}],
        {"bob", "dee"},
    ),
    ("a number range", [{"attribute": "age", "gte": 18, "lt": 30}], {"bob"}),
    ("undeclared number ignores text values", [{"attribute": "score", "gt": 5}], {"ana"}),
    ("a flag", [{"attribute": "newsletter", "eq": False}], {"bob"}),
    ("exists", [{"attribute": "csat", "exists": True}], {"dee"}),
    ("does not exist", [{"attribute": "age", "exists": False}], {"dee"}),
    ("birthday today", [{"attribute": "birthday", "birthday": "today"}], {"ana"}),
    ("datetime relative", [{"attribute": "member_since", "before": "1 weeks ago"}], {"ana"}),
    ("datetime relative, not yet", [{"attribute": "member_since", "after": "30 days ago"}], set()),
    ("has a channel", [{"channel": "phone"}], {"ana", "dee"}),
    ("lacks a channel", [{"no_channel": "telegram"}], {"bob", "dee"}),
    ("consent granted", [{"consent": {"channel": "sms", "purpose": "marketing"}}], {"ana"}),
    ("consent not granted (refused or never asked)", [{"no_consent": {"channel": "sms"}}], {"bob", "dee"}),
    ("event within", [{"event": "order.created", "within": "30 days"}], {"ana"}),
    ("event ever", [{"event": "order.created"}], {"ana", "dee"}),
    ("no event within", [{"no_event": "order.created", "within": "60 days"}], {"bob", "dee"}),
    ("event count", [{"event": "order.created", "count": {"gte": 2}}], {"ana"}),
    ("event sum", [{"event": "order.created", "sum": {"amount": {"gt": 200}}}], {"ana"}),
    (
        "event sum below (none counts 0)",
        [{"event": "order.created", "sum": {"amount": {"lt": 50}}}],
        {"bob", "dee"},
    ),
    (
        "event payload where",
        [{"event": "cart.abandoned", "within": "1 hour", "where": {"coupon": True}}],
        {"bob"},
    ),
    ("event payload where, no match", [{"event": "cart.abandoned", "where": {"total": 60}}], set()),
    ("ltv", [{"ltv": {"gte": 200}}], {"ana"}),
    ("monetary within", [{"ltv": {"gte": 100}, "within": "30 days"}], {"ana"}),
    ("orders (frequency)", [{"orders": 1}], {"dee"}),
    ("aov", [{"aov": {"gt": 100}}], {"ana"}),
    ("aov of an order whose amount is not a number", [{"aov": {"lt": 1}}], {"dee"}),
    ("ltv 0: non-buyers and a broken amount", [{"ltv": {"eq": 0}}], {"bob", "dee"}),
    ("no event ever", [{"no_event": "order.created"}], {"bob"}),
    (
        "event count within (from the events)",
        [{"event": "order.created", "within": "30 days", "count": 1}],
        {"ana"},
    ),
    (
        "event sum of another payload field (from the events)",
        [{"event": "order.created", "sum": {"total": {"gte": 0}}}],
        {"ana", "bob", "dee"},
    ),
    (
        "all-time and windowed figures together",
        [{"orders": {"gte": 1}}, {"ltv": {"gte": 100}, "within": "30 days"}],
        {"ana"},
    ),
    ("recency", [{"days_since_last_order": {"gte": 60}}], {"dee"}),
    ("recency, recent", [{"days_since_last_order": {"lte": 10}}], {"ana"}),
    (
        "RFM pair (one shared aggregate)",
        [{"ltv": {"gte": 100}}, {"days_since_last_order": {"gte": 5}}],
        {"ana"},
    ),
    ("figures that non-buyers match", [{"ltv": {"lt": 100}}, {"orders": {"lt": 1}}], {"bob"}),
    ("created", [{"created": {"after": "1 day ago"}}], {"ana", "bob", "dee"}),
    ("any of", [{"any": [{"tag": "vip"}, {"attribute": "csat", "lte": 2}]}], {"ana", "dee"}),
    ("all of, nested", [{"all": [{"channel": "phone"}, {"not": {"tag": "vip"}}]}], {"dee"}),
    ("open conversation fact", [{"open_conversation": True}], {"bob"}),
]


@pytest.mark.parametrize(("title", "conditions", "expected"), CASES, ids=[c[0] for c in CASES])
async def test_segment_members(hub: Hub, title: str, conditions: list[Any], expected: set[str]) -> None:
    ids = await _population(hub)

    # A stand-in fact, as the inbox registers its own: "bob has an open conversation".
    def open_conversation(value: Any, customer_id: Any, now: datetime) -> Any:
        return (customer_id == ids["bob"]) if value else (customer_id != ids["bob"])

    facts: dict[str, FactCompiler] = {"open_conversation": open_conversation}
    assert await _members(hub, Segments(facts=facts), conditions, ids) == expected, title
    from_events = Segments(facts=facts, order_summaries=False)
    assert await _members(hub, from_events, conditions, ids) == expected, f"{title} (from the events)"


MERGE_CASES: list[tuple[list[Any], set[str], set[str]]] = [
    # conditions, members once dee is merged into bob, members after the undo
    ([{"orders": 1}], {"bob"}, {"dee"}),
    ([{"days_since_last_order": {"gte": 60}}], {"bob"}, {"dee"}),
    ([{"event": "order.created"}], {"ana", "bob"}, {"ana", "dee"}),
    ([{"no_event": "order.created"}], set(), {"bob"}),
    ([{"ltv": {"eq": 0}}], {"bob"}, {"bob", "dee"}),
    ([{"ltv": {"gte": 200}}, {"orders": {"gte": 2}}], {"ana"}, {"ana"}),
]


async def test_order_figures_follow_a_merge_and_its_undo(hub: Hub) -> None:
    """dee's one order (amount not a number, 100 days ago) moves to bob, who had none, and back."""
    ids = await _population(hub)
    async with hub.db.transaction() as session:
        merge_id = (await merge_customers(session, ids["bob"], ids["dee"], by="test")).id
    for segments in (Segments(), Segments(order_summaries=False)):
        for conditions, merged, _ in MERGE_CASES:
            assert await _members(hub, segments, conditions, ids) == merged, conditions
    async with hub.db.transaction() as session:
        await undo_merge(session, merge_id, by="test")
    for segments in (Segments(), Segments(order_summaries=False)):
        for conditions, _, undone in MERGE_CASES:
            assert await _members(hub, segments, conditions, ids) == undone, conditions


async def test_contains_and_sample(hub: Hub) -> None:
    ids = await _population(hub)
    segments = Segments()
    segment = segments.parse({"id": "buyers", "name": "Buyers", "conditions": [{"event": "order.created"}]})
    async with hub.db.session() as session:
        assert await segments.contains(session, segment, ids["ana"], now=NOW)
        assert not await segments.contains(session, segment, ids["bob"], now=NOW)
        # The merged-away record is never a member, even though its own rows would match "vip".
        vip = segments.parse({"id": "vip", "name": "VIP", "conditions": [{"tag": "vip"}]})
        assert not await segments.contains(session, vip, ids["cy"], now=NOW)
        sample = await segments.sample(session, segment, limit=1, now=NOW)
        assert [c.id for c in sample] == [ids["dee"]]  # newest first
        total = (await session.execute(select(func.count()).select_from(Customer))).scalar_one()
        assert total == 4


@pytest.mark.parametrize(
    ("definition", "problem"),
    [
        ({"id": "Bad Id", "name": "x", "conditions": []}, "id: 'Bad Id' is not a segment id"),
        ({"id": "s", "name": "x"}, "conditions: a list of conditions"),
        (
            {"id": "s", "name": "x", "conditions": [{"tagg": "vip"}]},
            "conditions[0]: unknown condition 'tagg'",
        ),
        (
            {"id": "s", "name": "x", "conditions": [{"attribute": "age", "greater": 3}]},
            "conditions[0].greater: unknown comparison",
        ),
        (
            {"id": "s", "name": "x", "conditions": [{"event": "order.created", "within": "a while"}]},
            "conditions[0].within: 'a while' is not a span",
        ),
        (
            {"id": "s", "name": "x", "conditions": [{"any": [{"tag": "a"}, {"channel": "fax"}]}]},
            "conditions[0].any[1].channel: 'fax' is not one of",
        ),
        (
            {"id": "s", "name": "x", "conditions": [{"attribute": "birthday", "birthday": "soon"}]},
            "conditions[0].birthday: 'soon': use today",
        ),
        (
            {"id": "s", "name": "x", "conditions": [{"ltv": {"gte": "lots"}}]},
            "conditions[0].ltv.gte: a number, got 'lots'",
        ),
        (
            {"id": "s", "name": "x", "conditions": [{"no_event": "order.created", "count": 2}]},
            "no_event takes only within and where",
        ),
        (
            {"id": "s", "name": "x", "conditions": [{"consent": {"channel": "sms", "purpose": "spam"}}]},
            "conditions[0].consent.purpose: 'spam' is not one of marketing, transactional",
        ),
        (
            {"id": "s", "name": "x", "conditions": [{"created": {"after": "yesterday-ish"}}]},
            "conditions[0].created.gt: 'yesterday-ish' is not a date",
        ),
        (
            {"id": "s", "name": "x", "conditions": [{"attribute": "a.b'c", "eq": 1}]},
            'conditions[0].attribute: "a.b\'c" is not an attribute name',
        ),
    ],
)
def test_mistakes_are_named_where_they_are(definition: dict[str, Any], problem: str) -> None:
    with pytest.raises(SegmentError) as caught:
        parse_segment(definition)
    assert any(problem in p for p in caught.value.problems), caught.value.problems


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(SegmentError) as caught:
        parse_segment({"id": "s", "name": "x", "conditions": [{"tag": ""}, {"channel": "fax"}, 5]})
    assert len(caught.value.problems) == 3

"""SLA policies and the due times they put on conversations.

When the clocks run: only while people are in charge of a conversation (the bot is off) and it is
not resolved. ``sla_started_at`` is when people took it over (a handoff, a transfer with the bot
off, a new conversation no bot takes, a reopen); handing it back to the bot or resolving it stops
every clock, and the next takeover starts them again.

The targets of the policy in force (``policy_for``: the most specific enabled policy matching the
conversation's team, priority and channel type):

- **first response**: until the first reply of a person; from the later of the takeover and the
  customer's oldest unanswered message;
- **next response**: after that first reply, each time the customer writes again, until a person
  answers; from the customer's oldest unanswered message (``waiting_since``);
- **resolution**: from the takeover until resolved.

Each due time is its start plus the policy's minutes, counted in business hours when the policy says
so (inbox/business_time.py). A target is at risk once ``at_risk_percent`` of its time has gone.
``refresh`` recomputes a conversation's due times after anything that changes them (the hub calls
it: hub/routing.py); ``recompute`` does so for every conversation a policy or hours change touches.
A snoozed conversation keeps its due times but raises no alerts and is not listed as at risk while
snoozed (the agent put it aside on purpose); it does once it wakes.

Alerts: ``due_alerts`` finds conversations whose next at-risk or due moment has come and claims
each alert once in ``sla_alerts`` (unique per conversation, target, kind and clock start), so with
several processes looking an alert is raised once; the hub turns claims into timeline events that
flows trigger on (hub/sla_watch.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from crm_core.columns import utcnow
from crm_core.models import Customer
from inbox import business_hours
from inbox.business_time import OpeningHours
from inbox.models import Conversation, ConversationStatus
from inbox.sla_models import SlaAlert, SlaAlertKind, SlaPolicy, SlaTarget

# Statuses in which SLA clocks raise alerts and count as at risk (snoozed is put aside on purpose).
ACTIVE = (ConversationStatus.OPEN, ConversationStatus.PENDING)
BATCH = 200


@dataclass(frozen=True)
class Target:
    """One running clock of a conversation."""

    name: SlaTarget
    started_at: datetime
    due_at: datetime
    at_risk_at: datetime


@dataclass(frozen=True)
class Alert:
    """An alert claimed for raising (it was not raised before)."""

    conversation_id: int
    customer_id: int
    target: SlaTarget
    kind: SlaAlertKind
    due_at: datetime
    policy_id: int | None
    policy_name: str | None


# ---- which policy ----------------------------------------------------------------------------------


def matches(policy: SlaPolicy, conversation: Conversation) -> bool:
    return (
        policy.enabled
        and (policy.team_id is None or policy.team_id == conversation.team_id)
        and (policy.priority is None or policy.priority == conversation.priority)
        and (policy.channel_type is None or policy.channel_type == conversation.channel_type)
    )


def _specificity(policy: SlaPolicy) -> tuple[int, bool, bool, bool, int]:
    """More criteria first; between as many, team before priority before channel; then the older."""
    criteria = (policy.team_id is not None, policy.priority is not None, policy.channel_type is not None)
    return (sum(criteria), *criteria, -(policy.id or 0))


def best_policy(policies: Sequence[SlaPolicy], conversation: Conversation) -> SlaPolicy | None:
    candidates = [p for p in policies if matches(p, conversation)]
    return max(candidates, key=_specificity, default=None)


async def enabled_policies(session: AsyncSession) -> list[SlaPolicy]:
    found = await session.execute(select(SlaPolicy).where(SlaPolicy.enabled.is_(True)))  # type: ignore[attr-defined]
    return list(found.scalars())


# ---- the clocks ------------------------------------------------------------------------------------


def _later(*moments: datetime | None) -> datetime | None:
    present = [m for m in moments if m is not None]
    return max(present) if present else None


def targets(conversation: Conversation, policy: SlaPolicy | None, hours: OpeningHours) -> list[Target]:
    """The clocks running on ``conversation`` under ``policy`` (see the module docstring)."""
    started = conversation.sla_started_at
    if (
        policy is None
        or started is None
        or conversation.bot_active
        or conversation.status is ConversationStatus.RESOLVED
    ):
        return []
    clock = hours if policy.business_hours else OpeningHours()
    share = policy.at_risk_percent / 100

    def target(name: SlaTarget, start: datetime, minutes: int) -> Target:
        return Target(
            name, start, clock.add_minutes(start, minutes), clock.add_minutes(start, minutes * share)
        )

    running = []
    waiting = conversation.waiting_since
    if conversation.first_response_at is None:
        if policy.first_response_minutes is not None and waiting is not None:
            start = _later(started, waiting)
            assert start is not None
            running.append(target(SlaTarget.FIRST_RESPONSE, start, policy.first_response_minutes))
    elif policy.next_response_minutes is not None and waiting is not None:
        start = _later(started, waiting)
        assert start is not None
        running.append(target(SlaTarget.NEXT_RESPONSE, start, policy.next_response_minutes))
    if policy.resolution_minutes is not None:
        running.append(target(SlaTarget.RESOLUTION, started, policy.resolution_minutes))
    return running


def _apply(conversation: Conversation, policy: SlaPolicy | None, running: Sequence[Target]) -> None:
    due = {t.name: t.due_at for t in running}
    conversation.sla_policy_id = policy.id if policy is not None and running else None
    conversation.first_response_due_at = due.get(SlaTarget.FIRST_RESPONSE)
    conversation.next_response_due_at = due.get(SlaTarget.NEXT_RESPONSE)
    conversation.resolution_due_at = due.get(SlaTarget.RESOLUTION)
    conversation.sla_at_risk_at = min((t.at_risk_at for t in running), default=None)
    # The watcher looks at the earliest moment of all; the alert ledger skips what was raised.
    conversation.sla_check_at = conversation.sla_at_risk_at


async def refresh(
    session: AsyncSession,
    conversation: Conversation,
    now: datetime | None = None,
    *,
    policies: Sequence[SlaPolicy] | None = None,
    hours: OpeningHours | None = None,
) -> None:
    """Bring the conversation's due times up to date with its state (call after any change to its
    status, bot, team, priority, channel, or the customer's wait). ``policies`` and ``hours`` save
    the lookups when recomputing many."""
    if conversation.bot_active or conversation.status is ConversationStatus.RESOLVED:
        conversation.sla_started_at = None
    elif conversation.sla_started_at is None:
        conversation.sla_started_at = now or utcnow()
    policy = None
    if conversation.sla_started_at is not None:
        policy = best_policy(
            policies if policies is not None else await enabled_policies(session), conversation
        )
    if policy is not None and policy.business_hours and hours is None:
        hours = await business_hours.load(session)
    _apply(conversation, policy, targets(conversation, policy, hours or OpeningHours()))
    session.add(conversation)


def _dues(conversation: Conversation) -> tuple[datetime | None, ...]:
    return (
        conversation.first_response_due_at,
        conversation.next_response_due_at,
        conversation.resolution_due_at,
        conversation.sla_at_risk_at,
    )


async def recompute(session: AsyncSession, *, business_hours_only: bool = False) -> list[int]:
    """Recompute every conversation people hold (after a policy or the business hours changed);
    the ids of those whose due times moved. ``business_hours_only``: only those under a policy
    counting business hours (what an hours change can move)."""
    policies = await enabled_policies(session)
    hours = await business_hours.load(session)
    statement = select(Conversation).where(Conversation.sla_started_at.is_not(None))  # type: ignore[union-attr]
    if business_hours_only:
        counting = select(SlaPolicy.id).where(SlaPolicy.business_hours.is_(True))  # type: ignore[attr-defined]
        statement = statement.where(Conversation.sla_policy_id.in_(counting))  # type: ignore[union-attr]
    moved: list[int] = []
    last_id = 0
    while True:
        page = statement.where(Conversation.id > last_id).order_by(Conversation.id).limit(BATCH)  # type: ignore[arg-type, operator]
        conversations = list((await session.execute(page)).scalars())
        for conversation in conversations:
            before = _dues(conversation)
            await refresh(session, conversation, policies=policies, hours=hours)
            if _dues(conversation) != before:
                moved.append(conversation.id or 0)
        await session.flush()
        if len(conversations) < BATCH:
            return moved
        last_id = conversations[-1].id or 0


# ---- the list filter -----------------------------------------------------------------------------


def at_risk_condition(now: datetime) -> list[ColumnElement[bool]]:
    """Conversations with a target at risk or breached, not resolved nor put aside (the list's
    "SLA at risk"). Walks ix_conversations_status_sla_risk."""
    return [
        Conversation.status.in_(ACTIVE),  # type: ignore[attr-defined]
        Conversation.sla_at_risk_at <= now,  # type: ignore[operator]
    ]


# ---- alerts ------------------------------------------------------------------------------------------


async def due_conversations(session: AsyncSession, now: datetime, limit: int = BATCH) -> list[int]:
    """Conversations whose next SLA moment has come (ids, earliest first)."""
    statement = (
        select(Conversation.id)
        .where(Conversation.sla_check_at <= now, Conversation.status.in_(ACTIVE))  # type: ignore[attr-defined, operator]
        .order_by(Conversation.sla_check_at)
        .limit(limit)
    )
    return list((await session.execute(statement)).scalars())


async def _claim(
    session: AsyncSession,
    conversation: Conversation,
    target: Target,
    kind: SlaAlertKind,
    policy_id: int | None,
) -> bool:
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(SlaAlert)
        .values(
            conversation_id=conversation.id,
            target=target.name.value,
            kind=kind.value,
            started_at=target.started_at,
            due_at=target.due_at,
            policy_id=policy_id,
            raised_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["conversation_id", "target", "kind", "started_at"])
        .returning(SlaAlert.id)
    )
    return (await session.execute(statement)).scalar_one_or_none() is not None


async def alerts_for(session: AsyncSession, conversation_id: int, now: datetime) -> list[Alert] | None:
    """Claim the alerts that have come due on one conversation and move its next look on. Locks the
    customer, then the conversation (the inbound path's order); None when another transaction holds
    either (it is looked at again next round)."""
    customer_id = (
        await session.execute(select(Conversation.customer_id).where(Conversation.id == conversation_id))
    ).scalar_one_or_none()
    if customer_id is None:
        return []
    locked_customer = (
        await session.execute(
            select(Customer.id).where(Customer.id == customer_id).with_for_update(skip_locked=True)
        )
    ).scalar_one_or_none()
    conversation = (
        (
            await session.execute(
                select(Conversation)
                .where(Conversation.id == conversation_id)
                .with_for_update(skip_locked=True)
            )
        )
        .scalars()
        .first()
    )
    if locked_customer is None or conversation is None:
        return None
    if (
        conversation.sla_check_at is None
        or conversation.sla_check_at > now
        or conversation.status not in ACTIVE
    ):
        return []
    policy = await session.get(SlaPolicy, conversation.sla_policy_id) if conversation.sla_policy_id else None
    hours = (
        await business_hours.load(session) if policy is not None and policy.business_hours else OpeningHours()
    )
    running = targets(conversation, policy, hours)
    claimed: list[Alert] = []
    later: list[datetime] = []
    for target in running:
        for kind, moment in (
            (SlaAlertKind.AT_RISK, target.at_risk_at),
            (SlaAlertKind.BREACHED, target.due_at),
        ):
            if moment > now:
                later.append(moment)
            elif await _claim(session, conversation, target, kind, conversation.sla_policy_id):
                claimed.append(
                    Alert(
                        conversation_id=conversation_id,
                        customer_id=conversation.customer_id,
                        target=target.name,
                        kind=kind,
                        due_at=target.due_at,
                        policy_id=conversation.sla_policy_id,
                        policy_name=policy.name if policy is not None else None,
                    )
                )
    conversation.sla_check_at = min(later, default=None)
    session.add(conversation)
    return claimed

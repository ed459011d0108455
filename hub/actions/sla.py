"""Admin actions on service levels: the business hours, SLA policies, a team's auto-assignment and an
agent's capacity. Each records an audit entry in its transaction; a change that moves due times
recomputes them there too, and one that makes room hands out the team queues."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from channels.registry import known_types
from crm_core.columns import utcnow
from hub import audit
from hub.auth.credentials import Principal
from hub.errors import ApiError
from hub.live import LiveEvent
from hub.routing import assignment_events
from hub.runtime import Hub
from inbox import assignment, business_hours, sla
from inbox.business_time import InvalidHours, OpeningHours, parse_hours
from inbox.models import Agent, Priority, Team
from inbox.sla_models import SlaPolicy

# Screens are told about at most this many recomputed conversations; the rest show the new due
# times when the list next loads.
ANNOUNCE_LIMIT = 500
_TARGETS = ("first_response_minutes", "next_response_minutes", "resolution_minutes")


async def _announce_recomputed(hub: Hub, ids: list[int]) -> None:
    await hub.bus.publish_all(
        [
            LiveEvent("inbox", {"type": "conversation.updated", "conversation_id": i})
            for i in ids[:ANNOUNCE_LIMIT]
        ]
    )


# ---- business hours ----------------------------------------------------------------------------------


def read_hours(document: dict[str, Any]) -> OpeningHours:
    try:
        return parse_hours(document)
    except InvalidHours as exc:
        raise ApiError(422, "invalid_business_hours", str(exc)) from None


async def save_business_hours(hub: Hub, hours: OpeningHours, principal: Principal) -> OpeningHours:
    """Store new hours, move the due times counted in business hours, and apply them to this
    process's flows at once (other processes reload within seconds: hub/business_hours.py)."""
    async with hub.db.transaction() as session:
        before, after = await business_hours.save(session, hours, principal.label)
        audit.record(
            session,
            principal,
            "business_hours.change",
            "business_hours",
            business_hours.ROW_ID,
            {"before": before.to_document(), "after": after.to_document()},
        )
        moved = await sla.recompute(session, business_hours_only=True)
    if hub.hours is not None:
        await hub.hours.check()
    await _announce_recomputed(hub, moved)
    return after


# ---- SLA policies ------------------------------------------------------------------------------------


async def _check_policy(session: AsyncSession, policy: SlaPolicy) -> None:
    if policy.priority is not None:
        try:
            policy.priority = Priority(policy.priority)
        except ValueError:
            raise ApiError(
                422,
                "invalid_priority",
                f"priority: {policy.priority!r} is not one of low, normal, high, urgent",
            ) from None
    if policy.team_id is not None and await session.get(Team, policy.team_id) is None:
        raise ApiError(422, "unknown_team", f"team_id: team {policy.team_id} does not exist")
    if policy.channel_type is not None and policy.channel_type not in known_types():
        raise ApiError(
            422,
            "unknown_channel_type",
            f"channel_type: {policy.channel_type!r} is not a channel type; "
            f"use one of {', '.join(known_types())}",
        )
    if all(getattr(policy, field) is None for field in _TARGETS):
        raise ApiError(
            422,
            "no_target",
            "set at least one of first_response_minutes, next_response_minutes, resolution_minutes",
        )


def _described(policy: SlaPolicy) -> dict[str, Any]:
    return {
        "name": policy.name,
        "team_id": policy.team_id,
        "priority": str(policy.priority) if policy.priority is not None else None,
        "channel_type": policy.channel_type,
        **{field: getattr(policy, field) for field in _TARGETS},
        "business_hours": policy.business_hours,
        "at_risk_percent": policy.at_risk_percent,
        "enabled": policy.enabled,
    }


async def create_policy(hub: Hub, fields: dict[str, Any], principal: Principal) -> SlaPolicy:
    async with hub.db.transaction() as session:
        policy = SlaPolicy(**fields)
        await _check_policy(session, policy)
        session.add(policy)
        await session.flush()
        audit.record(
            session, principal, "sla_policy.create", "sla_policy", policy.id or 0, _described(policy)
        )
        moved = await sla.recompute(session)
    await _announce_recomputed(hub, moved)
    return policy


async def _policy(session: AsyncSession, policy_id: int) -> SlaPolicy:
    policy = await session.get(SlaPolicy, policy_id, with_for_update=True)
    if policy is None:
        raise ApiError(404, "sla_policy_not_found", f"SLA policy {policy_id} does not exist")
    return policy


async def update_policy(hub: Hub, policy_id: int, changes: dict[str, Any], principal: Principal) -> SlaPolicy:
    """Apply the fields given (None clears a match or a target)."""
    if "name" in changes and changes["name"] is None:
        raise ApiError(422, "invalid_request", "name: a policy needs a name")
    for flag in ("business_hours", "enabled", "at_risk_percent"):
        if flag in changes and changes[flag] is None:
            raise ApiError(422, "invalid_request", f"{flag}: cannot be null")
    async with hub.db.transaction() as session:
        policy = await _policy(session, policy_id)
        before = _described(policy)
        for field, value in changes.items():
            setattr(policy, field, value)
        policy.updated_at = utcnow()
        await _check_policy(session, policy)
        session.add(policy)
        after = _described(policy)
        changed = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
        audit.record(session, principal, "sla_policy.update", "sla_policy", policy_id, changed)
        moved = await sla.recompute(session)
    await _announce_recomputed(hub, moved)
    return policy


async def delete_policy(hub: Hub, policy_id: int, principal: Principal) -> None:
    """Remove a policy; its conversations move to the next matching policy, or none."""
    async with hub.db.transaction() as session:
        policy = await _policy(session, policy_id)
        audit.record(session, principal, "sla_policy.delete", "sla_policy", policy_id, _described(policy))
        await session.delete(policy)
        await session.flush()
        moved = await sla.recompute(session)
    await _announce_recomputed(hub, moved)


# ---- routing settings ------------------------------------------------------------------------------


async def set_team_auto_assign(hub: Hub, team_id: int, on: bool, principal: Principal) -> Team:
    """Switch a team's round robin; switched on, its queue is handed out right away."""
    pairs: list[tuple[int, int]] = []
    async with hub.db.transaction() as session:
        team = (await assignment.lock_teams(session, [team_id])).get(team_id)
        if team is None:
            raise ApiError(404, "team_not_found", f"team {team_id} does not exist")
        before = team.auto_assign
        team.auto_assign = on
        session.add(team)
        audit.record(session, principal, "team.auto_assign", "team", team_id, {"auto_assign": [before, on]})
        if on and not before:
            await session.flush()
            pairs = await assignment.drain(session, team_id)
            assignment.take_assigned(session)
    await hub.bus.publish_all(assignment_events(pairs))
    return team


async def set_capacity(hub: Hub, agent_id: int, capacity: int, principal: Principal) -> Agent:
    """Change how many conversations round robin gives an agent; raised, their team's queue is
    handed out right away."""
    pairs: list[tuple[int, int]] = []
    async with hub.db.transaction() as session:
        found = await session.get(Agent, agent_id)
        if found is None:
            raise ApiError(404, "agent_not_found", f"agent {agent_id} does not exist")
        # The team first, then the agent: the order every round robin takes its locks in.
        await assignment.lock_teams(session, [found.team_id])
        agent, before = await assignment.set_capacity(session, agent_id, capacity)
        audit.record(
            session, principal, "agent.capacity", "agent", agent_id, {"capacity": [before, capacity]}
        )
        if capacity > before and agent.team_id is not None:
            await session.flush()
            pairs = await assignment.drain(session, agent.team_id)
            assignment.take_assigned(session)
    await hub.bus.publish_all(assignment_events(pairs))
    return agent

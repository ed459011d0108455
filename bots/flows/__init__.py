"""YAML bot flows: load, validate, run and test them.

Entry points for the hub::

    flows = load_flows(config.flows_dir, teams=config.teams)     # FlowError lists every problem
    engine = FlowEngine(flows, business_hours=weekly_hours(...), default_region=...,
                        host=Host(deep_link=..., account_for=...), timezone=...)  # bots.flows.host
    bot = FlowBot(engine, on_handoff=...)                         # a bots.turn.Bot
    await engine.handle_event(session, customer=..., kind="order.created", ...)
    await engine.expire_timeouts(session, now)                    # periodically
    validate(path) -> list[Problem]                               # `hub flows validate`
    await run_transcripts(path) -> TranscriptReport               # `hub flows test`

The language is documented in docs/flows.md; the JSON Schema for editors is docs/flow.schema.json.
"""

from __future__ import annotations

from bots.flows.bot import FlowBot, HandoffHook
from bots.flows.engine import FlowEngine
from bots.flows.hours import weekly_hours
from bots.flows.loader import load_flows
from bots.flows.merge import FlowStateMergeParticipant
from bots.flows.model import Flow, FlowSet, Trigger, TriggerKind
from bots.flows.problems import FlowError, Problem
from bots.flows.result import FlowResult, Handoff, TimedOut
from bots.flows.state import FlowState
from bots.flows.transcripts import TranscriptReport, run_transcripts
from bots.flows.validate import validate

__all__ = [
    "Flow",
    "FlowBot",
    "FlowEngine",
    "FlowError",
    "FlowResult",
    "FlowSet",
    "FlowState",
    "FlowStateMergeParticipant",
    "Handoff",
    "HandoffHook",
    "Problem",
    "TimedOut",
    "TranscriptReport",
    "Trigger",
    "TriggerKind",
    "load_flows",
    "run_transcripts",
    "validate",
    "weekly_hours",
]

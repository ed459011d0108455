"""Which flow a message or a business event starts.

For a message, trigger kinds are tried from the most to the least explicit: a button payload, a
channel start (deep link), a keyword, an intent phrase (the best score wins), and finally the
message having opened a new conversation. Within a kind, flows are tried in file-name order.
Patterns of ``start``, ``button`` and ``event`` are shell-style (``promo-*``, ``order.*``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from bots.flows.matching import contains_keyword, normalize, phrase_score
from bots.flows.model import Flow, FlowSet, Trigger, TriggerKind
from bots.turn import BotTurn

_MESSAGE_ORDER = (
    TriggerKind.BUTTON,
    TriggerKind.START,
    TriggerKind.KEYWORD,
    TriggerKind.INTENT,
    TriggerKind.CONVERSATION_OPENED,
)


@dataclass(frozen=True)
class TriggerHit:
    """A flow to start, and the variables it starts with (``start_payload``, ``event``, ...)."""

    flow: Flow
    trigger: Trigger
    variables: Mapping[str, Any] = field(default_factory=dict)


def _listens_on(trigger: Trigger, channel: str) -> bool:
    return not trigger.channels or channel in trigger.channels


def _candidates(
    flows: FlowSet, kind: TriggerKind, channel: str, interrupting: bool
) -> list[tuple[Flow, Trigger]]:
    return [
        (flow, trigger)
        for flow in flows
        for trigger in flow.triggers
        if trigger.kind is kind and _listens_on(trigger, channel) and (trigger.interrupt or not interrupting)
    ]


def match_message(flows: FlowSet, turn: BotTurn, *, interrupting: bool = False) -> TriggerHit | None:
    """The flow this message starts. With ``interrupting``, only triggers allowed to interrupt a flow
    in progress are considered."""
    for kind in _MESSAGE_ORDER:
        hit = _match_kind(kind, _candidates(flows, kind, turn.channel_type, interrupting), turn)
        if hit is not None:
            return hit
    return None


def _match_kind(
    kind: TriggerKind, candidates: list[tuple[Flow, Trigger]], turn: BotTurn
) -> TriggerHit | None:
    if kind is TriggerKind.BUTTON:
        if turn.button_payload is None:
            return None
        for flow, trigger in candidates:
            if any(fnmatchcase(turn.button_payload, p) for p in trigger.patterns):
                return TriggerHit(flow, trigger, {"button_payload": turn.button_payload})
    elif kind is TriggerKind.START:
        if turn.start_payload is None:
            return None
        for flow, trigger in candidates:
            if not trigger.patterns or any(fnmatchcase(turn.start_payload, p) for p in trigger.patterns):
                return TriggerHit(flow, trigger, {"start_payload": turn.start_payload})
    elif kind is TriggerKind.KEYWORD:
        for flow, trigger in candidates:
            if any(contains_keyword(turn.text, p) for p in trigger.patterns):
                return TriggerHit(flow, trigger)
    elif kind is TriggerKind.INTENT:
        best: tuple[float, Flow, Trigger] | None = None
        for flow, trigger in candidates:
            score = max(phrase_score(turn.text, p, processor=normalize) for p in trigger.patterns)
            if score >= trigger.threshold and (best is None or score > best[0]):
                best = (score, flow, trigger)
        if best is not None:
            return TriggerHit(best[1], best[2], {"intent_score": round(best[0], 1)})
    elif kind is TriggerKind.CONVERSATION_OPENED and turn.opened and candidates:
        flow, trigger = candidates[0]
        return TriggerHit(flow, trigger)
    return None


def match_event(
    flows: FlowSet, kind: str, payload: Mapping[str, Any], channel: str, *, interrupting: bool = False
) -> TriggerHit | None:
    """The flow a business event of ``kind`` starts; the flow sees ``var.event`` (the payload) and
    ``var.event_kind``."""
    for flow, trigger in _candidates(flows, TriggerKind.EVENT, channel, interrupting):
        if any(fnmatchcase(kind, pattern) for pattern in trigger.patterns):
            return TriggerHit(flow, trigger, {"event": dict(payload), "event_kind": kind})
    return None

"""The step kinds of the flow language, one module each. ``PARSERS`` maps the key that names a
step's kind (``say:``, ``ask:``, ...) to the function reading that step."""

from __future__ import annotations

from collections.abc import Callable

from bots.flows.steps import (
    ask,
    branch,
    call,
    campaign,
    consent,
    control,
    faq,
    handoff,
    http,
    qr,
    record,
    say,
    share_contact,
    wait,
)
from bots.flows.steps.base import Answer, Link, Step, WaitingStep
from bots.flows.steps.reader import StepReader

StepParser = Callable[[StepReader], Step | None]

PARSERS: dict[str, StepParser] = {
    "say": say.parse,
    "ask": ask.parse,
    "branch": branch.parse,
    "set": record.parse_set,
    "tag": record.parse_tag,
    "untag": record.parse_untag,
    "record_event": record.parse_record_event,
    "faq": faq.parse,
    "http": http.parse,
    "handoff": handoff.parse,
    "wait": wait.parse,
    "call": call.parse,
    "consent": consent.parse,
    "share_contact": share_contact.parse,
    "qr": qr.parse,
    "campaign": campaign.parse,
    "goto": control.parse_goto,
    "end": control.parse_end,
}

STEP_KINDS = tuple(PARSERS)

# Every setting some step kind takes besides its kind key: a step with none of the kinds and a key
# outside this set most likely misspells (or invents) a kind.
SETTINGS = frozenset(
    {"next", "buttons", "why", "payload", "else", "message", "summary", "media"}
    | {"type", "save_to", "choices", "pattern", "min", "max", "retry", "max_tries", "on_fail"}
    | {"timeout", "on_timeout", "prompt", "threshold", "suggest", "suggest_above"}
    | {"suggestions_text", "none_title", "fallback"}
    | {"on_error", "on_refused"}
    | {"channel", "step", "button", "typed", "caption"}
)

__all__ = [
    "PARSERS",
    "SETTINGS",
    "STEP_KINDS",
    "Answer",
    "Link",
    "Step",
    "StepParser",
    "StepReader",
    "WaitingStep",
]

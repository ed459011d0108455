"""``consent``: record that the customer gave or withdrew consent, on their record.

.. code-block:: yaml

    opt_in:
      consent:
        purpose: marketing        # marketing or transactional
        channel: current          # current (default): the channel of this conversation;
                                  # any: every channel; or a channel type (sms, whatsapp, email, ...)
        granted: true             # true / false, or "{{ var.agrees }}" (a yes_no answer)
      why: said yes to offers in chat
      next: thanks

The decision goes through crm_core.consent like any other (the latest decision per channel and
purpose wins). Its ``consent.changed`` timeline entry has the flow as its source and the flow, step
and ``why`` in its payload. Withdrawing on ``any`` channel withdraws every channel's consent for the
purpose as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from bots.flows.channel_types import SENDING
from bots.flows.outcomes import Outcome, after
from bots.flows.steps.base import Link, Step
from bots.flows.steps.reader import StepReader
from bots.flows.templating import RenderError, Value
from bots.flows.yamlsource import LineMap
from crm_core.models import ConsentPurpose

if TYPE_CHECKING:
    from bots.flows.context import TurnContext

_SETTINGS = ("purpose", "channel", "granted")
# Consent is kept per channel kind; voice calls have their own (robocalls need it).
CONSENT_CHANNELS = (*SENDING, "voice")


@dataclass(frozen=True, kw_only=True)
class ConsentStep(Step):
    kind: ClassVar[str] = "consent"

    purpose: ConsentPurpose
    channel: str  # "current", "any" or a channel type
    granted: Value
    why: str = ""
    next: str | None = None
    next_line: int = 0

    def links(self) -> list[Link]:
        return [Link(self.next, self.next_line, "next")] if self.next else []

    async def run(self, ctx: TurnContext) -> Outcome:
        granted = ctx.evaluate(self.granted)
        if not isinstance(granted, bool):
            raise RenderError(f"step {self.name!r}: 'granted' must be true or false, it was {granted!r}")
        channel = ctx.channel if self.channel == "current" else self.channel
        await ctx.change_consent(channel, self.purpose, granted, step=self.name, why=self.why)
        return after(self.next)


def parse(reader: StepReader) -> ConsentStep | None:
    reader.check_keys({"why", "next"})
    spec = reader.node.get("consent")
    next_step = reader.target("next")
    why = reader.string("why") or ""
    if not isinstance(spec, LineMap):
        reader.problem(
            reader.line_of("consent"), "'consent' is a map: purpose, granted (true/false) and channel"
        )
        return None
    for key in spec:
        if key not in _SETTINGS:
            reader.problem(
                spec.key_lines[key], f"{key!r} is not a setting of consent ({', '.join(_SETTINGS)})"
            )
    purposes = [p.value for p in ConsentPurpose]
    purpose = spec.get("purpose")
    if purpose not in purposes:
        reader.problem(spec.line_of("purpose"), f"'purpose' is one of {', '.join(purposes)}, got {purpose!r}")
    channel = spec.get("channel", "current")
    if channel not in ("current", "any", *CONSENT_CHANNELS):
        reader.problem(
            spec.line_of("channel"),
            f"'channel' is current, any, or one of {', '.join(CONSENT_CHANNELS)}, got {channel!r}",
        )
    granted = _granted(reader, spec)
    if purpose not in purposes or channel not in ("current", "any", *CONSENT_CHANNELS) or granted is None:
        return None
    return ConsentStep(
        name=reader.name,
        line=reader.line,
        purpose=ConsentPurpose(purpose),
        channel=channel,
        granted=granted,
        why=why,
        next=next_step,
        next_line=reader.line_of("next"),
    )


def _granted(reader: StepReader, spec: LineMap) -> Value | None:
    if "granted" not in spec:
        reader.problem(spec.line, "'granted' is required: true to give consent, false to withdraw it")
        return None
    raw = spec["granted"]
    line = spec.line_of("granted")
    if isinstance(raw, bool):
        return Value(literal=raw)
    value = reader.value(raw, line, "'granted'") if isinstance(raw, str) else None
    if value is None or value.copy_of is None:
        if value is not None or not isinstance(raw, str):
            reader.problem(
                line, f"'granted' is true, false or one answer (\"{{{{ var.agrees }}}}\"), got {raw!r}"
            )
        return None
    return value

"""``share_contact``: get the customer's own phone number, verified where the channel can vouch for it.

.. code-block:: yaml

    phone:
      share_contact: {en: "We need your phone number to send the ticket.", es: "Necesitamos tu teléfono."}
      button: {en: "Share my number", es: "Compartir mi número"}      # optional (Telegram, Viber)
      typed: {en: "What's your phone number?", es: "¿Cuál es tu teléfono?"}   # optional, see below
      retry: {en: "Please include the country code.", es: "Incluye el prefijo del país."}
      save_to: attribute.phone    # default var.phone
      max_tries: 3                # invalid typed numbers allowed, then on_fail (or the flow ends)
      on_fail: human
      timeout: 1h
      on_timeout: goodbye
      next: thanks

Per channel:

- SMS, WhatsApp and phone calls: the customer's number is what they write or call from, already on
  their record and verified. The step stores it and continues at once, saying nothing.
- Telegram and Viber: the prompt goes out with a share-phone button. The contact they share is their
  own number, which the hub has already put on their record as a verified identity; the step stores
  it and continues.
- Channels without such a button (web chat, email, API): the ``typed`` text (default: the prompt)
  asks them to write it. A number typed anywhere (also instead of pressing the button) is checked
  like ``ask type: phone`` (E.164, hub.yaml's ``default_region`` for numbers without +) and put on
  the record *unverified*; an invalid one gets ``retry``.

Besides ``save_to``, ``var.<save_to name>_verified`` (``var.phone_verified``) says whether the number
was vouched for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from bots.flows.answers import InvalidAnswer, parse_phone
from bots.flows.channel_types import PHONE_SENDERS, SHARE_BUTTON
from bots.flows.model import SaveTarget
from bots.flows.outcomes import Finish, Next, Outcome, Wait, WaitingFor, after
from bots.flows.steps import defaults
from bots.flows.steps.base import Answer, Link, WaitingStep
from bots.flows.steps.reader import StepReader
from bots.flows.templating import LocalText
from channels.contract import Button

if TYPE_CHECKING:
    from bots.flows.context import TurnContext

_BUTTON, _TYPED = "button", "typed"
DEFAULT_SAVE_TO = SaveTarget("var", "phone")


@dataclass(frozen=True, kw_only=True)
class ShareContactStep(WaitingStep):
    kind: ClassVar[str] = "share_contact"

    prompt: LocalText
    button: LocalText = defaults.SHARE_PHONE
    typed: LocalText | None = None
    retry: LocalText = defaults.PHONE_RETRY
    save_to: SaveTarget = DEFAULT_SAVE_TO
    max_tries: int = 3
    on_fail: str | None = None
    on_fail_line: int = 0
    next: str | None = None
    next_line: int = 0

    def links(self) -> list[Link]:
        links = [Link(self.next, self.next_line, "next")] if self.next else []
        if self.on_fail:
            links.append(Link(self.on_fail, self.on_fail_line, "on_fail"))
        return links + self.timeout_links()

    async def run(self, ctx: TurnContext) -> Outcome:
        if ctx.channel in PHONE_SENDERS:
            phone = await ctx.verified_phone()
            if phone is not None:
                return await self._keep(ctx, phone, verified=True)
        mode = _BUTTON if ctx.channel in SHARE_BUTTON else _TYPED
        self._prompt(ctx, mode, self.prompt if mode == _BUTTON else self.typed or self.prompt)
        return Wait(WaitingFor.CONTACT, {"mode": mode})

    async def on_answer(self, ctx: TurnContext, answer: Answer) -> Outcome:
        if answer.shared_phone is not None:
            return await self._keep(ctx, answer.shared_phone, verified=True)
        try:
            phone = parse_phone(answer.text, ctx.default_region)
        except InvalidAnswer:
            if answer.tries + 1 >= self.max_tries:
                return Next(self.on_fail) if self.on_fail else Finish()
            self._prompt(ctx, str(answer.data.get("mode", _TYPED)), self.retry)
            return Wait(WaitingFor.CONTACT, answer.data, failed_try=True)
        identity = await ctx.add_typed_phone(phone)
        return await self._keep(ctx, phone, verified=identity is not None and identity.verified)

    def claims(self, answer: Answer) -> bool:
        return answer.shared_phone is not None

    def _prompt(self, ctx: TurnContext, mode: str, text: LocalText) -> None:
        buttons = [Button(title=ctx.render(self.button), request_contact=True)] if mode == _BUTTON else []
        ctx.say(text, buttons)

    async def _keep(self, ctx: TurnContext, phone: str, *, verified: bool) -> Outcome:
        why = "phone shared by the customer" if verified else "phone typed by the customer (unverified)"
        await ctx.store(self.save_to, phone, step=self.name, why=why)
        ctx.variables[f"{self.save_to.key}_verified"] = verified
        return after(self.next)


def parse(reader: StepReader) -> ShareContactStep | None:
    reader.check_keys(
        {"button", "typed", "retry", "save_to", "max_tries", "on_fail", "timeout", "on_timeout", "next"}
    )
    prompt = reader.text("share_contact", required=True)
    button = reader.text("button") or defaults.SHARE_PHONE
    typed = reader.text("typed")
    retry = reader.text("retry") or defaults.PHONE_RETRY
    save_to = (
        reader.save_target(reader.node["save_to"], reader.line_of("save_to"), "save_to")
        if "save_to" in reader.node
        else DEFAULT_SAVE_TO
    )
    max_tries = reader.integer("max_tries", 3, low=1, high=20)
    timeout, on_timeout = reader.timeout()
    on_fail = reader.target("on_fail")
    next_step = reader.target("next")
    if prompt is None or save_to is None:
        return None
    return ShareContactStep(
        name=reader.name,
        line=reader.line,
        prompt=prompt,
        button=button,
        typed=typed,
        retry=retry,
        save_to=save_to,
        max_tries=max_tries,
        on_fail=on_fail,
        on_fail_line=reader.line_of("on_fail"),
        timeout=timeout,
        on_timeout=on_timeout,
        timeout_line=reader.line_of("on_timeout"),
        next=next_step,
        next_line=reader.line_of("next"),
    )

"""What a step can see and do while a flow runs: the customer, the flow's variables, the channel,
the clock, replies to send, and changes to the customer record.

Record changes go through crm_core's actions inside the caller's transaction, and each is written to
the customer's timeline with the flow, the step and the author's ``why``, so an agent reading the
timeline knows which bot changed what and for what reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bots.flows.conditions import Expression, holds
from bots.flows.model import Flow, SaveTarget
from bots.flows.templating import LocalText, Value, language_of
from bots.turn import BotReply
from channels.contract import Button
from crm_core.customers import record_event, set_tags, update_attributes
from crm_core.models import Customer

BusinessHours = Callable[[datetime], bool]

# How a template names a customer we know no name of.
_NAME_FALLBACK = {"en": "there", "es": "amigo"}


class TurnContext:
    """One flow, for one customer, during one turn (message, event or timeout)."""

    def __init__(
        self,
        session: AsyncSession,
        customer: Customer,
        flow: Flow,
        *,
        channel: str,
        now: datetime,
        variables: Mapping[str, Any] | None = None,
        business_hours: BusinessHours | None = None,
        default_region: str | None = None,
        replies: list[BotReply] | None = None,
    ) -> None:
        self.session = session
        self.customer = customer
        self.flow = flow
        self.channel = channel
        self.now = now
        self.variables: dict[str, Any] = dict(variables or {})
        self.default_region = default_region
        self.replies: list[BotReply] = replies if replies is not None else []
        self._business_hours = business_hours
        self._open: bool | None = None

    # -- what templates and conditions see ---------------------------------------------------------

    @property
    def language(self) -> str:
        return language_of(self.customer.locale)

    @property
    def open_now(self) -> bool:
        """Whether it is within business hours (always, when the hub has none configured)."""
        if self._open is None:
            self._open = True if self._business_hours is None else self._business_hours(self.now)
        return self._open

    def names(self) -> dict[str, Any]:
        """The names templates are rendered with (copies: a template cannot change them)."""
        return {
            "name": self.customer.display_name or _NAME_FALLBACK.get(self.language, _NAME_FALLBACK["en"]),
            "var": dict(self.variables),
            "attribute": dict(self.customer.attributes),
            "tags": list(self.customer.tags),
            "channel": self.channel,
            "locale": self.language,
            "business_hours": self.open_now,
        }

    def resolve(self, root: str, keys: tuple[str, ...]) -> Any:
        """A name of the condition language: ``var.x``, ``attribute.city``, ``tags``, ..."""
        value: Any
        if root == "var":
            value = self.variables
        elif root == "attribute":
            value = self.customer.attributes
        elif root == "tags":
            return list(self.customer.tags)
        elif root == "channel":
            return self.channel
        elif root == "locale":
            return self.language
        elif root == "name":
            return self.customer.display_name
        elif root == "business_hours":
            return self.open_now
        else:
            return None
        for key in keys:
            value = value.get(key) if isinstance(value, Mapping) else None
        return value

    def holds(self, condition: Expression) -> bool:
        return holds(condition, self.resolve)

    def render(self, text: LocalText) -> str:
        return text.render(self.language, self.names())

    def evaluate(self, value: Value) -> Any:
        if value.copy_of is not None:
            return self.resolve(value.copy_of.root, value.copy_of.keys)
        if value.template is not None:
            return value.template.render(self.names())
        return value.literal

    # -- effects -----------------------------------------------------------------------------------

    def say(self, text: LocalText, buttons: Sequence[Button] = ()) -> None:
        self.replies.append(BotReply(self.render(text), tuple(buttons)))

    def source(self) -> str:
        return f"flow:{self.flow.id}"

    async def store(self, target: SaveTarget, value: Any, *, step: str, why: str = "") -> None:
        """Keep an answer or a value: in a flow variable, or on the customer record. Raises
        crm_core.attributes.InvalidAttribute (before writing) when the attribute's type refuses it."""
        if target.scope == "var":
            self.variables[target.key] = value
            return
        await self.update_attributes({target.key: value}, step=step, why=why)

    async def update_attributes(self, changes: Mapping[str, Any], *, step: str, why: str = "") -> None:
        stored = await update_attributes(self.session, self.customer, changes)
        await record_event(
            self.session,
            self.customer,
            "attributes.changed",
            {"changes": stored, "flow": self.flow.id, "step": step, "reason": why},
            source=self.source(),
        )

    async def change_tags(
        self, *, step: str, add: Sequence[str] = (), remove: Sequence[str] = (), why: str = ""
    ) -> None:
        added = [t for t in add if t not in self.customer.tags]
        removed = [t for t in remove if t in self.customer.tags]
        if not added and not removed:
            return
        await set_tags(self.session, self.customer, added, removed)
        await record_event(
            self.session,
            self.customer,
            "tags.changed",
            {"added": added, "removed": removed, "flow": self.flow.id, "step": step, "reason": why},
            source=self.source(),
        )

    async def record(self, kind: str, payload: Mapping[str, Any]) -> None:
        await record_event(self.session, self.customer, kind, dict(payload), source=self.source())

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
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bots.flows.conditions import Expression, holds, roots_of
from bots.flows.host import Host
from bots.flows.model import Flow, SaveTarget
from bots.flows.templating import LocalText, RenderError, Value, language_of
from bots.turn import BotReply
from channels.contract import Attachment, Button
from crm_core.consent import consents_of, has_consent, set_consent
from crm_core.customers import attach_identity, record_event, set_tags, update_attributes
from crm_core.models import ConsentPurpose, Customer, CustomerEvent, Identity, IdentityKind

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
        host: Host | None = None,
        timezone: str | None = None,
    ) -> None:
        self.session = session
        self.customer = customer
        # The flow running now: a ``call`` step switches it to the called flow and back.
        self.flow = flow
        self.channel = channel
        self.now = now
        self.variables: dict[str, Any] = dict(variables or {})
        self.default_region = default_region
        self.replies: list[BotReply] = replies if replies is not None else []
        self.host = host or Host()
        self._timezone = timezone
        self._business_hours = business_hours
        self._open: bool | None = None
        # The customer's saved segments, read once per turn when a condition asks for them.
        self._segments: list[str] | None = None

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

    @property
    def timezone(self) -> ZoneInfo:
        """The customer's time zone when their record has a valid one, else the business's (hub.yaml
        business_hours.timezone), else UTC: what a ``wait: {until: "09:00"}`` means."""
        for name in (self.customer.timezone, self._timezone):
            if name:
                try:
                    return ZoneInfo(name)
                except (ZoneInfoNotFoundError, ValueError):
                    continue
        return ZoneInfo("UTC")

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
            "deep_link": self._deep_link_function(),
        }

    def _deep_link_function(self) -> Callable[[str], str]:
        # A plain closure, not a bound method: the sandbox then sees a function and nothing of self.
        linker, customer_id = self.host.deep_link, self.customer.id

        def deep_link(channel: str = "telegram") -> str:
            if linker is None or customer_id is None:
                raise RenderError("deep_link() is not available: the hub did not give the flow engine one")
            try:
                return linker(customer_id, str(channel))
            except LookupError as exc:
                raise RenderError(f"deep_link({channel!r}): {exc}") from None

        return deep_link

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
        elif root == "segments":
            return list(self._segments or [])
        else:
            return None
        for key in keys:
            value = value.get(key) if isinstance(value, Mapping) else None
        return value

    async def prepare(self, condition: Expression) -> None:
        """Read what a condition needs from the database before it is evaluated (segment
        membership is a query; everything else is at hand)."""
        if self._segments is None and "segments" in roots_of(condition):
            finder = self.host.segments_of
            self._segments = await finder(self.session, self.customer.id) if finder is not None else []  # type: ignore[arg-type]

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

    def say(self, text: LocalText, buttons: Sequence[Button] = (), *, channel: str | None = None) -> None:
        self.send(BotReply(self.render(text), tuple(buttons)), channel=channel)

    def send(self, reply: BotReply, *, channel: str | None = None) -> None:
        """Queue ``reply``; with ``channel`` (a channel type) on that channel of the customer's rather
        than the conversation's, through the account the host names for it."""
        if channel is not None and channel != self.channel:
            account = self.host.account_for(channel) if self.host.account_for is not None else None
            reply = BotReply(
                reply.text, reply.buttons, reply.attachments, channel_type=channel, channel_account=account
            )
        self.replies.append(reply)

    def send_file(self, caption: str, attachment: Attachment) -> None:
        self.send(BotReply(caption, attachments=(attachment,)))

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

    async def change_consent(
        self, channel: str, purpose: ConsentPurpose, granted: bool, *, step: str, why: str = ""
    ) -> None:
        """Record a consent decision through crm_core (its ``consent.changed`` timeline entry gets the
        flow as source, and the flow, step and ``why`` in its payload). Withdrawing on ``any``
        channel withdraws every channel's consent for the purpose too: a "no" must be total."""
        assert self.customer.id is not None
        channels = [channel]
        if channel == "any" and not granted:
            channels += [
                c.channel
                for c in await consents_of(self.session, self.customer.id)
                if c.purpose is purpose and c.granted and c.channel != "any"
            ]
        for name in channels:
            before = await has_consent(self.session, self.customer.id, name, purpose)
            await set_consent(self.session, self.customer.id, name, purpose, granted, source=self.source())
            if before is not granted:
                await self._explain_consent_change(step, why)

    async def _explain_consent_change(self, step: str, why: str) -> None:
        # set_consent wrote the entry a moment ago in this transaction (the customer row is locked).
        event = (
            (
                await self.session.execute(
                    select(CustomerEvent)
                    .where(
                        CustomerEvent.customer_id == self.customer.id,
                        CustomerEvent.kind == "consent.changed",
                    )
                    .order_by(CustomerEvent.id.desc())  # type: ignore[union-attr]
                    .limit(1)
                )
            )
            .scalars()
            .first()
        )
        if event is not None:
            event.payload = {**event.payload, "flow": self.flow.id, "step": step, "reason": why}
            self.session.add(event)
            await self.session.flush()

    async def verified_phone(self) -> str | None:
        """The customer's newest phone number a provider vouched for (the number they write or call
        from on SMS, WhatsApp and phone calls, or a shared contact), E.164."""
        statement = (
            select(Identity.address)
            .where(
                Identity.customer_id == self.customer.id,
                Identity.kind == IdentityKind.PHONE,
                Identity.verified.is_(True),  # type: ignore[attr-defined]
            )
            .order_by(Identity.id.desc())  # type: ignore[union-attr]
            .limit(1)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def add_typed_phone(self, phone: str) -> Identity | None:
        """Put a phone the customer typed on their record, unverified (unless it already was there,
        verified). Returns None when the number belongs to someone else: nobody vouched for it, so
        the records are not joined (an agent can see the duplicate and merge)."""
        owner = await attach_identity(
            self.session, self.customer, IdentityKind.PHONE, phone, verified=False, source=self.source()
        )
        return None if isinstance(owner, Customer) else owner

"""A campaign message for one customer on one channel: the template rendered with their record,
in their language, and what it will look like (SMS length and segment count, email subject).

Templates see ``name`` (the customer's display name, or "there"/"" when unknown), ``attribute``,
``tags``, ``locale``, ``channel`` and ``campaign`` — the same sandboxed Jinja2 environment as flows —
and ``link(url)``, which makes a tracked link (a click is counted on the customer's send, then the
browser goes on to ``url``). Marketing email also gets ``unsubscribe_url``; when the text does not
use it, an unsubscribe line is added at the end, and the message carries it for the
List-Unsubscribe header.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bots.flows.templating import RenderError, language_of
from channels.contract import Button, OutboundMessage
from crm_core.models import Customer
from hub.campaigns.definition import CampaignDefinition, Purpose
from hub.campaigns.links import CampaignLinks, SendRef
from hub.campaigns.reach import Person
from inbox.reply_limits import sms_segments

_NO_NAME = {"en": "there", "es": ""}
_UNSUBSCRIBE = {"en": "Unsubscribe", "es": "Darse de baja"}


@dataclass(frozen=True)
class Rendered:
    channel_type: str
    language: str
    text: str
    subject: str | None
    buttons: tuple[Button, ...]
    # The one-click unsubscribe URL (marketing email), for the List-Unsubscribe header.
    list_unsubscribe: str | None = None

    def outbound(self, to: str, idempotency_key: str, metadata: dict[str, Any]) -> OutboundMessage:
        if self.list_unsubscribe is not None:
            metadata = {**metadata, "list_unsubscribe": self.list_unsubscribe}
        return OutboundMessage(
            to=to,
            text=self.text,
            idempotency_key=idempotency_key,
            buttons=self.buttons,
            subject=self.subject,
            metadata=metadata,
        )

    def preview(self) -> dict[str, Any]:
        """What a marketer sees before sending: the text, and the channel's own constraints."""
        shown: dict[str, Any] = {"channel": self.channel_type, "language": self.language, "text": self.text}
        if self.subject is not None:
            shown["subject"] = self.subject
        if self.buttons:
            shown["buttons"] = [{"title": b.title, "url": b.url, "payload": b.payload} for b in self.buttons]
        if self.channel_type == "sms":
            length = sms_segments(self.text)
            shown["sms"] = {
                "encoding": length.encoding,
                "characters": length.units,
                "segments": length.segments,
            }
        if self.channel_type == "whatsapp":
            shown["note"] = (
                "WhatsApp delivers free-form messages only within 24 hours of the customer's last "
                "message; outside it, an approved template is required"
            )
        return shown


def names_for(
    customer: Customer | Person, definition: CampaignDefinition, channel_type: str
) -> dict[str, Any]:
    language = language_of(customer.locale)
    return {
        "name": customer.display_name or _NO_NAME.get(language, ""),
        "attribute": dict(customer.attributes or {}),
        "tags": list(customer.tags or []),
        "locale": customer.locale or language,
        "channel": channel_type,
        "campaign": {"id": definition.id, "name": definition.name},
    }


def render(
    definition: CampaignDefinition,
    channel_type: str,
    variant: str,
    customer: Customer | Person,
    *,
    links: CampaignLinks | None = None,
    ref: SendRef | None = None,
) -> Rendered:
    """Raises bots.flows.templating.RenderError when a template fails for this customer. With
    ``links`` and the send's ``ref``, links are tracked and marketing email can be unsubscribed."""
    content = definition.content_for(channel_type, variant)
    language = language_of(customer.locale)
    names = names_for(customer, definition, channel_type)
    tracked = links is not None and ref is not None

    def link(url: str) -> str:
        if not str(url).startswith(("https://", "http://")):
            raise RenderError(f"link({url!r}): only http(s) links can be tracked")
        return links.click_url(ref, str(url)) if tracked else str(url)  # type: ignore[union-attr,arg-type]

    names["link"] = link
    unsubscribe = None
    if (
        channel_type == "email"
        and definition.purpose is Purpose.MARKETING
        and links is not None
        and customer.id
    ):
        unsubscribe = links.unsubscribe_url(customer.id, "email")
        names["unsubscribe_url"] = unsubscribe
    subject = content.subject.render(language, names) if content.subject is not None else None
    if channel_type == "email" and subject is None:
        subject = definition.name
    buttons = tuple(
        Button(
            title=b.title.render(language, names),
            url=link(b.url) if b.url is not None and tracked else b.url,
            payload=b.payload,
        )
        for b in content.buttons
    )
    text = content.text.render(language, names)
    if unsubscribe is not None and unsubscribe not in text:
        text = f"{text}\n\n{_UNSUBSCRIBE.get(language, _UNSUBSCRIBE['en'])}: {unsubscribe}"
    return Rendered(channel_type, language, text, subject, buttons, unsubscribe)

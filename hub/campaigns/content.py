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

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bots.flows.templating import RenderError, language_of
from channels.contract import Button, OutboundMessage
from crm_core.models import Customer
from hub.campaigns.definition import CampaignDefinition, Purpose
from hub.campaigns.links import CampaignLinks, SendRef
from hub.campaigns.reach import Person
from hub.campaigns.simple_templates import SimpleTemplate, compile_simple
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
    link = _link_maker(links, ref)
    names["link"] = link
    unsubscribe = _unsubscribe_url(definition, channel_type, customer, links)
    if unsubscribe is not None:
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


def _link_maker(links: CampaignLinks | None, ref: SendRef | None) -> Callable[[str], str]:
    """The templates' ``link(url)``: a tracked click link for the send (the url itself without
    links or a send)."""
    tracked = links is not None and ref is not None

    def link(url: str) -> str:
        if not str(url).startswith(("https://", "http://")):
            raise RenderError(f"link({url!r}): only http(s) links can be tracked")
        return links.click_url(ref, str(url)) if tracked else str(url)  # type: ignore[union-attr,arg-type]

    return link


def _unsubscribe_url(
    definition: CampaignDefinition,
    channel_type: str,
    customer: Customer | Person,
    links: CampaignLinks | None,
) -> str | None:
    """Marketing email carries a one-click unsubscribe link."""
    if (
        channel_type == "email"
        and definition.purpose is Purpose.MARKETING
        and links is not None
        and customer.id
    ):
        return links.unsubscribe_url(customer.id, "email")
    return None


@dataclass(frozen=True)
class _Simple:
    """One channel/variant/language's content in its fast form (see hub.campaigns.simple_templates)."""

    text: SimpleTemplate
    subject: SimpleTemplate | None
    buttons: tuple[tuple[SimpleTemplate, str | None, str | None], ...]  # title, url, payload
    names: frozenset[str]


class ContentRenderer:
    """``render`` for every customer of one campaign, fast.

    Planning renders the same few templates for a million customers. Each (channel, variant,
    language) is looked at once: when all its templates are plain lookups they are filled in
    directly; otherwise, and for a customer whose values need it, ``render`` (Jinja) does it. The
    result is the same either way (tests/hub/test_campaign_planning.py)."""

    def __init__(self, definition: CampaignDefinition, links: CampaignLinks | None = None) -> None:
        self.definition = definition
        self.links = links
        self._simple: dict[tuple[str, str, str], _Simple | None] = {}
        self._campaign = {"id": definition.id, "name": definition.name}

    def render(
        self, channel_type: str, variant: str, customer: Customer | Person, ref: SendRef | None = None
    ) -> Rendered:
        """As ``render(definition, channel_type, variant, customer, links=..., ref=ref)``."""
        language = language_of(customer.locale)
        key = (channel_type, variant, language)
        simple = self._simple[key] if key in self._simple else self._prepare(key)
        rendered = self._fill(simple, channel_type, language, customer, ref) if simple is not None else None
        if rendered is None:
            rendered = render(self.definition, channel_type, variant, customer, links=self.links, ref=ref)
        return rendered

    def reads_documents(self) -> bool:
        """Whether any of the campaign's texts may read the customer's attributes or tags (a
        template that is not simple might). Planning loads them only then."""
        contents = [*self.definition.content.values()]
        for variant in self.definition.variants:
            contents += variant.content.values()
        for content in contents:
            texts = [
                content.text,
                *((content.subject,) if content.subject else ()),
                *(b.title for b in content.buttons),
            ]
            for template in (t for text in texts for t in text.variants.values()):
                simple = compile_simple(template)
                if simple is None or simple.names & {"attribute", "tags"}:
                    return True
        return False

    def _prepare(self, key: tuple[str, str, str]) -> _Simple | None:
        channel_type, variant, language = key
        content = self.definition.content_for(channel_type, variant)
        text = compile_simple(content.text.pick(language))
        subject = compile_simple(content.subject.pick(language)) if content.subject is not None else None
        titles = [compile_simple(b.title.pick(language)) for b in content.buttons]
        simple = None
        if (
            text is not None
            and (subject is not None or content.subject is None)
            and all(t is not None for t in titles)
        ):
            buttons = tuple(
                (title, b.url, b.payload)
                for title, b in zip(titles, content.buttons, strict=True)
                if title is not None
            )
            used = text.names.union(*(t.names for t, _, _ in buttons))
            simple = _Simple(text, subject, buttons, used | (subject.names if subject else frozenset()))
        self._simple[key] = simple
        return simple

    def _fill(
        self,
        simple: _Simple,
        channel_type: str,
        language: str,
        customer: Customer | Person,
        ref: SendRef | None,
    ) -> Rendered | None:
        links = self.links
        tracked = links is not None and ref is not None
        link = _link_maker(links, ref)

        # Only the names the templates read (names_for builds them all for Jinja).
        names: dict[str, Any] = {"link": link}
        used = simple.names
        if "name" in used:
            names["name"] = customer.display_name or _NO_NAME.get(language, "")
        if "attribute" in used:
            names["attribute"] = customer.attributes or {}
        if "tags" in used:
            names["tags"] = list(customer.tags or [])
        if "locale" in used:
            names["locale"] = customer.locale or language
        if "channel" in used:
            names["channel"] = channel_type
        if "campaign" in used:
            names["campaign"] = self._campaign
        unsubscribe = _unsubscribe_url(self.definition, channel_type, customer, links)
        if unsubscribe is not None:
            names["unsubscribe_url"] = unsubscribe
        # The same order as render(): subject, buttons, text (the first failing link names itself).
        subject = None
        if simple.subject is not None:
            subject = simple.subject.render(names)
            if subject is None:
                return None
        if channel_type == "email" and subject is None:
            subject = self.definition.name
        buttons = []
        for title_template, url, payload in simple.buttons:
            title = title_template.render(names)
            if title is None:
                return None
            buttons.append(
                Button(title=title, url=link(url) if url is not None and tracked else url, payload=payload)
            )
        text = simple.text.render(names)
        if text is None:
            return None
        if unsubscribe is not None and unsubscribe not in text:
            text = f"{text}\n\n{_UNSUBSCRIBE.get(language, _UNSUBSCRIBE['en'])}: {unsubscribe}"
        return Rendered(channel_type, language, text, subject, tuple(buttons), unsubscribe)

"""The normalised message contract every channel adapter speaks.

A channel adapter turns a provider's webhook request into normalised events and sends normalised
outbound messages through the provider's SDK. It knows nothing of the database, the customer record
or the inbox: the hub's pipeline does the persisting, deduplicating and threading around it.

The hub calls an adapter in this order for every inbound request::

    adapter.verify(request)           # forged or unsigned -> SignatureError (401/403, stored nowhere)
    key = adapter.event_id(request)   # the provider's id, the dedupe key (MalformedEvent -> 400)
    ... the raw request is persisted under (account, key) and acknowledged ...
    adapter.acknowledgement(request)  # what the provider expects back (TwiML, JSON, empty 200)
    events = adapter.parse(request)   # later, in the processor: normalised events

and for every outbound message ``await adapter.send(message)`` from the outbox dispatcher.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable
from urllib.parse import parse_qsl


class IdentityKind(StrEnum):
    """How a person is addressed. Several channels share one kind: SMS, WhatsApp and calls all
    address a person by phone number, so the same verified phone lands on the same customer."""

    PHONE = "phone"  # E.164, e.g. +380501234567
    EMAIL = "email"  # lowercased
    TELEGRAM = "telegram"  # Telegram user id
    VIBER = "viber"  # Viber user id
    WEBCHAT = "webchat"  # website visitor id
    API = "api"  # "<account>.<user id>" in a system connected through the custom API channel


class DeliveryStatus(StrEnum):
    """Outbound delivery status; the hub applies receipts only forwards (inbox.conversations)."""

    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"


class CallStatus(StrEnum):
    STARTED = "started"
    ANSWERED = "answered"
    ENDED = "ended"
    MISSED = "missed"


# --------------------------------------------------------------------------------------------------
# Inbound


@dataclass(frozen=True)
class WebhookRequest:
    """A provider's HTTP request as received, before anything is trusted.

    ``url`` is the public URL the provider called (public_url + path + query), which is what
    Twilio signs; ``headers`` has lowercased names.
    """

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    query: Mapping[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self) -> Any:
        """The body as JSON; MalformedEvent naming the problem otherwise."""
        try:
            text = self.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedEvent(f"body is not valid UTF-8 (byte {exc.start})") from exc
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise MalformedEvent(
                f"body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
            ) from exc

    def form(self) -> dict[str, str]:
        """The body as application/x-www-form-urlencoded fields (last value wins)."""
        try:
            text = self.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedEvent(f"body is not valid UTF-8 (byte {exc.start})") from exc
        return dict(parse_qsl(text, keep_blank_values=True))


@dataclass(frozen=True)
class Address:
    """A person on a channel. ``verified`` means the provider vouches for it (a Telegram user id, a
    phone number Twilio delivered from, a contact shared with the share-phone button); an address
    typed by hand into a message is not verified."""

    kind: IdentityKind
    value: str
    verified: bool = True
    display_name: str | None = None


@dataclass(frozen=True)
class Attachment:
    """Media or structured content. ``kind``: image, file, audio, voice, video, sticker, location,
    contact. ``data`` carries kind-specific fields (latitude/longitude, phone of a shared contact)."""

    kind: str
    url: str | None = None
    filename: str | None = None
    content_type: str | None = None
    size: int | None = None
    caption: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    # Bytes that arrived inline (an email attachment). The hub moves them to its media store and
    # replaces them with a URL before anything is persisted; adapters never write files.
    content: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True)
class InboundMessage:
    """Something a customer wrote (or pressed, or shared)."""

    sender: Address
    text: str = ""
    attachments: tuple[Attachment, ...] = ()
    provider_message_id: str | None = None
    sent_at: datetime | None = None
    # A button/callback press carries the button's payload; text is then the button title if known.
    button_payload: str | None = None
    # An edit of an earlier message (same provider_message_id).
    edited: bool = False
    # A deep-link start parameter (Telegram /start <payload>, Viber context).
    start_payload: str | None = None
    # Identities the provider vouches for beyond the sender (a shared own contact -> verified phone).
    extra_identities: tuple[Address, ...] = ()
    locale: str | None = None
    # Email threading and subject.
    subject: str | None = None
    in_reply_to: tuple[str, ...] = ()
    # Provider-specific fields worth keeping on the message (never secrets).
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DeliveryReceipt:
    """A provider's report on a message we sent."""

    provider_message_id: str
    status: DeliveryStatus
    error: str | None = None
    at: datetime | None = None
    # When the report comes from the recipient's own client (web chat), only their messages count.
    recipient: str | None = None


@dataclass(frozen=True)
class SubscriptionChange:
    """A customer started, subscribed to, or unsubscribed from a channel (or texted STOP/START)."""

    sender: Address
    subscribed: bool
    start_payload: str | None = None
    # marketing unless the provider says the whole channel is closed.
    purpose: str = "marketing"
    reason: str | None = None


@dataclass(frozen=True)
class CallEvent:
    """A phone call's progress: started, answered, ended, missed."""

    call_id: str
    caller: Address
    callee: str
    status: CallStatus
    direction: str = "inbound"
    duration_seconds: int | None = None
    recording_url: str | None = None
    at: datetime | None = None


NormalizedEvent = InboundMessage | DeliveryReceipt | SubscriptionChange | CallEvent


@dataclass(frozen=True)
class Acknowledgement:
    """What the webhook answers the provider once the raw event is safely stored."""

    status_code: int = 200
    body: bytes = b'{"ok":true}'
    content_type: str = "application/json"


# --------------------------------------------------------------------------------------------------
# Outbound


@dataclass(frozen=True)
class Button:
    """A button or quick reply. ``payload`` comes back as InboundMessage.button_payload; ``url`` opens
    a link; ``request_contact`` asks for the person's own verified phone (Telegram/Viber share-phone
    button) and comes back as an InboundMessage with a verified phone in extra_identities."""

    title: str
    payload: str | None = None
    url: str | None = None
    request_contact: bool = False


@dataclass(frozen=True)
class OutboundMessage:
    """One message to one person on one channel account.

    ``to`` is the channel address (chat id, E.164 phone, whatsapp:+E164, email, visitor id).
    ``idempotency_key`` is stable across retries of the same message. ``metadata`` may carry
    ``list_unsubscribe``: an https URL where one request unsubscribes the recipient (email adapters
    send it as the List-Unsubscribe and List-Unsubscribe-Post headers).
    """

    to: str
    text: str
    idempotency_key: str
    buttons: tuple[Button, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    subject: str | None = None
    # Provider ids of the message this replies to (email In-Reply-To / References).
    reply_to: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SendResult:
    """What the provider accepted. A long text split in parts yields one id per part; the first is the
    message's id for receipts."""

    provider_message_ids: tuple[str, ...]
    status: DeliveryStatus = DeliveryStatus.SENT


@dataclass(frozen=True)
class Capabilities:
    buttons: bool = False
    media: bool = False
    max_text_length: int = 4096
    delivery_receipts: bool = False
    read_receipts: bool = False


@dataclass(frozen=True)
class RateLimits:
    """What the outbox may send through one account. ``per_recipient_per_second`` None = no per-chat
    limit."""

    per_second: float = 30.0
    per_recipient_per_second: float | None = None
    burst: int = 1


# --------------------------------------------------------------------------------------------------
# Errors: explicit outcomes the pipeline maps to HTTP answers and outbox decisions.


class ChannelError(Exception):
    """Base of every error an adapter raises on purpose."""


class SignatureError(ChannelError):
    """The request is not from the provider (forged, unsigned, wrong secret). 401/403, stored nowhere."""

    def __init__(self, reason: str, status_code: int = 401) -> None:
        super().__init__(reason)
        self.status_code = status_code


class MalformedEvent(ChannelError):
    """The request cannot be understood: 400 with this message."""


class TransientSendError(ChannelError):
    """Try again later (5xx, timeout, connection refused). ``retry_after`` in seconds if the provider
    said when."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class RateLimited(TransientSendError):
    """The provider answered 429 (or its equivalent)."""


class PermanentSendError(ChannelError):
    """Will never succeed as is (blocked by the user, bad number, bad credentials). The message is
    marked failed with this reason."""


# --------------------------------------------------------------------------------------------------
# The adapter


Publish = Callable[[str, Mapping[str, Any]], Awaitable[None]]
Ingest = Callable[[WebhookRequest], Awaitable[None]]


@dataclass(frozen=True)
class ChannelContext:
    """What the hub gives an adapter: its account name, the public base URL (Twilio signs the URL it
    called; status callbacks point back at it), a way to push live updates (webchat), and a key
    derived from the hub's secret for this account (webchat signs visitor tokens with it)."""

    account: str
    public_url: str
    publish: Publish | None = None
    http_timeout: float = 15.0
    signing_key: bytes = field(default=b"", repr=False)

    def webhook_url(self, channel_type: str) -> str:
        return f"{self.public_url.rstrip('/')}/webhooks/{channel_type}/{self.account}"


@runtime_checkable
class ChannelAdapter(Protocol):
    """One configured channel account."""

    type: str
    capabilities: Capabilities
    rate_limits: RateLimits

    def verify(self, request: WebhookRequest) -> None:
        """Raise SignatureError unless the request is authentic."""

    def event_id(self, request: WebhookRequest) -> str:
        """The provider's id for this delivery, stable across the provider's retries."""

    def acknowledgement(self, request: WebhookRequest) -> Acknowledgement:
        """The body the provider expects back."""

    def parse(self, request: WebhookRequest) -> list[NormalizedEvent]:
        """Normalised events in the request; [] for events we deliberately ignore."""

    async def send(self, message: OutboundMessage) -> SendResult:
        """Send through the provider; raise TransientSendError / RateLimited / PermanentSendError."""

    async def aclose(self) -> None:
        """Release connections."""


@runtime_checkable
class Listener(Protocol):
    """A channel that receives by itself rather than by webhook (an SMTP server, IMAP polling).
    ``listen`` runs until cancelled and hands every raw inbound item to ``ingest``, which persists
    and dedupes it exactly like a webhook."""

    async def listen(self, ingest: Ingest) -> None: ...


@runtime_checkable
class Checkable(Protocol):
    """An adapter that can ask its provider whether the account is set up (``hub channels check``)."""

    async def check(self, webhook_url: str) -> list[str]:
        """Problems in plain words a newcomer can act on; [] when the account is fine. What the
        provider answers, an unreachable provider included, is a problem in the list, never raised."""
        ...


@runtime_checkable
class Connectable(Protocol):
    """An adapter that can register its webhook with its provider (``hub channels connect``)."""

    async def connect(self, webhook_url: str) -> str:
        """Point the provider at ``webhook_url``; a one-line description of what was done.
        ChannelError with a plain sentence when that cannot be done."""
        ...

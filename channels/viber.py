"""Viber bot channel: callbacks in through a signed webhook, messages out through Viber's REST bot API.

Inbound
    Viber POSTs JSON callbacks signed in ``X-Viber-Content-Signature``: the hex HMAC-SHA256 of the raw
    body keyed with the bot's auth token. Viber's own Node SDK (viber-bot-node, lib/middleware.js) also
    takes the signature from the ``sig`` query parameter, so that is accepted too; it signs the same body.
    Viber re-sends a callback for about an hour until it gets a 200, so the dedupe key is
    (event, message_token, user id).

    Callbacks are read with viberbot's own request and message models. ``message`` becomes an
    InboundMessage; ``delivered`` / ``seen`` / ``failed`` become DeliveryReceipts; ``subscribed`` /
    ``unsubscribed`` become SubscriptionChanges; ``conversation_started`` (the user opened the chat, maybe
    through a deep link whose ``context`` is the start payload) becomes an empty InboundMessage with
    ``start_payload`` and ``metadata["conversation_started"]`` so the hub can greet and bind the person.
    Note that a user's first message subscribes them without any ``subscribed`` callback.

Buttons and shared phones
    Viber reports a keyboard press as an ordinary text message whose text is the button's ActionBody, and
    a share-phone press as an ordinary contact message. To tell them from typed text and from a contact
    picked out of the address book, every message carrying buttons also carries ``tracking_data`` (which
    Viber hands back with the user's next message) listing its reply payloads and whether it offered
    share-phone. A text equal to a listed payload is a button press; a contact arriving while share-phone
    was offered is the sender's own number and becomes a verified phone identity. Anything else is what
    the user typed or shared by hand (a contact then stays an unverified attachment). Viber itself marks
    neither, so a user who picks some other contact by hand while the share-phone button is showing
    cannot be told apart from one who pressed it.

Greeting
    The webhook answer is an empty 200: the hub greets through the outbox. Viber only lets a bot message
    a user who is subscribed, with one exception: a single welcome message returned in the body of the
    answer to ``conversation_started``. A user opening the chat for the first time is not subscribed
    (``metadata["subscribed"]`` is False) and an outbox greeting to them fails with receiverNotSubscribed;
    set ``welcome_text`` to answer those users with a welcome message in the webhook response instead.

Outbound
    Messages are built with viberbot's message classes (their ``to_dict()`` is the wire format and their
    ``validate()`` the pre-flight check) and POSTed to ``{api_base}/send_message`` with httpx. The SDK's
    own transport is not used: it calls ``requests.post`` without a timeout (a stalled Viber would pin a
    worker thread for good), reads its base URL from a module global shared by every bot, raises bare
    Exceptions with the status code only in their text, and logs the payload, auth token included, when a
    request fails.

Setup
    ``check`` asks ``get_account_info`` whether the auth token works and the webhook is ours; ``connect``
    calls ``set_webhook``, during which Viber POSTs a ``webhook`` callback to the URL and refuses the URL
    unless it answers 200: the hub must already be running and reachable there.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import posixpath
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import partial
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
import phonenumbers
from pydantic import Field, SecretStr
from viberbot.api.consts import BOT_API_ENDPOINT, VIBER_BOT_API_URL, VIBER_BOT_USER_AGENT
from viberbot.api.event_type import EventType
from viberbot.api.messages import (
    MESSAGE_TYPE_TO_CLASS,
    ContactMessage,
    FileMessage,
    KeyboardMessage,
    LocationMessage,
    PictureMessage,
    RichMediaMessage,
    StickerMessage,
    TextMessage,
    URLMessage,
    VideoMessage,
)
from viberbot.api.messages.data_types.contact import Contact
from viberbot.api.messages.data_types.location import Location
from viberbot.api.messages.typed_message import TypedMessage
from viberbot.api.user_profile import UserProfile
from viberbot.api.viber_requests import (
    EVENT_TYPE_TO_CLASS,
    ViberConversationStartedRequest,
    ViberDeliveredRequest,
    ViberFailedRequest,
    ViberMessageRequest,
    ViberSeenRequest,
    ViberSubscribedRequest,
    ViberUnsubscribedRequest,
    create_request,
)
from viberbot.api.viber_requests.viber_request import ViberRequest

from channels.contract import (
    Acknowledgement,
    Address,
    Attachment,
    Button,
    Capabilities,
    ChannelContext,
    ChannelError,
    DeliveryReceipt,
    DeliveryStatus,
    IdentityKind,
    InboundMessage,
    MalformedEvent,
    NormalizedEvent,
    OutboundMessage,
    PermanentSendError,
    RateLimited,
    RateLimits,
    SendResult,
    SignatureError,
    SubscriptionChange,
    TransientSendError,
    WebhookRequest,
)
from channels.spec import ChannelSettings, ChannelSpec
from channels.text_split import split_text

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Viber-Content-Signature"
AUTH_TOKEN_HEADER = "X-Viber-Auth-Token"
# Viber's message data model: text at most 7000 characters, tracking_data at most 4000.
MAX_TEXT_LENGTH = 7000
MAX_TRACKING_DATA_LENGTH = 4000
# Keyboard buttons of ActionType share-phone exist from Viber API level 3.
SHARE_PHONE_MIN_API_VERSION = 3
_SHARE_PHONE_ACTION_BODY = "share-phone"  # Viber requires a non-empty ActionBody even for share-phone
_TRACKING_PREFIX = "omnihub:"
_TOKEN_REJECTED = (
    "Viber rejected the auth token: copy it again from the bot's Info page at partners.viber.com"
)
_EMPTY_ANSWER = Acknowledgement(status_code=200, body=b"", content_type="text/plain")

# Status codes from Viber's REST bot API error table.
INVALID_URL = 1
INVALID_AUTH_TOKEN = 2
TOO_MANY_REQUESTS = 12
# send_message's refusals, worded for a support agent.
_PERMANENT_STATUSES: dict[int, str] = {
    2: "Viber rejected the bot's auth token; check the account's settings (invalidAuthToken)",
    3: "Viber could not read the message (badData)",
    4: "Viber says the message lacks required data (missingData)",
    5: "the recipient is not registered on Viber (receiverNotRegistered)",
    6: "the customer is not subscribed to this Viber bot: they unsubscribed or never wrote to it "
    "(receiverNotSubscribed)",
    7: "this Viber bot is blocked (publicAccountBlocked)",
    8: "the auth token does not belong to a Viber bot (publicAccountNotFound)",
    9: "this Viber bot is suspended (publicAccountSuspended)",
    10: "this Viber bot has no webhook set, and Viber only lets bots with a webhook send (webhookNotSet)",
    11: "the customer's device or Viber version cannot receive bot messages (receiverNoSuitableDevice)",
    13: "the customer's Viber app is too old for this message, e.g. for its buttons (apiVersionNotSupported)",
    14: "the message's minimum API version does not fit its content (incompatibleWithVersion)",
}
# Viber documents no per-second limit for send_message; the one published request rate of the bot API
# is 500 requests per 10 s (broadcast_message), and the outbox stays at half of it.
_RATE_LIMITS = RateLimits(per_second=25.0, burst=10)
# The callbacks set_webhook asks for (message, subscribed and unsubscribed come whatever is asked).
WEBHOOK_EVENTS = (
    EventType.DELIVERED,
    EventType.SEEN,
    EventType.FAILED,
    EventType.SUBSCRIBED,
    EventType.UNSUBSCRIBED,
    EventType.CONVERSATION_STARTED,
)
# How many half-sent messages (a split text whose later part failed) are remembered for their retry.
_MAX_REMEMBERED_PROGRESS = 1024


class ViberSettings(ChannelSettings):
    """A Viber bot account."""

    type: Literal["viber"] = "viber"
    auth_token: SecretStr = Field(min_length=1)
    # The sender name shown on every message; Viber allows at most 28 characters.
    bot_name: str = Field(default="omnihub", min_length=1, max_length=28)
    avatar: str | None = None
    # The welcome message answered to a not-yet-subscribed user opening the chat (see module docstring).
    welcome_text: str | None = Field(default=None, min_length=1, max_length=MAX_TEXT_LENGTH)
    # The bot's public account URI, for deep links (viber://pa?chatURI=<uri>&context=<token>).
    chat_uri: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]{1,100}$")


@dataclass(frozen=True)
class _Tracking:
    """What one of our messages offered, as handed back by Viber with the user's reply."""

    buttons: Mapping[str, str] = field(default_factory=dict)  # reply payload -> button title
    share_phone: bool = False


class ViberAdapter:
    """One Viber bot."""

    type = "viber"
    capabilities = Capabilities(
        buttons=True, media=True, max_text_length=MAX_TEXT_LENGTH, delivery_receipts=True, read_receipts=True
    )
    rate_limits = _RATE_LIMITS

    def __init__(self, settings: ViberSettings, context: ChannelContext) -> None:
        self._token = settings.auth_token
        self._sender: dict[str, str] = {"name": settings.bot_name}
        if settings.avatar:
            self._sender["avatar"] = settings.avatar
        self._welcome_text = settings.welcome_text
        self._account = context.account
        self._api_base = (settings.api_base or VIBER_BOT_API_URL).rstrip("/")
        self._send_url = f"{self._api_base}/{BOT_API_ENDPOINT.SEND_MESSAGE}"
        self._timeout = context.http_timeout
        self._client = httpx.AsyncClient(
            timeout=context.http_timeout,
            headers={AUTH_TOKEN_HEADER: self._token.get_secret_value(), "User-Agent": VIBER_BOT_USER_AGENT},
        )
        # Provider ids of the parts already accepted, per idempotency key, so that a retry after a
        # transient failure half-way through a split message sends only the parts that are missing.
        self._progress: OrderedDict[str, list[str]] = OrderedDict()

    # ----------------------------------------------------------------------------------------------
    # Inbound

    def verify(self, request: WebhookRequest) -> None:
        """Check the HMAC-SHA256 signature of the body (header, or the ``sig`` query parameter)."""
        provided = request.header(SIGNATURE_HEADER) or request.query.get("sig")
        if not provided:
            raise SignatureError(f"the request has no {SIGNATURE_HEADER} header and no sig parameter")
        expected = hmac.new(self._token.get_secret_value().encode(), request.body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected.encode(), provided.strip().lower().encode()):
            raise SignatureError("the Viber signature does not match the body")

    def event_id(self, request: WebhookRequest) -> str:
        """``event:message_token:user`` — the same for every retry of one callback."""
        payload = _json_object(request)
        event = _event_name(payload)
        token = payload.get("message_token", payload.get("timestamp"))
        if token is None:
            raise MalformedEvent(f"the Viber {event} callback has neither a message_token nor a timestamp")
        return f"{event}:{token}:{_user_id(payload)}"

    def acknowledgement(self, request: WebhookRequest) -> Acknowledgement:
        """An empty 200, or the welcome message for a new user opening the chat if one is configured."""
        if self._welcome_text is None:
            return _EMPTY_ANSWER
        payload = _json_object(request)
        if payload.get("event") != "conversation_started" or payload.get("subscribed") is True:
            return _EMPTY_ANSWER
        welcome = {**TextMessage(text=self._welcome_text).to_dict(), "sender": self._sender}
        return Acknowledgement(body=json.dumps(welcome, ensure_ascii=False).encode())

    def parse(self, request: WebhookRequest) -> list[NormalizedEvent]:
        """The callback as normalised events; [] for the set-webhook check and unknown callbacks."""
        payload = _json_object(request)
        event = _event_name(payload)
        if event == "webhook":
            return []
        if event not in EVENT_TYPE_TO_CLASS:
            logger.debug("ignoring a Viber %r callback, an event this adapter does not know", event)
            return []
        raw_message = payload.get("message")
        if event == "message" and isinstance(raw_message, Mapping):
            message_type = raw_message.get("type")
            if message_type is not None and message_type not in MESSAGE_TYPE_TO_CLASS:
                return [_unsupported_message(payload, str(message_type))]
        parsed = _sdk_request(payload, event)
        at = _timestamp(payload.get("timestamp"))
        match parsed:
            case ViberMessageRequest():
                return [_inbound_message(parsed, raw_message or {}, at)]
            case ViberConversationStartedRequest():
                return [
                    InboundMessage(
                        sender=_person(parsed.user, event),
                        provider_message_id=str(parsed.message_token),
                        sent_at=at,
                        start_payload=parsed.context or None,
                        locale=parsed.user.language,
                        metadata={"conversation_started": True, "subscribed": parsed.subscribed is True},
                    )
                ]
            case ViberSubscribedRequest():
                return [SubscriptionChange(sender=_person(parsed.user, event), subscribed=True)]
            case ViberUnsubscribedRequest():
                return [
                    SubscriptionChange(
                        sender=Address(IdentityKind.VIBER, str(parsed.user_id)),
                        subscribed=False,
                        reason="unsubscribed from the Viber bot; Viber refuses every message to them "
                        "until they write to it again",
                    )
                ]
            case ViberDeliveredRequest():
                return [DeliveryReceipt(str(parsed.message_token), DeliveryStatus.DELIVERED, at=at)]
            case ViberSeenRequest():
                return [DeliveryReceipt(str(parsed.message_token), DeliveryStatus.READ, at=at)]
            case ViberFailedRequest():
                return [
                    DeliveryReceipt(
                        str(parsed.message_token), DeliveryStatus.FAILED, error=parsed.desc, at=at
                    )
                ]
        raise AssertionError(f"viberbot parsed a {event!r} callback into an unexpected {parsed!r}")

    # ----------------------------------------------------------------------------------------------
    # Outbound

    async def send(self, message: OutboundMessage) -> SendResult:
        """Send text parts, then attachments; buttons ride on the last of them."""
        bodies = self._wire_messages(message)
        sent = self._progress.pop(message.idempotency_key, [])
        try:
            for body in bodies[len(sent) :]:
                sent.append(await self._post(body))
        except TransientSendError:
            self._progress[message.idempotency_key] = sent
            if len(self._progress) > _MAX_REMEMBERED_PROGRESS:
                self._progress.popitem(last=False)
            raise
        return SendResult(provider_message_ids=tuple(sent))

    async def aclose(self) -> None:
        """Close the HTTP connections to Viber."""
        await self._client.aclose()

    # ----------------------------------------------------------------------------------------------
    # Setup

    async def check(self, webhook_url: str) -> list[str]:
        """Ask Viber (get_account_info) whether the auth token works and the webhook is ``webhook_url``."""
        try:
            info = await self._call(BOT_API_ENDPOINT.GET_ACCOUNT_INFO, {})
        except ChannelError as exc:
            return [str(exc)]
        return _account_problems(info, webhook_url, self._account)

    async def connect(self, webhook_url: str) -> str:
        """set_webhook with the callbacks the hub reads; Viber calls the URL to verify it meanwhile."""
        events = list(WEBHOOK_EVENTS)
        body = {"url": webhook_url, "event_types": events, "send_name": True, "send_photo": True}
        try:
            await self._call(BOT_API_ENDPOINT.SET_WEBHOOK, body)
        except _Refused as exc:
            if exc.status != INVALID_URL:
                raise
            raise ChannelError(
                f"{exc}. Viber calls the webhook URL to verify it while setting it, so `hub serve` must be "
                f"running and reachable at {webhook_url} over HTTPS with a valid certificate"
            ) from None
        return f"Viber called {webhook_url} to verify it and now sends the bot's callbacks there"

    async def _call(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST ``body`` to a bot API endpoint; its answer when the status is 0, ChannelError otherwise."""
        try:
            async with asyncio.timeout(self._timeout):
                response = await self._client.post(f"{self._api_base}/{endpoint}", json=body)
        except (TimeoutError, httpx.TimeoutException):
            raise ChannelError(f"could not reach Viber (no answer within {self._timeout:g} s)") from None
        except httpx.TransportError as exc:
            raise ChannelError(f"could not reach Viber ({exc or type(exc).__name__})") from None
        return _api_answer(response)

    def _wire_messages(self, message: OutboundMessage) -> list[dict[str, Any]]:
        chunks = split_text(message.text, MAX_TEXT_LENGTH, length=len) if message.text.strip() else []
        parts: list[partial[TypedMessage]] = [partial(TextMessage, text=chunk) for chunk in chunks]
        parts += [_attachment_part(attachment) for attachment in message.attachments]
        if not parts:
            raise PermanentSendError("the message has no text and no attachment to send on Viber")
        sdk_messages = [part() for part in parts[:-1]]
        sdk_messages.append(parts[-1](**_keyboard_fields(message.buttons)))
        return [self._envelope(sdk_message, message.to) for sdk_message in sdk_messages]

    def _envelope(self, sdk_message: TypedMessage, receiver: str) -> dict[str, Any]:
        if not sdk_message.validate():
            raise PermanentSendError(f"Viber would refuse this message as incomplete: {sdk_message}")
        # Like viberbot's MessageSender: the message's fields plus receiver and sender, without nulls.
        fields = {key: value for key, value in sdk_message.to_dict().items() if value is not None}
        return {**fields, "receiver": receiver, "sender": self._sender}

    async def _post(self, body: dict[str, Any]) -> str:
        content = json.dumps(body, ensure_ascii=False).encode()
        try:
            async with asyncio.timeout(self._timeout):
                response = await self._client.post(
                    self._send_url, content=content, headers={"Content-Type": "application/json"}
                )
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise TransientSendError(f"Viber did not answer within {self._timeout:g} s") from exc
        except httpx.TransportError as exc:
            raise TransientSendError(f"could not reach Viber: {exc or type(exc).__name__}") from exc
        return _message_token(response)


class _Refused(ChannelError):
    """Viber answered a setup call with a non-zero status."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def _api_answer(response: httpx.Response) -> dict[str, Any]:
    """The answer of a setup call (get_account_info, set_webhook) when its status is 0."""
    if response.status_code >= 500:
        raise ChannelError(f"could not reach Viber (it answered HTTP {response.status_code})")
    if not response.is_success:
        raise ChannelError(f"Viber refused the request with HTTP {response.status_code}")
    try:
        answer = response.json()
    except ValueError:
        raise ChannelError("could not reach Viber (the answer was not JSON)") from None
    if not isinstance(answer, dict) or not isinstance(answer.get("status"), int):
        raise ChannelError("could not reach Viber (the answer carries no status)")
    status, words = answer["status"], answer.get("status_message")
    if status == 0:
        return answer
    if status == INVALID_AUTH_TOKEN:
        raise _Refused(status, _TOKEN_REJECTED)
    if status == INVALID_URL:
        raise _Refused(status, f"Viber refused the webhook URL ({words})")
    raise _Refused(status, _PERMANENT_STATUSES.get(status, f"Viber answered status {status} ({words})"))


def _account_problems(info: Mapping[str, Any], webhook_url: str, account: str) -> list[str]:
    """What get_account_info says is wrong with the webhook: not set, set elsewhere, callbacks missing."""
    connect = f"run `hub channels connect {account}` while `hub serve` is running (Viber calls the URL)"
    webhook = info.get("webhook") or ""
    if not webhook:
        return [f"the webhook is not set: {connect}"]
    problems = []
    if webhook != webhook_url:
        problems.append(f"the webhook is set to {webhook}, not to {webhook_url}: {connect}")
    subscribed = info.get("event_types")
    missing = [event for event in WEBHOOK_EVENTS if isinstance(subscribed, list) and event not in subscribed]
    if missing:
        problems.append(f"Viber does not send {', '.join(missing)} callbacks to the webhook: {connect}")
    return problems


# --------------------------------------------------------------------------------------------------
# Reading callbacks


def _json_object(request: WebhookRequest) -> dict[str, Any]:
    payload = request.json()
    if not isinstance(payload, dict):
        raise MalformedEvent("the Viber callback is not a JSON object")
    return payload


def _event_name(payload: Mapping[str, Any]) -> str:
    event = payload.get("event")
    if not isinstance(event, str) or not event:
        raise MalformedEvent("the Viber callback has no event field")
    return event


def _user_id(payload: Mapping[str, Any]) -> str:
    """The user a callback is about: sender.id (message), user.id (subscribed, conversation_started)
    or user_id (receipts, unsubscribed); empty for the set-webhook check."""
    for key in ("sender", "user"):
        person = payload.get(key)
        if isinstance(person, Mapping) and person.get("id") is not None:
            return str(person["id"])
    user_id = payload.get("user_id")
    return "" if user_id is None else str(user_id)


def _sdk_request(payload: dict[str, Any], event: str) -> ViberRequest:
    try:
        return create_request(payload)
    except KeyError as exc:
        raise MalformedEvent(f"the Viber {event} callback has no {exc.args[0]!r} field") from exc
    except Exception as exc:  # viberbot reports bad shapes with bare Exceptions, TypeErrors, ...
        raise MalformedEvent(f"the Viber {event} callback cannot be read: {exc}") from exc


def _timestamp(value: object) -> datetime | None:
    """Viber timestamps are unix milliseconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, UTC)
    return None


def _person(profile: UserProfile, event: str) -> Address:
    if profile.id is None:
        raise MalformedEvent(f"the Viber {event} callback names no user id")
    return Address(IdentityKind.VIBER, str(profile.id), verified=True, display_name=profile.name)


def _inbound_message(
    request: ViberMessageRequest, raw: Mapping[str, Any], at: datetime | None
) -> InboundMessage:
    """A user's message. ``raw`` is the callback's message object, for the fields viberbot drops
    (file names and sizes of pictures, the image of a sticker, the address of a location)."""
    message = request.message
    sender = _person(request.sender, "message")
    common: dict[str, Any] = {
        "sender": sender,
        "provider_message_id": str(request.message_token),
        "sent_at": at,
        "locale": request.sender.language,
        "metadata": {"message_type": raw.get("type")},
    }
    tracking = _decode_tracking(message.tracking_data)
    match message:
        case TextMessage():
            text = message.text or ""
            if text in tracking.buttons:
                return InboundMessage(text=tracking.buttons[text] or text, button_payload=text, **common)
            return InboundMessage(text=text, **common)
        case PictureMessage():
            picture = Attachment("image", url=message.media, filename=raw.get("file_name"), size=_size(raw))
            return InboundMessage(text=message.text or "", attachments=(picture,), **common)
        case VideoMessage():
            data = {"duration": message.duration, "thumbnail": message.thumbnail}
            video = Attachment("video", url=message.media, size=_size(raw), data=_without_nulls(data))
            return InboundMessage(text=message.text or "", attachments=(video,), **common)
        case FileMessage():
            file = Attachment("file", url=message.media, filename=message.file_name, size=_size(raw))
            return InboundMessage(attachments=(file,), **common)
        case StickerMessage():
            sticker = Attachment("sticker", url=raw.get("media"), data={"sticker_id": message.sticker_id})
            return InboundMessage(text="[sticker]", attachments=(sticker,), **common)
        case ContactMessage():
            return _contact_message(message, request.sender.country, tracking, common)
        case URLMessage():
            return InboundMessage(text=message.media or "", **common)
        case LocationMessage():
            if message.location is None:
                raise MalformedEvent("the Viber location message has no location")
            place = raw.get("location")
            address = place.get("address") if isinstance(place, Mapping) else None
            data = {"latitude": message.location.latitude, "longitude": message.location.longitude}
            location = Attachment("location", data=_without_nulls({**data, "address": address}))
            return InboundMessage(attachments=(location,), **common)
        case RichMediaMessage() | KeyboardMessage():
            # Forwarded rich content; a press on one of its buttons arrives as a text message instead.
            return InboundMessage(text=str(raw.get("alt_text") or ""), **common)
    raise AssertionError(f"viberbot parsed a message into an unexpected {message!r}")


def _contact_message(
    message: ContactMessage, country: str | None, tracking: _Tracking, common: dict[str, Any]
) -> InboundMessage:
    """A shared contact. Only one sent while our share-phone button was offered is the sender's own,
    verified number; a contact shared by hand stays an unverified attachment."""
    contact = message.contact
    name = contact.name if contact else None
    raw_phone = contact.phone_number if contact else None
    phone = _e164(raw_phone, country)
    data = _without_nulls({"name": name, "phone": phone or raw_phone})
    extra: tuple[Address, ...] = ()
    if tracking.share_phone and phone is not None:
        extra = (Address(IdentityKind.PHONE, phone, verified=True, display_name=name),)
    return InboundMessage(attachments=(Attachment("contact", data=data),), extra_identities=extra, **common)


def _unsupported_message(payload: Mapping[str, Any], message_type: str) -> InboundMessage:
    """A message of a type viberbot does not model: kept, labelled, so the agent sees that one came."""
    sender = payload.get("sender")
    if not isinstance(sender, Mapping) or sender.get("id") is None:
        raise MalformedEvent("the Viber message callback names no sender id")
    token = payload.get("message_token")
    return InboundMessage(
        sender=Address(IdentityKind.VIBER, str(sender["id"]), verified=True, display_name=sender.get("name")),
        text=f"[unsupported Viber message: {message_type}]",
        provider_message_id=None if token is None else str(token),
        sent_at=_timestamp(payload.get("timestamp")),
        locale=sender.get("language"),
        metadata={"message_type": message_type},
    )


def _size(raw: Mapping[str, Any]) -> int | None:
    # The send API calls it size; the receive callback documents file_size.
    for key in ("size", "file_size"):
        value = raw.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _without_nulls(data: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if value is not None}


def _e164(raw: str | None, country: str | None) -> str | None:
    """A shared phone number in E.164. Viber numbers are international, with or without the +; a
    national number is read in the sender's country."""
    if not raw or not raw.strip():
        return None
    number = raw.strip()
    attempts = ((number if number.startswith("+") else f"+{number}", None), (number, country))
    for text, region in attempts:
        try:
            parsed = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(parsed):
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    logger.debug("a shared Viber contact has a phone number that cannot be read: %r", raw)
    return None


# --------------------------------------------------------------------------------------------------
# Buttons and tracking data


def _keyboard_fields(buttons: Sequence[Button]) -> dict[str, Any]:
    """The keyword arguments that put the buttons on a viberbot message."""
    if not buttons:
        return {}
    share_phone = any(button.request_contact for button in buttons)
    fields: dict[str, Any] = {"keyboard": {"Type": "keyboard", "Buttons": [_button(b) for b in buttons]}}
    if share_phone:
        fields["min_api_version"] = SHARE_PHONE_MIN_API_VERSION
    replies = {
        b.payload: b.title for b in buttons if b.payload is not None and not b.url and not b.request_contact
    }
    tracking = _encode_tracking(replies, share_phone)
    if tracking is not None:
        fields["tracking_data"] = tracking
    return fields


def _button(button: Button) -> dict[str, Any]:
    if button.request_contact:
        return {"ActionType": "share-phone", "ActionBody": _SHARE_PHONE_ACTION_BODY, "Text": button.title}
    if button.url:
        return {"ActionType": "open-url", "ActionBody": button.url, "Text": button.title}
    body = button.payload if button.payload is not None else button.title
    # A payload that is not the title would look odd in the chat, so its press is not shown there.
    return {"ActionType": "reply", "ActionBody": body, "Text": button.title, "Silent": body != button.title}


def _encode_tracking(replies: Mapping[str, str], share_phone: bool) -> str | None:
    if not replies and not share_phone:
        return None
    # Titles only make the hub's copy of a press nicer; they go first when Viber's limit is near.
    for buttons in (dict(replies), dict.fromkeys(replies, "")):
        encoded = _TRACKING_PREFIX + json.dumps({"b": buttons, "p": share_phone}, ensure_ascii=False)
        if len(encoded) <= MAX_TRACKING_DATA_LENGTH:
            return encoded
    logger.warning("too many button payloads to track on Viber; presses will arrive as plain text")
    return _TRACKING_PREFIX + json.dumps({"b": {}, "p": share_phone})


def _decode_tracking(value: object) -> _Tracking:
    if not isinstance(value, str) or not value.startswith(_TRACKING_PREFIX):
        return _Tracking()
    try:
        data = json.loads(value.removeprefix(_TRACKING_PREFIX))
    except json.JSONDecodeError:
        return _Tracking()
    if not isinstance(data, dict):
        return _Tracking()
    buttons = data.get("b")
    replies = {str(k): str(v) for k, v in buttons.items()} if isinstance(buttons, dict) else {}
    return _Tracking(buttons=replies, share_phone=data.get("p") is True)


# --------------------------------------------------------------------------------------------------
# Sending


def _attachment_part(attachment: Attachment) -> partial[TypedMessage]:
    """The viberbot message for an attachment: natively where Viber can, as a link otherwise."""
    data = attachment.data
    if attachment.kind == "location" and "latitude" in data and "longitude" in data:
        return partial(LocationMessage, location=Location(lat=data["latitude"], lon=data["longitude"]))
    if attachment.kind == "contact" and data.get("phone"):
        contact = Contact(name=data.get("name") or data["phone"], phone_number=data["phone"])
        return partial(ContactMessage, contact=contact)
    if attachment.kind == "sticker" and isinstance(data.get("sticker_id"), int):
        return partial(StickerMessage, sticker_id=data["sticker_id"])
    url = attachment.url
    if url is None:
        raise PermanentSendError(f"the {attachment.kind} attachment has no URL Viber could fetch it from")
    if attachment.kind == "image":
        return partial(PictureMessage, media=url, text=attachment.caption or "")
    # Viber needs the size of a video or file up front; without it the customer gets a link.
    if attachment.size is None:
        return partial(URLMessage, media=url)
    if attachment.kind == "video":
        return partial(
            VideoMessage,
            media=url,
            size=attachment.size,
            text=attachment.caption,
            thumbnail=data.get("thumbnail"),
            duration=data.get("duration"),
        )
    file_name = attachment.filename or posixpath.basename(urlsplit(url).path) or "file"
    return partial(FileMessage, media=url, size=attachment.size, file_name=file_name)


def _message_token(response: httpx.Response) -> str:
    """The message_token of an accepted message; the matching send error otherwise."""
    code = response.status_code
    if code == 429:
        raise RateLimited("Viber is rate limiting this bot (HTTP 429)", retry_after=_retry_after(response))
    if code >= 500 or code == 408:
        raise TransientSendError(f"Viber answered HTTP {code}", retry_after=_retry_after(response))
    if not response.is_success:
        raise PermanentSendError(f"Viber refused the request with HTTP {code}")
    try:
        answer = response.json()
    except ValueError as exc:
        raise TransientSendError("Viber answered with a body that is not JSON") from exc
    status = answer.get("status") if isinstance(answer, dict) else None
    if status == 0 and answer.get("message_token") is not None:
        return str(answer["message_token"])
    if not isinstance(status, int) or isinstance(status, bool) or status == 0:
        raise TransientSendError("Viber's answer carries no status and message token")
    if status == TOO_MANY_REQUESTS:
        # Viber allows 100 messages an hour to a user who has not replied; a reply resets the count.
        raise RateLimited(
            "this customer got 100 Viber messages within an hour without replying (tooManyRequests)",
            retry_after=3600.0,
        )
    reason = _PERMANENT_STATUSES.get(status)
    if reason is None:
        reason = f"Viber refused the message with status {status} ({answer.get('status_message')})"
    raise PermanentSendError(reason)


def _retry_after(response: httpx.Response) -> float | None:
    """Retry-After in seconds: a number of seconds or an HTTP date."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # an HTTP date in "-0000" form
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


SPEC = ChannelSpec(
    type="viber",
    settings=ViberSettings,
    build=ViberAdapter,
    description="Viber bot: signed webhook callbacks in, Viber REST bot API out",
)

"""SMS and WhatsApp accounts on Twilio Programmable Messaging.

Both channels share Twilio's Messages API and webhook format; they differ in addresses
(``+E164`` / ``whatsapp:+E164``), what one message may carry and how fast a sender may send:

* SMS: media go as MMS, which carriers deliver in the US and Canada; elsewhere Twilio converts or
  refuses them (the hub still passes the URLs, Twilio decides). Delivery receipts, no read receipts.
  A US long-code number sends one segment per second; the outbox is held to one message a second
  and Twilio's per-sender queue (up to 10 hours) absorbs the extra segments of long messages. Short
  codes and Messaging Service pools are faster than this conservative default.
* WhatsApp: one media per message, delivery and read receipts, 80 messages per second per sender by
  Twilio's default ("The WhatsApp Business Platform with Twilio: Best Practices and FAQs"); the shared
  sandbox sender allows one request every three seconds. Buttons degrade to a numbered list
  (``capabilities.buttons`` is False so the hub knows they degrade). Free-form messages only reach a
  customer within 24 hours of their last message (error 63016 otherwise).

Configure the number's (or Messaging Service's) "A message comes in" webhook as the account's webhook
URL; status callbacks are requested per message and arrive at the same URL. ``connect`` does that for a
number through the API; a Messaging Service's and the WhatsApp sandbox's webhooks are set in the console.
"""

from __future__ import annotations

from channels.contract import (
    Acknowledgement,
    Capabilities,
    ChannelContext,
    ChannelError,
    NormalizedEvent,
    OutboundMessage,
    PermanentSendError,
    RateLimits,
    SendResult,
    WebhookRequest,
)
from channels.twilio.addresses import E164, WHATSAPP_PREFIX, whatsapp_address
from channels.twilio.compose import BODY_LIMIT, MessageRules, compose
from channels.twilio.message_events import message_event_id, parse_message_webhook
from channels.twilio.rest import WEBHOOK_METHOD, AccountApi, MessagesApi, PhoneNumber, webhook_problem
from channels.twilio.settings import SmsSettings, WhatsAppSettings
from channels.twilio.signature import verify_signature
from channels.twilio.twiml import twiml_acknowledgement

SMS_PER_SECOND = 1.0
WHATSAPP_PER_SECOND = 80.0
# Twilio's shared WhatsApp sandbox sender takes one request every three seconds (error 63018 beyond).
WHATSAPP_SANDBOX_SENDER = "whatsapp:+14155238886"
WHATSAPP_SANDBOX_PER_SECOND = 1 / 3
# Twilio accepts up to ten MediaUrl values per MMS.
_MMS_MEDIA_LIMIT = 10


def _sms_reply_hint(count: int) -> str:
    numbers = [str(number) for number in range(1, count + 1)]
    listed = numbers[0] if count == 1 else f"{', '.join(numbers[:-1])} or {numbers[-1]}"
    return f"Reply {listed}"


SMS_RULES = MessageRules(media_per_message=_MMS_MEDIA_LIMIT, reply_hint=_sms_reply_hint)
WHATSAPP_RULES = MessageRules(media_per_message=1, reply_hint=lambda count: "Reply with a number")


def _sending_rate(settings: SmsSettings | WhatsAppSettings) -> float:
    """Messages per second one sender may be given."""
    if isinstance(settings, SmsSettings):
        return SMS_PER_SECOND
    return WHATSAPP_SANDBOX_PER_SECOND if settings.from_ == WHATSAPP_SANDBOX_SENDER else WHATSAPP_PER_SECOND


class TwilioMessagingAdapter:
    """One SMS or WhatsApp sender on Twilio: verifies and parses its webhooks, sends its messages."""

    def __init__(self, settings: SmsSettings | WhatsAppSettings, context: ChannelContext) -> None:
        self.type = settings.type
        self._settings = settings
        self._context = context
        credentials = (settings.account_sid, settings.auth_token, settings.api_base, context.http_timeout)
        self._api = MessagesApi(*credentials)
        self._account_api = AccountApi(*credentials)
        self._service_sid = settings.messaging_service_sid if isinstance(settings, SmsSettings) else None
        whatsapp = isinstance(settings, WhatsAppSettings)
        self._rules = WHATSAPP_RULES if whatsapp else SMS_RULES
        self.capabilities = Capabilities(
            buttons=False,
            media=True,
            max_text_length=BODY_LIMIT,
            delivery_receipts=True,
            read_receipts=whatsapp,
        )
        self.rate_limits = RateLimits(per_second=_sending_rate(settings))

    def verify(self, request: WebhookRequest) -> None:
        """Raise SignatureError (403) unless Twilio signed the request with this account's token."""
        verify_signature(request, self._settings.auth_token)

    def event_id(self, request: WebhookRequest) -> str:
        """MessageSid for an inbound message, MessageSid:MessageStatus for a status callback."""
        return message_event_id(request.form())

    def acknowledgement(self, request: WebhookRequest) -> Acknowledgement:
        """An empty TwiML response: the hub answers customers through the API, not in the reply."""
        return twiml_acknowledgement()

    def parse(self, request: WebhookRequest) -> list[NormalizedEvent]:
        """Inbound messages (with STOP/START subscription changes) and delivery receipts."""
        return parse_message_webhook(request.form(), channel=self.type)

    async def send(self, message: OutboundMessage) -> SendResult:
        """Send ``message`` as one or more Twilio messages; the first SID identifies it for receipts."""
        to = self._recipient(message.to)
        sids = []
        for part in compose(message, self._rules):
            sid = await self._api.create(
                to=to,
                from_=self._settings.from_,
                messaging_service_sid=self._service_sid,
                body=part.body,
                media_urls=part.media_urls,
                status_callback=self._context.webhook_url(self.type),
            )
            sids.append(sid)
        return SendResult(provider_message_ids=tuple(sids))

    async def check(self, webhook_url: str) -> list[str]:
        """Ask Twilio whether the credentials work and the sender's number sends its messages to
        ``webhook_url`` (only the credentials for a Messaging Service or the WhatsApp sandbox, whose
        webhooks the API does not show)."""
        try:
            await self._account_api.verify()
            number = await self._own_number()
        except ChannelError as exc:
            return [str(exc)]
        if number is None:
            return []
        if number.sms_application_sid:
            return [
                f"messages to {number.phone_number} go to the TwiML app {number.sms_application_sid}, "
                f"which overrides the number's webhook: run `hub channels connect {self._context.account}`"
            ]
        what = f"the 'A message comes in' webhook of {number.phone_number}"
        problem = webhook_problem(what, number.sms_url, number.sms_method, webhook_url, self._context.account)
        return [problem] if problem else []

    async def connect(self, webhook_url: str) -> str:
        """Point the sender number's 'A message comes in' webhook (POST) at ``webhook_url``."""
        number = await self._own_number()
        if number is None:
            raise ChannelError(self._console_instructions(webhook_url))
        await self._account_api.update_number(
            number.sid, sms_url=webhook_url, sms_method=WEBHOOK_METHOD, sms_application_sid=""
        )
        return f"Twilio now sends messages to {number.phone_number} to {webhook_url}"

    async def aclose(self) -> None:
        """Close the connections to Twilio's API."""
        await self._api.aclose()
        await self._account_api.aclose()

    async def _own_number(self) -> PhoneNumber | None:
        """The account's number whose webhook receives this sender's messages; None when the webhook
        is not the number's (a Messaging Service, the WhatsApp sandbox). ChannelError when the number
        is not in the account."""
        sender = self._settings.from_
        if self._service_sid or sender is None or sender == WHATSAPP_SANDBOX_SENDER:
            return None
        phone = sender.removeprefix(WHATSAPP_PREFIX)
        found = await self._account_api.numbers(phone)
        if not found:
            raise ChannelError(
                f"the number {phone} is not in this Twilio account: check 'from' and account_sid "
                "(Phone Numbers > Active numbers in the console)"
            )
        return found[0]

    def _console_instructions(self, webhook_url: str) -> str:
        """Where to paste the webhook URL when the API cannot set it."""
        if self._service_sid:
            return (
                f"messages go through the Messaging Service {self._service_sid}, whose webhook is set in the "
                f"Twilio console: Messaging > Services > Integration, 'Send a webhook', Request URL "
                f"{webhook_url} (HTTP POST)"
            )
        return (
            "the WhatsApp sandbox's webhook is set in the Twilio console only: Messaging > Try it out > "
            f"Send a WhatsApp message > Sandbox settings, 'When a message comes in' {webhook_url} (POST)"
        )

    def _recipient(self, to: str) -> str:
        """Twilio's ``To``: the E.164 number, prefixed with ``whatsapp:`` on WhatsApp (the hub may
        give the number with or without the prefix)."""
        number = to.removeprefix(WHATSAPP_PREFIX) if self.type == "whatsapp" else to
        if not E164.fullmatch(number):
            raise PermanentSendError(
                f"{to!r} is not a phone number in international format, like +15005550006"
            )
        return whatsapp_address(number) if self.type == "whatsapp" else number

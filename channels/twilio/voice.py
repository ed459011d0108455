"""A Twilio phone number taking calls: call progress for the hub's call log, and the call flow.

Configure the number's "A call comes in" webhook and its "Call status changes" callback as the
account's webhook URL. The answer to the incoming-call request decides what the caller hears:

* ``forward_to`` set: ``<Dial timeout action>`` rings that phone; the dial's outcome comes back to the
  same URL (the ``action``), which answers with ``greeting`` (if any) and ``<Hangup/>`` when nobody
  picked up, so the caller is not left in silence and the hub records a missed call;
* else ``greeting`` set: ``<Say>`` it, then ``<Hangup/>``;
* else ``<Reject reason="busy"/>``: Twilio does not pick up (nobody is billed) and the call ends
  ``busy``, which the hub records as missed.

Status callbacks get an empty ``<Response/>``: Twilio ignores their answer.
"""

from __future__ import annotations

from twilio.twiml.voice_response import VoiceResponse

from channels.contract import (
    Acknowledgement,
    Capabilities,
    ChannelContext,
    NormalizedEvent,
    OutboundMessage,
    PermanentSendError,
    RateLimits,
    SendResult,
    WebhookRequest,
)
from channels.twilio.call_events import DIAL_ANSWERED, call_event_id, is_dial_result, parse_call_webhook
from channels.twilio.settings import VoiceSettings
from channels.twilio.signature import verify_signature
from channels.twilio.twiml import twiml_acknowledgement

# The first request of an incoming call; every later one is a status callback or the dial's result.
_INCOMING = "ringing"


class TwilioVoiceAdapter:
    """One Twilio number's calls. It sends nothing: texts go through an SMS or WhatsApp account."""

    capabilities = Capabilities()
    rate_limits = RateLimits()

    def __init__(self, settings: VoiceSettings, context: ChannelContext) -> None:
        self.type = settings.type
        self._settings = settings
        self._context = context

    def verify(self, request: WebhookRequest) -> None:
        """Raise SignatureError (403) unless Twilio signed the request with this account's token."""
        verify_signature(request, self._settings.auth_token)

    def event_id(self, request: WebhookRequest) -> str:
        """CallSid:CallStatus, or CallSid:dial-DialCallStatus for a forwarded leg's outcome."""
        return call_event_id(request.form())

    def acknowledgement(self, request: WebhookRequest) -> Acknowledgement:
        """The call flow as TwiML for an incoming call or a dial outcome; an empty response otherwise."""
        fields = request.form()
        if is_dial_result(fields):
            return twiml_acknowledgement(self._after_dial(fields["DialCallStatus"]))
        if fields.get("CallStatus") == _INCOMING:
            return twiml_acknowledgement(self._incoming_call())
        return twiml_acknowledgement(VoiceResponse())

    def parse(self, request: WebhookRequest) -> list[NormalizedEvent]:
        """The call's progress as a CallEvent."""
        return parse_call_webhook(request.form())

    async def send(self, message: OutboundMessage) -> SendResult:
        """Always PermanentSendError: a voice account has no text messages to send."""
        raise PermanentSendError(
            "a voice account does not send text messages; use the customer's SMS or WhatsApp"
        )

    async def aclose(self) -> None:
        """Nothing to release: the adapter only answers webhooks."""

    def _incoming_call(self) -> VoiceResponse:
        settings = self._settings
        response = VoiceResponse()
        if settings.forward_to:
            response.dial(
                settings.forward_to,
                action=self._context.webhook_url(self.type),
                method="POST",
                timeout=settings.dial_timeout,
                record="record-from-answer" if settings.record else None,
            )
        elif settings.greeting:
            self._say_goodbye(response)
        else:
            response.reject(reason="busy")
        return response

    def _after_dial(self, dial_status: str) -> VoiceResponse:
        response = VoiceResponse()
        if dial_status in DIAL_ANSWERED:
            response.hangup()
        else:
            self._say_goodbye(response)
        return response

    def _say_goodbye(self, response: VoiceResponse) -> None:
        if self._settings.greeting:
            response.say(self._settings.greeting, language=self._settings.greeting_language)
        response.hangup()

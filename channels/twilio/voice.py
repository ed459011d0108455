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

The voice settings name no number: ``check`` looks for the account's numbers whose "A call comes in"
webhook is the account's webhook URL, and ``connect`` sets both webhooks on the number already pointing
there or, in an account with a single number, on that number.
"""

from __future__ import annotations

from twilio.twiml.voice_response import VoiceResponse

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
from channels.twilio.call_events import DIAL_ANSWERED, call_event_id, is_dial_result, parse_call_webhook
from channels.twilio.rest import WEBHOOK_METHOD, AccountApi, PhoneNumber, webhook_problem
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
        self._api = AccountApi(
            settings.account_sid, settings.auth_token, settings.api_base, context.http_timeout
        )

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

    async def check(self, webhook_url: str) -> list[str]:
        """Ask Twilio whether the credentials work and a number of the account sends its calls and
        their status changes to ``webhook_url``."""
        try:
            await self._api.verify()
            numbers = await self._api.numbers()
        except ChannelError as exc:
            return [str(exc)]
        ours = [number for number in numbers if number.voice_url == webhook_url]
        if not ours:
            return [self._no_number(numbers, webhook_url)]
        return [problem for number in ours for problem in self._routing_problems(number, webhook_url)]

    async def connect(self, webhook_url: str) -> str:
        """Point 'A call comes in' and 'Call status changes' (POST) at ``webhook_url`` on the numbers
        already taking calls there, or on the account's only number."""
        numbers = await self._api.numbers()
        targets = [number for number in numbers if number.voice_url == webhook_url]
        if not targets and len(numbers) == 1:
            targets = numbers
        if not targets:
            raise ChannelError(self._no_number(numbers, webhook_url))
        for number in targets:
            await self._api.update_number(
                number.sid,
                voice_url=webhook_url,
                voice_method=WEBHOOK_METHOD,
                status_callback=webhook_url,
                status_callback_method=WEBHOOK_METHOD,
                voice_application_sid="",
            )
        phones = ", ".join(number.phone_number for number in targets)
        return f"Twilio now sends calls to {phones} and their status changes to {webhook_url}"

    async def aclose(self) -> None:
        """Close the connection to Twilio's API, if a check opened one."""
        await self._api.aclose()

    def _no_number(self, numbers: list[PhoneNumber], webhook_url: str) -> str:
        """No number sends its calls to the hub: what to do about it."""
        if not numbers:
            return "this Twilio account has no phone number to take calls: buy one in the Twilio console"
        missing = f"no number of this Twilio account sends its calls to {webhook_url}"
        if len(numbers) == 1:
            return f"{missing}: run `hub channels connect {self._context.account}`"
        listed = ", ".join(number.phone_number for number in numbers)
        return (
            f"{missing}, and the voice settings do not say which of {listed} takes calls: in the Twilio "
            "console, set that number's 'A call comes in' and 'Call status changes' to it (HTTP POST)"
        )

    def _routing_problems(self, number: PhoneNumber, webhook_url: str) -> list[str]:
        """What keeps a number whose call webhook is ours from reaching the hub fully."""
        account, phone = self._context.account, number.phone_number
        if number.trunk_sid:
            return [
                f"calls to {phone} go to the SIP trunk {number.trunk_sid}, which overrides the number's "
                "webhooks: remove the number from the trunk in the Twilio console"
            ]
        if number.voice_application_sid:
            return [
                f"calls to {phone} go to the TwiML app {number.voice_application_sid}, which overrides the "
                f"number's webhooks: run `hub channels connect {account}`"
            ]
        problems = (
            webhook_problem(
                f"the 'A call comes in' webhook of {phone}",
                number.voice_url,
                number.voice_method,
                webhook_url,
                account,
            ),
            webhook_problem(
                f"the 'Call status changes' callback of {phone} (ended and missed calls)",
                number.status_callback,
                number.status_callback_method,
                webhook_url,
                account,
            ),
        )
        return [problem for problem in problems if problem]

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

"""A local stand-in for Twilio: its Messages REST API, and webhook requests signed as Twilio signs them.

``FakeTwilioApi`` serves ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` on 127.0.0.1 the way
api.twilio.com does: form parameters in, HTTP basic auth with the account SID and auth token, a 201
with the Message resource JSON out, and Twilio's JSON error bodies (``code``, ``message``,
``more_info``, ``status``) for its refusals. Point the real SDK at it with
``client.api.base_url = fake.base_url`` (the adapters' ``api_base`` setting does that). It records every
request and can be scripted to fail the next ones (``fake.fail_next(Fault.rate_limited(2))``).

The webhook builders produce the forms Twilio POSTs (field sets as Twilio's webhook docs list them)
and ``signed_request`` wraps one in a WebhookRequest with the ``X-Twilio-Signature`` the SDK's
RequestValidator computes, so end-to-end tests can post them to the hub unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit

from aiohttp import BasicAuth, web
from twilio.request_validator import RequestValidator

from channels.contract import WebhookRequest

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "f0e1d2c3b4a5968778695a4b3c2d1e0f"
API_VERSION = "2010-04-01"
# Twilio's default date format in resources and webhooks (RFC 2822).
_DATE = "Tue, 14 May 2024 10:15:00 +0000"

# Twilio's answers to the requests the tests make it refuse, as its error pages word them.
_ERROR_MESSAGES = {
    20003: "Authenticate",
    20429: "Too Many Requests",
    20500: "Internal Server Error",
    20503: "Service Unavailable",
    21211: "Invalid 'To' Phone Number: +1555000000",
    21408: "Permission to send an SMS has not been enabled for the region indicated by the 'To' number",
    21602: "Message body is required.",
    21603: "A 'From' phone number is required.",
    21604: "A 'To' phone number is required.",
    21610: "Attempt to send to unsubscribed recipient",
    21617: "The concatenated message body exceeds the 1600 character limit.",
    63016: (
        "Failed to send freeform message because you are outside the allowed window. "
        "If you are using WhatsApp, please use a Message Template."
    ),
}


def sid(prefix: str) -> str:
    """A Twilio SID: two letters naming the resource and 32 hex digits."""
    return prefix + uuid.uuid4().hex


# ---------------------------------------------------------------------------------------------------
# The REST API


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received; ``form`` keeps repeated fields (MediaUrl) as lists."""

    method: str
    path: str
    username: str | None
    form: Mapping[str, list[str]]

    def param(self, name: str) -> str | None:
        """The (first) value of a form field, None when absent."""
        values = self.form.get(name)
        return values[0] if values else None


@dataclass(frozen=True)
class Fault:
    """A scripted answer replacing the next normal one."""

    status: int = 200
    body: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    # Seconds to wait before answering normally (a timeout test).
    delay: float = 0.0

    @classmethod
    def rate_limited(cls, retry_after: int | None = None) -> Fault:
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        return cls(429, _error_body(20429, 429), headers)

    @classmethod
    def server_error(cls, status: int = 500) -> Fault:
        return cls(status, _error_body(20000 + status, status))

    @classmethod
    def refused(cls, code: int, status: int = 400) -> Fault:
        """Twilio's 4xx error answer with ``code``, e.g. 21211, 21610, 63016."""
        return cls(status, _error_body(code, status))

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        return cls(delay=seconds)

    @classmethod
    def malformed(cls) -> Fault:
        """A 201 whose body is not JSON, as a broken proxy in between might produce."""
        return cls(201, "<html>Created</html>", {"Content-Type": "text/html"})


class FakeTwilioApi:
    """Twilio's Messages API on 127.0.0.1 and an OS-chosen port; use as an async context manager."""

    def __init__(self, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.requests: list[RecordedRequest] = []
        self._faults: list[Fault] = []
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def __aenter__(self) -> FakeTwilioApi:
        app = web.Application()
        app.router.add_post(f"/{API_VERSION}/Accounts/{{account_sid}}/Messages.json", self._create_message)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def fail_next(self, *faults: Fault) -> None:
        """Answer the next requests with ``faults``, one each, then normally again."""
        self._faults.extend(faults)

    @property
    def messages(self) -> list[RecordedRequest]:
        """The message creations received, in order."""
        return [request for request in self.requests if request.path.endswith("/Messages.json")]

    async def _create_message(self, request: web.Request) -> web.Response:
        form = await request.post()
        auth = _basic_auth(request)
        recorded = RecordedRequest(
            method=request.method,
            path=request.path,
            username=auth.login if auth else None,
            form={key: [str(value) for value in form.getall(key)] for key in form},
        )
        self.requests.append(recorded)
        if self._faults:
            fault = self._faults.pop(0)
            if fault.delay:
                # Bounded by the server's shutdown, so a client that gave up does not hold the test.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), fault.delay)
            else:
                headers = {"Content-Type": "application/json", **fault.headers}
                return web.Response(status=fault.status, text=fault.body, headers=headers)
        account = request.match_info["account_sid"]
        if (
            auth is None
            or auth.login != self.account_sid
            or auth.password != self.auth_token
            or account != auth.login
        ):
            return _error(20003, 401)
        refusal = _missing_parameter(recorded)
        if refusal is not None:
            return _error(refusal, 400)
        return web.json_response(self._message_resource(recorded), status=201)

    def _message_resource(self, recorded: RecordedRequest) -> dict[str, object]:
        """The Message resource as Twilio returns it from a create (status queued, or accepted when a
        Messaging Service picks the sender)."""
        message_sid = sid("SM")
        service = recorded.param("MessagingServiceSid")
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{message_sid}"
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": recorded.param("Body") or "",
            "date_created": _DATE,
            "date_sent": None,
            "date_updated": _DATE,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": recorded.param("From"),
            "messaging_service_sid": service,
            "num_media": str(len(recorded.form.get("MediaUrl", []))),
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": message_sid,
            "status": "accepted" if service and not recorded.param("From") else "queued",
            "subresource_uris": {"media": f"{uri}/Media.json"},
            "to": recorded.param("To"),
            "uri": f"{uri}.json",
        }


def _basic_auth(request: web.Request) -> BasicAuth | None:
    header = request.headers.get("Authorization")
    if not header:
        return None
    try:
        return BasicAuth.decode(header)
    except ValueError:
        return None


def _missing_parameter(recorded: RecordedRequest) -> int | None:
    """Twilio's error code for a create it would refuse for its parameters, None if acceptable."""
    if not recorded.param("To"):
        return 21604
    if not recorded.param("From") and not recorded.param("MessagingServiceSid"):
        return 21603
    body = recorded.param("Body") or ""
    if not body and not recorded.form.get("MediaUrl"):
        return 21602
    if len(body.encode("utf-16-le")) // 2 > 1600:
        return 21617
    return None


def _error_body(code: int, status: int) -> str:
    return json.dumps(
        {
            "code": code,
            "message": _ERROR_MESSAGES.get(code, "Error"),
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        }
    )


def _error(code: int, status: int) -> web.Response:
    return web.Response(status=status, text=_error_body(code, status), content_type="application/json")


# ---------------------------------------------------------------------------------------------------
# Webhooks as Twilio sends them


def signed_request(
    url: str,
    params: Mapping[str, str],
    auth_token: str | None = AUTH_TOKEN,
    signed_url: str | None = None,
) -> WebhookRequest:
    """A form POST to ``url`` as Twilio makes it, signed with ``auth_token`` (None: unsigned).

    ``signed_url`` signs another URL than the one requested, as happens when the hub behind a proxy
    rebuilds a different URL than the one Twilio called.
    """
    body = urlencode(params).encode("utf-8")
    headers = {"content-type": "application/x-www-form-urlencoded", "user-agent": "TwilioProxy/1.1"}
    if auth_token is not None:
        signature = RequestValidator(auth_token).compute_signature(signed_url or url, dict(params))
        headers["x-twilio-signature"] = signature
    return WebhookRequest(method="POST", url=url, headers=headers, body=body, query=_query(url))


def signed_json_request(
    url: str, payload: Mapping[str, object], auth_token: str = AUTH_TOKEN
) -> WebhookRequest:
    """A JSON POST signed the way Twilio signs JSON bodies: the body's SHA-256 in ``?bodySHA256=``,
    and the signature over that URL alone."""
    body = json.dumps(payload).encode("utf-8")
    separator = "&" if urlsplit(url).query else "?"
    signed_url = f"{url}{separator}bodySHA256={hashlib.sha256(body).hexdigest()}"
    signature = RequestValidator(auth_token).compute_signature(signed_url, {})
    headers = {"content-type": "application/json", "x-twilio-signature": signature}
    return WebhookRequest(method="POST", url=signed_url, headers=headers, body=body, query=_query(signed_url))


def _query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def inbound_sms(
    body: str,
    *,
    sender: str = "+15558675310",
    to: str = "+15005550006",
    media: Sequence[tuple[str, str]] = (),
    message_sid: str | None = None,
) -> dict[str, str]:
    """An incoming SMS (or MMS with ``media`` as (url, content type) pairs)."""
    params = {
        "ToCountry": "US",
        "ToState": "CA",
        "SmsMessageSid": "",
        "NumMedia": str(len(media)),
        "ToCity": "SAN FRANCISCO",
        "FromZip": "94105",
        "SmsSid": "",
        "FromState": "CA",
        "SmsStatus": "received",
        "FromCity": "SAN FRANCISCO",
        "Body": body,
        "FromCountry": "US",
        "To": to,
        "ToZip": "94105",
        "NumSegments": "1",
        "MessageSid": "",
        "AccountSid": ACCOUNT_SID,
        "From": sender,
        "ApiVersion": API_VERSION,
    }
    message_sid = message_sid or sid("MM" if media else "SM")
    params.update(SmsMessageSid=message_sid, SmsSid=message_sid, MessageSid=message_sid)
    for index, (url, content_type) in enumerate(media):
        params[f"MediaUrl{index}"] = url
        params[f"MediaContentType{index}"] = content_type
    return params


def inbound_whatsapp(
    body: str = "",
    *,
    sender: str = "+380501234567",
    to: str = "+14155238886",
    profile_name: str = "Olena",
    message_type: str = "text",
    extra: Mapping[str, str] | None = None,
    message_sid: str | None = None,
) -> dict[str, str]:
    """An incoming WhatsApp message; ``extra`` adds the fields of a location, button or media."""
    message_sid = message_sid or sid("SM")
    params = {
        "SmsMessageSid": message_sid,
        "NumMedia": "0",
        "ProfileName": profile_name,
        "MessageType": message_type,
        "SmsSid": message_sid,
        "WaId": sender.lstrip("+"),
        "SmsStatus": "received",
        "Body": body,
        "To": f"whatsapp:{to}",
        "NumSegments": "1",
        "ReferralNumMedia": "0",
        "MessageSid": message_sid,
        "AccountSid": ACCOUNT_SID,
        "From": f"whatsapp:{sender}",
        "ApiVersion": API_VERSION,
    }
    params.update(extra or {})
    return params


def message_status(
    message_sid: str,
    status: str,
    *,
    error_code: int | None = None,
    sender: str = "+15005550006",
    to: str = "+15558675310",
) -> dict[str, str]:
    """A status callback for a message we sent (pass whatsapp: addresses for WhatsApp)."""
    params = {
        "SmsSid": message_sid,
        "SmsStatus": status,
        "MessageStatus": status,
        "To": to,
        "MessageSid": message_sid,
        "AccountSid": ACCOUNT_SID,
        "From": sender,
        "ApiVersion": API_VERSION,
    }
    if error_code is not None:
        params["ErrorCode"] = str(error_code)
    return params


def call_webhook(
    status: str,
    *,
    call_sid: str,
    caller: str = "+15558675310",
    called: str = "+15005550006",
    direction: str = "inbound",
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """A voice request: the incoming call (``ringing``) or a status callback; ``extra`` adds e.g.
    CallDuration, RecordingUrl, Timestamp, or the DialCallStatus of a dial's action request."""
    params = {
        "Called": called,
        "ToState": "CA",
        "CallerCountry": "US",
        "Direction": direction,
        "CallerState": "CA",
        "ToZip": "94105",
        "CallSid": call_sid,
        "To": called,
        "CallerZip": "94105",
        "ToCountry": "US",
        "ApiVersion": API_VERSION,
        "CalledZip": "94105",
        "CalledCity": "SAN FRANCISCO",
        "CallStatus": status,
        "From": caller,
        "AccountSid": ACCOUNT_SID,
        "CalledCountry": "US",
        "CallerCity": "SAN FRANCISCO",
        "Caller": caller,
        "FromCountry": "US",
        "ToCity": "SAN FRANCISCO",
        "FromCity": "SAN FRANCISCO",
        "CalledState": "CA",
        "FromZip": "94105",
        "FromState": "CA",
    }
    params.update(extra or {})
    return params

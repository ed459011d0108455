"""A local stand-in for Twilio: its Messages REST API, and webhook requests signed as Twilio signs them.

``FakeTwilioApi`` serves ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` on 127.0.0.1 the way
api.twilio.com does: form parameters in, HTTP basic auth with the account SID and auth token, a 201
with the Message resource JSON out, and Twilio's JSON error bodies (``code``, ``message``,
``more_info``, ``status``) for its refusals. Point the real SDK at it with
``client.api.base_url = fake.base_url`` (the adapters' ``api_base`` setting does that). It records every
request and can be scripted to fail the next ones (``fake.fail_next(Fault.rate_limited(2))``).

For ``hub channels check`` / ``connect`` it also serves the account (``GET .../Accounts/{sid}.json``) and
its phone numbers: the IncomingPhoneNumbers list resource (``GET .../IncomingPhoneNumbers.json``, with
Twilio's ``PhoneNumber`` filter and paging) and the update of one number (``POST
.../IncomingPhoneNumbers/{PNsid}.json``). ``add_number`` puts a number in the account.

The webhook builders produce the forms Twilio POSTs (field sets as Twilio's webhook docs list them)
and ``signed_request`` wraps one in a WebhookRequest with the ``X-Twilio-Signature`` the SDK's
RequestValidator computes, so end-to-end tests can post them to the hub unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
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
# IncomingPhoneNumber fields an update may set, by their form parameter names.
_NUMBER_FIELDS = {
    "FriendlyName": "friendly_name",
    "SmsUrl": "sms_url",
    "SmsMethod": "sms_method",
    "SmsFallbackUrl": "sms_fallback_url",
    "SmsFallbackMethod": "sms_fallback_method",
    "SmsApplicationSid": "sms_application_sid",
    "VoiceUrl": "voice_url",
    "VoiceMethod": "voice_method",
    "VoiceFallbackUrl": "voice_fallback_url",
    "VoiceFallbackMethod": "voice_fallback_method",
    "VoiceApplicationSid": "voice_application_sid",
    "StatusCallback": "status_callback",
    "StatusCallbackMethod": "status_callback_method",
    "TrunkSid": "trunk_sid",
}
# Twilio's largest page of a list resource.
_MAX_PAGE_SIZE = 1000

# Twilio's answers to the requests the tests make it refuse, as its error pages word them.
_ERROR_MESSAGES = {
    20003: "Authenticate",
    20404: "The requested resource was not found",
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
    """One request the fake received; ``form`` holds a POST's form fields or a GET's query parameters,
    repeated fields (MediaUrl) as lists."""

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
    """Twilio's Messages API, the account and its phone numbers on 127.0.0.1 and an OS-chosen port;
    use as an async context manager. ``account_status`` is what the account resource reports
    (active, suspended, closed); ``numbers`` are the IncomingPhoneNumber resources by SID."""

    def __init__(self, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.account_status = "active"
        self.numbers: dict[str, dict[str, object]] = {}
        self.requests: list[RecordedRequest] = []
        self._faults: list[Fault] = []
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def __aenter__(self) -> FakeTwilioApi:
        app = web.Application()
        accounts = f"/{API_VERSION}/Accounts"
        app.router.add_post(f"{accounts}/{{account_sid}}/Messages.json", self._create_message)
        app.router.add_get(f"{accounts}/{{account_sid}}.json", self._fetch_account)
        app.router.add_get(f"{accounts}/{{account_sid}}/IncomingPhoneNumbers.json", self._list_numbers)
        app.router.add_post(
            f"{accounts}/{{account_sid}}/IncomingPhoneNumbers/{{number_sid}}.json", self._update_number
        )
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

    def add_number(self, phone_number: str, **fields: object) -> str:
        """Put ``phone_number`` in the account, with IncomingPhoneNumber ``fields`` (``sms_url``,
        ``voice_url``, ...) set; returns its SID."""
        number_sid = sid("PN")
        self.numbers[number_sid] = {**self._number_resource(number_sid, phone_number), **fields}
        return number_sid

    async def _receive(self, request: web.Request) -> tuple[RecordedRequest, web.Response | None]:
        """Record the request; the answer that replaces the normal one (a scripted fault, a 401) or
        None to answer normally."""
        form = await request.post() if request.method == "POST" else request.query
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
                return recorded, web.Response(status=fault.status, text=fault.body, headers=headers)
        account = request.match_info["account_sid"]
        if (
            auth is None
            or auth.login != self.account_sid
            or auth.password != self.auth_token
            or account != auth.login
        ):
            return recorded, _error(20003, 401)
        return recorded, None

    async def _create_message(self, request: web.Request) -> web.Response:
        recorded, answer = await self._receive(request)
        if answer is not None:
            return answer
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

    async def _fetch_account(self, request: web.Request) -> web.Response:
        """The Account resource (GET /2010-04-01/Accounts/{AccountSid}.json)."""
        _, answer = await self._receive(request)
        if answer is not None:
            return answer
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}"
        return web.json_response(
            {
                "auth_token": self.auth_token,
                "date_created": _DATE,
                "date_updated": _DATE,
                "friendly_name": "omnihub tests",
                "owner_account_sid": self.account_sid,
                "sid": self.account_sid,
                "status": self.account_status,
                "subresource_uris": {
                    "incoming_phone_numbers": f"{uri}/IncomingPhoneNumbers.json",
                    "messages": f"{uri}/Messages.json",
                },
                "type": "Full",
                "uri": f"{uri}.json",
            }
        )

    async def _list_numbers(self, request: web.Request) -> web.Response:
        """One page of the IncomingPhoneNumbers list resource; ``PhoneNumber`` matches partial numbers,
        ``*`` standing for any digit, as Twilio's filter does."""
        recorded, answer = await self._receive(request)
        if answer is not None:
            return answer
        wanted = recorded.param("PhoneNumber")
        pattern = re.compile("".join(r"\d" if c == "*" else re.escape(c) for c in wanted or ""))
        found = [n for n in self.numbers.values() if pattern.search(str(n["phone_number"]))]
        page_size = min(int(recorded.param("PageSize") or 50), _MAX_PAGE_SIZE)
        page = int(recorded.param("Page") or 0)
        start = page * page_size
        return web.json_response(
            self._page(recorded, found[start : start + page_size], page, page_size, len(found))
        )

    def _page(
        self,
        recorded: RecordedRequest,
        records: list[dict[str, object]],
        page: int,
        page_size: int,
        total: int,
    ) -> dict[str, object]:
        """A v2010 list page: the records under the resource's key, and the paging URIs."""

        def uri(number: int) -> str:
            query = {
                key: values[0] for key, values in recorded.form.items() if key not in ("Page", "PageSize")
            }
            return f"{recorded.path}?{urlencode({**query, 'PageSize': page_size, 'Page': number})}"

        start = page * page_size
        return {
            "end": start + max(len(records) - 1, 0),
            "first_page_uri": uri(0),
            "incoming_phone_numbers": records,
            "next_page_uri": uri(page + 1) if start + page_size < total else None,
            "page": page,
            "page_size": page_size,
            "previous_page_uri": uri(page - 1) if page > 0 else None,
            "start": start,
            "uri": uri(page),
        }

    async def _update_number(self, request: web.Request) -> web.Response:
        """Change a number's webhooks (POST .../IncomingPhoneNumbers/{Sid}.json); an empty value clears
        a field, as Twilio does with an application SID."""
        recorded, answer = await self._receive(request)
        if answer is not None:
            return answer
        number = self.numbers.get(request.match_info["number_sid"])
        if number is None:
            return _error(20404, 404)
        for parameter, key in _NUMBER_FIELDS.items():
            value = recorded.param(parameter)
            if value is not None:
                number[key] = value or None
        number["date_updated"] = _DATE
        return web.json_response(number)

    def _number_resource(self, number_sid: str, phone_number: str) -> dict[str, object]:
        """An IncomingPhoneNumber resource as Twilio returns it, no webhooks set."""
        return {
            "account_sid": self.account_sid,
            "address_requirements": "none",
            "address_sid": None,
            "api_version": API_VERSION,
            "beta": False,
            "bundle_sid": None,
            "capabilities": {"fax": False, "mms": True, "sms": True, "voice": True},
            "date_created": _DATE,
            "date_updated": _DATE,
            "emergency_address_sid": None,
            "emergency_address_status": "unregistered",
            "emergency_status": "Active",
            "friendly_name": phone_number,
            "identity_sid": None,
            "origin": "twilio",
            "phone_number": phone_number,
            "sid": number_sid,
            "sms_application_sid": None,
            "sms_fallback_method": "POST",
            "sms_fallback_url": None,
            "sms_method": "POST",
            "sms_url": None,
            "status": "in-use",
            "status_callback": None,
            "status_callback_method": "POST",
            "subresource_uris": {
                "assigned_add_ons": (
                    f"/{API_VERSION}/Accounts/{self.account_sid}/IncomingPhoneNumbers/{number_sid}/AssignedAddOns.json"
                )
            },
            "trunk_sid": None,
            "type": "local",
            "uri": f"/{API_VERSION}/Accounts/{self.account_sid}/IncomingPhoneNumbers/{number_sid}.json",
            "voice_application_sid": None,
            "voice_caller_id_lookup": False,
            "voice_fallback_method": "POST",
            "voice_fallback_url": None,
            "voice_method": "POST",
            "voice_receive_mode": "voice",
            "voice_url": None,
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

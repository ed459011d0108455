"""Twilio's REST API: creating messages (and what the answers mean for the outbox), and reading the
account and the webhooks of its phone numbers for ``hub channels check`` / ``connect``.

The twilio SDK's async client does the talking. Three of its gaps are closed by a subclass:

* ``AsyncTwilioHttpClient(timeout=...)`` stores the timeout but never applies it (twilio 9.13 passes
  only the per-call timeout, which the SDK leaves None, to aiohttp: a hung Twilio would hang the
  outbox); the subclass applies it to every request;
* a TwilioRestException carries no response headers, so the subclass keeps the last response's
  headers in a context variable, where the error mapping finds a 429's ``Retry-After``. A context
  variable rather than an attribute, because concurrent sends share the client but not the context;
* the SDK hands basic auth to aiohttp as ``auth=``, which aiohttp 3.14 deprecates; the subclass
  sends the same ``Authorization`` header itself.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

import aiohttp
from pydantic import SecretStr
from twilio.base import values
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client
from twilio.rest.api.v2010.account.incoming_phone_number import IncomingPhoneNumberInstance

from channels.contract import ChannelError, PermanentSendError, RateLimited, TransientSendError
from channels.twilio import error_codes

_T = TypeVar("_T")
# The most phone numbers read from one account; a hub is connected to far fewer.
NUMBERS_LIMIT = 1000
WEBHOOK_METHOD = "POST"

_response_headers: ContextVar[Mapping[str, str] | None] = ContextVar("twilio_response_headers", default=None)


class _HttpClient(AsyncTwilioHttpClient):
    """The SDK's aiohttp client with its timeout applied, basic auth sent as a header and the
    response headers kept."""

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        # The SDK's own signature, which the Twilio client calls with.
        timeout: float | None = None,  # noqa: ASYNC109
        allow_redirects: bool = False,
    ) -> Response:
        if auth is not None:
            headers = {**(headers or {}), "Authorization": _basic_authorization(*auth)}
        response = await super().request(
            method,
            url,
            params=params,
            data=data,
            headers=headers,
            auth=None,
            timeout=self.timeout if timeout is None else timeout,
            allow_redirects=allow_redirects,
        )
        _response_headers.set(response.headers)
        return response


def _basic_authorization(username: str, password: str) -> str:
    """RFC 7617 basic credentials; aiohttp encodes them the same way (latin-1)."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode("latin-1")).decode("ascii")


class _Api:
    """The SDK client of one account.

    The client owns an aiohttp session, which must be created inside the running event loop: it is
    made on first use and closed by ``aclose``. ``api_base`` replaces https://api.twilio.com, the only
    domain the resources used here live on.
    """

    def __init__(self, account_sid: str, auth_token: SecretStr, api_base: str | None, timeout: float) -> None:
        self._account_sid = account_sid
        self._auth_token = auth_token
        self._api_base = api_base
        self._timeout = timeout
        self._client: Client | None = None

    async def aclose(self) -> None:
        """Close the HTTP session, if one was opened."""
        if self._client is not None:
            http_client = self._client.http_client
            self._client = None
            if isinstance(http_client, AsyncTwilioHttpClient):
                await http_client.close()

    def _ensure_client(self) -> Client:
        if self._client is None:
            client = Client(
                self._account_sid,
                self._auth_token.get_secret_value(),
                http_client=_HttpClient(timeout=self._timeout),
            )
            if self._api_base:
                client.api.base_url = self._api_base
            self._client = client
        return self._client


class MessagesApi(_Api):
    """Twilio's Messages resource for one account."""

    async def create(
        self,
        *,
        to: str,
        from_: str | None,
        messaging_service_sid: str | None,
        body: str,
        media_urls: Sequence[str],
        status_callback: str,
    ) -> str:
        """Create one message and return its SID; raise the outbox's error for any failure."""
        client = self._ensure_client()
        try:
            message = await client.messages.create_async(
                to=to,
                from_=from_ or values.unset,
                messaging_service_sid=messaging_service_sid or values.unset,
                body=body or values.unset,
                media_url=list(media_urls) or values.unset,
                status_callback=status_callback,
            )
        except (TwilioRestException, TwilioServiceException) as exc:
            raise _send_error(exc, _response_headers.get()) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientSendError(f"could not reach Twilio: {type(exc).__name__} {exc}".strip()) from exc
        except json.JSONDecodeError as exc:
            # Twilio may have created the message; retrying risks a duplicate, dropping risks a loss.
            # A lost message is worse, and an unreadable success from Twilio itself is rare.
            raise TransientSendError("Twilio accepted the request but its answer was not JSON") from exc
        if not message.sid:
            raise TransientSendError("Twilio accepted the request but its answer had no message SID")
        return message.sid


@dataclass(frozen=True)
class PhoneNumber:
    """One of the account's IncomingPhoneNumbers: where Twilio sends what reaches it. An empty string
    stands for a field Twilio left empty."""

    sid: str
    phone_number: str
    sms_url: str
    sms_method: str
    sms_application_sid: str
    voice_url: str
    voice_method: str
    voice_application_sid: str
    status_callback: str
    status_callback_method: str
    trunk_sid: str

    @classmethod
    def of(cls, number: IncomingPhoneNumberInstance) -> PhoneNumber:
        return cls(
            sid=number.sid or "",
            phone_number=number.phone_number or "",
            sms_url=number.sms_url or "",
            sms_method=number.sms_method or "",
            sms_application_sid=number.sms_application_sid or "",
            voice_url=number.voice_url or "",
            voice_method=number.voice_method or "",
            voice_application_sid=number.voice_application_sid or "",
            status_callback=number.status_callback or "",
            status_callback_method=number.status_callback_method or "",
            trunk_sid=number.trunk_sid or "",
        )


class AccountApi(_Api):
    """The account and its phone numbers. Every failure is a ChannelError in words a newcomer can act
    on: rejected credentials, an unreachable Twilio, a refused request."""

    async def verify(self) -> None:
        """Fetch the account: ChannelError unless the credentials work and the account is active."""
        client = self._ensure_client()
        account = await _plainly(client.api.v2010.accounts(self._account_sid).fetch_async())
        if account.status != "active":
            raise ChannelError(
                f"the Twilio account is {account.status}: it cannot send or receive until it is active again"
            )

    async def numbers(self, phone_number: str | None = None) -> list[PhoneNumber]:
        """The account's phone numbers, or only ``phone_number`` (E.164) when given."""
        numbers = self._ensure_client().incoming_phone_numbers
        wanted = phone_number or values.unset
        found = await _plainly(numbers.list_async(phone_number=wanted, limit=NUMBERS_LIMIT))
        # Twilio's PhoneNumber filter also matches partial numbers.
        return [PhoneNumber.of(n) for n in found if phone_number is None or n.phone_number == phone_number]

    async def update_number(self, sid: str, **webhooks: str) -> None:
        """Change webhook fields of a number (``sms_url=...``, ``voice_method=...``)."""
        numbers = self._ensure_client().incoming_phone_numbers
        await _plainly(numbers(sid).update_async(**webhooks))


async def _plainly(call: Awaitable[_T]) -> _T:
    """Await a call of the account API, turning its failures into ChannelErrors in plain words."""
    try:
        return await call
    except (TwilioRestException, TwilioServiceException) as exc:
        if exc.status == 401 or exc.code == error_codes.AUTHENTICATION_FAILED:
            raise ChannelError(
                "Twilio rejected the account SID and auth token: copy both from the Twilio console "
                "(Account Info)"
            ) from None
        raise ChannelError(f"Twilio refused the request: {_detail(exc)} (HTTP {exc.status})") from None
    except TwilioException:
        # A list page that is not a 200 (TwilioException without details).
        raise ChannelError("Twilio refused to list the account's phone numbers") from None
    except TimeoutError:
        raise ChannelError("could not reach Twilio (no answer in time)") from None
    except aiohttp.ClientError as exc:
        raise ChannelError(f"could not reach Twilio ({type(exc).__name__}: {exc})") from None
    except json.JSONDecodeError:
        raise ChannelError("could not reach Twilio (the answer was not JSON)") from None


def webhook_problem(what: str, url: str, method: str, webhook_url: str, account: str) -> str | None:
    """A sentence when a number's webhook (``what``: "'A message comes in'") is not ``webhook_url``
    called with POST; None when it is."""
    connect = f"run `hub channels connect {account}`"
    if not url:
        return f"{what} is empty, so Twilio does not call the hub: {connect}"
    if url != webhook_url:
        return f"{what} is {url}, not {webhook_url}: {connect}"
    if method and method.upper() != WEBHOOK_METHOD:
        return f"{what} is called with {method.upper()}, but the hub only takes POST: {connect}"
    return None


def _send_error(
    exc: TwilioRestException | TwilioServiceException, headers: Mapping[str, str] | None
) -> ChannelError:
    """The outbox's error for a Twilio API error answer."""
    status = exc.status
    # Without a JSON error body the SDK repeats the HTTP status as the code.
    code = exc.code if exc.code != status else None
    detail = _detail(exc)
    if status == 429 or code == error_codes.TOO_MANY_REQUESTS:
        return RateLimited(f"Twilio is throttling this account: {detail}", retry_after=_retry_after(headers))
    if status >= 500:
        return TransientSendError(
            f"Twilio answered HTTP {status}: {detail}", retry_after=_retry_after(headers)
        )
    if status == 401 or code == error_codes.AUTHENTICATION_FAILED:
        return PermanentSendError("Twilio rejected the account credentials")
    if code is not None and error_codes.meaning(code):
        return PermanentSendError(error_codes.describe(code))
    suffix = f" ({error_codes.describe(code)})" if code is not None else f" (HTTP {status})"
    return PermanentSendError(f"Twilio refused the message: {detail}{suffix}")


def _detail(exc: TwilioRestException | TwilioServiceException) -> str:
    if isinstance(exc, TwilioServiceException):
        return exc.detail or exc.title
    return exc.msg


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delay-seconds or HTTP-date), None without one."""
    value = headers.get("Retry-After") if headers else None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())

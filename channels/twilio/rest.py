"""Creating messages through Twilio's REST API, and what its answers mean for the outbox.

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
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import aiohttp
from pydantic import SecretStr
from twilio.base import values
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from channels.contract import ChannelError, PermanentSendError, RateLimited, TransientSendError
from channels.twilio import error_codes

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


class MessagesApi:
    """Twilio's Messages resource for one account.

    The SDK client owns an aiohttp session, which must be created inside the running event loop: it
    is made on the first send and closed by ``aclose``. ``api_base`` replaces https://api.twilio.com,
    the only domain the Messages resource uses.
    """

    def __init__(self, account_sid: str, auth_token: SecretStr, api_base: str | None, timeout: float) -> None:
        self._account_sid = account_sid
        self._auth_token = auth_token
        self._api_base = api_base
        self._timeout = timeout
        self._client: Client | None = None

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

    async def aclose(self) -> None:
        """Close the HTTP session, if a send opened one."""
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

"""Checking the ``X-Twilio-Signature`` Twilio puts on every webhook request.

Twilio signs the exact URL it called plus the form fields (or, for a JSON body, a SHA-256 of the body
carried in the URL as ``?bodySHA256=``) with the account's auth token. The URL is the public one:
behind a reverse proxy the hub rebuilds it from its configured public_url, which is what
``WebhookRequest.url`` holds. The twilio SDK's RequestValidator does the computing and tries the URL
with and without the default port, as Twilio's own signing is inconsistent about it.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from pydantic import SecretStr
from twilio.request_validator import RequestValidator

from channels.contract import MalformedEvent, SignatureError, WebhookRequest

SIGNATURE_HEADER = "X-Twilio-Signature"
# A JSON webhook body is signed through this query parameter instead of form fields.
BODY_HASH_PARAMETER = "bodySHA256"
# Forbidden rather than unauthorised: there is no credential the caller could retry with.
_STATUS = 403


def verify_signature(request: WebhookRequest, auth_token: SecretStr) -> None:
    """Return if Twilio signed ``request`` with ``auth_token``; raise SignatureError otherwise."""
    signature = request.header(SIGNATURE_HEADER)
    if not signature:
        raise SignatureError(f"the request has no {SIGNATURE_HEADER} header", status_code=_STATUS)
    validator = RequestValidator(auth_token.get_secret_value())
    # The validator reads bodySHA256 from the URL it is given, so the URL decides, not request.query.
    body_is_hashed = BODY_HASH_PARAMETER in parse_qs(urlsplit(request.url).query)
    try:
        signed: dict[str, str] | str = request.body.decode("utf-8") if body_is_hashed else request.form()
    except (UnicodeDecodeError, MalformedEvent):
        raise SignatureError(
            "the request body is not UTF-8, so Twilio cannot have signed it", _STATUS
        ) from None
    if not validator.validate(request.url, signed, signature):
        raise SignatureError(
            f"the {SIGNATURE_HEADER} does not match this URL and body signed with the account's auth token "
            "(check the hub's public_url if Twilio calls it through a proxy)",
            status_code=_STATUS,
        )

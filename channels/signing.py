"""The HMAC signature of omnihub's own JSON webhooks (the custom API channel, PBX call events).

A sender signs ``f"{timestamp}.{raw body}"`` with HMAC-SHA256 under the account's shared secret and
sends two headers::

    X-Omnihub-Timestamp: 1732350000            (unix seconds)
    X-Omnihub-Signature: sha256=<hex digest>

Including the timestamp in the signed text and refusing old timestamps stops a captured request
from being replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from channels.contract import SignatureError, WebhookRequest

TIMESTAMP_HEADER = "x-omnihub-timestamp"
SIGNATURE_HEADER = "x-omnihub-signature"
MAX_AGE_SECONDS = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def signed_headers(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """Headers for a request we send (outbound callbacks) or a test sends to us."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {"X-Omnihub-Timestamp": str(timestamp), "X-Omnihub-Signature": sign(secret, timestamp, body)}


def verify_signed(request: WebhookRequest, secret: str, now: float | None = None) -> None:
    """SignatureError unless the request carries a fresh, valid signature. Each message names the
    header that is wrong and how, so an integrator can fix their sender; any header value, non-ASCII
    included, ends in a SignatureError."""
    timestamp = request.header(TIMESTAMP_HEADER)
    if not timestamp:
        raise SignatureError(f"the request has no {TIMESTAMP_HEADER} header")
    signature = request.header(SIGNATURE_HEADER)
    if not signature:
        raise SignatureError(f"the request has no {SIGNATURE_HEADER} header")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        raise SignatureError(f"{TIMESTAMP_HEADER} must be unix time in whole seconds, not {timestamp!r}")
    skew = (time.time() if now is None else now) - int(timestamp)
    if abs(skew) > MAX_AGE_SECONDS:
        raise SignatureError(
            f"{TIMESTAMP_HEADER} is {abs(skew):.0f} s away from the hub's clock; "
            f"at most {MAX_AGE_SECONDS} s are accepted"
        )
    scheme, _, digest = signature.strip().partition("=")
    if scheme.lower() != "sha256" or not digest:
        raise SignatureError(f"{SIGNATURE_HEADER} must look like sha256=<hex digest>")
    expected = sign(secret, int(timestamp), request.body)
    # Compare bytes: compare_digest refuses str with non-ASCII characters.
    if not hmac.compare_digest(expected.encode(), f"sha256={digest.lower()}".encode("utf-8", "replace")):
        raise SignatureError(f"{SIGNATURE_HEADER} does not match the timestamp and body")

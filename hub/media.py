"""Files the hub keeps (email attachments that arrived inline, files agents upload, images flows
make), stored by content hash, and the signed links customers and providers fetch them by.

Agents fetch ``/media/<digest>/<name>`` with their login. A file sent to a customer goes out as
``<public_url>/media/shared/<digest>/<name>?sig=...``: the provider (Twilio, Telegram) or the
customer's browser fetches it without logging in, so the link carries an HMAC of the file's digest
and opens that file and no other (served by hub/web/media.py).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from pathlib import Path

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_AGENT_PATH = re.compile(r"^/media/([0-9a-f]{64})/([^/?#]+)$")


def share_signature(secret: bytes, digest: str) -> str:
    return hmac.new(secret, f"shared-media:{digest}".encode(), hashlib.sha256).hexdigest()[:32]


def shared_url(secret: bytes, public_url: str, agent_path: str) -> str:
    """The customer-facing URL of a stored file, given its agent URL (``/media/<digest>/<name>``)."""
    match = _AGENT_PATH.match(agent_path)
    if match is None:
        raise ValueError(f"{agent_path!r} is not a media store URL")
    digest, name = match.groups()
    return f"{public_url.rstrip('/')}/media/shared/{digest}/{name}?sig={share_signature(secret, digest)}"


class MediaStore:
    URL_PREFIX = "/media/"

    def __init__(self, root: Path, *, secret: bytes | None = None, public_url: str | None = None) -> None:
        self.root = root
        # For links customers can open (share); without them, stored files are for agents only.
        self._secret = secret
        self._public_url = public_url

    def share(self, agent_path: str) -> str:
        """The signed public link of a stored file (its agent path when the store cannot sign)."""
        if self._secret is None or self._public_url is None:
            return agent_path
        return shared_url(self._secret, self._public_url, agent_path)

    def save(self, content: bytes, filename: str | None) -> str:
        """Store the bytes (once per content) and return the URL path agents fetch them at."""
        digest = hashlib.sha256(content).hexdigest()
        path = self.root / digest[:2] / digest
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(content)
            tmp.replace(path)
        name = _SAFE.sub("_", filename or "file")[:100] or "file"
        return f"{self.URL_PREFIX}{digest}/{name}"

    def path_for(self, digest: str) -> Path | None:
        if not re.fullmatch(r"[0-9a-f]{64}", digest):
            return None
        path = self.root / digest[:2] / digest
        return path if path.exists() else None

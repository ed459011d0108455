"""Files that arrived inline with a message (email attachments), stored by content hash."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


class MediaStore:
    URL_PREFIX = "/media/"

    def __init__(self, root: Path) -> None:
        self.root = root

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

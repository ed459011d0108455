"""The email policy every parse uses: the standard library's modern policy, made tolerant.

``email.policy.default`` decodes headers into structured objects (addresses, dates, parameters),
but its parser raises IndexError, AttributeError or ValueError on some malformed values (an
unterminated "<", a NUL inside an RFC 2231 parameter) instead of recording a defect. Such a header
falls back to plain unstructured text here, with a defect saying so, so one broken header never
makes a whole email unreadable.
"""

from __future__ import annotations

from email import errors
from email.headerregistry import BaseHeader, HeaderRegistry, UnstructuredHeader
from email.policy import default
from typing import Any


class _UnparsableHeader(UnstructuredHeader):
    @classmethod
    def parse(cls, value: str, kwds: dict[str, Any]) -> None:
        super().parse(value.replace("\x00", ""), kwds)
        shown = value if len(value) <= 80 else value[:77] + "..."
        defect = errors.HeaderDefect(f"a header could not be parsed and was kept as text: {shown!r}")
        kwds["defects"].append(defect)

    @property
    def content_disposition(self) -> str | None:
        # EmailMessage.is_attachment() reads this attribute of a Content-Disposition header.
        disposition = str(self).partition(";")[0].strip().lower()
        return disposition or None


class _TolerantHeaderRegistry(HeaderRegistry):
    def __call__(self, name: str, value: str) -> BaseHeader:
        try:
            return super().__call__(name, value)
        except (IndexError, AttributeError, ValueError, TypeError, LookupError, errors.HeaderParseError):
            fallback = type("UnparsableHeader", (_UnparsableHeader, self.base_class), {})
            header: BaseHeader = fallback(name, value)
            return header


TOLERANT = default.clone(header_factory=_TolerantHeaderRegistry())

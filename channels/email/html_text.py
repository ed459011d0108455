"""Readable plain text from an HTML email body (for senders that send no text/plain part).

Built on the standard library's ``html.parser``: paragraphs and line breaks survive, list items
become "- " lines, links keep their target in parentheses, and ``<blockquote>`` (how mail clients
quote the message replied to) becomes "> " lines so the quote splitter treats HTML and plain text
replies alike. Scripts, styles and the document head are dropped.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_SKIPPED = frozenset({"script", "style", "head", "title", "template", "noscript"})
# A blank line before and after.
_PARAGRAPHS = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table", "pre", "blockquote", "hr", "dl"}
)
# Start on a line of their own.
_LINES = frozenset({"div", "tr", "li", "dt", "dd", "section", "article", "header", "footer", "address"})
_CELLS = frozenset({"td", "th"})
_WHITESPACE = re.compile(r"\s+")


class _HtmlToText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._lines: list[tuple[int, str]] = []  # (quote depth, text)
        self._current: list[str] = []
        self._current_has_text = False  # kept rather than joining _current on every call
        self._quote_depth = 0
        self._skipping = 0
        self._preformatted = 0
        # href and where its anchor text starts in the current line.
        self._anchors: list[tuple[str | None, int]] = []

    # Line bookkeeping ----------------------------------------------------------------------------

    def _append(self, text: str) -> None:
        self._current.append(text)
        self._current_has_text = self._current_has_text or bool(text.strip())

    def _end_line(self) -> None:
        text = "".join(self._current)
        self._lines.append((self._quote_depth, text.rstrip() if self._preformatted else text.strip()))
        self._current = []
        self._current_has_text = False

    def _line_break(self) -> None:
        if self._current_has_text:
            self._end_line()

    def _paragraph_break(self) -> None:
        self._line_break()
        if self._lines and self._lines[-1][1]:
            self._lines.append((self._quote_depth, ""))

    # HTMLParser hooks ----------------------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skipping += 1
        elif tag == "br":
            self._end_line()
        elif tag in _PARAGRAPHS:
            self._paragraph_break()
            if tag == "blockquote":
                self._quote_depth += 1
            elif tag == "pre":
                self._preformatted += 1
        elif tag in _LINES:
            self._line_break()
            if tag == "li":
                self._append("- ")
        elif tag in _CELLS:
            self._append(" ")
        elif tag == "a":
            self._anchors.append((dict(attrs).get("href"), len(self._current)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # <br/> and <hr/>: the same as the start tag; there is no end tag to wait for.
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _PARAGRAPHS:
            self._paragraph_break()
            if tag == "blockquote":
                self._quote_depth = max(0, self._quote_depth - 1)
            elif tag == "pre":
                self._preformatted = max(0, self._preformatted - 1)
        elif tag in _LINES:
            self._line_break()
        elif tag == "a" and self._anchors:
            href, start = self._anchors.pop()
            self._close_anchor(href, "".join(self._current[start:]))

    def _close_anchor(self, href: str | None, anchor_text: str) -> None:
        if not href or href.startswith(("#", "javascript:")):
            return
        target = href.removeprefix("mailto:")
        if target not in anchor_text:
            self._append(f" ({target})")

    def handle_data(self, data: str) -> None:
        if self._skipping:
            return
        if self._preformatted:
            first, *rest = data.split("\n")
            self._append(first)
            for line in rest:
                self._end_line()
                self._append(line)
            return
        text = _WHITESPACE.sub(" ", data)
        if not self._current_has_text:
            text = text.lstrip()
        self._append(text)

    # Result --------------------------------------------------------------------------------------

    def text(self) -> str:
        self.close()
        self._line_break()
        # The quote depth of the next line with text, for every line (one pass from the end).
        next_depth: list[int] = []
        depth_ahead = 0
        for depth, line in reversed(self._lines):
            next_depth.append(depth_ahead)
            if line:
                depth_ahead = depth
        next_depth.reverse()
        rendered: list[str] = []
        for index, (depth, line) in enumerate(self._lines):
            if line:
                prefix = ">" * depth
                rendered.append(f"{prefix} {line}" if prefix else line)
                continue
            if not rendered or not rendered[-1]:
                continue  # no leading or doubled blank lines
            # A blank line inside a quote stays quoted, so the quote reads as one block.
            rendered.append(">" * min(depth, next_depth[index]))
        while rendered and not rendered[-1].strip(">"):
            rendered.pop()
        return "\n".join(rendered)


def html_to_text(html: str) -> str:
    """The readable text of an HTML document or fragment."""
    parser = _HtmlToText()
    parser.feed(html)
    return parser.text()

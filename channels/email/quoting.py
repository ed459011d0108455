"""Separating what a customer wrote from the history their mail client quoted below it.

Mail clients append the message being answered: Gmail and Apple Mail after an attribution line
("On Mon, 6 Jan 2025 at 10:00, Support <support@example.com> wrote:", wrapped over two lines when
long), Outlook after "-----Original Message-----" or a rule followed by "From:", and most of them
prefix the quoted lines with ">". The conversation already holds that history, so only the new
text becomes the message text; the history is kept aside for whoever wants to read it.
"""

from __future__ import annotations

import re

# Attribution lines in the languages our customers write in (Gmail's wording in each).
# Russian and Ukrainian verbs may carry a gender suffix in parentheses ("написав(ла)"), hence the \S*.
_ATTRIBUTION = re.compile(
    r"(wrote|escribió|a écrit|schrieb|ha scritto|escreveu|(пише|писал|написал|написав)\S*)\s*:\s*$",
    re.IGNORECASE,
)
# "... Name <name@example.com>:" with no verb: the shape Gmail uses in Russian, for one.
_ADDRESS_COLON = re.compile(r"<[^<>@\s]+@[^<>\s]+>\s*:\s*$")
_OUTLOOK_SEPARATOR = re.compile(
    r"^\s*-{2,}\s*(original message|исходное сообщение|mensaje original)\s*-{2,}\s*$", re.IGNORECASE
)
_RULE = re.compile(r"^\s*_{10,}\s*$")
_HEADER_FROM = re.compile(r"^\s*(from|от|від|de)\s*:", re.IGNORECASE)


def _is_quoted(line: str) -> bool:
    return line.lstrip().startswith(">")


def _quote_follows(lines: list[str], index: int) -> bool:
    """Whether the first non-blank line after ``index`` is a quoted one."""
    for line in lines[index + 1 :]:
        if line.strip():
            return _is_quoted(line)
    return False


def _is_attribution(line: str) -> bool:
    return bool(_ATTRIBUTION.search(line) or _ADDRESS_COLON.search(line))


def _history_start(lines: list[str]) -> int | None:
    """The index of the line where quoted history begins, if any.

    An attribution line counts only when quoted lines follow it: a customer may well write "this is
    what the courier wrote:" and go on in their own words.
    """
    for index, line in enumerate(lines):
        if _is_quoted(line) or not line.strip():
            continue
        if _is_attribution(line) and _quote_follows(lines, index):
            return index
        # An attribution wrapped over two lines ("On ... Name <" / "name@example.com> wrote:").
        wrapped = index + 1 < len(lines) and _is_attribution(f"{line} {lines[index + 1]}")
        if wrapped and _quote_follows(lines, index + 1):
            return index
        if _OUTLOOK_SEPARATOR.match(line):
            return index
        if _RULE.match(line) and index + 1 < len(lines) and _HEADER_FROM.match(lines[index + 1]):
            return index
    return None


def split_quoted(text: str) -> tuple[str, str]:
    """``(new text, quoted history)``.

    Everything from the attribution line on is history, and so is every ">" line above it (a
    reply written between quoted lines keeps only its own lines). When nothing new is left, as in
    a forward with no comment, the whole text is the message and there is no history.
    """
    lines = text.splitlines()
    start = _history_start(lines)
    head, history = (lines, []) if start is None else (lines[:start], lines[start:])
    kept = [line for line in head if not _is_quoted(line)]
    quoted = [line for line in head if _is_quoted(line)]
    new_text = "\n".join(kept).strip()
    if not new_text:
        return text.strip(), ""
    return new_text, "\n".join(quoted + history).strip()

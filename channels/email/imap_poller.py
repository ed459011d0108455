"""Polling an IMAP mailbox for new mail (when mail is delivered to a provider such as Gmail).

Every ``poll_seconds`` the poller logs in, selects the mailbox, asks for the UIDs of unseen
messages, and for each one fetches it with ``BODY.PEEK[]`` (a plain ``RFC822``/``BODY[]`` fetch
would set \\Seen on the server before the hub has the message), hands it to ``ingest``, and only
then stores \\Seen. A message whose ingest failed stays unseen and is picked up by the next poll.

UIDs are only meaningful together with the mailbox's UIDVALIDITY: the poller remembers which UIDs
it ingested but could not yet mark seen under the current UIDVALIDITY, so a failed STORE is retried
without ingesting the message again, and forgets them when the UIDVALIDITY changes. The hub's
dedupe key is still the Message-ID, so a message both delivered by SMTP and polled is one message.

The standard library's imaplib is blocking; all of one connection's calls run one after another
on a single worker thread, so the event loop never waits on the network.
"""

from __future__ import annotations

import asyncio
import imaplib
import logging
import ssl
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from typing import TypeVar

from channels.contract import Ingest, WebhookRequest
from channels.email.settings import ImapMailbox

log = logging.getLogger(__name__)

_T = TypeVar("_T")
# Messages handled per poll, so one poll's memory stays bounded; the rest wait for the next poll.
BATCH = 50


class ImapError(Exception):
    """The server refused a command the poller needs."""


def _quoted(value: str) -> str:
    """An IMAP quoted string (user names and mailbox names may contain spaces)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _tls_context(settings: ImapMailbox) -> ssl.SSLContext:
    # imaplib's own default context does not check certificates at all.
    context = ssl.create_default_context(cafile=str(settings.ca_file) if settings.ca_file else None)
    if not settings.validate_certs:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class _Session:
    """One logged-in IMAP connection with the mailbox selected (blocking calls)."""

    def __init__(self, settings: ImapMailbox) -> None:
        self._settings = settings
        self._connection: imaplib.IMAP4 | None = None

    def open(self) -> int:
        """Connect, log in, select the mailbox; returns its UIDVALIDITY."""
        settings = self._settings
        if settings.ssl:
            connection: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                settings.host, settings.port, ssl_context=_tls_context(settings), timeout=settings.timeout
            )
        else:
            connection = imaplib.IMAP4(settings.host, settings.port, timeout=settings.timeout)
        self._connection = connection
        connection.login(_quoted(settings.username), settings.password.get_secret_value())
        status, data = connection.select(_quoted(settings.mailbox))
        if status != "OK":
            raise ImapError(f"cannot select mailbox {settings.mailbox!r}: {_text(data)}")
        _, validity = connection.response("UIDVALIDITY")
        return _number(validity[0] if validity else None, f"the UIDVALIDITY of mailbox {settings.mailbox!r}")

    def _connected(self) -> imaplib.IMAP4:
        if self._connection is None:
            raise ImapError("not connected")
        return self._connection

    def unseen(self) -> list[int]:
        status, data = self._connected().uid("SEARCH", "UNSEEN")
        if status != "OK":
            raise ImapError(f"UID SEARCH UNSEEN failed: {_text(data)}")
        words = b" ".join(item for item in data if isinstance(item, bytes)).split()
        return sorted(_number(word, "a UID in the UNSEEN search result") for word in words)

    def fetch(self, uid: int) -> bytes | None:
        """The raw message; None when it vanished (expunged) since the search."""
        status, data = self._connected().uid("FETCH", str(uid), "(BODY.PEEK[])")
        if status != "OK":
            raise ImapError(f"UID FETCH {uid} failed: {_text(data)}")
        for item in data:
            if isinstance(item, tuple) and len(item) == 2:
                return bytes(item[1])
        return None

    def mark_seen(self, uid: int) -> None:
        status, data = self._connected().uid("STORE", str(uid), "+FLAGS", "(\\Seen)")
        if status != "OK":
            raise ImapError(f"UID STORE {uid} +FLAGS (\\Seen) failed: {_text(data)}")

    def close(self) -> None:
        """Log out; a connection that is already broken is just dropped."""
        if self._connection is None:
            return
        try:
            self._connection.logout()
        except (imaplib.IMAP4.error, OSError):
            with suppress(OSError):
                self._connection.shutdown()


def _text(data: Sequence[object]) -> str:
    return " ".join(item.decode(errors="replace") if isinstance(item, bytes) else str(item) for item in data)


def _number(value: bytes | str | None, what: str) -> int:
    """An integer from a server response; ImapError (not a crash) when the server sent garbage."""
    try:
        return int(value or "")
    except ValueError:
        raise ImapError(f"the server sent {value!r} as {what}") from None


class ImapPoller:
    """The Listener for an account's ``imap`` settings."""

    def __init__(self, settings: ImapMailbox, account: str) -> None:
        self._settings = settings
        self._account = account
        self._uidvalidity: int | None = None
        # Ingested under the current UIDVALIDITY, but \Seen not stored yet.
        self._awaiting_seen: set[int] = set()
        self._executor: ThreadPoolExecutor | None = None

    async def listen(self, ingest: Ingest) -> None:
        """Poll until cancelled; a failed poll is logged and retried at the next interval."""
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"imap-{self._account}")
        try:
            while True:
                try:
                    await self._poll(ingest)
                except (ImapError, imaplib.IMAP4.error, OSError) as exc:
                    log.warning("IMAP poll of %s failed: %s", self._account, exc)
                await asyncio.sleep(self._settings.poll_seconds)
        finally:
            # Never wait here: a call still running finishes on its own (bounded by the timeout).
            self._executor.shutdown(wait=False)
            self._executor = None

    async def _run(self, call: Callable[..., _T], *args: object) -> _T:
        if self._executor is None:
            raise RuntimeError("the poller is not listening")
        return await asyncio.get_running_loop().run_in_executor(self._executor, call, *args)

    async def _poll(self, ingest: Ingest) -> None:
        session = _Session(self._settings)
        try:
            uidvalidity = await self._run(session.open)
            if uidvalidity != self._uidvalidity:
                # Old UIDs now name other messages (or none).
                self._uidvalidity, self._awaiting_seen = uidvalidity, set()
            for uid in (await self._run(session.unseen))[:BATCH]:
                if uid not in self._awaiting_seen:
                    if not await self._ingest_one(session, uidvalidity, uid, ingest):
                        continue
                    self._awaiting_seen.add(uid)
                await self._run(session.mark_seen, uid)
                self._awaiting_seen.discard(uid)
        except BaseException:
            # Queued behind whatever call is still running on the worker thread; never awaited, so
            # a cancelled listener stops at once.
            if self._executor is not None:
                self._executor.submit(session.close)
            raise
        await self._run(session.close)

    async def _ingest_one(self, session: _Session, uidvalidity: int, uid: int, ingest: Ingest) -> bool:
        raw = await self._run(session.fetch, uid)
        if raw is None:
            return False
        request = WebhookRequest(
            method="IMAP",
            url=f"imap://{self._account}",
            headers={
                "x-imap-host": self._settings.host,
                "x-imap-mailbox": self._settings.mailbox,
                "x-imap-uidvalidity": str(uidvalidity),
                "x-imap-uid": str(uid),
            },
            body=raw,
        )
        try:
            await ingest(request)
        except Exception:
            # Left unseen: the next poll tries again.
            log.exception("email UID %s of %s not stored; it stays unseen", uid, self._account)
            return False
        return True

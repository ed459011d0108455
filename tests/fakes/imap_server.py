"""A small IMAP4rev1 server for tests, speaking the real wire protocol (RFC 3501).

It implements what a mailbox poller uses: CAPABILITY, LOGIN, SELECT (with UIDVALIDITY), UID
SEARCH UNSEEN, UID FETCH (BODY.PEEK[], BODY[], RFC822), UID STORE +FLAGS, NOOP and LOGOUT, with
RFC 3501's rule that fetching BODY[] or RFC822 (unlike BODY.PEEK[]) sets \\Seen. It records every
command line it received and can be told to refuse STORE.

    async with FakeImapServer(username="u", password="p") as server:
        uid = server.add(raw_bytes)
        ... point imaplib at 127.0.0.1:server.port ...
        assert server.is_seen(uid)
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from types import TracebackType

_TOKEN = re.compile(rb'"((?:[^"\\]|\\.)*)"|(\([^)]*\))|([^\s()]+)')
_FETCH_ITEMS = {b"BODY.PEEK[]": b"BODY[]", b"BODY[]": b"BODY[]", b"RFC822": b"RFC822"}


@dataclass
class StoredMessage:
    uid: int
    raw: bytes
    flags: set[str] = field(default_factory=set)


def _arguments(text: bytes) -> list[bytes]:
    """Atoms, quoted strings (unescaped) and parenthesised lists (kept whole)."""
    found = []
    for quoted, listed, atom in _TOKEN.findall(text):
        if quoted or (not listed and not atom):
            found.append(re.sub(rb"\\(.)", rb"\1", quoted))
        else:
            found.append(listed or atom)
    return found


def _uid_set(text: bytes) -> set[int]:
    return {int(part) for part in text.split(b",") if part.isdigit()}


class FakeImapServer:
    def __init__(
        self, *, username: str, password: str, mailbox: str = "INBOX", uidvalidity: int = 1000
    ) -> None:
        self.username = username
        self.password = password
        self.mailbox = mailbox
        self.uidvalidity = uidvalidity
        self.messages: list[StoredMessage] = []
        self.commands: list[str] = []
        self.refuse_store = False
        self._next_uid = 1
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    # Test controls -------------------------------------------------------------------------------

    def add(self, raw: bytes, *, seen: bool = False) -> int:
        """Deliver a message into the mailbox; returns its UID."""
        uid = self._next_uid
        self._next_uid += 1
        self.messages.append(StoredMessage(uid, raw, {"\\Seen"} if seen else set()))
        return uid

    def is_seen(self, uid: int) -> bool:
        return "\\Seen" in self._message(uid).flags

    def reset_uidvalidity(self, uidvalidity: int) -> None:
        """What a server does when it rebuilt the mailbox: new UIDVALIDITY, UIDs numbered afresh."""
        self.uidvalidity = uidvalidity
        for number, message in enumerate(self.messages, start=1):
            message.uid = number
        self._next_uid = len(self.messages) + 1

    def commands_named(self, name: str) -> list[str]:
        """The command lines received for ``name`` ("LOGIN", "UID FETCH"), tags left out."""
        return [line for line in self.commands if line == name or line.startswith(name + " ")]

    def _message(self, uid: int) -> StoredMessage:
        return next(message for message in self.messages if message.uid == uid)

    # Lifecycle -----------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def __aenter__(self) -> FakeImapServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await self._server.wait_closed()

    # Protocol ------------------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        session = _Connection(self, writer)
        try:
            writer.write(b"* OK [CAPABILITY IMAP4rev1] fake IMAP server ready\r\n")
            while not session.logged_out:
                line = await reader.readline()
                if not line:
                    break
                session.handle(line.rstrip(b"\r\n"))
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            self._connections.discard(task)


class _Connection:
    def __init__(self, server: FakeImapServer, writer: asyncio.StreamWriter) -> None:
        self.server = server
        self.writer = writer
        self.authenticated = False
        self.selected = False
        self.logged_out = False

    def _send(self, line: bytes) -> None:
        self.writer.write(line + b"\r\n")

    def handle(self, line: bytes) -> None:
        tag, _, rest = line.partition(b" ")
        command, _, arguments = rest.partition(b" ")
        name = command.upper().decode()
        if name == "UID":
            sub, _, arguments = arguments.partition(b" ")
            name = f"UID {sub.upper().decode()}"
        self.server.commands.append(f"{name} {arguments.decode(errors='replace')}".strip())
        handler = {
            "CAPABILITY": self._capability,
            "NOOP": self._ok,
            "LOGIN": self._login,
            "SELECT": self._select,
            "UID SEARCH": self._search,
            "UID FETCH": self._fetch,
            "UID STORE": self._store,
            "LOGOUT": self._logout,
        }.get(name)
        if handler is None:
            self._send(tag + b" BAD unknown command")
        elif name not in ("CAPABILITY", "NOOP", "LOGIN", "LOGOUT") and not self.authenticated:
            self._send(tag + b" BAD log in first")
        elif name.startswith("UID") and not self.selected:
            self._send(tag + b" BAD select a mailbox first")
        else:
            handler(tag, _arguments(arguments))

    def _ok(self, tag: bytes, arguments: list[bytes]) -> None:
        self._send(tag + b" OK done")

    def _capability(self, tag: bytes, arguments: list[bytes]) -> None:
        self._send(b"* CAPABILITY IMAP4rev1")
        self._send(tag + b" OK CAPABILITY completed")

    def _login(self, tag: bytes, arguments: list[bytes]) -> None:
        expected = [self.server.username.encode(), self.server.password.encode()]
        if arguments == expected:
            self.authenticated = True
            self._send(tag + b" OK LOGIN completed")
        else:
            self._send(tag + b" NO [AUTHENTICATIONFAILED] Invalid credentials")

    def _select(self, tag: bytes, arguments: list[bytes]) -> None:
        if arguments != [self.server.mailbox.encode()]:
            self._send(tag + b" NO [NONEXISTENT] Unknown Mailbox")
            return
        self.selected = True
        server = self.server
        self._send(b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)")
        self._send(b"* %d EXISTS" % len(server.messages))
        self._send(b"* 0 RECENT")
        self._send(b"* OK [UIDVALIDITY %d] UIDs valid" % server.uidvalidity)
        self._send(b"* OK [UIDNEXT %d] Predicted next UID" % server._next_uid)
        self._send(tag + b" OK [READ-WRITE] SELECT completed")

    def _search(self, tag: bytes, arguments: list[bytes]) -> None:
        if [a.upper() for a in arguments] != [b"UNSEEN"]:
            self._send(tag + b" BAD only UNSEEN is supported")
            return
        uids = [str(m.uid).encode() for m in self.server.messages if "\\Seen" not in m.flags]
        self._send(b" ".join([b"* SEARCH", *uids]))
        self._send(tag + b" OK SEARCH completed")

    def _fetch(self, tag: bytes, arguments: list[bytes]) -> None:
        if len(arguments) != 2:
            self._send(tag + b" BAD UID FETCH <uids> <items>")
            return
        item = arguments[1].strip(b"()").upper()
        if item not in _FETCH_ITEMS:
            self._send(tag + b" BAD unsupported fetch item")
            return
        wanted = _uid_set(arguments[0])
        for number, message in enumerate(self.server.messages, start=1):
            if message.uid not in wanted:
                continue
            if item != b"BODY.PEEK[]":
                message.flags.add("\\Seen")
            literal = b"{%d}" % len(message.raw)
            self._send(b"* %d FETCH (UID %d %s %s" % (number, message.uid, _FETCH_ITEMS[item], literal))
            self.writer.write(message.raw + b")\r\n")
        self._send(tag + b" OK FETCH completed")

    def _store(self, tag: bytes, arguments: list[bytes]) -> None:
        if self.server.refuse_store:
            self._send(tag + b" NO [CANNOT] STORE refused")
            return
        if len(arguments) != 3 or arguments[1].upper() not in (b"+FLAGS", b"+FLAGS.SILENT"):
            self._send(tag + b" BAD UID STORE <uids> +FLAGS (<flags>)")
            return
        flags = arguments[2].strip(b"()").decode().split()
        wanted = _uid_set(arguments[0])
        for number, message in enumerate(self.server.messages, start=1):
            if message.uid in wanted:
                message.flags.update(flags)
                if arguments[1].upper() == b"+FLAGS":
                    listed = " ".join(sorted(message.flags)).encode()
                    self._send(b"* %d FETCH (UID %d FLAGS (%s))" % (number, message.uid, listed))
        self._send(tag + b" OK STORE completed")

    def _logout(self, tag: bytes, arguments: list[bytes]) -> None:
        self._send(b"* BYE logging out")
        self._send(tag + b" OK LOGOUT completed")
        self.logged_out = True

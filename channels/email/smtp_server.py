"""Our own SMTP server: mail delivered to it is handed to the hub like a webhook.

The sender is told "250" only after ``ingest`` returned, that is after the hub has stored the
message, so a crash between the two makes the sending MTA retry instead of losing mail. An ingest
failure answers 451 (try again later); a recipient we do not serve 550; a message over the size
limit 552 (aiosmtpd enforces the limit both on the SIZE the client declares and on the data).

The server offers no AUTH and no TLS: run it behind the organisation's MTA (which relays to it on
localhost) or on a trusted network. It is the trust boundary: what it accepts is not checked again.
"""

from __future__ import annotations

import asyncio
import logging

from aiosmtpd.smtp import SMTP, Envelope, Session

from channels.contract import Ingest, WebhookRequest
from channels.email.settings import InboundSmtp

log = logging.getLogger(__name__)

ACCEPTED = "250 2.0.0 OK: message stored"
TRY_LATER = "451 4.3.0 Message not stored: local error, please try again later"


def _recipient_refused(address: str) -> str:
    return f"550 5.1.1 <{address}>: no such recipient here"


class _IngestHandler:
    """The aiosmtpd handler hooks (aiosmtpd finds them by name)."""

    def __init__(self, settings: InboundSmtp, account: str, ingest: Ingest) -> None:
        self._allowed = frozenset(settings.allowed_recipients)
        self._account = account
        self._ingest = ingest

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address.lower() not in self._allowed:
            return _recipient_refused(address)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        request = WebhookRequest(
            method="SMTP",
            url=f"smtp://{self._account}",
            headers={
                "x-mail-from": envelope.mail_from or "",
                "x-rcpt-to": ", ".join(envelope.rcpt_tos),
                "x-peer": str(session.peer[0]) if session.peer else "",
                "x-helo": session.host_name or "",
            },
            body=envelope.original_content or b"",
        )
        try:
            await self._ingest(request)
        except Exception:
            # Whatever went wrong, the message is not stored: the sender must keep it and retry.
            log.exception("email from %s to %s not stored; answered 451", envelope.mail_from, self._account)
            return TRY_LATER
        return ACCEPTED


class InboundSmtpServer:
    """The Listener for an account's ``inbound_smtp`` settings."""

    def __init__(self, settings: InboundSmtp, account: str, hostname: str) -> None:
        self._settings = settings
        self._account = account
        self._hostname = hostname  # named in the greeting; avoids a slow reverse DNS lookup
        self._port: int | None = None
        self.started = asyncio.Event()

    @property
    def port(self) -> int:
        """The port the server listens on (the OS's choice when configured as 0)."""
        if self._port is None:
            raise RuntimeError("the SMTP server is not listening yet")
        return self._port

    async def listen(self, ingest: Ingest) -> None:
        """Serve until cancelled."""
        loop = asyncio.get_running_loop()
        handler = _IngestHandler(self._settings, self._account, ingest)
        server = await loop.create_server(
            lambda: SMTP(
                handler,
                data_size_limit=self._settings.max_size_bytes,
                hostname=self._hostname,
                enable_SMTPUTF8=True,
                loop=loop,
            ),
            host=self._settings.host,
            port=self._settings.port,
        )
        self._port = server.sockets[0].getsockname()[1]
        log.info("SMTP server for %s listening on %s:%s", self._account, self._settings.host, self._port)
        self.started.set()
        try:
            await server.serve_forever()
        finally:
            server.close()
            await server.wait_closed()
            self.started.clear()

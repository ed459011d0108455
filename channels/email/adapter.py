"""The email channel adapter: receives by its own SMTP server and/or IMAP polling, sends by SMTP.

Mail arrives through ``listen`` (this adapter is a Listener), never by HTTP webhook. Requests made
by our own listeners carry method "SMTP" or "IMAP" and a URL of that scheme; ``verify`` accepts
exactly those and rejects anything the hub received over HTTP.

``check`` logs in to the outbound SMTP server and the IMAP mailbox the way sending and polling do,
without sending or reading anything.
"""

from __future__ import annotations

import asyncio
import imaplib
import logging
import socket
import ssl
from datetime import UTC, datetime

from channels.contract import (
    Acknowledgement,
    Capabilities,
    ChannelContext,
    Ingest,
    NormalizedEvent,
    OutboundMessage,
    RateLimits,
    SendResult,
    SignatureError,
    WebhookRequest,
)
from channels.email.composing import compose
from channels.email.imap_poller import ImapError, ImapPoller, _Session
from channels.email.parsing import event_key, parse_email
from channels.email.settings import EmailSettings, ImapMailbox
from channels.email.smtp_server import InboundSmtpServer
from channels.email.submission import login_problem, submit

log = logging.getLogger(__name__)

_LISTENER_METHODS = frozenset({"SMTP", "IMAP"})


class EmailAdapter:
    """One email account."""

    type = "email"
    # Email has no buttons (they degrade to lines of text) and no delivery or read receipts
    # (bounces do report failures). 100 000 characters is far beyond any real reply.
    capabilities = Capabilities(buttons=False, media=True, max_text_length=100_000)

    def __init__(self, settings: EmailSettings, context: ChannelContext) -> None:
        self._settings = settings
        self._context = context
        # Per recipient there is no limit: a customer may get two quick answers in a row.
        self.rate_limits = RateLimits(
            per_second=settings.smtp.max_per_second, burst=max(1, round(settings.smtp.max_per_second * 5))
        )
        # Public so the hub (and tests) can see the bound port and wait for the server to start.
        inbound = settings.inbound_smtp
        self.smtp_server = (
            InboundSmtpServer(inbound, context.account, hostname=settings.domain)
            if inbound is not None and inbound.enabled
            else None
        )
        self.imap_poller = ImapPoller(settings.imap, context.account) if settings.imap is not None else None

    # Inbound -------------------------------------------------------------------------------------

    async def listen(self, ingest: Ingest) -> None:
        """Run the SMTP server and the IMAP poller (whichever are configured) until cancelled.

        Returns at once for a send-only account (neither configured); raises the error of a
        listener that fails (the other one is stopped then too).
        """
        listeners = [listener for listener in (self.smtp_server, self.imap_poller) if listener is not None]
        if not listeners:
            log.info("email account %s has no inbound_smtp or imap settings", self._context.account)
            return
        tasks = [asyncio.create_task(listener.listen(ingest)) for listener in listeners]
        try:
            # A listener only ends by failing (the SMTP port taken, say); its own error is raised
            # as it is, not wrapped in an ExceptionGroup as a TaskGroup would.
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def verify(self, request: WebhookRequest) -> None:
        """Accept what our own SMTP server or IMAP poller handed in; nothing else.

        Those requests carry no signature: the listener itself is the trust boundary (it is
        in-process and the SMTP server refuses recipients we do not serve). This adapter has no
        HTTP webhook, so a request to /webhooks/email/<account> is never genuine.
        """
        method = request.method.upper()
        if method in _LISTENER_METHODS and request.url.lower().startswith(f"{method.lower()}://"):
            return
        raise SignatureError(
            "email has no HTTP webhook: mail arrives through the SMTP server or IMAP polling", status_code=403
        )

    def event_id(self, request: WebhookRequest) -> str:
        """The Message-ID (without angle brackets), or a hash of the raw email when it has none."""
        return event_key(request.body)

    def acknowledgement(self, request: WebhookRequest) -> Acknowledgement:
        """Never seen by a sender: the SMTP server answers 250 itself once ingest returned."""
        return Acknowledgement()

    def parse(self, request: WebhookRequest) -> list[NormalizedEvent]:
        """The email as an InboundMessage, or a bounce as a DeliveryReceipt."""
        transport = {"transport": request.method.lower()}
        for header, key in (("x-mail-from", "envelope_from"), ("x-rcpt-to", "envelope_to")):
            value = request.header(header)
            if value:
                transport[key] = value
        return parse_email(
            request.body,
            envelope_sender=request.header("x-mail-from"),
            trusted_authserv_id=self._settings.trusted_authserv_id,
            metadata=transport,
        )

    # Outbound ------------------------------------------------------------------------------------

    async def send(self, message: OutboundMessage) -> SendResult:
        """Send one email; the provider id is its Message-ID without brackets."""
        email = compose(message, self._settings, now=datetime.now(UTC))
        await submit(email, self._settings.smtp)
        return SendResult((str(email["Message-ID"]).strip("<>"),))

    async def aclose(self) -> None:
        """Nothing to release: every send opens and closes its own SMTP connection."""

    # Setup ---------------------------------------------------------------------------------------

    async def check(self, webhook_url: str) -> list[str]:
        """Log in to the outbound SMTP server and, if configured, the IMAP mailbox, each within the
        context's HTTP timeout at most. Email has no webhook, so ``webhook_url`` is not used."""
        limit = self._context.http_timeout
        smtp = self._settings.smtp
        problems = [await login_problem(smtp.model_copy(update={"timeout": min(smtp.timeout, limit)}))]
        imap = self._settings.imap
        if imap is not None:
            problems.append(
                await _mailbox_problem(imap.model_copy(update={"timeout": min(imap.timeout, limit)}))
            )
        return [problem for problem in problems if problem is not None]


async def _mailbox_problem(imap: ImapMailbox) -> str | None:
    """Log in and select the mailbox as the poller does (blocking imaplib, on a worker thread); None
    when that works, otherwise what failed in plain words."""
    where = f"the IMAP server {imap.host}:{imap.port}"
    session = _Session(imap)
    try:
        await asyncio.to_thread(session.open)
    except ImapError as exc:  # the mailbox cannot be selected
        return f"{where}: {exc}: check imap.mailbox"
    except imaplib.IMAP4.abort as exc:
        return f"{where} broke off the connection ({_imap_words(exc)}): check imap.port and imap.ssl"
    except imaplib.IMAP4.error as exc:
        return f"{where} refused the login ({_imap_words(exc)}): check imap.username and imap.password"
    except TimeoutError:
        return f"{where} did not answer within {imap.timeout:g} s: check imap.host, imap.port and firewalls"
    except ssl.SSLError as exc:
        return f"TLS with {where} failed ({exc.reason or exc}): check imap.ssl, imap.port and imap.ca_file"
    except socket.gaierror as exc:
        return f"the IMAP server's name {imap.host} cannot be found (DNS: {exc.strerror}): check imap.host"
    except ConnectionRefusedError:
        return f"nothing accepts connections at {imap.host}:{imap.port}: check imap.host and imap.port"
    except OSError as exc:
        return f"the connection to {where} failed: {exc}"
    finally:
        await asyncio.to_thread(session.close)
    return None


def _imap_words(exc: imaplib.IMAP4.error) -> str:
    """The server's words in an imaplib error, which carries them as bytes."""
    words = exc.args[0] if exc.args else ""
    return words.decode(errors="replace") if isinstance(words, bytes) else str(words)

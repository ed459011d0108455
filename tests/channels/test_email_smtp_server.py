"""Our inbound SMTP server, fed by a real SMTP client (aiosmtplib) over a real socket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from email.message import EmailMessage

import aiosmtplib
import pytest

from channels.contract import ChannelContext, DeliveryReceipt, InboundMessage, WebhookRequest
from channels.email import SPEC, EmailAdapter, EmailSettings
from channels.email.smtp_server import InboundSmtpServer

ACCOUNT = "support_mail"


def build_adapter(**inbound: object) -> EmailAdapter:
    settings = EmailSettings.model_validate(
        {
            "type": "email",
            "address": "support@example.com",
            "smtp": {"host": "127.0.0.1", "port": 25, "security": "none"},
            "inbound_smtp": {"host": "127.0.0.1", "port": 0, **inbound},
        }
    )
    adapter = SPEC.build(settings, ChannelContext(account=ACCOUNT, public_url="https://hub.example.com"))
    assert isinstance(adapter, EmailAdapter)
    return adapter


@asynccontextmanager
async def listening(
    ingest: Callable[[WebhookRequest], Awaitable[None]], **inbound: object
) -> AsyncIterator[InboundSmtpServer]:
    adapter = build_adapter(**inbound)
    server = adapter.smtp_server
    assert server is not None
    task = asyncio.create_task(adapter.listen(ingest))
    await asyncio.wait_for(server.started.wait(), timeout=5)
    try:
        yield server
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


class Recorder:
    """An ingest that stores what it is given, like the hub persisting a webhook."""

    def __init__(self) -> None:
        self.requests: list[WebhookRequest] = []

    async def __call__(self, request: WebhookRequest) -> None:
        self.requests.append(request)


def customer_email(to: str = "support@example.com", body: str = "Where is my parcel?") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Olena <olena@example.org>"
    message["To"] = to
    message["Subject"] = "Parcel"
    message["Message-ID"] = "<parcel-1@example.org>"
    message.set_content(body)
    return message


async def send(
    port: int, message: EmailMessage, recipients: list[str] | None = None
) -> tuple[dict[str, aiosmtplib.SMTPResponse], str]:
    return await aiosmtplib.send(
        message, hostname="127.0.0.1", port=port, recipients=recipients, start_tls=False, timeout=5
    )


class TestAccepting:
    async def test_a_delivered_email_reaches_ingest_as_a_request_the_adapter_parses(self) -> None:
        ingest = Recorder()
        async with listening(ingest) as server:
            _, reply = await send(server.port, customer_email())
        assert reply == "2.0.0 OK: message stored"
        (request,) = ingest.requests
        assert request.method == "SMTP"
        assert request.url == f"smtp://{ACCOUNT}"
        assert request.header("x-mail-from") == "olena@example.org"
        assert request.header("x-rcpt-to") == "support@example.com"
        assert request.header("x-peer") == "127.0.0.1"
        assert b"Message-ID: <parcel-1@example.org>" in request.body
        adapter = build_adapter()
        adapter.verify(request)
        assert adapter.event_id(request) == "parcel-1@example.org"
        (parsed,) = adapter.parse(request)
        assert isinstance(parsed, InboundMessage)
        assert parsed.text == "Where is my parcel?"
        assert parsed.sender.value == "olena@example.org"

    async def test_250_is_answered_only_after_ingest_returned(self) -> None:
        entered, release = asyncio.Event(), asyncio.Event()
        stored: list[WebhookRequest] = []

        async def slow_ingest(request: WebhookRequest) -> None:
            entered.set()
            await release.wait()
            stored.append(request)

        async with listening(slow_ingest) as server:
            sending = asyncio.create_task(send(server.port, customer_email()))
            await asyncio.wait_for(entered.wait(), timeout=5)
            await asyncio.sleep(0.1)
            assert not sending.done(), "the sender was answered before the message was stored"
            release.set()
            _, reply = await asyncio.wait_for(sending, timeout=5)
        assert reply == "2.0.0 OK: message stored"
        assert len(stored) == 1

    async def test_recipients_are_matched_without_regard_to_case(self) -> None:
        ingest = Recorder()
        async with listening(ingest) as server:
            await send(server.port, customer_email(to="Support@Example.COM"))
        assert len(ingest.requests) == 1

    async def test_a_bounce_with_the_null_sender_is_accepted_and_parses_as_a_receipt(self) -> None:
        bounce = (
            b"From: MAILER-DAEMON@mx.example.org\r\nTo: support@example.com\r\nSubject: failure\r\n"
            b"Message-ID: <dsn-1@mx.example.org>\r\nMIME-Version: 1.0\r\n"
            b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
            b"--b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n"
            b"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n"
            b"Final-Recipient: rfc822; nobody@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
            b"--b\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <ours-1@example.com>\r\n\r\n"
            b"--b--\r\n"
        )
        ingest = Recorder()
        async with listening(ingest) as server:
            client = aiosmtplib.SMTP(hostname="127.0.0.1", port=server.port, start_tls=False, timeout=5)
            async with client:
                await client.sendmail("", ["support@example.com"], bounce)
        (request,) = ingest.requests
        assert request.header("x-mail-from") == "<>"
        (receipt,) = build_adapter().parse(request)
        assert isinstance(receipt, DeliveryReceipt)
        assert receipt.provider_message_id == "ours-1@example.com"


class TestRefusing:
    async def test_ingest_failure_answers_451_so_the_sender_retries(self) -> None:
        attempts: list[WebhookRequest] = []

        async def failing_once(request: WebhookRequest) -> None:
            attempts.append(request)
            if len(attempts) == 1:
                raise ConnectionError("database is down")

        async with listening(failing_once) as server:
            with pytest.raises(aiosmtplib.SMTPDataError) as refused:
                await send(server.port, customer_email())
            assert refused.value.code == 451
            _, reply = await send(server.port, customer_email())
        assert reply == "2.0.0 OK: message stored"
        assert len(attempts) == 2

    async def test_a_recipient_we_do_not_serve_gets_550_and_nothing_is_stored(self) -> None:
        ingest = Recorder()
        async with listening(ingest) as server:
            with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
                await send(server.port, customer_email(to="someone-else@example.com"))
        (recipient,) = refused.value.recipients
        assert recipient.code == 550
        assert ingest.requests == []

    async def test_only_allowed_recipients_are_recorded_when_some_are_refused(self) -> None:
        ingest = Recorder()
        async with listening(
            ingest, allowed_recipients=["support@example.com", "sales@example.com"]
        ) as server:
            errors, _ = await send(
                server.port,
                customer_email(),
                recipients=["sales@example.com", "intruder@example.com", "support@example.com"],
            )
        assert list(errors) == ["intruder@example.com"]
        (request,) = ingest.requests
        assert request.header("x-rcpt-to") == "sales@example.com, support@example.com"

    async def test_an_oversized_message_declared_by_size_gets_552(self) -> None:
        ingest = Recorder()
        async with listening(ingest, max_size_bytes=2000) as server:
            with pytest.raises(aiosmtplib.SMTPSenderRefused) as refused:
                await send(server.port, customer_email(body="x" * 5000))
        assert refused.value.code == 552
        assert ingest.requests == []

    async def test_an_oversized_message_not_declared_gets_552_after_the_data(self) -> None:
        ingest = Recorder()
        raw = customer_email(body="y" * 5000).as_bytes()
        async with listening(ingest, max_size_bytes=2000) as server:
            client = aiosmtplib.SMTP(hostname="127.0.0.1", port=server.port, start_tls=False, timeout=5)
            async with client:
                await client.mail("olena@example.org")  # no SIZE parameter
                await client.rcpt("support@example.com")
                with pytest.raises(aiosmtplib.SMTPDataError) as refused:
                    await client.data(raw)
        assert refused.value.code == 552
        assert ingest.requests == []


async def test_cancelling_listen_closes_the_port() -> None:
    async with listening(Recorder()) as server:
        port = server.port
    with pytest.raises(aiosmtplib.SMTPConnectError):
        await send(port, customer_email())

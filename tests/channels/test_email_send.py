"""Sending through a real SMTP server (aiosmtpd) with the real client (aiosmtplib).

The outbound target records what arrived over the wire; tests then read it back as the recipient's
mail client would. TLS tests use a self-signed certificate made by the openssl command line for
the test run (neither ``cryptography`` nor ``trustme`` is installed).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import shutil
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, cast

import aiosmtplib
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from channels.contract import (
    Attachment,
    Button,
    ChannelContext,
    InboundMessage,
    OutboundMessage,
    PermanentSendError,
    TransientSendError,
    WebhookRequest,
)
from channels.email import SPEC, EmailAdapter, EmailSettings

# --------------------------------------------------------------------------------------------------
# The outbound mail server


@dataclass
class Delivery:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    tls: bool
    login: bytes | None

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.raw, policy=email.policy.default)


@dataclass
class MailServer:
    """aiosmtpd handler that records deliveries and answers what a test tells it to."""

    deliveries: list[Delivery] = field(default_factory=list)
    rcpt_reply: str | None = None
    data_reply: str | None = None

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_reply:
            return self.data_reply
        login = session.auth_data.login if isinstance(session.auth_data, LoginPassword) else None
        self.deliveries.append(
            Delivery(
                mail_from=envelope.mail_from or "",
                rcpt_tos=list(envelope.rcpt_tos),
                raw=envelope.original_content or b"",
                tls=server.transport is not None
                and server.transport.get_extra_info("ssl_object") is not None,
                login=login,
            )
        )
        return "250 2.0.0 Ok: queued as 4YRb1Q2xyz"


class _EphemeralPortController(Controller):
    """aiosmtpd's Controller on a port the OS picks (it only knows fixed ports)."""

    def _trigger_server(self) -> None:
        server = cast(asyncio.Server, self.server)
        self.port = server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


@contextmanager
def mail_server(handler: MailServer, **smtp_options: Any) -> Iterator[int]:
    controller = _EphemeralPortController(
        handler, hostname="127.0.0.1", port=0, server_hostname="mx.example.net", **smtp_options
    )
    controller.start()
    try:
        yield controller.port
    finally:
        controller.stop()


def accept_only(username: str, password: str) -> Any:
    def authenticator(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: object
    ) -> AuthResult:
        good = isinstance(auth_data, LoginPassword) and auth_data == (username.encode(), password.encode())
        # handled=False: aiosmtpd then answers 535 itself.
        return AuthResult(success=good, handled=False, auth_data=auth_data)

    return authenticator


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip(
            "no openssl command to make a test certificate (cryptography and trustme are not installed)"
        )
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            *(openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"),
            *("-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=localhost"),
            *("-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return cert, key


def server_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


# --------------------------------------------------------------------------------------------------
# The adapter


def build_adapter(port: int, **smtp: object) -> EmailAdapter:
    settings = EmailSettings.model_validate(
        {
            "type": "email",
            "address": "support@example.com",
            "display_name": "Example Support",
            "smtp": {"host": "127.0.0.1", "port": port, "security": "none", "timeout": 5, **smtp},
        }
    )
    adapter = SPEC.build(
        settings, ChannelContext(account="support_mail", public_url="https://hub.example.com")
    )
    assert isinstance(adapter, EmailAdapter)
    return adapter


def outbound(**fields: Any) -> OutboundMessage:
    return OutboundMessage(
        **{
            "to": "olena@example.org",
            "text": "Your parcel left our warehouse.",
            "idempotency_key": "outbox-1",
            **fields,
        }
    )


def body(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None and part.get_content_subtype() == subtype
    return str(cast(EmailMessage, part).get_content()).replace("\r\n", "\n")  # CRLF from the wire


class TestComposition:
    async def test_a_threaded_reply_with_buttons_and_attachments_arrives_as_written(self) -> None:
        server = MailServer()
        with mail_server(server) as port:
            result = await build_adapter(port).send(
                outbound(
                    text="Your parcel left our warehouse.\nTracking: https://track.example.net/p/42",
                    reply_to=("order-41@example.com", "reply-1@example.com", "CAF=x8Yk1Q2@mail.gmail.com"),
                    metadata={"original_subject": "Order 42"},
                    buttons=(
                        Button("Yes, thanks", payload="yes"),
                        Button("No", payload="no"),
                        Button("Track the parcel", url="https://track.example.net/p/42?lang=uk&x=1"),
                    ),
                    attachments=(
                        Attachment(
                            "file",
                            filename="invoice-42.pdf",
                            content_type="application/pdf",
                            content=b"%PDF-1.4 x",
                        ),
                        Attachment("file", url="https://files.example.com/manual.pdf", filename="manual.pdf"),
                    ),
                )
            )
        (delivery,) = server.deliveries
        message = delivery.message
        assert delivery.mail_from == "support@example.com"
        assert delivery.rcpt_tos == ["olena@example.org"]
        assert message["From"] == "Example Support <support@example.com>"
        assert message["To"] == "olena@example.org"
        assert message["Subject"] == "Re: Order 42"
        (provider_id,) = result.provider_message_ids
        assert provider_id.endswith("@example.com")
        assert message["Message-ID"] == f"<{provider_id}>"
        assert message["In-Reply-To"] == "<CAF=x8Yk1Q2@mail.gmail.com>"
        # Long enough to be folded right after "References:", hence the split.
        assert message["References"].split() == [
            "<order-41@example.com>",
            "<reply-1@example.com>",
            "<CAF=x8Yk1Q2@mail.gmail.com>",
        ]
        assert message["Date"].datetime is not None
        assert body(message, "plain") == (
            "Your parcel left our warehouse.\nTracking: https://track.example.net/p/42\n\n"
            "Reply with one of:\n- Yes, thanks\n- No\n\n"
            "Links:\n- Track the parcel: https://track.example.net/p/42?lang=uk&x=1\n\n"
            "Attachments:\n- manual.pdf: https://files.example.com/manual.pdf\n"
        )
        html = body(message, "html")
        assert '<a href="https://track.example.net/p/42">https://track.example.net/p/42</a>' in html
        assert '<a href="https://track.example.net/p/42?lang=uk&amp;x=1">Track the parcel</a>' in html
        assert "<li>Yes, thanks</li>" in html
        (attached,) = list(message.iter_attachments())
        assert attached.get_filename() == "invoice-42.pdf"
        assert attached.get_content_type() == "application/pdf"
        assert attached.get_content() == b"%PDF-1.4 x"

    async def test_a_retry_of_one_outbox_message_keeps_its_message_id(self) -> None:
        server = MailServer()
        with mail_server(server) as port:
            adapter = build_adapter(port)
            first = await adapter.send(outbound(idempotency_key="outbox-7"))
            retry = await adapter.send(outbound(idempotency_key="outbox-7"))
            other = await adapter.send(outbound(idempotency_key="outbox-8"))
        assert first == retry
        assert other != first
        assert [d.message["Message-ID"] for d in server.deliveries] == [
            f"<{first.provider_message_ids[0]}>",
            f"<{first.provider_message_ids[0]}>",
            f"<{other.provider_message_ids[0]}>",
        ]

    @pytest.mark.parametrize(
        ("fields", "subject"),
        [
            ({"subject": "Your refund"}, "Your refund"),
            ({"metadata": {"original_subject": "RE: Order 42"}}, "RE: Order 42"),
            ({"metadata": {"original_subject": "Замовлення 42"}}, "Re: Замовлення 42"),
            ({}, "Message from Example Support"),
            ({"subject": "line one\r\nBcc: victim@example.net"}, "line one Bcc: victim@example.net"),
        ],
    )
    async def test_subject(self, fields: dict[str, Any], subject: str) -> None:
        server = MailServer()
        with mail_server(server) as port:
            await build_adapter(port).send(outbound(**fields))
        (delivery,) = server.deliveries
        assert delivery.message["Subject"] == subject
        assert delivery.message["Bcc"] is None

    async def test_attachments_degrade_to_links_and_captions(self) -> None:
        server = MailServer()
        attachments = (
            Attachment(
                "image",
                filename="фото.jpg",
                content_type="image/jpeg",
                caption="The dent",
                content=b"\xff\xd8jpg",
            ),
            Attachment(
                "file", filename="forwarded.eml", content_type="message/rfc822", content=b"From: x\r\n\r\ny"
            ),
            Attachment("video", url="https://media.example.com/v/unboxing.mp4", caption="Unboxing"),
            Attachment("location", data={"latitude": 50.45, "longitude": 30.52}),
        )
        with mail_server(server) as port:
            await build_adapter(port).send(outbound(text="See below.", attachments=attachments))
        message = server.deliveries[0].message
        assert body(message, "plain") == (
            "See below.\n\nAttachments:\n"
            "- фото.jpg (The dent)\n"
            "- unboxing.mp4: https://media.example.com/v/unboxing.mp4 (Unboxing)\n"
            "- location: https://www.openstreetmap.org/?mlat=50.45&mlon=30.52#map=16/50.45/30.52\n"
        )
        photo, forwarded = message.iter_attachments()
        assert (photo.get_filename(), photo.get_content_type(), photo.get_content()) == (
            "фото.jpg",
            "image/jpeg",
            b"\xff\xd8jpg",
        )
        # A container type cannot travel base64-encoded; it goes as plain bytes.
        assert (forwarded.get_filename(), forwarded.get_content_type()) == (
            "forwarded.eml",
            "application/octet-stream",
        )

    async def test_reply_ids_are_written_with_brackets_once_and_blanks_dropped(self) -> None:
        server = MailServer()
        with mail_server(server) as port:
            await build_adapter(port).send(outbound(reply_to=("<a@example.org>", "", " b@example.org ")))
        message = server.deliveries[0].message
        assert message["In-Reply-To"] == "<b@example.org>"
        assert message["References"] == "<a@example.org> <b@example.org>"

    async def test_a_contact_request_button_asks_for_the_number_in_words(self) -> None:
        server = MailServer()
        with mail_server(server) as port:
            await build_adapter(port).send(outbound(buttons=(Button("Share phone", request_contact=True),)))
        assert "Reply with your phone number." in body(server.deliveries[0].message, "plain")


class TestFailures:
    async def test_a_refused_recipient_is_permanent_with_the_servers_words(self) -> None:
        server = MailServer(
            rcpt_reply="550 5.1.1 <olena@example.org>: Recipient address rejected: User unknown"
        )
        with mail_server(server) as port, pytest.raises(PermanentSendError) as failure:
            await build_adapter(port).send(outbound())
        assert "550 5.1.1 <olena@example.org>: Recipient address rejected: User unknown" in str(failure.value)

    async def test_a_greylisted_recipient_is_transient(self) -> None:
        server = MailServer(
            rcpt_reply="450 4.2.0 <olena@example.org>: Recipient address rejected: Greylisted"
        )
        with mail_server(server) as port, pytest.raises(TransientSendError) as failure:
            await build_adapter(port).send(outbound())
        assert "450 4.2.0" in str(failure.value)

    async def test_a_deferred_message_is_transient(self) -> None:
        server = MailServer(data_reply="451 4.7.1 Try again later")
        with (
            mail_server(server) as port,
            pytest.raises(TransientSendError, match=r"451 4\.7\.1 Try again later"),
        ):
            await build_adapter(port).send(outbound())

    async def test_a_rejected_message_is_permanent(self) -> None:
        server = MailServer(data_reply="554 5.7.1 Message rejected as spam")
        with (
            mail_server(server) as port,
            pytest.raises(PermanentSendError, match=r"554 5\.7\.1 Message rejected"),
        ):
            await build_adapter(port).send(outbound())

    async def test_nobody_listening_is_transient(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        with pytest.raises(TransientSendError, match="could not reach the mail server"):
            await build_adapter(port).send(outbound())

    async def test_a_server_that_never_answers_times_out_as_transient(self) -> None:
        connections: list[asyncio.StreamWriter] = []

        async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            connections.append(writer)  # accept, then say nothing at all

        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            with pytest.raises(TransientSendError, match="did not answer in time"):
                await build_adapter(port, timeout=0.3).send(outbound())
        finally:
            for writer in connections:
                writer.close()
            server.close()
            await server.wait_closed()

    async def test_a_recipient_that_is_not_an_address_fails_before_connecting(self) -> None:
        server = MailServer()
        with mail_server(server) as port, pytest.raises(PermanentSendError, match="not an email address"):
            await build_adapter(port).send(outbound(to="+380501234567"))
        assert server.deliveries == []


class TestAuthenticationAndTls:
    async def test_login_with_the_right_password_delivers(self) -> None:
        server = MailServer()
        options = {"authenticator": accept_only("support@example.com", "s3cret"), "auth_require_tls": False}
        with mail_server(server, **options) as port:
            await build_adapter(port, username="support@example.com", password="s3cret").send(outbound())
        assert server.deliveries[0].login == b"support@example.com"

    async def test_a_wrong_password_is_permanent_in_plain_words(self) -> None:
        server = MailServer()
        options = {"authenticator": accept_only("support@example.com", "s3cret"), "auth_require_tls": False}
        with mail_server(server, **options) as port, pytest.raises(PermanentSendError) as failure:
            await build_adapter(port, username="support@example.com", password="wrong").send(outbound())
        assert str(failure.value) == "the mail server rejected the username or password"
        assert "wrong" not in str(failure.value)
        assert server.deliveries == []

    async def test_starttls_with_a_trusted_certificate_and_login(
        self, certificate: tuple[Path, Path]
    ) -> None:
        server = MailServer()
        options = {
            "tls_context": server_tls(certificate),
            "require_starttls": True,
            "authenticator": accept_only("support@example.com", "s3cret"),
        }
        with mail_server(server, **options) as port:
            adapter = build_adapter(
                port,
                security="starttls",
                ca_file=str(certificate[0]),
                username="support@example.com",
                password="s3cret",
            )
            await adapter.send(outbound())
        (delivery,) = server.deliveries
        assert delivery.tls is True
        assert delivery.login == b"support@example.com"

    async def test_an_untrusted_certificate_is_permanent(self, certificate: tuple[Path, Path]) -> None:
        server = MailServer()
        with mail_server(server, tls_context=server_tls(certificate), require_starttls=True) as port:
            with pytest.raises(PermanentSendError, match="certificate is not trusted"):
                await build_adapter(port, security="starttls").send(outbound())
            # Turning the check off (a relay on localhost with a throwaway certificate) delivers.
            await build_adapter(port, security="starttls", validate_certs=False).send(outbound())
        assert [d.tls for d in server.deliveries] == [True]

    async def test_no_tls_where_the_server_requires_it_is_permanent(
        self, certificate: tuple[Path, Path]
    ) -> None:
        server = MailServer()
        with (
            mail_server(server, tls_context=server_tls(certificate), require_starttls=True) as port,
            pytest.raises(PermanentSendError, match="530 Must issue a STARTTLS command first"),
        ):
            await build_adapter(port, security="none").send(outbound())

    async def test_implicit_tls_against_a_plain_server_is_permanent_with_a_hint(self) -> None:
        with (
            mail_server(MailServer()) as port,
            pytest.raises(PermanentSendError, match=r"check smtp\.security"),
        ):
            await build_adapter(port, security="ssl").send(outbound())

    async def test_starttls_required_by_the_settings_but_not_offered_is_permanent(self) -> None:
        with (
            mail_server(MailServer()) as port,
            pytest.raises(PermanentSendError, match="STARTTLS extension not supported"),
        ):
            await build_adapter(port, security="starttls").send(outbound())

    async def test_implicit_tls(self, certificate: tuple[Path, Path]) -> None:
        server = MailServer()
        with mail_server(server, ssl_context=server_tls(certificate)) as port:
            await build_adapter(port, security="ssl", ca_file=str(certificate[0])).send(outbound())
        assert server.deliveries[0].tls is True


# --------------------------------------------------------------------------------------------------
# A whole exchange: a customer writes to our SMTP server, we answer, the customer's client threads it.


@asynccontextmanager
async def inbound_adapter(outbound_port: int) -> AsyncIterator[tuple[EmailAdapter, list[WebhookRequest]]]:
    settings = EmailSettings.model_validate(
        {
            "type": "email",
            "address": "support@example.com",
            "display_name": "Example Support",
            "smtp": {"host": "127.0.0.1", "port": outbound_port, "security": "none", "timeout": 5},
            "inbound_smtp": {"port": 0},
        }
    )
    adapter = SPEC.build(
        settings, ChannelContext(account="support_mail", public_url="https://hub.example.com")
    )
    assert isinstance(adapter, EmailAdapter) and adapter.smtp_server is not None
    stored: list[WebhookRequest] = []

    async def ingest(request: WebhookRequest) -> None:
        stored.append(request)

    task = asyncio.create_task(adapter.listen(ingest))
    await asyncio.wait_for(adapter.smtp_server.started.wait(), timeout=5)
    try:
        yield adapter, stored
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


async def test_a_reply_to_an_inbound_email_threads_both_ways() -> None:
    customer = EmailMessage()
    customer["From"] = "Olena <olena@example.org>"
    customer["To"] = "support@example.com"
    customer["Subject"] = "Order 42"
    customer["Message-ID"] = "<first-question@example.org>"
    customer.set_content("Where is order 42?")

    outbox = MailServer()
    with mail_server(outbox) as port:
        async with inbound_adapter(port) as (adapter, stored):
            assert adapter.smtp_server is not None
            await aiosmtplib.send(customer, hostname="127.0.0.1", port=adapter.smtp_server.port, timeout=5)
            (question,) = adapter.parse(stored[0])
            assert isinstance(question, InboundMessage)

            # What the hub does: answer the message, threading on its ids and subject.
            result = await adapter.send(
                OutboundMessage(
                    to=question.sender.value,
                    text="It ships today.",
                    idempotency_key="outbox-42",
                    reply_to=(*question.in_reply_to, question.provider_message_id or ""),
                    metadata={"original_subject": question.subject},
                )
            )
            answer = outbox.deliveries[0].message
            assert answer["In-Reply-To"] == "<first-question@example.org>"
            assert answer["References"] == "<first-question@example.org>"
            assert answer["Subject"] == "Re: Order 42"

            # The customer's client replies to our answer; the hub sees which message it answers.
            follow_up = EmailMessage()
            follow_up["From"] = "Olena <olena@example.org>"
            follow_up["To"] = "support@example.com"
            follow_up["Subject"] = str(answer["Subject"])
            follow_up["Message-ID"] = "<second-question@example.org>"
            follow_up["In-Reply-To"] = str(answer["Message-ID"])
            follow_up["References"] = f"{answer['References']} {answer['Message-ID']}"
            follow_up.set_content("Thanks!")
            await aiosmtplib.send(follow_up, hostname="127.0.0.1", port=adapter.smtp_server.port, timeout=5)
            (reply,) = adapter.parse(stored[1])
    assert isinstance(reply, InboundMessage)
    assert reply.in_reply_to == (result.provider_message_ids[0], "first-question@example.org")

"""The email account as the hub sees it: settings, the registry, verify, and listen."""

from __future__ import annotations

import asyncio
import socket
from contextlib import suppress
from typing import Any

import aiosmtplib
import pytest
from pydantic import ValidationError

from channels.contract import (
    Acknowledgement,
    ChannelAdapter,
    ChannelContext,
    Listener,
    RateLimits,
    SignatureError,
    WebhookRequest,
)
from channels.email import SPEC, EmailAdapter, EmailSettings
from channels.registry import spec_for
from tests.fakes.imap_server import FakeImapServer

CONTEXT = ChannelContext(account="support_mail", public_url="https://hub.example.com")
SMTP = {"host": "smtp.example.com", "port": 587, "username": "support@example.com", "password": "s3cret"}


def settings(**fields: Any) -> EmailSettings:
    return EmailSettings.model_validate(
        {"type": "email", "address": "support@example.com", "smtp": SMTP, **fields}
    )


def adapter(**fields: Any) -> EmailAdapter:
    return EmailAdapter(settings(**fields), CONTEXT)


class TestSettings:
    def test_the_registry_builds_an_adapter_that_is_also_a_listener(self) -> None:
        spec = spec_for("email")
        assert spec is SPEC
        assert spec.settings is EmailSettings
        built = spec.build(settings(address="a@example.com"), CONTEXT)
        assert isinstance(built, ChannelAdapter)
        assert isinstance(built, Listener)

    def test_defaults(self) -> None:
        account = settings(address="Support@Example.COM", inbound_smtp={}, imap={**SMTP, "port": 993})
        assert account.address == "support@example.com"
        assert account.smtp.security == "starttls"
        assert account.smtp.validate_certs is True
        assert account.inbound_smtp is not None
        assert (account.inbound_smtp.host, account.inbound_smtp.port) == ("127.0.0.1", 2525)
        assert account.inbound_smtp.max_size_bytes == 10 * 1024 * 1024
        assert account.inbound_smtp.allowed_recipients == ("support@example.com",)
        assert account.imap is not None
        assert (account.imap.mailbox, account.imap.ssl) == ("INBOX", True)

    @pytest.mark.parametrize(
        ("fields", "message"),
        [
            ({"address": "support@"}, "'support@' is not an email address (expected name@domain)"),
            ({"address": "support"}, "'support' is not an email address"),
            ({"smtp": {"host": "smtp.example.com", "port": 587, "username": "u"}}, "must be given together"),
            ({"smtp": {**SMTP, "security": "tls"}}, "Input should be 'starttls', 'ssl' or 'none'"),
            ({"smtp": {**SMTP, "port": 70000}}, "less than or equal to 65535"),
            ({"smtp": {**SMTP, "ca_file": "/nonexistent/ca.pem"}}, "Path does not point to a file"),
            ({"inbound_smtp": {"allowed_recipients": ["sales"]}}, "'sales' is not an email address"),
            ({"imap": {"host": "imap.example.com", "port": 993, "username": "u"}}, "imap.password"),
            ({"api_base": "http://127.0.0.1:1"}, "point smtp.host at the mail server instead"),
            ({"display_name": "Support\r\nBcc: x@example.net"}, "display_name must be a single line"),
            ({"smpt": SMTP}, "Extra inputs are not permitted"),
        ],
    )
    def test_mistakes_are_named(self, fields: dict[str, Any], message: str) -> None:
        with pytest.raises(ValidationError) as error:
            settings(**fields)
        assert message in str(error.value)

    def test_secrets_do_not_show(self) -> None:
        account = settings(
            imap={"host": "imap.example.com", "port": 993, "username": "u", "password": "imap-secret"}
        )
        assert "s3cret" not in repr(account) and "imap-secret" not in repr(account)

    def test_rate_limit_follows_the_relay_setting(self) -> None:
        assert adapter().rate_limits == RateLimits(per_second=1.0, burst=5)
        assert adapter(smtp={**SMTP, "max_per_second": 14}).rate_limits == RateLimits(per_second=14, burst=70)

    def test_capabilities(self) -> None:
        capabilities = adapter().capabilities
        assert capabilities.buttons is False
        assert capabilities.media is True
        assert capabilities.max_text_length == 100_000
        assert capabilities.delivery_receipts is False and capabilities.read_receipts is False


class TestVerify:
    @pytest.mark.parametrize(
        ("method", "url"), [("SMTP", "smtp://support_mail"), ("IMAP", "imap://support_mail")]
    )
    def test_requests_from_our_own_listeners_pass(self, method: str, url: str) -> None:
        adapter().verify(WebhookRequest(method, url, {}, b"From: a@example.org\r\n\r\nhi\r\n"))

    @pytest.mark.parametrize(
        ("method", "url"),
        [
            ("POST", "https://hub.example.com/webhooks/email/support_mail"),
            ("GET", "https://hub.example.com/webhooks/email/support_mail"),
            # An HTTP client may send any method token; the URL still shows it came over HTTP.
            ("SMTP", "https://hub.example.com/webhooks/email/support_mail"),
            ("IMAP", "smtp://support_mail"),
        ],
    )
    def test_anything_that_came_by_http_is_rejected(self, method: str, url: str) -> None:
        with pytest.raises(SignatureError) as rejected:
            adapter().verify(WebhookRequest(method, url, {}, b"From: a@example.org\r\n\r\nhi\r\n"))
        assert rejected.value.status_code == 403
        assert "no HTTP webhook" in str(rejected.value)

    def test_acknowledgement_is_the_plain_default(self) -> None:
        assert (
            adapter().acknowledgement(WebhookRequest("SMTP", "smtp://support_mail", {}, b""))
            == Acknowledgement()
        )


class TestListen:
    async def test_a_send_only_account_returns_at_once(self) -> None:
        async def ingest(request: WebhookRequest) -> None:
            raise AssertionError("nothing to ingest")

        await asyncio.wait_for(adapter().listen(ingest), timeout=1)

    async def test_a_disabled_smtp_server_does_not_listen(self) -> None:
        assert adapter(inbound_smtp={"enabled": False}).smtp_server is None

    async def test_smtp_and_imap_run_side_by_side_into_one_ingest(self) -> None:
        raw_imap = b"From: a@example.org\r\nMessage-ID: <by-imap@example.org>\r\n\r\npolled\r\n"
        raw_smtp = b"From: b@example.org\r\nMessage-ID: <by-smtp@example.org>\r\n\r\ndelivered\r\n"
        stored: list[WebhookRequest] = []

        async def ingest(request: WebhookRequest) -> None:
            stored.append(request)

        async with FakeImapServer(username="u", password="p") as imap:
            imap.add(raw_imap)
            both = adapter(
                inbound_smtp={"port": 0},
                imap={"host": "127.0.0.1", "port": imap.port, "username": "u", "password": "p", "ssl": False},
            )
            assert both.smtp_server is not None
            task = asyncio.create_task(both.listen(ingest))
            try:
                await asyncio.wait_for(both.smtp_server.started.wait(), timeout=5)
                await aiosmtplib.send(
                    raw_smtp,
                    sender="b@example.org",
                    recipients=["support@example.com"],
                    hostname="127.0.0.1",
                    port=both.smtp_server.port,
                    start_tls=False,
                )
                for _ in range(500):
                    if len(stored) == 2:
                        break
                    await asyncio.sleep(0.01)
            finally:
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task
        assert sorted((r.method, both.event_id(r)) for r in stored) == [
            ("IMAP", "by-imap@example.org"),
            ("SMTP", "by-smtp@example.org"),
        ]

    async def test_a_listener_that_fails_raises_its_own_error_and_stops_the_other(self) -> None:
        async def ingest(request: WebhookRequest) -> None:
            pass

        async with FakeImapServer(username="u", password="p") as imap:
            with socket.socket() as taken:
                taken.bind(("127.0.0.1", 0))
                taken.listen()
                both = adapter(
                    inbound_smtp={"port": taken.getsockname()[1]},
                    imap={
                        "host": "127.0.0.1",
                        "port": imap.port,
                        "username": "u",
                        "password": "p",
                        "ssl": False,
                    },
                )
                with pytest.raises(OSError, match="address already in use"):
                    await asyncio.wait_for(both.listen(ingest), timeout=5)

    async def test_aclose_is_harmless(self) -> None:
        await adapter().aclose()

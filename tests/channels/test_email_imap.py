"""IMAP polling against a real-protocol IMAP4rev1 server (tests/fakes/imap_server.py)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress

import pytest

from channels.contract import ChannelContext, InboundMessage, WebhookRequest
from channels.email import SPEC, EmailAdapter, EmailSettings
from tests.fakes.imap_server import FakeImapServer

ACCOUNT = "support_mail"
USERNAME = "support@example.com"
PASSWORD = 'imap "pass" word'


def raw_email(number: int) -> bytes:
    return (
        f"From: Olena <olena@example.org>\r\nTo: support@example.com\r\nSubject: Question {number}\r\n"
        f"Message-ID: <question-{number}@example.org>\r\n\r\nQuestion number {number}?\r\n"
    ).encode()


def build_adapter(port: int, **imap: object) -> EmailAdapter:
    settings = EmailSettings.model_validate(
        {
            "type": "email",
            "address": "support@example.com",
            "smtp": {"host": "127.0.0.1", "port": 25, "security": "none"},
            "imap": {
                "host": "127.0.0.1",
                "port": port,
                "username": USERNAME,
                "password": PASSWORD,
                "ssl": False,
                "poll_seconds": 0.02,
                "timeout": 5,
                **imap,
            },
        }
    )
    adapter = SPEC.build(settings, ChannelContext(account=ACCOUNT, public_url="https://hub.example.com"))
    assert isinstance(adapter, EmailAdapter)
    return adapter


@asynccontextmanager
async def polling(
    server: FakeImapServer, ingest: Callable[[WebhookRequest], Awaitable[None]], **imap: object
) -> AsyncIterator[EmailAdapter]:
    adapter = build_adapter(server.port, **imap)
    task = asyncio.create_task(adapter.listen(ingest))
    try:
        yield adapter
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


async def until(condition: Callable[[], bool], what: str) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting until {what}")


def polls(server: FakeImapServer) -> int:
    return len(server.commands_named("SELECT"))


class TestPolling:
    async def test_unseen_messages_are_ingested_then_marked_seen(self) -> None:
        async with FakeImapServer(username=USERNAME, password=PASSWORD) as server:
            server.add(raw_email(0), seen=True)
            first, second = server.add(raw_email(1)), server.add(raw_email(2))
            ingested: list[WebhookRequest] = []
            seen_at_ingest: list[bool] = []

            async def ingest(request: WebhookRequest) -> None:
                # BODY.PEEK[]: fetching must not have set \Seen before the hub has the message.
                seen_at_ingest.append(server.is_seen(int(request.headers["x-imap-uid"])))
                ingested.append(request)

            async with polling(server, ingest) as adapter:
                await until(lambda: server.is_seen(first) and server.is_seen(second), "both are seen")
                await until(lambda: polls(server) >= 3, "two more polls ran")
        assert [r.headers["x-imap-uid"] for r in ingested] == [str(first), str(second)]
        assert seen_at_ingest == [False, False]
        # Only the unseen ones are fetched, and with BODY.PEEK[] (a plain fetch would set \Seen).
        assert server.commands_named("UID FETCH") == [
            f"UID FETCH {first} (BODY.PEEK[])",
            f"UID FETCH {second} (BODY.PEEK[])",
        ]
        assert server.commands_named("UID STORE") == [
            f"UID STORE {first} +FLAGS (\\Seen)",
            f"UID STORE {second} +FLAGS (\\Seen)",
        ]
        request = ingested[0]
        assert request.method == "IMAP"
        assert request.url == f"imap://{ACCOUNT}"
        assert request.headers["x-imap-uidvalidity"] == "1000"
        assert request.headers["x-imap-mailbox"] == "INBOX"
        assert request.body == raw_email(1)
        adapter.verify(request)
        assert adapter.event_id(request) == "question-1@example.org"
        (message,) = adapter.parse(request)
        assert isinstance(message, InboundMessage)
        assert message.text == "Question number 1?"
        assert message.metadata["transport"] == "imap"

    async def test_mail_arriving_later_is_picked_up_by_a_later_poll(self) -> None:
        async with FakeImapServer(username=USERNAME, password=PASSWORD) as server:
            ingested: list[WebhookRequest] = []

            async def ingest(request: WebhookRequest) -> None:
                ingested.append(request)

            async with polling(server, ingest):
                await until(lambda: polls(server) >= 2, "two empty polls ran")
                uid = server.add(raw_email(7))
                await until(lambda: server.is_seen(uid), "the new message is seen")
        assert [r.body for r in ingested] == [raw_email(7)]

    async def test_the_login_is_quoted_and_each_poll_logs_out(self) -> None:
        async with FakeImapServer(username=USERNAME, password=PASSWORD) as server:

            async def ingest(request: WebhookRequest) -> None:
                pass

            async with polling(server, ingest):
                await until(lambda: len(server.commands_named("LOGOUT")) >= 2, "two polls logged out")
        assert server.commands_named("LOGIN")[0] == 'LOGIN "support@example.com" "imap \\"pass\\" word"'
        assert server.commands_named("SELECT")[0] == 'SELECT "INBOX"'


class TestFailures:
    async def test_an_ingest_failure_leaves_the_message_unseen_for_the_next_poll(self) -> None:
        async with FakeImapServer(username=USERNAME, password=PASSWORD) as server:
            uid = server.add(raw_email(1))
            attempts: list[WebhookRequest] = []
            seen_after_failure: list[bool] = []

            async def ingest(request: WebhookRequest) -> None:
                attempts.append(request)
                if len(attempts) == 1:
                    raise ConnectionError("database is down")
                seen_after_failure.append(server.is_seen(uid))

            async with polling(server, ingest):
                await until(lambda: server.is_seen(uid), "the message is seen")
        assert len(attempts) == 2
        assert attempts[0].body == attempts[1].body == raw_email(1)
        assert seen_after_failure == [False]  # still unseen when the second poll fetched it

    async def test_one_failing_message_does_not_hold_up_the_others(self) -> None:
        async with FakeImapServer(username=USERNAME, password=PASSWORD) as server:
            poison, fine = server.add(raw_email(1)), server.add(raw_email(2))

            async def ingest(request: WebhookRequest) -> None:
                if request.headers["x-imap-uid"] == str(poison):
                    raise ValueError("cannot store this one")

            async with polling(server, ingest):
                await until(lambda: server.is_seen(fine), "the second message is seen")
                await until(lambda: polls(server) >= 3, "more polls ran")
        assert not server.is_seen(poison)

    async def test_a_refused_store_is_retried_without_ingesting_again(self) -> None:
        async with FakeImapServer(username=USERNAME, password=PASSWORD) as server:
            uid = server.add(raw_email(1))
            server.refuse_store = True
            ingested: list[WebhookRequest] = []

            async def ingest(request: WebhookRequest) -> None:
                ingested.append(request)

            async with polling(server, ingest):
                await until(
                    lambda: len(server.commands_named("UID STORE")) >= 3, "STORE was tried three times"
                )
                server.refuse_store = False
                await until(lambda: server.is_seen(uid), "the message is seen")
        assert len(ingested) == 1
        assert server.commands_named("UID FETCH") == [f"UID FETCH {uid} (BODY.PEEK[])"]

    async def test_a_new_uidvalidity_forgets_old_uids(self) -> None:
        async with FakeImapServer(username=USERNAME, password=PASSWORD) as server:
            server.add(raw_email(1))
            server.refuse_store = True
            ingested: list[WebhookRequest] = []

            async def ingest(request: WebhookRequest) -> None:
                ingested.append(request)

            async with polling(server, ingest) as adapter:
                await until(lambda: len(ingested) == 1 and polls(server) >= 2, "the message was ingested")
                server.reset_uidvalidity(2000)
                server.refuse_store = False
                await until(lambda: len(ingested) == 2, "the message was ingested again")
        # Same message under a new UIDVALIDITY: fetched again, and the hub dedupes it by Message-ID.
        assert [r.headers["x-imap-uidvalidity"] for r in ingested] == ["1000", "2000"]
        assert adapter.event_id(ingested[0]) == adapter.event_id(ingested[1]) == "question-1@example.org"

    async def test_a_wrong_password_is_logged_without_the_password_and_polling_goes_on(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        async with FakeImapServer(username=USERNAME, password="the right one") as server:

            async def ingest(request: WebhookRequest) -> None:
                raise AssertionError("nothing can be ingested without logging in")

            with caplog.at_level(logging.WARNING, logger="channels.email.imap_poller"):
                async with polling(server, ingest):
                    await until(lambda: len(server.commands_named("LOGIN")) >= 2, "the login was retried")
        assert "IMAP poll of support_mail failed" in caplog.text
        assert "AUTHENTICATIONFAILED" in caplog.text
        assert "pass" not in caplog.text

    async def test_a_missing_mailbox_is_reported_by_name(self, caplog: pytest.LogCaptureFixture) -> None:
        async with FakeImapServer(username=USERNAME, password=PASSWORD) as server:

            async def ingest(request: WebhookRequest) -> None:
                pass

            with caplog.at_level(logging.WARNING, logger="channels.email.imap_poller"):
                async with polling(server, ingest, mailbox="Support Tickets"):
                    await until(
                        lambda: polls(server) >= 1 and "cannot select" in caplog.text, "the poll failed"
                    )
        assert server.commands_named("SELECT")[0] == 'SELECT "Support Tickets"'
        assert "cannot select mailbox 'Support Tickets'" in caplog.text


def test_the_same_email_by_smtp_and_by_imap_has_one_dedupe_key() -> None:
    adapter = build_adapter(port=143)  # never contacted
    imap_request = WebhookRequest(
        "IMAP", f"imap://{ACCOUNT}", {"x-imap-uid": "9"}, b"Return-Path: <x>\r\n" + raw_email(3)
    )
    smtp_request = WebhookRequest(
        "SMTP", f"smtp://{ACCOUNT}", {"x-mail-from": "olena@example.org"}, raw_email(3)
    )
    assert adapter.event_id(imap_request) == adapter.event_id(smtp_request) == "question-3@example.org"

"""`hub channels check` and `hub channels connect` (hub.channel_health) against the providers' local
fakes, driven by the real SDKs, a real aiosmtpd server and the fake IMAP server: every problem a
newcomer meets is reported as a sentence, and after connecting the check comes back clean."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import pytest
import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from hub.channel_health import (
    AccountReport,
    ConnectFailed,
    Report,
    check_channels,
    connect_channel,
    render,
)
from hub.settings import Settings
from tests.fakes.imap_server import FakeImapServer
from tests.fakes.telegram_api import (
    TOKEN,
    FakeTelegramAPI,
    slow,
    telegram_api_fixture,  # noqa: F401 (the telegram_api fixture)
)
from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioApi, Fault
from tests.fakes.viber_api import FakeViberApi

PUBLIC_URL = "https://hub.example.com"
TELEGRAM_SECRET = "tg-webhook-secret_42"
VIBER_TOKEN = "4453b6ac12345678-e02603a8ff5b2ee9-19a4e3a5b7bd28b4"
API_SECRET = "api-channel-shared-secret"
PBX_SECRET = "pbx-shared-secret-0123456789"
MAIL_USER, MAIL_PASSWORD = "support@example.com", "correct mail password"
IMAP_USER, IMAP_PASSWORD = "support", "correct imap password"
SMS_NUMBER = "+15005550006"
SANDBOX = "whatsapp:+14155238886"


# --------------------------------------------------------------------------------------------------
# Servers


class _EphemeralPortController(Controller):
    """aiosmtpd's Controller on a port the OS picks (it only knows fixed ports)."""

    def _trigger_server(self) -> None:
        server = cast(asyncio.Server, self.server)
        self.port = server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


def _accept_only(username: str, password: str) -> Any:
    def authenticator(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: object
    ) -> AuthResult:
        good = isinstance(auth_data, LoginPassword) and auth_data == (username.encode(), password.encode())
        return AuthResult(success=good, handled=False)

    return authenticator


@pytest.fixture
def smtp_port() -> Iterator[int]:
    """A real SMTP server (aiosmtpd) that takes only MAIL_USER / MAIL_PASSWORD, without TLS."""
    controller = _EphemeralPortController(
        object(),
        hostname="127.0.0.1",
        port=0,
        authenticator=_accept_only(MAIL_USER, MAIL_PASSWORD),
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield controller.port
    finally:
        controller.stop()


@pytest.fixture
async def imap() -> AsyncIterator[FakeImapServer]:
    async with FakeImapServer(username=IMAP_USER, password=IMAP_PASSWORD) as server:
        yield server


@pytest.fixture
async def viber() -> AsyncIterator[FakeViberApi]:
    async with FakeViberApi(auth_token=VIBER_TOKEN) as api:
        yield api


@pytest.fixture
async def twilio() -> AsyncIterator[FakeTwilioApi]:
    async with FakeTwilioApi() as api:
        yield api


@contextmanager
def _closed_port() -> Iterator[int]:
    """A port on 127.0.0.1 nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    yield port


# --------------------------------------------------------------------------------------------------
# Configuration


def telegram(api: FakeTelegramAPI, **extra: Any) -> dict[str, Any]:
    return {
        "type": "telegram",
        "token": TOKEN,
        "webhook_secret": TELEGRAM_SECRET,
        "api_base": api.base_url,
        **extra,
    }


def viber_account(api: FakeViberApi, **extra: Any) -> dict[str, Any]:
    return {"type": "viber", "auth_token": VIBER_TOKEN, "api_base": api.api_base, **extra}


def twilio_account(kind: str, api: FakeTwilioApi, **extra: Any) -> dict[str, Any]:
    credentials = {"provider": "twilio", "account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN}
    return {"type": kind, **credentials, "api_base": api.base_url, **extra}


def email_account(smtp_port: int, password: str = MAIL_PASSWORD, **extra: Any) -> dict[str, Any]:
    smtp = {"host": "127.0.0.1", "port": smtp_port, "security": "none"}
    return {
        "type": "email",
        "address": MAIL_USER,
        "smtp": {**smtp, "username": MAIL_USER, "password": password},
        "inbound_smtp": {"host": "127.0.0.1", "port": 2525},
        **extra,
    }


def imap_section(server: FakeImapServer, password: str = IMAP_PASSWORD) -> dict[str, Any]:
    return {
        "host": "127.0.0.1",
        "port": server.port,
        "ssl": False,
        "username": IMAP_USER,
        "password": password,
    }


def settings_with(tmp_path: Path, channels: dict[str, Any], public_url: str = PUBLIC_URL) -> Settings:
    path = tmp_path / "hub.yaml"
    path.write_text(
        yaml.safe_dump({"public_url": public_url, "channels": channels}, sort_keys=False), encoding="utf-8"
    )
    return Settings(hub_config=path, hub_data_dir=tmp_path / "var", _env_file=None)  # type: ignore[call-arg]


def account(report: Report, name: str) -> AccountReport:
    return next(item for item in report.accounts if item.name == name)


def webhook(kind: str, name: str) -> str:
    return f"{PUBLIC_URL}/webhooks/{kind}/{name}"


# --------------------------------------------------------------------------------------------------
# The configuration file itself


async def test_a_missing_secret_is_the_report_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TELEGRAM_TOKEN", raising=False)
    channels = {"main": {"type": "telegram", "token": "${TELEGRAM_TOKEN}", "webhook_secret": "abc"}}
    settings = settings_with(tmp_path, channels)

    report = await check_channels(settings)

    problem = "channels.main.token: environment variable TELEGRAM_TOKEN is not set (see .env.example)"
    assert report.config_problems[0] == problem
    assert report.exit_code == 2
    heading = f"{settings.hub_config} cannot be loaded, so no channel was checked; fix these first:"
    assert render(report).startswith(f"{heading}\n  - {problem}")
    with pytest.raises(ConnectFailed, match="environment variable TELEGRAM_TOKEN is not set"):
        await connect_channel(settings, "main")


async def test_an_unknown_type_and_setting_are_reported(tmp_path: Path) -> None:
    channels = {"chat": {"type": "signal"}, "site": {"type": "webchat", "colour": "red"}}
    report = await check_channels(settings_with(tmp_path, channels))
    assert any(
        line.startswith("channels.chat.type: unknown channel type 'signal'")
        for line in report.config_problems
    )
    assert "channels.site.colour: unknown setting" in report.config_problems


# --------------------------------------------------------------------------------------------------
# A newcomer's first, half-done setup


async def test_every_kind_of_problem_is_said_in_plain_words(
    tmp_path: Path,
    telegram_api: FakeTelegramAPI,
    viber: FakeViberApi,
    twilio: FakeTwilioApi,
    smtp_port: int,
) -> None:
    twilio.add_number("+15005550007")  # some number, but not the SMS sender; it takes no calls yet
    channels = {
        "site": {"type": "webchat"},
        "app": {"type": "api", "secret": API_SECRET},
        "pbx": {"type": "telephony", "secret": PBX_SECRET},
        "bot": telegram(telegram_api, bot_username="@other_bot"),
        "stranger": {**telegram(telegram_api), "token": "987654321:not-the-fakes-token"},
        "viber": viber_account(viber),
        "sms": twilio_account("sms", twilio, **{"from": SMS_NUMBER}),
        "whatsapp": twilio_account("whatsapp", twilio, **{"from": SANDBOX}),
        "calls": twilio_account("voice", twilio),
        "mail": email_account(smtp_port, password="wrong password"),
    }

    report = await check_channels(settings_with(tmp_path, channels))

    assert account(report, "bot").problems == (
        "bot_username is @other_bot, but the token belongs to @fake_bot: deep links (t.me/<bot>?start=...) "
        "would open the wrong bot",
        "the webhook is not set: run `hub channels connect bot`",
    )
    assert account(report, "stranger").problems == (
        "Telegram rejected the bot token: copy it again from @BotFather (/mybots, API Token)",
    )
    assert account(report, "viber").problems == (
        "the webhook is not set: run `hub channels connect viber` while `hub serve` is running "
        "(Viber calls the URL)",
    )
    assert account(report, "sms").problems == (
        f"the number {SMS_NUMBER} is not in this Twilio account: check 'from' and account_sid "
        "(Phone Numbers > Active numbers in the console)",
    )
    assert account(report, "whatsapp").problems == ()
    assert account(report, "calls").problems == (
        f"no number of this Twilio account sends its calls to {webhook('voice', 'calls')}: "
        "run `hub channels connect calls`",
    )
    assert account(report, "mail").problems == (
        f"the mail server 127.0.0.1:{smtp_port} rejected smtp.username and smtp.password "
        "(535 5.7.8 Authentication credentials invalid)",
    )
    for name in ("site", "app", "pbx"):
        assert account(report, name).problems == ()
    assert report.hub_problems == ()
    assert report.problem_count == 7
    assert report.exit_code == 1


async def test_each_account_gets_its_webhook_url_and_what_to_do_with_it(
    tmp_path: Path, telegram_api: FakeTelegramAPI, twilio: FakeTwilioApi, smtp_port: int
) -> None:
    channels = {
        "site": {"type": "webchat"},
        "app": {"type": "api", "secret": API_SECRET},
        "pbx": {"type": "telephony", "secret": PBX_SECRET},
        "bot": telegram(telegram_api),
        "whatsapp": twilio_account("whatsapp", twilio, **{"from": SANDBOX}),
        "mail": email_account(smtp_port),
    }

    report = await check_channels(settings_with(tmp_path, channels))

    site = account(report, "site")
    assert site.webhook_url == webhook("webchat", "site")
    assert site.advice[0] == (
        f'embed the chat on your site: <script src="{PUBLIC_URL}/static/widget.js" data-account="site" '
        "defer></script>"
    )
    for name, kind in (("app", "api"), ("pbx", "telephony")):
        assert account(report, name).webhook_url == webhook(kind, name)
        assert "X-Omnihub-Signature: sha256=<hex HMAC-SHA256 of" in account(report, name).advice[0]
    assert "there is no callback_url" in account(report, "app").advice[1]
    assert account(report, "bot").advice == (
        "`hub channels connect bot` registers the webhook URL with Telegram, with webhook_secret",
    )
    assert "Sandbox settings, 'When a message comes in' (POST)" in account(report, "whatsapp").advice[0]
    mail = account(report, "mail")
    assert mail.webhook_url is None
    assert mail.advice[0].startswith("mail arrives at the hub's own SMTP server on 127.0.0.1:2525")
    assert mail.advice[-1] == f"replies leave through 127.0.0.1:{smtp_port} (none)"

    text = render(report)
    assert (
        f"bot (telegram)\n  webhook URL: {webhook('telegram', 'bot')}\n  - `hub channels connect bot`" in text
    )
    assert "PROBLEM: the webhook is not set: run `hub channels connect bot`" in text
    assert "mail (email)\n  - mail arrives" in text
    assert text.endswith("\n1 problem found.")


# --------------------------------------------------------------------------------------------------
# Connect, then check again


async def test_after_connecting_every_account_the_check_is_clean(
    tmp_path: Path,
    telegram_api: FakeTelegramAPI,
    viber: FakeViberApi,
    twilio: FakeTwilioApi,
    smtp_port: int,
    imap: FakeImapServer,
) -> None:
    number_sid = twilio.add_number(SMS_NUMBER)  # the account's one number, for texts and calls
    channels = {
        "site": {"type": "webchat", "allowed_origins": ["https://shop.example.com"]},
        "bot": telegram(telegram_api, bot_username="fake_bot"),
        "viber": viber_account(viber),
        "sms": twilio_account("sms", twilio, **{"from": SMS_NUMBER}),
        "whatsapp": twilio_account("whatsapp", twilio, **{"from": SANDBOX}),
        "calls": twilio_account("voice", twilio),
        "mail": email_account(smtp_port, imap=imap_section(imap)),
    }
    settings = settings_with(tmp_path, channels)

    before = await check_channels(settings)
    assert account(before, "sms").problems == (
        f"the 'A message comes in' webhook of {SMS_NUMBER} is empty, so Twilio does not call the hub: "
        "run `hub channels connect sms`",
    )
    assert {name for name in ("bot", "viber", "sms", "calls") if account(before, name).problems} == {
        "bot",
        "viber",
        "sms",
        "calls",
    }

    assert await connect_channel(settings, "bot") == (
        f"Telegram now delivers the bot's updates to {webhook('telegram', 'bot')}, with the webhook secret"
    )
    assert await connect_channel(settings, "viber") == (
        f"Viber called {webhook('viber', 'viber')} to verify it and now sends the bot's callbacks there"
    )
    assert await connect_channel(settings, "sms") == (
        f"Twilio now sends messages to {SMS_NUMBER} to {webhook('sms', 'sms')}"
    )
    assert await connect_channel(settings, "calls") == (
        f"Twilio now sends calls to {SMS_NUMBER} and their status changes to {webhook('voice', 'calls')}"
    )

    after = await check_channels(settings)
    assert [(item.name, item.problems) for item in after.accounts if item.problems] == []
    assert after.ok and after.exit_code == 0
    assert render(after).endswith("\nNo problems found.")

    # What the providers were told, on the wire.
    assert telegram_api.webhook["url"] == webhook("telegram", "bot")
    assert telegram_api.webhook["allowed_updates"] == [
        "message",
        "edited_message",
        "callback_query",
        "my_chat_member",
    ]
    assert telegram_api.webhook_secret == TELEGRAM_SECRET
    assert viber.webhook == webhook("viber", "viber")
    assert viber.event_types == [
        "delivered",
        "seen",
        "failed",
        "subscribed",
        "unsubscribed",
        "conversation_started",
    ]
    number = twilio.numbers[number_sid]
    assert (number["sms_url"], number["sms_method"]) == (webhook("sms", "sms"), "POST")
    assert (number["voice_url"], number["voice_method"]) == (webhook("voice", "calls"), "POST")
    assert (number["status_callback"], number["status_callback_method"]) == (
        webhook("voice", "calls"),
        "POST",
    )


async def test_accounts_without_a_provider_cannot_be_connected(tmp_path: Path, smtp_port: int) -> None:
    settings = settings_with(tmp_path, {"site": {"type": "webchat"}, "mail": email_account(smtp_port)})
    with pytest.raises(
        ConnectFailed, match=r"^site \(webchat\) has no provider to register a webhook with: embed the chat"
    ):
        await connect_channel(settings, "site")
    with pytest.raises(
        ConnectFailed, match=r"^mail \(email\) has no provider .*: mail arrives at the hub's own SMTP"
    ):
        await connect_channel(settings, "mail")
    with pytest.raises(
        ConnectFailed, match=r"no channel account 'nope' in .*hub.yaml \(accounts: site, mail\)"
    ):
        await connect_channel(settings, "nope")


# --------------------------------------------------------------------------------------------------
# public_url


async def test_a_local_public_url_is_a_problem_once_providers_are_configured(
    tmp_path: Path, telegram_api: FakeTelegramAPI
) -> None:
    local = settings_with(tmp_path, {"bot": telegram(telegram_api)}, public_url="http://127.0.0.1:8000")
    report = await check_channels(local)
    assert report.hub_problems == (
        "public_url http://127.0.0.1:8000 points at this machine or a private network, which Telegram "
        "cannot reach: set public_url (HUB_PUBLIC_URL) to the hub's public HTTPS address (for a trial, a "
        "tunnel such as ngrok or cloudflared gives one)",
    )
    assert "PROBLEM: public_url http://127.0.0.1:8000 points at this machine" in render(report)
    with pytest.raises(ConnectFailed, match="points at this machine"):
        await connect_channel(local, "bot")
    assert telegram_api.sent("setWebhook") == []

    webchat_only = settings_with(tmp_path, {"site": {"type": "webchat"}}, public_url="http://localhost:8000")
    assert (await check_channels(webchat_only)).ok


async def test_plain_http_is_a_problem_and_telegram_refuses_it(
    tmp_path: Path, telegram_api: FakeTelegramAPI
) -> None:
    settings = settings_with(tmp_path, {"bot": telegram(telegram_api)}, public_url="http://hub.example.com")
    report = await check_channels(settings)
    assert report.hub_problems[0].startswith(
        "public_url http://hub.example.com is plain http: Telegram and Viber refuse such webhooks"
    )
    with pytest.raises(
        ConnectFailed,
        match=r"^Telegram refused the request: bad webhook: An HTTPS URL must be provided for webhook$",
    ):
        await connect_channel(settings, "bot")


# --------------------------------------------------------------------------------------------------
# Telegram


async def test_telegram_webhook_elsewhere_failing_and_backed_up(
    tmp_path: Path, telegram_api: FakeTelegramAPI
) -> None:
    telegram_api.webhook = {
        "url": "https://old.example.com/telegram",
        "has_custom_certificate": False,
        "pending_update_count": 250,
        "last_error_date": 1715681700,
        "last_error_message": "Wrong response from the webhook: 502 Bad Gateway",
        "max_connections": 40,
        "allowed_updates": ["message"],
    }
    report = await check_channels(settings_with(tmp_path, {"bot": telegram(telegram_api)}))
    assert account(report, "bot").problems == (
        f"the webhook is set to https://old.example.com/telegram, not to {webhook('telegram', 'bot')}: "
        "run `hub channels connect bot`",
        "Telegram's last delivery to the webhook failed on 2024-05-14 10:15 UTC: \"Wrong response from the "
        'webhook: 502 Bad Gateway"',
        "250 updates are waiting at Telegram: the webhook has not been taking them (is `hub serve` running "
        "and reachable at that URL?)",
        "the webhook does not receive edited_message, callback_query, my_chat_member updates: "
        "run `hub channels connect bot`",
    )


async def test_telegram_unreachable_or_slow(tmp_path: Path, telegram_api: FakeTelegramAPI) -> None:
    with _closed_port() as port:
        down = {"bot": {**telegram(telegram_api), "api_base": f"http://127.0.0.1:{port}"}}
        report = await check_channels(settings_with(tmp_path, down))
    (problem,) = account(report, "bot").problems
    assert problem.startswith(
        "could not reach Telegram (ClientConnectorError: Cannot connect to host 127.0.0.1"
    )

    telegram_api.script(slow(5))
    report = await check_channels(
        settings_with(tmp_path, {"bot": telegram(telegram_api)}), request_seconds=0.5
    )
    assert account(report, "bot").problems == ("could not reach Telegram (Request timeout error)",)


# --------------------------------------------------------------------------------------------------
# Viber


async def test_viber_wrong_token_and_webhook_elsewhere(tmp_path: Path, viber: FakeViberApi) -> None:
    viber.webhook, viber.event_types = "https://old.example.com/viber", ["delivered"]
    channels = {
        "good": viber_account(viber),
        "wrong": {**viber_account(viber), "auth_token": "not-the-token"},
    }
    report = await check_channels(settings_with(tmp_path, channels))
    connect = "run `hub channels connect good` while `hub serve` is running (Viber calls the URL)"
    assert account(report, "good").problems == (
        f"the webhook is set to https://old.example.com/viber, not to {webhook('viber', 'good')}: {connect}",
        f"Viber does not send seen, failed, subscribed, unsubscribed, conversation_started callbacks to the "
        f"webhook: {connect}",
    )
    assert account(report, "wrong").problems == (
        "Viber rejected the auth token: copy it again from the bot's Info page at partners.viber.com",
    )


async def test_viber_connect_explains_that_it_calls_the_webhook(tmp_path: Path, viber: FakeViberApi) -> None:
    viber.webhook_reachable = False
    settings = settings_with(tmp_path, {"viber": viber_account(viber)})
    with pytest.raises(ConnectFailed) as failed:
        await connect_channel(settings, "viber")
    assert str(failed.value).startswith("Viber refused the webhook URL (Result[HttpRequest[POST")
    assert str(failed.value).endswith(
        "Viber calls the webhook URL to verify it while setting it, so `hub serve` must be running and "
        f"reachable at {webhook('viber', 'viber')} over HTTPS with a valid certificate"
    )
    assert viber.webhook == ""


# --------------------------------------------------------------------------------------------------
# Twilio


async def test_twilio_credentials_and_number_settings(tmp_path: Path, twilio: FakeTwilioApi) -> None:
    twilio.add_number(SMS_NUMBER, sms_url="https://old.example.com/sms", sms_method="POST")
    twilio.add_number("+15005550009", sms_url=webhook("sms", "get"), sms_method="GET")
    twilio.add_number("+15005550010", sms_application_sid="AP" + "0" * 32)
    channels = {
        "sms": twilio_account("sms", twilio, **{"from": SMS_NUMBER}),
        "get": twilio_account("sms", twilio, **{"from": "+15005550009"}),
        "app": twilio_account("sms", twilio, **{"from": "+15005550010"}),
        "wrong": {**twilio_account("sms", twilio, **{"from": SMS_NUMBER}), "auth_token": "0" * 32},
    }
    report = await check_channels(settings_with(tmp_path, channels))
    assert account(report, "sms").problems == (
        f"the 'A message comes in' webhook of {SMS_NUMBER} is https://old.example.com/sms, not "
        f"{webhook('sms', 'sms')}: run `hub channels connect sms`",
    )
    assert account(report, "get").problems == (
        "the 'A message comes in' webhook of +15005550009 is called with GET, but the hub only takes POST: "
        "run `hub channels connect get`",
    )
    assert account(report, "app").problems == (
        f"messages to +15005550010 go to the TwiML app AP{'0' * 32}, which overrides the number's webhook: "
        "run `hub channels connect app`",
    )
    assert account(report, "wrong").problems == (
        "Twilio rejected the account SID and auth token: copy both from the Twilio console (Account Info)",
    )

    twilio.account_status = "suspended"
    report = await check_channels(settings_with(tmp_path, {"sms": channels["sms"]}))
    assert account(report, "sms").problems == (
        "the Twilio account is suspended: it cannot send or receive until it is active again",
    )


async def test_voice_with_several_numbers_says_which_to_set(tmp_path: Path, twilio: FakeTwilioApi) -> None:
    twilio.add_number("+15005550006")
    twilio.add_number("+15005550007")
    settings = settings_with(tmp_path, {"calls": twilio_account("voice", twilio)})
    expected = (
        f"no number of this Twilio account sends its calls to {webhook('voice', 'calls')}, and the voice "
        "settings do not say which of +15005550006, +15005550007 takes calls: in the Twilio console, set "
        "that number's 'A call comes in' and 'Call status changes' to it (HTTP POST)"
    )
    assert account(await check_channels(settings), "calls").problems == (expected,)
    with pytest.raises(ConnectFailed) as failed:
        await connect_channel(settings, "calls")
    assert str(failed.value) == expected

    # Set in the console on one number, without the status callback: connect completes that number.
    second = next(sid for sid, n in twilio.numbers.items() if n["phone_number"] == "+15005550007")
    twilio.numbers[second]["voice_url"] = webhook("voice", "calls")
    assert account(await check_channels(settings), "calls").problems == (
        "the 'Call status changes' callback of +15005550007 (ended and missed calls) is empty, so Twilio "
        "does not call the hub: run `hub channels connect calls`",
    )
    await connect_channel(settings, "calls")
    assert (await check_channels(settings)).ok


async def test_twilio_unreachable_or_slow(tmp_path: Path, twilio: FakeTwilioApi) -> None:
    with _closed_port() as port:
        down = {
            "sms": {
                **twilio_account("sms", twilio, **{"from": SMS_NUMBER}),
                "api_base": f"http://127.0.0.1:{port}",
            }
        }
        report = await check_channels(settings_with(tmp_path, down))
    (problem,) = account(report, "sms").problems
    assert problem.startswith(
        "could not reach Twilio (ClientConnectorError: Cannot connect to host 127.0.0.1"
    )

    twilio.fail_next(Fault.slow(5))
    slow_account = {"sms": twilio_account("sms", twilio, **{"from": SMS_NUMBER})}
    report = await check_channels(settings_with(tmp_path, slow_account), request_seconds=0.5)
    assert account(report, "sms").problems == ("could not reach Twilio (no answer in time)",)


# --------------------------------------------------------------------------------------------------
# Email


async def test_mail_servers_that_cannot_be_reached_or_logged_in_to(
    tmp_path: Path, smtp_port: int, imap: FakeImapServer
) -> None:
    with _closed_port() as port:
        channels = {
            "refused": email_account(port),
            "nowhere": {**email_account(smtp_port), "smtp": {"host": "mail.invalid", "port": 587}},
            "imap": email_account(smtp_port, imap=imap_section(imap, password="wrong")),
        }
        report = await check_channels(settings_with(tmp_path, channels))
    assert account(report, "refused").problems == (
        f"nothing accepts connections at 127.0.0.1:{port}: check smtp.host and smtp.port",
    )
    (dns,) = account(report, "nowhere").problems
    assert dns.startswith("the mail server's name mail.invalid cannot be found (DNS: ")
    assert dns.endswith("): check smtp.host")
    (login,) = account(report, "imap").problems
    assert login.startswith(f"the IMAP server 127.0.0.1:{imap.port} refused the login (")
    assert login.endswith("): check imap.username and imap.password")


# --------------------------------------------------------------------------------------------------
# Secrets


async def test_no_secret_is_ever_printed(
    tmp_path: Path, telegram_api: FakeTelegramAPI, viber: FakeViberApi, twilio: FakeTwilioApi, smtp_port: int
) -> None:
    with _closed_port() as port:
        channels = {
            "bot": telegram(telegram_api),
            "down": {**telegram(telegram_api), "api_base": f"http://127.0.0.1:{port}"},
            "viber": viber_account(viber),
            "sms": twilio_account("sms", twilio, **{"from": SMS_NUMBER}),
            "mail": email_account(smtp_port, password="wrong password"),
            "app": {"type": "api", "secret": API_SECRET},
        }
        text = render(await check_channels(settings_with(tmp_path, channels)))
    for secret in (
        TOKEN,
        TELEGRAM_SECRET,
        VIBER_TOKEN,
        AUTH_TOKEN,
        MAIL_PASSWORD,
        "wrong password",
        API_SECRET,
    ):
        assert secret not in text

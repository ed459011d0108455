"""`hub channels check` and `hub channels connect`: what is wrong with each channel account, in plain
words, and registering an account's webhook with its provider.

``check_channels`` loads hub.yaml exactly as `hub serve` does; when that fails, the loader's problems
(missing ``${ENV}`` secrets, unknown types or settings) are the whole report. Otherwise every account
gets its webhook URL, advice for its type, and the problems its adapter finds by asking the provider
(adapters that are ``Checkable``), all accounts at once, each request and each account within a time
limit. A provider that cannot be reached is a problem like any other, never a traceback, and no
secret of the configuration ever appears in what is reported.
"""

from __future__ import annotations

import asyncio
import ipaddress
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, SecretStr

from channels.api import ApiChannelSettings
from channels.contract import ChannelAdapter, ChannelContext, ChannelError, Checkable, Connectable
from channels.email.settings import EmailSettings
from channels.registry import spec_for
from channels.spec import ChannelSettings
from channels.twilio.messaging import WHATSAPP_SANDBOX_SENDER
from channels.twilio.settings import SmsSettings, WhatsAppSettings
from channels.webchat import WebchatSettings
from hub.config import ConfigError, HubConfig, load_config
from hub.settings import Settings

# Seconds one request to a provider may take.
REQUEST_SECONDS = 10.0
# How many requests' worth of time the whole check (or connect) of one account may take.
_REQUESTS_PER_ACCOUNT = 3
# Channel types whose provider calls the hub from the internet.
PROVIDER_TYPES = frozenset({"telegram", "viber", "sms", "whatsapp", "voice"})
_PROVIDERS = {
    "telegram": "Telegram",
    "viber": "Viber",
    "sms": "Twilio",
    "whatsapp": "Twilio",
    "voice": "Twilio",
    "email": "the mail servers",
}
_SIGNATURE = (
    "X-Omnihub-Timestamp (unix seconds) and X-Omnihub-Signature: sha256=<hex HMAC-SHA256 of "
    '"<timestamp>.<raw body>" under the account\'s secret>'
)


@dataclass(frozen=True)
class AccountReport:
    """One channel account: where its provider must send, what to do about it, what is wrong."""

    name: str
    type: str
    # None for an account that receives without a webhook (email).
    webhook_url: str | None
    advice: tuple[str, ...]
    problems: tuple[str, ...]


@dataclass(frozen=True)
class Report:
    """The outcome of ``check_channels``. ``config_problems`` set means hub.yaml could not be loaded
    and nothing else was checked."""

    source: str
    public_url: str = ""
    config_problems: tuple[str, ...] = ()
    # Problems of the hub as a whole (its public URL).
    hub_problems: tuple[str, ...] = ()
    accounts: tuple[AccountReport, ...] = ()

    @property
    def problem_count(self) -> int:
        account_problems = sum(len(account.problems) for account in self.accounts)
        return len(self.config_problems) + len(self.hub_problems) + account_problems

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    @property
    def exit_code(self) -> int:
        """2 when the configuration cannot be loaded (as `hub serve` exits), 1 for other problems."""
        if self.config_problems:
            return 2
        return 0 if self.ok else 1


class ConnectFailed(Exception):
    """``connect_channel`` could not register the webhook; the message says why, in plain words."""


# --------------------------------------------------------------------------------------------------
# Checking


async def check_channels(settings: Settings, *, request_seconds: float = REQUEST_SECONDS) -> Report:
    """Check every channel account of the hub's configuration file."""
    try:
        config = load_config(settings.hub_config)
    except ConfigError as exc:
        return Report(source=str(settings.hub_config), config_problems=tuple(exc.problems))
    return await check_config(config, request_seconds=request_seconds)


async def check_config(
    config: HubConfig, *, ask_providers: bool = True, request_seconds: float = REQUEST_SECONDS
) -> Report:
    """Check every channel account of an already loaded configuration (the running hub's, for the
    admin screens). Without ``ask_providers`` only what needs no network: webhook URLs and advice."""
    accounts = await asyncio.gather(
        *(
            _check_account(config, name, channel, request_seconds, ask_providers)
            for name, channel in config.channels.items()
        )
    )
    return Report(
        source=config.source,
        public_url=config.public_url,
        hub_problems=tuple(public_url_problems(config)),
        accounts=tuple(accounts),
    )


def public_url_problems(config: HubConfig) -> list[str]:
    """public_url as the providers see it: they cannot call this machine or a private address, and
    should not call plain http."""
    local = _local_public_url(config)
    if local is not None:
        return [local]
    if _providers(config) and urlsplit(config.public_url).scheme != "https":
        return [
            f"public_url {config.public_url} is plain http: Telegram and Viber refuse such webhooks and "
            "Twilio's requests would travel unencrypted; serve the hub over HTTPS and set public_url "
            "(HUB_PUBLIC_URL) to that address"
        ]
    return []


async def _check_account(
    config: HubConfig, name: str, channel: ChannelSettings, request_seconds: float, ask_providers: bool = True
) -> AccountReport:
    context = _context(config, name, request_seconds)
    webhook_url = context.webhook_url(channel.type)
    problems = await _provider_problems(channel, context, webhook_url) if ask_providers else []
    hidden = _secrets(channel)
    return AccountReport(
        name=name,
        type=channel.type,
        webhook_url=None if isinstance(channel, EmailSettings) else webhook_url,
        advice=tuple(_advice(config, name, channel)),
        problems=tuple(_redact(problem, hidden) for problem in problems),
    )


async def _provider_problems(
    channel: ChannelSettings, context: ChannelContext, webhook_url: str
) -> list[str]:
    """What the account's adapter learns from its provider; [] for types that have none to ask."""
    adapter = _adapter(channel, context)
    try:
        if not isinstance(adapter, Checkable):
            return []
        async with asyncio.timeout(_account_seconds(context)):
            return await adapter.check(webhook_url)
    except TimeoutError:
        return [_no_answer(channel, context)]
    except Exception as exc:  # one adapter's failure must not hide the report on every other account
        return [f"the check of this account failed unexpectedly ({type(exc).__name__}: {exc})"]
    finally:
        await adapter.aclose()


# --------------------------------------------------------------------------------------------------
# Connecting


async def connect_channel(
    settings: Settings, account: str, *, request_seconds: float = REQUEST_SECONDS
) -> str:
    """Register ``account``'s webhook URL with its provider; what was done, in one line.
    ConnectFailed says why it could not be."""
    try:
        config = load_config(settings.hub_config)
    except ConfigError as exc:
        listed = "\n".join(f"  - {problem}" for problem in exc.problems)
        raise ConnectFailed(f"{settings.hub_config} cannot be loaded; fix these first:\n{listed}") from None
    channel = config.channels.get(account)
    if channel is None:
        known = ", ".join(config.channels) or "none"
        raise ConnectFailed(f"there is no channel account {account!r} in {config.source} (accounts: {known})")
    local = _local_public_url(config)
    if local is not None and channel.type in PROVIDER_TYPES:
        raise ConnectFailed(local)
    context = _context(config, account, request_seconds)
    result = await _connect(channel, context, _advice(config, account, channel))
    return _redact(result, _secrets(channel))


async def _connect(channel: ChannelSettings, context: ChannelContext, advice: list[str]) -> str:
    adapter = _adapter(channel, context)
    try:
        if not isinstance(adapter, Connectable):
            raise ConnectFailed(
                f"{context.account} ({channel.type}) has no provider to register a webhook with: {advice[0]}"
            )
        async with asyncio.timeout(_account_seconds(context)):
            return await adapter.connect(context.webhook_url(channel.type))
    except ChannelError as exc:
        raise ConnectFailed(_redact(str(exc), _secrets(channel))) from None
    except TimeoutError:
        raise ConnectFailed(_no_answer(channel, context)) from None
    finally:
        await adapter.aclose()


# --------------------------------------------------------------------------------------------------
# Advice per channel type


def _advice(config: HubConfig, name: str, channel: ChannelSettings) -> list[str]:
    """What to do with the webhook URL (for email: where mail comes and goes), most important first."""
    return _ADVICE[channel.type](config, name, channel)


def _webchat_advice(config: HubConfig, name: str, channel: WebchatSettings) -> list[str]:
    widget = f"{config.public_url}/static/widget.js"
    advice = [f'embed the chat on your site: <script src="{widget}" data-account="{name}" defer></script>']
    if not channel.allowed_origins:
        advice.append(
            "list your site's origin (https://shop.example.com) in allowed_origins, or the widget "
            "works on the hub's own pages only"
        )
    return advice


def _api_advice(config: HubConfig, name: str, channel: ApiChannelSettings) -> list[str]:
    advice = [
        f"your system POSTs signed JSON to the webhook URL: {_SIGNATURE}; message shapes in channels/api.py"
    ]
    if not channel.callback_url:
        advice.append("there is no callback_url, so replies to this channel's customers cannot be delivered")
    return advice


def _telephony_advice(config: HubConfig, name: str, channel: ChannelSettings) -> list[str]:
    return [
        f"your PBX POSTs signed JSON call events to the webhook URL: {_SIGNATURE}; see channels/telephony.py"
    ]


def _telegram_advice(config: HubConfig, name: str, channel: ChannelSettings) -> list[str]:
    return [f"`hub channels connect {name}` registers the webhook URL with Telegram, with webhook_secret"]


def _viber_advice(config: HubConfig, name: str, channel: ChannelSettings) -> list[str]:
    return [
        f"`hub channels connect {name}` registers the webhook URL with Viber, which calls it to verify it: "
        "`hub serve` must be running and reachable then"
    ]


def _messaging_advice(config: HubConfig, name: str, channel: SmsSettings | WhatsAppSettings) -> list[str]:
    if isinstance(channel, SmsSettings) and channel.messaging_service_sid:
        service = channel.messaging_service_sid
        where = (
            f"set the webhook URL as the incoming-message webhook of the Messaging Service {service} "
            "(Twilio console: Messaging > Services > Integration, 'Send a webhook', POST)"
        )
    elif channel.from_ == WHATSAPP_SANDBOX_SENDER:
        where = (
            "set the webhook URL in the Twilio console: Messaging > Try it out > Send a WhatsApp message "
            "> Sandbox settings, 'When a message comes in' (POST)"
        )
    else:
        where = (
            f"`hub channels connect {name}` sets the webhook URL as 'A message comes in' of {channel.from_}"
        )
    return [where, _TWILIO_SIGNS]


def _voice_advice(config: HubConfig, name: str, channel: ChannelSettings) -> list[str]:
    return [
        f"`hub channels connect {name}` sets the webhook URL as 'A call comes in' and 'Call status "
        "changes' of the account's number",
        _TWILIO_SIGNS,
    ]


def _email_advice(config: HubConfig, name: str, channel: EmailSettings) -> list[str]:
    """Email has no webhook: where mail arrives (own SMTP server, IMAP polling) and leaves."""
    advice = []
    inbound = channel.inbound_smtp
    if inbound is not None and inbound.enabled:
        advice.append(
            f"mail arrives at the hub's own SMTP server on {inbound.host}:{inbound.port} (`hub serve` or "
            "`hub listen`): point your domain's MX, or your mail server's relay, at it"
        )
    if channel.imap is not None:
        imap = channel.imap
        advice.append(
            f"mail is fetched from the mailbox {imap.mailbox} of {imap.username} at {imap.host}:{imap.port} "
            f"every {imap.poll_seconds:g} s"
        )
    if not advice:
        advice.append(
            "send-only: neither inbound_smtp nor imap is set, so customers' emails never reach the hub"
        )
    smtp = channel.smtp
    advice.append(f"replies leave through {smtp.host}:{smtp.port} ({smtp.security.value})")
    return advice


_TWILIO_SIGNS = (
    "Twilio signs every request over this exact URL, so public_url must be the address Twilio calls, "
    "also behind a proxy"
)
_ADVICE: dict[str, Callable[[HubConfig, str, Any], list[str]]] = {
    "webchat": _webchat_advice,
    "api": _api_advice,
    "telephony": _telephony_advice,
    "telegram": _telegram_advice,
    "viber": _viber_advice,
    "sms": _messaging_advice,
    "whatsapp": _messaging_advice,
    "voice": _voice_advice,
    "email": _email_advice,
}


# --------------------------------------------------------------------------------------------------
# Helpers


def _context(config: HubConfig, name: str, request_seconds: float) -> ChannelContext:
    # Checking and connecting never sign visitor tokens; the webchat adapter only insists on a key.
    return ChannelContext(
        account=name,
        public_url=config.public_url,
        http_timeout=request_seconds,
        signing_key=secrets.token_bytes(32),
    )


def _adapter(channel: ChannelSettings, context: ChannelContext) -> ChannelAdapter:
    return spec_for(channel.type).build(channel, context)


def _account_seconds(context: ChannelContext) -> float:
    return context.http_timeout * _REQUESTS_PER_ACCOUNT


def _no_answer(channel: ChannelSettings, context: ChannelContext) -> str:
    provider = _PROVIDERS.get(channel.type, "the provider")
    return f"could not reach {provider} (no answer within {_account_seconds(context):g} s)"


def _providers(config: HubConfig) -> str:
    """The providers that call the hub from the internet, as words ("Telegram and Twilio"); "" for none."""
    names = sorted({_PROVIDERS[c.type] for c in config.channels.values() if c.type in PROVIDER_TYPES})
    return " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)


def _local_public_url(config: HubConfig) -> str | None:
    """A sentence when providers are configured but public_url points where they cannot reach."""
    providers = _providers(config)
    host = urlsplit(config.public_url).hostname or ""
    if not providers or not _is_local(host):
        return None
    return (
        f"public_url {config.public_url} points at this machine or a private network, which {providers} "
        "cannot reach: set public_url (HUB_PUBLIC_URL) to the hub's public HTTPS address (for a trial, "
        "a tunnel such as ngrok or cloudflared gives one)"
    )


def _is_local(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_unspecified or address.is_link_local


def _secrets(model: BaseModel) -> set[str]:
    """Every secret value in a settings model, nested sections included."""
    found: set[str] = set()
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, SecretStr):
            found.add(value.get_secret_value())
        elif isinstance(value, BaseModel):
            found |= _secrets(value)
    return found


def without_secrets(text: str, channel: ChannelSettings) -> str:
    """``text`` (a provider's error, say) with the account's secrets masked, safe to show anyone."""
    return _redact(text, _secrets(channel))


def _redact(text: str, hidden: Iterable[str]) -> str:
    """``text`` with every secret (of four characters or more, so words survive) masked."""
    for secret in sorted(hidden, key=len, reverse=True):
        if len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


# --------------------------------------------------------------------------------------------------
# Rendering


def render(report: Report) -> str:
    """The report as a newcomer reads it in a terminal."""
    if report.config_problems:
        return "\n".join(
            [
                f"{report.source} cannot be loaded, so no channel was checked; fix these first:",
                *(f"  - {problem}" for problem in report.config_problems),
            ]
        )
    lines = [f"Channel accounts in {report.source} (public_url {report.public_url})"]
    lines += [f"PROBLEM: {problem}" for problem in report.hub_problems]
    if not report.accounts:
        lines.append("No channel accounts are configured: add them under channels: in the file (see README).")
    for account in report.accounts:
        lines += ["", *_render_account(account)]
    count = report.problem_count
    lines += ["", "No problems found." if count == 0 else f"{count} problem{'s' if count > 1 else ''} found."]
    return "\n".join(lines)


def _render_account(account: AccountReport) -> list[str]:
    lines = [f"{account.name} ({account.type})"]
    if account.webhook_url is not None:
        lines.append(f"  webhook URL: {account.webhook_url}")
    lines += [f"  - {advice}" for advice in account.advice]
    lines += [f"  PROBLEM: {problem}" for problem in account.problems]
    if not account.problems:
        lines.append("  ok")
    return lines

"""The configured channel accounts, each with its adapter built once per process."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass

from channels.contract import ChannelAdapter, ChannelContext, Publish
from channels.registry import spec_for
from channels.spec import ChannelSettings
from crm_core.models import IdentityKind
from hub.config import HubConfig


class UnknownAccount(LookupError):
    pass


# Which identity of a customer a channel type addresses them by.
IDENTITY_KIND = {
    "webchat": IdentityKind.WEBCHAT,
    "api": IdentityKind.API,
    "telegram": IdentityKind.TELEGRAM,
    "viber": IdentityKind.VIBER,
    "sms": IdentityKind.PHONE,
    "whatsapp": IdentityKind.PHONE,
    "voice": IdentityKind.PHONE,
    "telephony": IdentityKind.PHONE,
    "email": IdentityKind.EMAIL,
}


@dataclass(frozen=True)
class Account:
    name: str
    settings: ChannelSettings
    adapter: ChannelAdapter

    @property
    def type(self) -> str:
        return self.settings.type


class Accounts:
    def __init__(self, config: HubConfig, secret_key: bytes, publish: Publish | None) -> None:
        self._accounts: dict[str, Account] = {}
        for name, settings in config.channels.items():
            context = ChannelContext(
                account=name,
                public_url=config.public_url,
                publish=publish,
                # One key per account, so a visitor token for one site can't be replayed on another.
                signing_key=hmac.new(secret_key, f"channel:{name}".encode(), hashlib.sha256).digest(),
            )
            adapter = spec_for(settings.type).build(settings, context)
            self._accounts[name] = Account(name, settings, adapter)

    def get(self, name: str, channel_type: str | None = None) -> Account:
        account = self._accounts.get(name)
        if account is None or (channel_type is not None and account.type != channel_type):
            raise UnknownAccount(
                f"no channel account {name!r}" + (f" of type {channel_type!r}" if channel_type else "")
            )
        return account

    def __iter__(self) -> Iterator[Account]:
        return iter(self._accounts.values())

    async def aclose(self) -> None:
        for account in self._accounts.values():
            await account.adapter.aclose()

"""How a channel type declares its account settings and builds its adapter from them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from channels.contract import ChannelAdapter, ChannelContext


class ChannelSettings(BaseModel):
    """Settings of one channel account from hub.yaml, after ${ENV} substitution.

    Each channel type subclasses this with its own fields; secrets are ``SecretStr`` so they never
    show up in logs or reprs. ``api_base`` points the provider SDK at another server (a sandbox or
    the tests' local fake).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str
    api_base: str | None = None
    # Messages per second the outbox may send through this account, for all workers together.
    # Unset: the channel's own limit (Telegram 30, an SMS number 1, ...); set it to what the provider
    # granted this account (a Twilio short code or bought throughput, Telegram paid broadcasts).
    rate_per_second: float | None = Field(default=None, gt=0)


@dataclass(frozen=True)
class ChannelSpec:
    """A channel type: its name in hub.yaml, its settings model, and how to build an adapter."""

    type: str
    settings: type[ChannelSettings]
    build: Callable[[Any, ChannelContext], ChannelAdapter]
    description: str = ""

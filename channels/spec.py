"""How a channel type declares its account settings and builds its adapter from them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

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


@dataclass(frozen=True)
class ChannelSpec:
    """A channel type: its name in hub.yaml, its settings model, and how to build an adapter."""

    type: str
    settings: type[ChannelSettings]
    build: Callable[[Any, ChannelContext], ChannelAdapter]
    description: str = ""

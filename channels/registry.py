"""Which module implements each channel type named in hub.yaml.

Modules are imported on first use, so a hub that only uses the website chat does not import the
provider SDKs.
"""

from __future__ import annotations

import importlib

from channels.spec import ChannelSpec

_SPECS: dict[str, str] = {
    "webchat": "channels.webchat:SPEC",
    "api": "channels.api:SPEC",
    "telegram": "channels.telegram:SPEC",
    "viber": "channels.viber:SPEC",
    "sms": "channels.twilio:SMS_SPEC",
    "whatsapp": "channels.twilio:WHATSAPP_SPEC",
    "voice": "channels.twilio:VOICE_SPEC",
    "telephony": "channels.telephony:SPEC",
    "email": "channels.email:SPEC",
}


class UnknownChannelType(LookupError):
    pass


def known_types() -> list[str]:
    return sorted(_SPECS)


def spec_for(channel_type: str) -> ChannelSpec:
    """The spec of a channel type; UnknownChannelType naming the known ones otherwise."""
    try:
        target = _SPECS[channel_type]
    except KeyError:
        raise UnknownChannelType(
            f"unknown channel type {channel_type!r}; known types: {', '.join(known_types())}"
        ) from None
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            raise UnknownChannelType(
                f"channel type {channel_type!r} is not implemented in this build"
            ) from None
        raise
    spec: ChannelSpec = getattr(module, attr)
    return spec

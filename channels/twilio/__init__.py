"""Twilio channels: SMS and WhatsApp through Programmable Messaging, calls through Programmable Voice.

hub.yaml::

    sms:      {type: sms, provider: twilio, account_sid: AC..., auth_token: ..., from: "+15005550006"}
    whatsapp: {type: whatsapp, provider: twilio, account_sid: AC..., auth_token: ...,
               from: "whatsapp:+14155238886"}
    calls:    {type: voice, provider: twilio, account_sid: AC..., auth_token: ..., forward_to: "+15005550006",
               greeting: "Sorry, we missed you. We will call you back."}
"""

from __future__ import annotations

from channels.spec import ChannelSpec
from channels.twilio.messaging import TwilioMessagingAdapter
from channels.twilio.settings import SmsSettings, VoiceSettings, WhatsAppSettings
from channels.twilio.voice import TwilioVoiceAdapter

__all__ = ["SMS_SPEC", "VOICE_SPEC", "WHATSAPP_SPEC"]


SMS_SPEC = ChannelSpec(
    type="sms",
    settings=SmsSettings,
    build=TwilioMessagingAdapter,
    description="SMS and MMS through a Twilio number or Messaging Service",
)
WHATSAPP_SPEC = ChannelSpec(
    type="whatsapp",
    settings=WhatsAppSettings,
    build=TwilioMessagingAdapter,
    description="WhatsApp through a Twilio WhatsApp sender",
)
VOICE_SPEC = ChannelSpec(
    type="voice",
    settings=VoiceSettings,
    build=TwilioVoiceAdapter,
    description="Calls to a Twilio number: forwarding, greeting and the call log",
)

"""The channel types flows can name, and what each can do for a step that needs the customer's phone.

These mirror the hub's channel registry (channels/), which bots do not import: a flow author writes
``channel: sms`` or ``channels: [telegram]``, and validation checks the name against this list.
"""

from __future__ import annotations

# Channel types a reply can be sent on (voice and telephony carry calls, not texts).
SENDING = ("webchat", "telegram", "viber", "whatsapp", "sms", "email", "api")

# Channels whose sender *is* a phone number the provider vouches for: the phone is already known
# and verified, so a share_contact step has nothing to ask.
PHONE_SENDERS = ("sms", "whatsapp", "voice", "telephony")

# Channels with a share-phone button (Telegram's request_contact keyboard, Viber's share-phone).
SHARE_BUTTON = ("telegram", "viber")

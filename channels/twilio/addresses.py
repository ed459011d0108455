"""Phone addresses as Twilio writes them: ``+E164`` for SMS and calls, ``whatsapp:+E164`` on WhatsApp.

SMS, WhatsApp and calls all land on IdentityKind.PHONE with the bare +E164 number, so a customer who
texts, writes on WhatsApp and calls from one phone is one customer.
"""

from __future__ import annotations

import re

from channels.contract import Address, IdentityKind

# ITU-T E.164: a plus, a country code not starting with 0, at most 15 digits in all.
E164 = re.compile(r"\+[1-9]\d{1,14}")
WHATSAPP_PREFIX = "whatsapp:"


def phone_address(twilio_address: str, display_name: str | None = None) -> Address:
    """The person behind a Twilio ``From``/``To`` value.

    Twilio vouches for a number it delivered a message or call from, so an E.164 number is verified.
    Anything else (a withheld caller id such as ``anonymous``, a ``client:`` or ``sip:`` caller) is
    kept as given but unverified, so it never merges customers.
    """
    number = twilio_address.removeprefix(WHATSAPP_PREFIX)
    return Address(
        kind=IdentityKind.PHONE,
        value=number,
        verified=E164.fullmatch(number) is not None,
        display_name=display_name or None,
    )


def whatsapp_address(number: str) -> str:
    """``whatsapp:+E164`` for a recipient given with or without the prefix."""
    return number if number.startswith(WHATSAPP_PREFIX) else f"{WHATSAPP_PREFIX}{number}"

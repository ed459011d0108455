"""Normalising identity addresses, so one person's phone or email is one string everywhere."""

from __future__ import annotations

import re

import phonenumbers

from crm_core.models import IdentityKind


class InvalidAddress(ValueError):
    """An address that cannot be an identity of its kind; the message says why."""


_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_OPAQUE_ID = re.compile(r"^[A-Za-z0-9_\-+=/.:]{1,200}$")


def normalize_phone(raw: str, default_region: str | None = None) -> str:
    """E.164 (``+380501234567``). Numbers without ``+`` are read in ``default_region``."""
    text = raw.strip()
    if text.lower().startswith("whatsapp:"):
        text = text[len("whatsapp:") :]
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidAddress(f"{raw!r} is not a phone number ({exc._msg})") from None
    if not phonenumbers.is_possible_number(number):
        raise InvalidAddress(f"{raw!r} is not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(raw: str) -> str:
    text = raw.strip().lower()
    if not _EMAIL.match(text):
        raise InvalidAddress(f"{raw!r} is not an email address")
    return text


def normalize_address(kind: IdentityKind | str, raw: str, default_region: str | None = None) -> str:
    """The canonical form of an address of the given kind."""
    kind = IdentityKind(kind)
    if kind is IdentityKind.PHONE:
        return normalize_phone(raw, default_region)
    if kind is IdentityKind.EMAIL:
        return normalize_email(raw)
    text = raw.strip()
    if not _OPAQUE_ID.match(text):
        raise InvalidAddress(f"{raw!r} is not a valid {kind.value} id")
    return text


def parse_identity_ref(ref: str, default_region: str | None = None) -> tuple[IdentityKind, str]:
    """Parse ``kind:address`` as used in API filters (``phone:+380501234567``, ``email:a@b.c``)."""
    kind_text, sep, address = ref.partition(":")
    if not sep or not address:
        raise InvalidAddress(f"{ref!r} is not of the form kind:address (e.g. phone:+380501234567)")
    try:
        kind = IdentityKind(kind_text.strip().lower())
    except ValueError:
        known = ", ".join(k.value for k in IdentityKind)
        raise InvalidAddress(f"unknown identity kind {kind_text!r}; known kinds: {known}") from None
    if kind is IdentityKind.PHONE and address.startswith(" ") and address.strip()[:1].isdigit():
        # An unencoded "+" in a query string arrives as a space: phone:+380... -> "phone: 380...".
        address = "+" + address.strip()
    return kind, normalize_address(kind, address, default_region)

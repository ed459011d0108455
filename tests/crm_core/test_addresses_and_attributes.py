"""Normalising addresses and typed attributes: the rules every channel and import relies on."""

from __future__ import annotations

import pytest

from crm_core.addresses import InvalidAddress, normalize_address, normalize_phone, parse_identity_ref
from crm_core.attributes import InvalidAttribute, coerce_attribute
from crm_core.models import AttributeDefinition, AttributeType, IdentityKind


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+380 50 123 45 67", None, "+380501234567"),
        ("050 123 4567", "UA", "+380501234567"),
        ("whatsapp:+14155238886", None, "+14155238886"),
        ("(415) 523-8886", "US", "+14155238886"),
    ],
)
def test_phones_become_e164(raw: str, region: str | None, expected: str) -> None:
    assert normalize_phone(raw, region) == expected


@pytest.mark.parametrize("raw", ["hello", "+1", "050 123 4567"])
def test_impossible_phones_are_refused_with_the_reason(raw: str) -> None:
    with pytest.raises(InvalidAddress, match="phone number"):
        normalize_phone(raw)


def test_emails_are_lowercased_and_checked() -> None:
    assert normalize_address(IdentityKind.EMAIL, "  Olena.K@Example.COM ") == "olena.k@example.com"
    with pytest.raises(InvalidAddress):
        normalize_address(IdentityKind.EMAIL, "not-an-email")
    with pytest.raises(InvalidAddress):
        normalize_address(IdentityKind.TELEGRAM, "12 34")


def test_identity_refs() -> None:
    assert parse_identity_ref("phone:+380501234567") == (IdentityKind.PHONE, "+380501234567")
    assert parse_identity_ref("phone: 380501234567") == (IdentityKind.PHONE, "+380501234567")  # unencoded +
    assert parse_identity_ref("TELEGRAM:42") == (IdentityKind.TELEGRAM, "42")
    with pytest.raises(InvalidAddress, match="kind:address"):
        parse_identity_ref("42")


def definition(kind: AttributeType) -> AttributeDefinition:
    return AttributeDefinition(key="x", type=kind)


@pytest.mark.parametrize(
    ("kind", "value", "stored"),
    [
        (AttributeType.NUMBER, "12", 12),
        (AttributeType.NUMBER, 2.5, 2.5),
        (AttributeType.BOOLEAN, "yes", True),
        (AttributeType.DATE, "2024-02-29", "2024-02-29"),
        (AttributeType.DATETIME, "2024-02-29T10:00:00+02:00", "2024-02-29T08:00:00+00:00"),
        (AttributeType.TEXT, "Lviv", "Lviv"),
    ],
)
def test_declared_attributes_are_converted(kind: AttributeType, value: object, stored: object) -> None:
    assert coerce_attribute("x", value, definition(kind)) == stored


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        (AttributeType.NUMBER, "twelve"),
        (AttributeType.NUMBER, True),
        (AttributeType.BOOLEAN, "maybe"),
        (AttributeType.DATE, "2023-02-29"),
        (AttributeType.DATETIME, "2024-02-29T10:00:00"),
        (AttributeType.TEXT, 5),
    ],
)
def test_values_that_do_not_fit_are_refused(kind: AttributeType, value: object) -> None:
    with pytest.raises(InvalidAttribute, match="attribute 'x'"):
        coerce_attribute("x", value, definition(kind))


def test_undeclared_attributes_keep_simple_json_types_only() -> None:
    assert coerce_attribute("x", 3, None) == 3
    with pytest.raises(InvalidAttribute):
        coerce_attribute("x", {"nested": True}, None)

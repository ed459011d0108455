"""The inbox speaks English and Spanish: both text files have every key the screen uses, with the
same placeholders, so no agent ever sees a raw key or a half-translated sentence."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from crm_core.models import ConsentPurpose
from inbox.models import AuthorKind, ConversationStatus, Priority, Role

STATIC = Path(__file__).resolve().parents[2] / "hub" / "web" / "static"
LOCALES = STATIC / "inbox" / "locales"
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def texts(language: str) -> dict[str, str]:
    return json.loads((LOCALES / f"{language}.json").read_text())


def used_keys() -> set[str]:
    """Keys the code names literally: t("..."), data-i18n*="...", and the shortcuts' help texts."""
    keys: set[str] = set()
    for script in (STATIC / "inbox").glob("*.js"):
        source = script.read_text()
        keys |= set(re.findall(r"\bt\(\s*\"([a-z_.]+)\"", source))
        keys |= set(re.findall(r"\"((?:keys|delivery|typing|canned|mention)\.[a-z_]+)\"", source))
    page = (STATIC / "inbox.html").read_text()
    keys |= set(re.findall(r'data-i18n(?:-[a-z]+)?="([a-z_.]+)"', page))
    return keys


def test_spanish_has_every_english_key_with_the_same_placeholders() -> None:
    english, spanish = texts("en"), texts("es")
    assert set(english) == set(spanish)
    for key, text in english.items():
        assert text.strip() and spanish[key].strip(), key
        assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(spanish[key])), key


def test_every_key_the_screen_uses_exists() -> None:
    missing = sorted(used_keys() - set(texts("en")))
    assert not missing, f"keys used in the inbox but missing from locales/en.json: {missing}"


@pytest.mark.parametrize(
    "family",
    [
        [f"status.{s.value}" for s in ConversationStatus],
        [f"priority.{p.value}" for p in Priority],
        [f"role.{r.value}" for r in Role],
        [f"purpose.{p.value}" for p in ConsentPurpose],
        [f"activity.reply_{a.value}" for a in AuthorKind if a is not AuthorKind.CUSTOMER],
        ["list.unread_messages_one", "list.unread_messages_other"],
    ],
)
def test_keys_built_from_values_exist(family: list[str]) -> None:
    assert set(family) <= set(texts("en"))


def test_channel_names_exist_for_every_channel_type() -> None:
    from channels.registry import known_types

    assert {f"channel.{kind}" for kind in known_types()} <= set(texts("en"))

"""The marketers' workspace speaks English and Spanish: both text files have the same keys with the
same placeholders, every key the page's code names exists, and the families of keys built from
values (statuses, comparisons, figures, outcomes...) cover every value the server can send."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from crm_core.models import IdentityKind
from crm_core.segments.definition import COMPARISONS, ORDER_FIGURES
from hub.api.segments import OPERATORS_BY_TYPE
from hub.campaigns.definition import CHANNEL_TYPES
from hub.campaigns.journey import BRANCH_CASES
from hub.campaigns.models import CampaignStatus, SkipReason
from inbox.segment_facts import SEGMENT_FACTS

STATIC = Path(__file__).resolve().parents[2] / "hub" / "web" / "static"
PAGE = STATIC / "campaigns"
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def texts(language: str) -> dict[str, str]:
    """The page's own texts merged over the inbox's shared ones, as i18n.js merges them."""
    shared = json.loads((STATIC / "inbox" / "locales" / f"{language}.json").read_text())
    return {**shared, **json.loads((PAGE / "locales" / f"{language}.json").read_text())}


def own(language: str) -> dict[str, str]:
    return json.loads((PAGE / "locales" / f"{language}.json").read_text())


def test_spanish_has_every_english_key_with_the_same_placeholders() -> None:
    english, spanish = own("en"), own("es")
    assert set(english) == set(spanish)
    for key, text in english.items():
        assert text.strip() and spanish[key].strip(), key
        assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(spanish[key])), key


def test_every_key_the_page_names_exists() -> None:
    used: set[str] = set()
    for script in PAGE.glob("*.js"):
        used |= set(re.findall(r"\bt\(\s*\"([a-z_.]+)\"", script.read_text()))
    used |= set(re.findall(r'data-i18n(?:-[a-z]+)?="([a-z_.]+)"', (STATIC / "campaigns.html").read_text()))
    missing = sorted(used - set(texts("en")))
    assert not missing, f"keys used by the campaigns page but missing from its locales: {missing}"


@pytest.mark.parametrize(
    "family",
    [
        [f"campaign_status.{s.value}" for s in CampaignStatus],
        [f"skip.{r.value}" for r in SkipReason],
        [f"op.{op}" for ops in OPERATORS_BY_TYPE.values() for op in ops] + ["op.not_exists"],
        [f"cmp.{c}" for c in COMPARISONS],
        [f"figure.{f}" for f in ORDER_FIGURES],
        [f"fact.{f}" for f in SEGMENT_FACTS],
        [f"identity.{k.value}" for k in IdentityKind],
        [f"channel.{c}" for c in CHANNEL_TYPES],
        [f"outcome.{o}" for o in BRANCH_CASES],
        [f"editor.when_{k}" for k in ("now", "at", "cron", "event", "flow")],
        [
            f"detail.{a}"
            for a in ("launch", "pause", "resume", "cancel", "delete", "edit", "failed", "skipped")
        ],
        [f"detail.done_{a}" for a in ("launch", "pause", "resume", "cancel")],
        [f"span.{u}{n}" for u in "mhdw" for n in ("", "_one")],
        [
            f"funnel.{s}"
            for s in ("planned", "sent", "delivered", "read", "clicked", "replied", "converted", "failed")
        ],
    ],
)
def test_keys_built_from_values_exist(family: list[str]) -> None:
    for language in ("en", "es"):
        missing = set(family) - set(texts(language))
        assert not missing, (language, sorted(missing))

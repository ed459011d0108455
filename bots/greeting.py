"""The greeting bot: welcomes a customer who opens a new conversation, in their language.

Texts come from a small YAML file (flows/greeting.yaml by default)::

    greeting:
      en: "Hi {name}! ..."
      es: "¡Hola {name}! ..."

``{name}`` is the customer's display name (or a friendly fallback). The full flow engine replaces
this bot; until then it is what the demo and new installations answer with.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import yaml
from sqlalchemy.ext.asyncio import AsyncSession

from bots.turn import BotReply, BotTurn

DEFAULT_LOCALE = "en"
_FALLBACK_NAME = {"en": "there", "es": "amigo"}


class GreetingError(ValueError):
    pass


def load_greetings(path: Path) -> dict[str, str]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise GreetingError(f"{path}: cannot read the greeting ({exc})") from None
    texts = data.get("greeting") if isinstance(data, dict) else None
    if not isinstance(texts, dict) or not texts or not all(isinstance(v, str) for v in texts.values()):
        raise GreetingError(f"{path}: expected 'greeting:' with one text per locale (en, es, ...)")
    if DEFAULT_LOCALE not in texts:
        raise GreetingError(f"{path}: the greeting needs an '{DEFAULT_LOCALE}' text as the fallback")
    return {str(k).lower(): v for k, v in texts.items()}


class GreetingBot:
    def __init__(self, greetings: Mapping[str, str]) -> None:
        self.greetings = dict(greetings)

    def text_for(self, locale: str | None, name: str) -> str:
        language = (locale or DEFAULT_LOCALE).lower().replace("_", "-").split("-")[0]
        template = self.greetings.get(language, self.greetings[DEFAULT_LOCALE])
        return template.replace("{name}", name or _FALLBACK_NAME.get(language, _FALLBACK_NAME["en"]))

    async def on_inbound(self, session: AsyncSession, turn: BotTurn) -> list[BotReply]:
        if not (turn.opened and turn.bot_active):
            return []
        return [BotReply(self.text_for(turn.customer.locale, turn.customer.display_name))]

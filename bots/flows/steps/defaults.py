"""Built-in texts steps fall back on when the author wrote none, in the shipped languages."""

from __future__ import annotations

from bots.flows.templating import LocalText, compile_template


def _text(**variants: str) -> LocalText:
    return LocalText({language: compile_template(text) for language, text in variants.items()})


YES = _text(en="Yes", es="Sí")
NO = _text(en="No", es="No")
DID_YOU_MEAN = _text(en="Did you mean one of these?", es="¿Te refieres a alguna de estas?")
SOMETHING_ELSE = _text(en="Something else", es="Otra cosa")
SHARE_PHONE = _text(en="Share my phone number", es="Compartir mi número")
PHONE_RETRY = _text(
    en="That doesn't look like a phone number. Please write it with the country code, e.g. +380501234567.",
    es="Eso no parece un número de teléfono. Escríbelo con el prefijo del país, p. ej. +34600123456.",
)

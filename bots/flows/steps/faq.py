"""``faq``: answer a question from a knowledge base, suggest close ones, or fall back.

.. code-block:: yaml

    questions:
      faq: faq/support.yaml          # relative to this flow file; YAML or CSV
      prompt: {en: "What is your question?", es: "¿Cuál es tu pregunta?"}
      threshold: 80                  # score (0-100) to answer directly
      suggest: 3                     # below it, offer up to this many close questions as buttons
      suggest_above: 50              # ... scoring at least this much
      fallback: human                # nothing close enough, or the customer picked "Something else"
      next: anything_else            # after an answer

The step sends ``prompt`` (when given) and waits for the question. Suggestions are buttons whose
payload is ``faq:<entry id>``, plus "Something else" (``faq:none``) leading to ``fallback``; the
customer can also type a suggestion's number or title, or simply ask another question.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from bots.flows.faq import FaqEntry, KnowledgeBase
from bots.flows.matching import same_text
from bots.flows.outcomes import Next, Outcome, Wait, WaitingFor, after
from bots.flows.steps import defaults
from bots.flows.steps.base import Answer, Link, WaitingStep
from bots.flows.steps.reader import StepReader
from bots.flows.templating import LocalText
from channels.contract import Button

if TYPE_CHECKING:
    from bots.flows.context import TurnContext

NONE_PAYLOAD = "faq:none"
_ENTRY_PREFIX = "faq:"


@dataclass(frozen=True, kw_only=True)
class FaqStep(WaitingStep):
    kind: ClassVar[str] = "faq"

    knowledge: KnowledgeBase
    source: str
    prompt: LocalText | None = None
    threshold: float = 80.0
    suggest: int = 3
    suggest_above: float = 50.0
    suggestions_text: LocalText = defaults.DID_YOU_MEAN
    none_title: LocalText = defaults.SOMETHING_ELSE
    fallback: str
    fallback_line: int = 0
    next: str | None = None
    next_line: int = 0

    def links(self) -> list[Link]:
        links = [Link(self.fallback, self.fallback_line, "fallback")]
        if self.next:
            links.append(Link(self.next, self.next_line, "next"))
        return links + self.timeout_links()

    async def run(self, ctx: TurnContext) -> Outcome:
        if self.prompt is not None:
            ctx.say(self.prompt)
        return Wait(WaitingFor.QUESTION)

    async def on_answer(self, ctx: TurnContext, answer: Answer) -> Outcome:
        suggested = [str(i) for i in answer.data.get("suggested", [])]
        if suggested:
            if answer.payload == NONE_PAYLOAD or same_text(answer.text, ctx.render(self.none_title)):
                return Next(self.fallback)
            picked = self._picked(ctx, answer, suggested)
            if picked is not None:
                return self._answer(ctx, picked)
        matches = self.knowledge.match(answer.text, limit=max(self.suggest, 1))
        if matches and matches[0].score >= self.threshold:
            return self._answer(ctx, matches[0].entry)
        close = [m.entry for m in matches if m.score >= self.suggest_above][: self.suggest]
        if not close:
            return Next(self.fallback)
        buttons = [Button(title=e.title(ctx.language), payload=f"{_ENTRY_PREFIX}{e.id}") for e in close]
        buttons.append(Button(title=ctx.render(self.none_title), payload=NONE_PAYLOAD))
        ctx.say(self.suggestions_text, buttons)
        return Wait(WaitingFor.SUGGESTION, {"suggested": [e.id for e in close]})

    def claims(self, answer: Answer) -> bool:
        return bool(answer.payload and answer.payload.startswith(_ENTRY_PREFIX))

    def _picked(self, ctx: TurnContext, answer: Answer, suggested: list[str]) -> FaqEntry | None:
        if answer.payload and answer.payload.startswith(_ENTRY_PREFIX):
            entry_id = answer.payload[len(_ENTRY_PREFIX) :]
            if entry_id in suggested:
                return self.knowledge.entry(entry_id)
        text = answer.text.strip()
        if text.isdigit() and 1 <= int(text) <= len(suggested):
            return self.knowledge.entry(suggested[int(text) - 1])
        for entry_id in suggested:
            entry = self.knowledge.entry(entry_id)
            if entry is not None and same_text(text, entry.title(ctx.language)):
                return entry
        return None

    def _answer(self, ctx: TurnContext, entry: FaqEntry) -> Outcome:
        ctx.say(entry.answer)
        ctx.variables["faq_answered"] = entry.id
        return after(self.next)


def parse(reader: StepReader) -> FaqStep | None:
    reader.check_keys(
        {"prompt", "threshold", "suggest", "suggest_above", "suggestions_text", "none_title", "fallback"}
        | {"timeout", "on_timeout", "next"}
    )
    knowledge, source = reader.knowledge_base("faq")
    prompt = reader.text("prompt")
    threshold = reader.number("threshold", 80.0, low=1, high=100)
    suggest = reader.integer("suggest", 3, low=0, high=10)
    suggest_above = reader.number("suggest_above", 50.0, low=0, high=100)
    suggestions_text = reader.text("suggestions_text") or defaults.DID_YOU_MEAN
    none_title = reader.text("none_title") or defaults.SOMETHING_ELSE
    fallback = reader.target("fallback", required=True)
    timeout, on_timeout = reader.timeout()
    next_step = reader.target("next")
    if knowledge is None or source is None or fallback is None:
        return None
    assert threshold is not None and suggest_above is not None
    return FaqStep(
        name=reader.name,
        line=reader.line,
        knowledge=knowledge,
        source=source,
        prompt=prompt,
        threshold=threshold,
        suggest=suggest,
        suggest_above=suggest_above,
        suggestions_text=suggestions_text,
        none_title=none_title,
        fallback=fallback,
        fallback_line=reader.line_of("fallback"),
        timeout=timeout,
        on_timeout=on_timeout,
        timeout_line=reader.line_of("on_timeout"),
        next=next_step,
        next_line=reader.line_of("next"),
    )

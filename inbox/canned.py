"""Canned responses: prepared answers, found by fuzzy search and filled from the customer record.

A body is a Jinja template over three names — ``customer`` (name, first_name, email, phone, locale,
tags, attributes), ``agent`` (name, first_name) and ``conversation`` (id, channel) — rendered in
Jinja's immutable sandbox like the flows' texts (bots/flows/templating.py): no underscored
attributes, no mutating calls, and a missing value renders as empty text rather than failing the
reply. Bodies are checked when saved: a syntax error or an unknown name is refused with a sentence.

Search is rapidfuzz over shortcut, title and body (typos and word order forgiven); a shortcut the
agent types exactly, or the start of one, comes first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jinja2
from jinja2 import meta
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from rapidfuzz import fuzz, utils
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.columns import utcnow
from crm_core.models import Customer, Identity, IdentityKind
from inbox.models import CannedResponse, Conversation

PLACEHOLDER_NAMES = ("customer", "agent", "conversation")
_SHORTCUT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")
MAX_BODY_LENGTH = 10_000
# Below this score (0-100) a response is not shown for a query.
MIN_SCORE = 55.0

_ENVIRONMENT = ImmutableSandboxedEnvironment(
    undefined=jinja2.ChainableUndefined, autoescape=False, keep_trailing_newline=False
)


class InvalidCanned(ValueError):
    """A canned response that cannot be saved, with a sentence naming the field."""


class CannedConflict(ValueError):
    """Another canned response the same agents see already has this shortcut."""


class CannedNotFound(LookupError):
    pass


class CannedRenderError(RuntimeError):
    pass


def check_body(body: str) -> None:
    """InvalidCanned unless ``body`` compiles and uses only the known names."""
    if not body.strip():
        raise InvalidCanned("body: write the text of the response")
    if len(body) > MAX_BODY_LENGTH:
        raise InvalidCanned(f"body: {len(body)} characters; at most {MAX_BODY_LENGTH}")
    try:
        parsed = _ENVIRONMENT.parse(body)
    except jinja2.TemplateSyntaxError as exc:
        raise InvalidCanned(f"body line {exc.lineno}: the placeholder does not read: {exc.message}") from None
    unknown = sorted(meta.find_undeclared_variables(parsed) - set(PLACEHOLDER_NAMES))
    if unknown:
        raise InvalidCanned(
            f"body: unknown placeholder {', '.join(unknown)}; use {', '.join(PLACEHOLDER_NAMES)} "
            "(for example {{ customer.first_name }})"
        )


def _check(shortcut: str, title: str, language: str | None) -> None:
    if not _SHORTCUT.match(shortcut):
        raise InvalidCanned(
            f"shortcut {shortcut!r}: lowercase letters, digits, - and _, starting with a letter or digit "
            "(at most 64)"
        )
    if not title.strip() or len(title) > 200:
        raise InvalidCanned("title: between 1 and 200 characters")
    if language is not None and not _LANGUAGE.match(language):
        raise InvalidCanned(f"language {language!r}: a language code such as en or es, or none for any")


def visible_to(agent_id: int | None) -> Any:
    """Shared responses, and the agent's own."""
    if agent_id is None:
        return CannedResponse.owner_agent_id.is_(None)
    return or_(CannedResponse.owner_agent_id.is_(None), CannedResponse.owner_agent_id == agent_id)


async def canned_for(session: AsyncSession, agent_id: int | None) -> list[CannedResponse]:
    statement = select(CannedResponse).where(visible_to(agent_id)).order_by(CannedResponse.shortcut)
    return list((await session.execute(statement)).scalars())


async def get_canned(session: AsyncSession, canned_id: int, agent_id: int | None) -> CannedResponse:
    statement = select(CannedResponse).where(CannedResponse.id == canned_id, visible_to(agent_id))
    canned = (await session.execute(statement)).scalars().first()
    if canned is None:
        raise CannedNotFound(f"canned response {canned_id} does not exist")
    return canned


async def _check_shortcut_free(
    session: AsyncSession, shortcut: str, owner_agent_id: int | None, except_id: int | None
) -> None:
    # A personal shortcut may not hide a shared one, nor the other way round, for whoever sees both.
    statement = select(CannedResponse.id).where(CannedResponse.shortcut == shortcut)
    if owner_agent_id is not None:
        statement = statement.where(visible_to(owner_agent_id))
    if except_id is not None:
        statement = statement.where(CannedResponse.id != except_id)
    if (await session.execute(statement.limit(1))).first() is not None:
        raise CannedConflict(f"the shortcut /{shortcut} is already taken")


async def create_canned(
    session: AsyncSession,
    *,
    shortcut: str,
    title: str,
    body: str,
    language: str | None,
    owner_agent_id: int | None,
    by: str,
) -> CannedResponse:
    _check(shortcut, title, language)
    check_body(body)
    await _check_shortcut_free(session, shortcut, owner_agent_id, None)
    canned = CannedResponse(
        shortcut=shortcut,
        title=title.strip(),
        body=body,
        language=language,
        owner_agent_id=owner_agent_id,
        updated_by=by,
    )
    session.add(canned)
    await session.flush()
    return canned


async def update_canned(
    session: AsyncSession, canned: CannedResponse, changes: Mapping[str, Any], by: str
) -> CannedResponse:
    """Apply the given fields (shortcut, title, body, language)."""
    shortcut = changes.get("shortcut", canned.shortcut)
    title = changes.get("title", canned.title)
    body = changes.get("body", canned.body)
    language = changes.get("language", canned.language)
    _check(shortcut, title, language)
    check_body(body)
    if shortcut != canned.shortcut:
        await _check_shortcut_free(session, shortcut, canned.owner_agent_id, canned.id)
    canned.shortcut, canned.title, canned.body, canned.language = shortcut, title.strip(), body, language
    canned.updated_at = utcnow()
    canned.updated_by = by
    session.add(canned)
    return canned


@dataclass(frozen=True)
class CannedMatch:
    canned: CannedResponse
    score: float


def search_canned(
    responses: Iterable[CannedResponse], query: str, language: str | None = None, limit: int = 10
) -> list[CannedMatch]:
    """The responses that fit ``query`` best, with a 0-100 score. An empty query lists them all
    (the customer's language first)."""
    text = utils.default_process(query.lstrip("/"))
    matches = []
    for canned in responses:
        same_language = language is not None and canned.language == language
        if not text:
            score = 50.0 + (5.0 if same_language else 0.0)
        elif canned.shortcut == text:
            score = 100.0
        elif canned.shortcut.startswith(text):
            score = 95.0
        else:
            score = max(
                fuzz.WRatio(text, canned.shortcut, processor=utils.default_process),
                fuzz.WRatio(text, canned.title, processor=utils.default_process),
                0.9 * fuzz.partial_ratio(text, canned.body, processor=utils.default_process),
            )
            if score < MIN_SCORE:
                continue
            # A close call goes to the response in the customer's language.
            score = min(score + (3.0 if same_language else 0.0), 94.0)
        matches.append(CannedMatch(canned, round(score, 1)))
    matches.sort(key=lambda m: (-m.score, m.canned.shortcut))
    return matches[:limit]


def _first_name(name: str) -> str:
    return name.split()[0] if name.strip() else ""


def placeholder_values(
    customer: Customer,
    identities: Sequence[Identity],
    agent_name: str,
    conversation: Conversation | None,
) -> dict[str, Any]:
    """The names a body is rendered with (see the module docstring)."""

    def first_address(kind: IdentityKind) -> str:
        found = [i for i in identities if i.kind is kind]
        found.sort(key=lambda i: (not i.verified, -(i.id or 0)))
        return found[0].address if found else ""

    return {
        "customer": {
            "name": customer.display_name,
            "first_name": _first_name(customer.display_name),
            "email": first_address(IdentityKind.EMAIL),
            "phone": first_address(IdentityKind.PHONE),
            "locale": customer.locale or "",
            "tags": list(customer.tags),
            "attributes": dict(customer.attributes),
        },
        "agent": {"name": agent_name, "first_name": _first_name(agent_name)},
        "conversation": {
            "id": conversation.id if conversation is not None else None,
            "channel": conversation.channel_type if conversation is not None else "",
        },
    }


def render_canned(canned: CannedResponse, values: Mapping[str, Any]) -> str:
    """The body with its placeholders filled; CannedRenderError when the sandbox refuses it."""
    try:
        return _ENVIRONMENT.from_string(canned.body).render(values).strip()
    except SecurityError as exc:
        raise CannedRenderError(f"/{canned.shortcut} is not allowed to do that: {exc}") from None
    except jinja2.TemplateError as exc:
        raise CannedRenderError(f"/{canned.shortcut} failed to fill in: {exc}") from None

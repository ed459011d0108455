"""A fast path for campaign templates whose placeholders are plain lookups.

Planning a campaign renders its template once per customer; through Jinja that costs far more than
the rest of planning (a new context per call). Most campaign texts only fill in values —
``Hi {{ name }}``, ``{{ attribute.city }}``, ``{{ campaign.name }}``, ``{{ link("https://…") }}`` —
so such a template is turned once into its literal pieces and lookup paths, and each customer's
text is a join of those.

The fast path must give exactly what Jinja gives, so it takes only what it can reproduce and says
"not here" otherwise: a template with filters, tests, conditions, loops or operators is never
simple; and at render time a lookup that meets anything but dicts on the way and a plain value at
the end (a list, a method of a dict, a Jinja global) answers ``None``, and the caller renders that
customer's text with the sandboxed Jinja template instead. tests/hub/test_campaign_planning.py
compares both paths over many templates and values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import nodes

from bots.flows.templating import Template

# The names campaign content sees (hub.campaigns.content.names_for, plus link and unsubscribe_url).
# Any other name (a Jinja global such as ``range``, the template's ``self``) goes to Jinja.
KNOWN_NAMES = frozenset(
    {"name", "attribute", "tags", "locale", "channel", "campaign", "link", "unsubscribe_url"}
)
# Jinja's sandbox reads ``x.items`` as the dict's method before its key: such lookups go to Jinja.
_DICT_ATTRIBUTES = frozenset(dir(dict))
# Values Jinja prints with str(); anything else (lists, dicts, undefined chains) is left to Jinja.
_PLAIN = (str, int, float, bool, type(None))


class _Missing:
    """Jinja's ChainableUndefined: prints as empty text, and lookups on it stay missing."""


MISSING = _Missing()


class _NotSimple(Exception):
    """A value the fast path cannot print the way Jinja would; this customer goes to Jinja."""


@dataclass(frozen=True)
class Lookup:
    """``name`` followed by keys: ``attribute.city`` and ``attribute["city"]`` are both
    Lookup("attribute", ("city",))."""

    name: str
    keys: tuple[str, ...]


@dataclass(frozen=True)
class LinkCall:
    """``link("https://…")``: our own function, called with one literal text."""

    url: str


Piece = str | Lookup | LinkCall


@dataclass(frozen=True)
class SimpleTemplate:
    pieces: tuple[Piece, ...]
    # The names it reads, so callers can skip building the others.
    names: frozenset[str]

    def render(self, names: Mapping[str, Any]) -> str | None:
        """The text Jinja would render (stripped, as bots.flows.templating.Template.render does),
        or None when this customer's values need Jinja. Errors raised by ``link`` propagate as
        they do through Jinja."""
        out: list[str] = []
        try:
            for piece in self.pieces:
                if isinstance(piece, str):
                    out.append(piece)
                elif isinstance(piece, Lookup):
                    out.append(_printed(_resolve(piece, names)))
                else:
                    link: Callable[[str], Any] = names["link"]
                    out.append(_printed(link(piece.url)))
        except _NotSimple:
            return None
        return "".join(out).strip()


def _resolve(lookup: Lookup, names: Mapping[str, Any]) -> Any:
    value = names.get(lookup.name, MISSING)
    for key in lookup.keys:
        if value is MISSING:
            return MISSING
        if type(value) is not dict or key in _DICT_ATTRIBUTES:
            raise _NotSimple
        # Jinja's sandbox: ``x.key`` tries an attribute first (a plain dict has none by that name,
        # see above), then the item; ``x["key"]`` the item, then an attribute. Either way: the item.
        value = value.get(key, MISSING)
    return value


def _printed(value: Any) -> str:
    if value is MISSING:
        return ""
    if type(value) not in _PLAIN:
        raise _NotSimple
    return str(value)


def compile_simple(template: Template) -> SimpleTemplate | None:
    """The fast form of a compiled template, or None when it is not only literals and lookups."""
    environment = template.compiled.environment
    try:
        tree = environment.parse(template.source)
    except Exception:  # it compiled once already; anything odd here just means "use Jinja"
        return None
    pieces: list[Piece] = []
    used: set[str] = set()
    for statement in tree.body:
        if not isinstance(statement, nodes.Output):
            return None
        for node in statement.nodes:
            piece = _piece(node)
            if piece is None:
                return None
            if isinstance(piece, Lookup):
                used.add(piece.name)
            elif isinstance(piece, LinkCall):
                used.add("link")
            pieces.append(piece)
    return SimpleTemplate(tuple(pieces), frozenset(used))


def _piece(node: nodes.Node) -> Piece | None:
    if isinstance(node, nodes.TemplateData):
        return node.data
    if isinstance(node, nodes.Call):
        simple_call = (
            isinstance(node.node, nodes.Name)
            and node.node.name == "link"
            and len(node.args) == 1
            and isinstance(node.args[0], nodes.Const)
            and isinstance(node.args[0].value, str)
            and not node.kwargs
            and node.dyn_args is None
            and node.dyn_kwargs is None
        )
        return LinkCall(node.args[0].value) if simple_call else None  # type: ignore[attr-defined]
    keys: list[str] = []
    while True:
        if isinstance(node, nodes.Getattr):
            keys.append(node.attr)
            node = node.node
        elif isinstance(node, nodes.Getitem):
            if not (isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str)):
                return None
            keys.append(node.arg.value)
            node = node.node
        elif isinstance(node, nodes.Name):
            if node.ctx != "load" or node.name not in KNOWN_NAMES:
                return None
            return Lookup(node.name, tuple(reversed(keys)))
        else:
            return None

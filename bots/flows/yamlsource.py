"""Reading YAML while remembering where every value came from, so a problem names its line.

``yaml.safe_load`` forgets positions. Here the document is composed into nodes (which carry marks)
and built into plain dicts and lists that also know their lines: ``LineMap`` for mappings and
``LineList`` for sequences. Scalars stay plain Python values; their lines are kept by the container
that holds them. Keys that appear twice in one mapping are reported (PyYAML would silently keep the
last one, hiding a mistake).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode


class LineMap(dict[Any, Any]):
    """A mapping from YAML. ``line`` is where it starts; ``key_lines`` and ``value_lines`` give the line
    of each key and of its value."""

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.key_lines: dict[Any, int] = {}
        self.value_lines: dict[Any, int] = {}

    def line_of(self, key: Any) -> int:
        """The line of ``key``'s value, or of the mapping itself when the key is absent."""
        return self.value_lines.get(key, self.line)


class LineList(list[Any]):
    """A sequence from YAML. ``line`` is where it starts; ``item_lines[i]`` is where item ``i`` starts."""

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.item_lines: list[int] = []

    def line_of(self, index: int) -> int:
        return self.item_lines[index] if 0 <= index < len(self.item_lines) else self.line


@dataclass
class YamlDocument:
    """A parsed document (None for an empty file) and the problems met while reading it, as
    (line, sentence) pairs."""

    data: Any
    problems: list[tuple[int | None, str]] = field(default_factory=list)


class YamlSyntaxError(ValueError):
    """The text is not YAML at all; ``line`` says where the parser gave up."""

    def __init__(self, line: int | None, message: str) -> None:
        self.line = line
        super().__init__(message)


def line_of(node: Node) -> int:
    """1-based line where the node's content starts; a block scalar (``|`` or ``>``) starts on the
    line after its indicator, which is where a template's line 1 is."""
    if isinstance(node, ScalarNode) and node.style in ("|", ">"):
        return node.start_mark.line + 2
    return node.start_mark.line + 1


def parse_yaml(text: str) -> YamlDocument:
    """Parse one YAML document with line numbers. Raises YamlSyntaxError for malformed YAML."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        document = YamlDocument(None)
        if root is not None:
            document.data = _build(loader, root, document)
        return document
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        reason = exc.problem or exc.context or "malformed YAML"
        if "'?'" in reason or "':'" in reason:
            # The classic: a question inside [ ] or { } ("[Where is my order?]").
            reason += " (quote texts that contain ? or : inside [ ] or { })"
        raise YamlSyntaxError(mark.line + 1 if mark else None, f"not valid YAML: {reason}") from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(None, f"not valid YAML: {exc}") from None
    finally:
        loader.dispose()


def _build(loader: yaml.SafeLoader, node: Node, document: YamlDocument) -> Any:
    if isinstance(node, MappingNode):
        mapping = LineMap(line_of(node))
        for key_node, value_node in node.value:
            key = _build(loader, key_node, document)
            if isinstance(key, LineMap | LineList):
                document.problems.append((line_of(key_node), "a key must be a plain word, not a list or map"))
                continue
            if key in mapping:
                document.problems.append(
                    (
                        line_of(key_node),
                        f"{key!r} appears twice here (first on line {mapping.key_lines[key]})",
                    )
                )
                continue
            mapping.key_lines[key] = line_of(key_node)
            mapping.value_lines[key] = line_of(value_node)
            mapping[key] = _build(loader, value_node, document)
        return mapping
    if isinstance(node, SequenceNode):
        sequence = LineList(line_of(node))
        for item in node.value:
            sequence.item_lines.append(line_of(item))
            sequence.append(_build(loader, item, document))
        return sequence
    assert isinstance(node, ScalarNode)
    return loader.construct_object(node, deep=True)

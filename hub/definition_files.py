"""Definitions kept in YAML files next to the flows (segments, campaigns): read with line numbers,
so each problem names ``file:line``, and checked all together before any is used.

A file holds one list under a key (``segments:``, ``campaigns:``); each item is parsed by the
caller's parser, which raises an error with ``.problems`` whose sentences start with the path of
the mistake inside the item (``conditions[2].any[0].channel: ...``). That path is walked through
the YAML to find the line of the deepest value it reaches.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from bots.flows.yamlsource import LineList, LineMap, YamlSyntaxError, parse_yaml

T = TypeVar("T")
_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


class DefinitionFileError(ValueError):
    """Problems of definition files, each as ``file:line: sentence``."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


def yaml_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml"))


def line_of_path(data: Any, path: str) -> int | None:
    """The line of the deepest value ``path`` (``conditions[2].any[0].channel``) reaches."""
    line = getattr(data, "line", None)
    node = data
    for name, index in _STEP.findall(path.split(":")[0]):
        if name and isinstance(node, LineMap) and name in node:
            line = node.line_of(name)
            node = node[name]
        elif index and isinstance(node, LineList) and int(index) < len(node):
            line = node.item_lines[int(index)]
            node = node[int(index)]
        else:
            break
    return line


def read_definitions(
    path: Path, key: str, noun: str, parse: Callable[[Any], T], ident: Callable[[T], str]
) -> list[T]:
    """Every item of the file's ``key:`` list, parsed; raises DefinitionFileError naming each problem."""
    try:
        document = parse_yaml(path.read_text(encoding="utf-8"))
    except YamlSyntaxError as exc:
        raise DefinitionFileError([f"{path}:{exc.line or 1}: {exc}"]) from None
    problems = [f"{path}:{line or 1}: {sentence}" for line, sentence in document.problems]
    data = document.data
    items = data.get(key) if isinstance(data, LineMap) else None
    if not isinstance(items, LineList):
        raise DefinitionFileError(
            [*problems, f"{path}:1: a {noun} file holds `{key}:` with a list of {noun}s"]
        )
    found: list[T] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        try:
            definition = parse(item)
        except ValueError as exc:
            for problem in getattr(exc, "problems", [str(exc)]):
                line = line_of_path(item, problem.split(":")[0]) or items.item_lines[i]
                problems.append(f"{path}:{line}: {noun} {i + 1}: {problem}")
            continue
        if ident(definition) in seen:
            problems.append(f"{path}:{items.item_lines[i]}: {noun} id {ident(definition)!r} is used twice")
        seen.add(ident(definition))
        found.append(definition)
    if problems:
        raise DefinitionFileError(problems)
    return found


def source_label(path: Path, root: Path) -> str:
    """How a definition's origin is stored: ``file:segments/marketing.yaml``."""
    try:
        return f"file:{path.relative_to(root)}"
    except ValueError:
        return f"file:{path}"

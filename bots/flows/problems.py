"""What is wrong with a flow file: every problem has a place (file and line) and a plain sentence."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One mistake in a flow (or knowledge base) file. ``line`` is 1-based; None when the problem is
    about the file as a whole (it cannot be read, or a flow id is used twice)."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.message}"


class FlowError(ValueError):
    """Flows that cannot be activated; ``problems`` lists every reason, in file and line order."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line or 0, p.message))
        super().__init__("\n".join(str(p) for p in self.problems))

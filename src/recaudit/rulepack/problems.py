"""Where something in a pack is (`Mark`) and what is wrong with it (`Problem`, `PackError`).

Kept apart from the loader and the YAML reader (which re-export these names) so that code
that only reports or finds packs, such as a cached `rules list`, imports neither PyYAML
nor pydantic.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Mark:
    file: str
    line: int  # 1-based
    column: int  # 1-based

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class Problem:
    mark: Mark
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        return f"{self.mark}: {self.severity}: {self.message}"


class PackError(Exception):
    """A pack that cannot be used; `problems` lists every error found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))

"""Errors that tell the user which file, which field and what was expected.

Every error raised for bad *input* derives from :class:`InputError`; the CLI turns it into a
one-paragraph message and a non-zero exit code instead of a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


class WcsError(Exception):
    """Base class of the engine's own errors."""


class ConfigError(WcsError):
    """The configuration file is unusable (unknown key, bad value, missing file)."""


@dataclass
class Problem:
    """One specific problem found in one input file."""

    message: str
    line: int | None = None
    column: str | None = None
    value: str | None = None
    expected: str | None = None

    def render(self) -> str:
        where = []
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        text = f"{', '.join(where)}: " if where else ""
        text += self.message
        if self.value is not None:
            text += f" (got {self.value!r})"
        if self.expected is not None:
            text += f"; expected {self.expected}"
        return text


@dataclass
class InputError(WcsError):
    """An input file cannot be used. Names the file and lists up to ``max_shown`` problems."""

    path: Path | str
    problems: list[Problem] = field(default_factory=list)
    max_shown: int = 10

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        shown = self.problems[: self.max_shown]
        lines = [f"{self.path}: " + (shown[0].render() if len(shown) == 1 else "cannot be used:")]
        if len(shown) > 1:
            lines += [f"  - {p.render()}" for p in shown]
        if len(self.problems) > len(shown):
            lines.append(f"  … and {len(self.problems) - len(shown)} more problems")
        return "\n".join(lines)


def input_error(
    path: Path | str,
    message: str,
    *,
    line: int | None = None,
    column: str | None = None,
    value: object = None,
    expected: str | None = None,
) -> InputError:
    """Shorthand for an :class:`InputError` with a single problem."""
    shown = None if value is None else str(value)
    return InputError(path, [Problem(message, line, column, shown, expected)])

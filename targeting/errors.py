"""Errors raised by the targeting package.

Every error has a stable `code` that the edge maps onto its JSON error contract in one place::

    TargetingError                 code "targeting_error"
    ├── ValidationError            code "invalid_experience"  (.problems: every problem, with a path)
    └── CompileError               code "invalid_site"        (e.g. two experiences share an id)

Sticky tokens never raise: a bad token decodes to no entries (see `sticky.py`).
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec


class Problem(msgspec.Struct, frozen=True):
    """One thing wrong with an input, at a dotted path such as `variations[2].weight`."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class TargetingError(Exception):
    """Base of every error the targeting package raises."""

    code = "targeting_error"


class ValidationError(TargetingError):
    """An experience document is invalid; `problems` lists every problem found, in order."""

    code = "invalid_experience"

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        shown = "; ".join(str(p) for p in self.problems[:5])
        more = len(self.problems) - 5
        super().__init__(shown + (f"; and {more} more" if more > 0 else ""))

    def details(self) -> list[dict[str, str]]:
        """The problems as JSON-ready dicts, for the `details` of a 422 answer."""
        return [{"path": p.path, "message": p.message} for p in self.problems]


class CompileError(TargetingError):
    """A set of experiences cannot form one site (for example a duplicated id)."""

    code = "invalid_site"

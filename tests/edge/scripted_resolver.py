"""A stand-in for the resolver in endpoint tests: answers scripted by `_kx`, every call recorded.

Nothing is ever at hand (`cached` answers None), so every visit goes through `resolve`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edge.resolver.results import Resolution, Unidentified, UnidentifiedReason
from klaviyo.types import ConnectionRef


@dataclass
class ScriptedResolver:
    answers: dict[str, Resolution] = field(default_factory=dict)
    default: Resolution = field(default_factory=lambda: Unidentified(UnidentifiedReason.NOT_FOUND))
    calls: list[tuple[ConnectionRef, str | None, frozenset[str]]] = field(default_factory=list)

    @property
    def asked(self) -> list[str | None]:
        """The `_kx` of every call, in order."""
        return [kx for _, kx, _ in self.calls]

    async def resolve(
        self,
        conn: ConnectionRef,
        kx: str | None,
        targeted: frozenset[str],
        deadline_s: float | None = None,
    ) -> Resolution:
        self.calls.append((conn, kx, targeted))
        return self.answers.get(kx or "", self.default)

    def cached(self, conn: ConnectionRef, kx: str, targeted: frozenset[str]) -> Resolution | None:
        return None

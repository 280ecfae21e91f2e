"""What one resolution (a shared task) found, and how it becomes each caller's `Resolution`."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from edge.resolver.l1 import Kind, Membership
from edge.resolver.results import (
    Identified,
    PendingReason,
    Resolution,
    ResolutionInfo,
    ResolutionPath,
    Source,
    Unidentified,
    UnidentifiedReason,
    WaitedFor,
)
from klaviyo import Refusal


@dataclass(slots=True)
class Outcome:
    entry: Membership | None = None
    source: Source = Source.NONE
    pending: PendingReason | None = None
    retry_after_s: float | None = None
    calls: Counter[str] = field(default_factory=Counter)
    waited_for: WaitedFor | None = None
    path: ResolutionPath | None = None
    detail: str | None = None
    # An L2 write failed: keep the lock until it expires, so that no other process repeats
    # Klaviyo calls whose results it cannot see.
    keep_lock: bool = False

    def answered(self, entry: Membership, source: Source) -> None:
        self.entry, self.source = entry, source
        if entry.stamp is not None:
            self.source, self.path = Source.INDEX, ResolutionPath.INDEX

    def refused(self, refusal: Refusal) -> None:
        self.pending = PendingReason.RATE_LIMITED if refusal.throttled else PendingReason.BUDGET
        self.retry_after_s = refusal.retry_after_s


def usable(entry: Membership, stamp: int | None) -> bool:
    """Whether a cached value may answer now. "No such profile" always may; an index answer only
    under the index's current stamp; a per-visit answer only while the index does not cover the
    targeted segments (when it does, the index is fresher)."""
    return entry.kind is Kind.ABSENT or entry.stamp == stamp


def missing(base: Membership | None, targeted: frozenset[str]) -> frozenset[str]:
    if base is None or base.checked is None:
        return targeted
    return targeted - base.checked


def answer(entry: Membership, targeted: frozenset[str], info: ResolutionInfo) -> Resolution:
    if entry.kind is Kind.ABSENT:
        return Unidentified(UnidentifiedReason.NOT_FOUND, info)
    return Identified(entry.members & targeted, info)

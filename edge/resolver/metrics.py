"""Counters of the resolver, read by /metrics. One object per resolver, never module-level."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass(slots=True)
class ResolverMetrics:
    """Named counters, e.g. `l1_hit`, `l2_hit`, `klaviyo_resolution`, `pending.budget`,
    `background_dropped`, `redis_error`, `lock_wait`, `single_flight_join`."""

    counters: Counter[str] = field(default_factory=Counter)

    def inc(self, name: str, amount: int = 1) -> None:
        self.counters[name] += amount

    def snapshot(self) -> dict[str, int]:
        return dict(self.counters)

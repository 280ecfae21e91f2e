"""The resolver's settings, one frozen value built by the app from its settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from klaviyo import Tier

MAX_SEGMENT_TTL_S = 86400


def _default_fractions() -> Mapping[Tier, float]:
    # Profile lookups by `_kx` are all a visitor costs once its segments are synced (issue 9), so
    # that tier gets 90% (675/min): our sliding windows never exceed Klaviyo's fixed ones, and the
    # rest absorbs latency jitter. The other tiers keep 20% of headroom.
    return MappingProxyType({tier: 0.8 for tier in Tier} | {Tier.PROFILES: 0.9})


@dataclass(frozen=True, slots=True)
class ResolverConfig:
    """Defaults are production values; tests shorten the timings they need to."""

    segment_cache_ttl_s: int = MAX_SEGMENT_TTL_S  # capped at 24 h
    negative_cache_ttl_s: int = 3600
    profile_id_cache_ttl_s: int = 30 * 86400
    resolve_deadline_ms: int = 250
    l1_max_entries: int = 500_000
    profile_id_l1_max_entries: int = 500_000  # in-process `_kx` -> profile id, ~100 B each
    api_base: str = "https://a.klaviyo.com"
    revision: str = "2026-10-15"
    # Share of Klaviyo's published limits (both windows) one account may use, per tier.
    budget_fractions: Mapping[Tier, float] = field(default_factory=_default_fractions)
    # While Redis is down each process spends on its own: this share of the budget. Set it to
    # 1 / (processes in the fleet); embedded mode (no Redis at all) always has the whole budget.
    local_budget_share: float = 0.5
    # Targeted segments (not yet cached) up to which per-segment `_kx` checks beat the 3/s path.
    per_segment_max_segments: int = 3
    filter_refusal_ttl_s: int = 7 * 86400
    background_queue_max: int = 10_000  # resolutions waiting for budget, all accounts
    max_inflight: int = 10_000  # resolutions running at once in this process
    background_deadline_s: float = 5.0  # one resolution, after its callers stopped waiting
    max_attempts: int = 3  # per Klaviyo request, 5xx and timeouts
    request_timeout_s: float = 2.0
    backoff_base_s: float = 0.05
    lock_ttl_ms: int = 10_000
    lock_poll_s: float = 0.02
    redis_timeout_s: float = 0.25
    redis_retry_interval_s: float = 1.0  # how long Redis is skipped once found down
    redis_down_after_s: float = 1.0  # timeouts with no success for this long = down, else busy
    redis_log_interval_s: float = 30.0

    def __post_init__(self) -> None:
        if self.segment_cache_ttl_s <= 0 or self.negative_cache_ttl_s <= 0:
            raise ValueError("cache TTLs must be positive")
        if self.segment_cache_ttl_s > MAX_SEGMENT_TTL_S:
            object.__setattr__(self, "segment_cache_ttl_s", MAX_SEGMENT_TTL_S)
        if self.lock_ttl_ms < self.background_deadline_s * 1000:
            raise ValueError("lock_ttl_ms must outlast background_deadline_s")
        if not all(0 < f <= 1 for f in self.budget_fractions.values()):
            raise ValueError("budget fractions must be in (0, 1]")
        if not 0 < self.local_budget_share <= 1:
            raise ValueError("local_budget_share must be in (0, 1]")
        object.__setattr__(self, "budget_fractions", MappingProxyType(dict(self.budget_fractions)))

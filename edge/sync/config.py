"""The segment sync's settings: one frozen value, production defaults, tests shorten timings."""

from __future__ import annotations

from dataclasses import dataclass

MAX_INDEX_AGE_S = 86_400


@dataclass(frozen=True, slots=True)
class SyncConfig:
    interval_s: float = 3600  # a full re-sync at least this often (`segment_sync_interval_s`)
    max_age_s: float = MAX_INDEX_AGE_S  # an index whose last full sync is older is never used
    max_members: int = 2_000_000  # larger segments are not synced (`segment_sync_max_members`)
    incremental_interval_s: float = 60  # new members (`joined_group_at`) between full syncs
    # An incremental pass asks for members who joined since the previous pass began, less this:
    # room for clock skew and for Klaviyo's segment processing lag (members read twice are
    # harmless). Members who joined earlier but show up later wait for the next full sync.
    overlap_s: float = 300
    page_size: int = 100  # the largest Klaviyo allows for segment members
    # Share of every budget window of the segment-members tier kept for visitors' calls: the
    # sync is refused while less than this is left, so visitors come first.
    reserve_fraction: float = 0.3
    max_concurrent: int = 2  # segment passes running at once per account
    lease_ttl_s: float = 15  # a dead holder's account is taken over within about this long
    tick_s: float = 1.0  # lease renewal, status polling and scheduling cadence
    retry_base_s: float = 10  # after a failed pass: doubling, up to retry_max_s
    retry_max_s: float = 600
    page_attempts: int = 4  # transient failures of one page before its pass fails
    page_retry_base_s: float = 0.5  # backoff between them: doubling
    request_timeout_s: float = 10.0  # one page, retries included
    attempt_timeout_s: float = 5.0  # one HTTP request
    progress_every_pages: int = 20  # how often a running full sync publishes its progress
    # Every worker re-publishes the targets of the sites it serves this often; entries nobody
    # re-published for `targets_expiry_s` (a site gone with its worker) no longer count.
    targets_refresh_s: float = 600
    targets_expiry_s: float = 3600
    redis_timeout_s: float = 0.25  # index lookups on the request path
    redis_write_timeout_s: float = 5.0  # sync writes, commits, status reads

    def __post_init__(self) -> None:
        if self.max_age_s > MAX_INDEX_AGE_S:
            object.__setattr__(self, "max_age_s", float(MAX_INDEX_AGE_S))
        if not 0 < self.interval_s <= self.max_age_s:
            raise ValueError("interval_s must be positive and at most max_age_s (24 h)")
        if self.incremental_interval_s <= 0:
            raise ValueError("incremental_interval_s must be positive")
        if not 1 <= self.page_size <= 100:
            raise ValueError("page_size must be in [1, 100]")
        if not 0 <= self.reserve_fraction < 1:
            raise ValueError("reserve_fraction must be in [0, 1)")
        if self.max_members < 1 or self.max_concurrent < 1 or self.page_attempts < 1:
            raise ValueError("max_members, max_concurrent and page_attempts must be at least 1")
        if self.lease_ttl_s < 3 * self.tick_s:
            raise ValueError("lease_ttl_s must be at least three ticks, or a busy holder loses it")

"""Segment sync (issue 9): a membership index of the segments that live experiences target.

Identifying a visitor then costs one `_kx -> profile id` lookup (75/s, cached 30 days) instead of
the scarce profile-segments call (3/s, 60/min): 10x more new visitors a minute per account.

    segment_sync = build_segment_sync(settings, http=http, tokens=tokens, redis=redis)
    resolver = Resolver(http, tokens, ..., index=segment_sync.index)
    segment_sync.share_budget(resolver.gate)
    await segment_sync.start()

The index is per Klaviyo account, not per connection generation: it holds the account's own
data, shared by every site connected to that account (one lease, one sync per account); a site
reconnected to another account reads that account's index. How the resolver uses it, and why
its answers are never frozen into the 24 h membership cache: `edge/resolver/index.py`.

Modules: `component` (the facade), `account` (one account: lease, schedule, records), `passes`
(full and incremental reads), `local_store` / `redis_store` (the index), `lease`, `targets`,
`records` (state and status), `keys`, `config`.
"""

from edge.sync.component import SegmentSync, SyncedIndex, build_segment_sync, sync_config
from edge.sync.config import SyncConfig
from edge.sync.records import Pass, SegmentRecord, SegmentState

__all__ = [
    "Pass",
    "SegmentRecord",
    "SegmentState",
    "SegmentSync",
    "SyncConfig",
    "SyncedIndex",
    "build_segment_sync",
    "sync_config",
]

"""What the sync knows about each segment: one record per (account, segment), shared by the fleet
through Redis (or kept in the process), and the status view the configuration API shows."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import msgspec

from edge.sync.config import SyncConfig


class SegmentState(StrEnum):
    NOT_SYNCED = "not_synced"  # targeted, no index yet (waiting for the lease or the budget)
    SYNCING = "syncing"  # the first full sync is running; visitors are resolved per visit
    FRESH = "fresh"  # the index answers for this segment
    STALE = "stale"  # the last full sync is older than 24 h: per-visit resolution again
    TOO_LARGE = "too_large"  # more than `max_members`: not synced, resolved per visit
    ERROR = "error"  # the last full sync failed and there is no usable index (e.g. deleted)


class Pass(StrEnum):
    FULL = "full"
    INCREMENTAL = "incremental"


class SegmentRecord(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Times are epoch seconds of the syncer's wall clock; `*_at` of a pass is when it began,
    so the index holds every member who joined before then."""

    state: SegmentState = SegmentState.NOT_SYNCED  # stored states: all but STALE (derived)
    members: int = 0
    full_at: float | None = None
    incremental_at: float | None = None
    watermark: float | None = None  # the next incremental asks for members who joined after it
    data_version: int = 0  # grows when the index's contents change
    running: Pass | None = None
    progress: int = 0  # members read so far by the running pass
    error: str | None = None
    error_at: float | None = None
    failures: int = 0  # consecutive failed passes
    retry_at: float | None = None  # no pass before then (backoff, too large, deleted)

    def usable(self, now: float, max_age_s: float) -> bool:
        """Whether the index may answer for this segment now."""
        return (
            self.state is SegmentState.FRESH and self.full_at is not None and now - self.full_at < max_age_s
        )

    def due(self, now: float, config: SyncConfig) -> Pass | None:
        """The pass this segment needs now, if any."""
        if self.retry_at is not None and now < self.retry_at:
            return None
        if self.state is not SegmentState.FRESH or self.full_at is None:
            return Pass.FULL
        if now - self.full_at >= config.interval_s:
            return Pass.FULL
        last = max(self.full_at, self.incremental_at or 0.0)
        return Pass.INCREMENTAL if now - last >= config.incremental_interval_s else None


encode_record = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(SegmentRecord).decode


def decode_record(raw: bytes | str) -> SegmentRecord | None:
    try:
        return _decode(raw)
    except msgspec.DecodeError:
        return None  # written by another version: as if never synced


def _iso(at: float | None) -> str | None:
    return None if at is None else datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")


REMOVALS_NOTE = (
    "New members are added every incremental pass (joined_group_at); members who leave the "
    "segment stay in the index until the next full sync (next_full_sync_at)."
)


def status_view(
    segment_id: str, record: SegmentRecord | None, now: float, config: SyncConfig
) -> dict[str, Any]:
    """One segment's sync status for `GET /v1/sites/{site_id}/klaviyo`."""
    rec = record or SegmentRecord()
    usable = rec.usable(now, config.max_age_s)
    state = rec.state
    if state is SegmentState.FRESH and not usable:
        state = SegmentState.STALE
    elif not usable and rec.running is Pass.FULL and state is not SegmentState.TOO_LARGE:
        state = SegmentState.SYNCING
    next_full = None
    if rec.full_at is not None:
        next_full = rec.full_at + config.interval_s
    if rec.retry_at is not None and (next_full is None or rec.retry_at > next_full or not usable):
        next_full = rec.retry_at
    running = None
    if rec.running is not None:
        running = {"pass": str(rec.running), "members_read": rec.progress}
    return {
        "segment_id": segment_id,
        "state": str(state),
        "used_for_visitors": usable,
        "members": rec.members,
        "max_members": config.max_members,
        "last_full_sync_at": _iso(rec.full_at),
        "last_incremental_sync_at": _iso(rec.incremental_at),
        "next_full_sync_at": _iso(next_full),
        "in_progress": running,
        "last_error": rec.error,
        "last_error_at": _iso(rec.error_at),
        "note": REMOVALS_NOTE,
    }

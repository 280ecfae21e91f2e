"""What a segment needs next, and how its status reads, for every state (no I/O)."""

from __future__ import annotations

import pytest

from edge.sync import Pass, SegmentRecord, SegmentState, SyncConfig
from edge.sync.records import decode_record, encode_record, status_view

T = 1_900_000_000.0
CFG = SyncConfig()
FRESH = SegmentRecord(state=SegmentState.FRESH, members=5, full_at=T, incremental_at=T, watermark=T - 300)


@pytest.mark.parametrize(
    ("record", "now", "due"),
    [
        (SegmentRecord(), T, Pass.FULL),  # never synced: at once
        (FRESH, T + 59, None),
        (FRESH, T + 60, Pass.INCREMENTAL),
        (FRESH, T + 3600, Pass.FULL),
        (SegmentRecord(state=SegmentState.FRESH, full_at=T, incremental_at=T + 120), T + 150, None),
        (SegmentRecord(state=SegmentState.ERROR, retry_at=T + 10), T + 9, None),  # backing off
        (SegmentRecord(state=SegmentState.ERROR, retry_at=T + 10), T + 10, Pass.FULL),
        (SegmentRecord(state=SegmentState.TOO_LARGE, retry_at=T + 86400), T + 3600, None),
    ],
)
def test_what_is_due(record: SegmentRecord, now: float, due: Pass | None) -> None:
    assert record.due(now, CFG) is due


@pytest.mark.parametrize(
    ("record", "now", "state", "used"),
    [
        (None, T, "not_synced", False),
        (SegmentRecord(running=Pass.FULL, progress=300), T, "syncing", False),
        (FRESH, T + 100, "fresh", True),
        (SegmentRecord(state=SegmentState.FRESH, full_at=T, running=Pass.FULL), T + 3700, "fresh", True),
        (FRESH, T + 86400, "stale", False),
        (SegmentRecord(state=SegmentState.TOO_LARGE, members=2_000_001), T, "too_large", False),
        (SegmentRecord(state=SegmentState.ERROR, error="segment_not_found: gone"), T, "error", False),
    ],
)
def test_status_states(record: SegmentRecord | None, now: float, state: str, used: bool) -> None:
    view = status_view("S1", record, now, CFG)
    assert (view["state"], view["used_for_visitors"]) == (state, used)
    assert view["segment_id"] == "S1" and "next full sync" in view["note"]


def test_a_fresh_status_in_full() -> None:
    view = status_view("S1", FRESH, T + 100, CFG)
    assert view == {
        "segment_id": "S1",
        "state": "fresh",
        "used_for_visitors": True,
        "members": 5,
        "max_members": 2_000_000,
        "last_full_sync_at": "2030-03-17T17:46:40+00:00",
        "last_incremental_sync_at": "2030-03-17T17:46:40+00:00",
        "next_full_sync_at": "2030-03-17T18:46:40+00:00",
        "in_progress": None,
        "last_error": None,
        "last_error_at": None,
        "note": view["note"],
    }


def test_records_round_trip_and_unreadable_ones_are_ignored() -> None:
    record = SegmentRecord(state=SegmentState.FRESH, members=3, full_at=T, running=Pass.INCREMENTAL)
    assert decode_record(encode_record(record)) == record
    assert decode_record(b"not json") is None


def test_the_config_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="interval_s"):
        SyncConfig(interval_s=90_000)
    with pytest.raises(ValueError, match="page_size"):
        SyncConfig(page_size=101)
    with pytest.raises(ValueError, match="lease_ttl_s"):
        SyncConfig(lease_ttl_s=1, tick_s=1)
    assert SyncConfig(max_age_s=100_000).max_age_s == 86_400

"""The in-process `_kx` -> profile id cache: long TTL, scoped, bounded, compact."""

from __future__ import annotations

import sys
import tracemalloc

from edge.resolver.pids import ProfileIdCache
from tests.edge.resolver.conftest import ManualClock

ULID = "01ARYZ6S41TSV4RRFFQ69G5FAV"


def test_kept_for_its_ttl_and_scoped_to_the_connection() -> None:
    clock = ManualClock()
    cache = ProfileIdCache(10, clock)
    cache.put("A", 1, "kx1", ULID, 30 * 86400)
    cache.put("A", 1, "kx2", "not-a-ulid", 60)
    assert cache.get("A", 1, "kx1") == ULID and cache.get("A", 1, "kx2") == "not-a-ulid"
    assert cache.get("A", 2, "kx1") is None and cache.get("B", 1, "kx1") is None
    clock.now += 61
    assert cache.get("A", 1, "kx2") is None and len(cache) == 1
    clock.now += 30 * 86400
    assert cache.get("A", 1, "kx1") is None


def test_bounded_oldest_first_and_forgotten_on_disconnect() -> None:
    cache = ProfileIdCache(1000, ManualClock())
    for i in range(1500):
        cache.put("A" if i % 2 else "B", 1, f"kx{i}", ULID, 3600)
    assert len(cache) <= 1000
    assert cache.get("B", 1, "kx0") is None and cache.get("A", 1, "kx1499") == ULID
    cache.forget("A", 1, "kx1499")
    assert cache.get("A", 1, "kx1499") is None
    dropped = cache.forget_account("A")
    assert dropped > 0 and all(cache.get("A", 1, f"kx{i}") is None for i in range(1500))
    assert cache.get("B", 1, "kx1498") == ULID


def test_about_a_hundred_bytes_per_visitor() -> None:
    cache = ProfileIdCache(100_000, ManualClock())
    keys = [f"ABCDEFGHIJKLMNOP{i:06d}==.UHFmv9" for i in range(20_000)]  # the kx strings exist anyway
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i, kx in enumerate(keys):
        cache.put("ACCOUNT1", 3, kx, f"01ARYZ6S41TSV4RRFF{i:08d}", 86400)
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    per_entry = used / len(keys)
    assert per_entry < 120, per_entry
    assert sys.getsizeof(next(iter(cache._data.values()))) < 80

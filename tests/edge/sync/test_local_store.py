"""The in-process index: ULIDs packed to 16 bytes in a sorted array, everything else beside it."""

from __future__ import annotations

import random

from edge.sync.local_store import LocalStore, PackedMembers
from sandbox.directory import new_profile_id


def test_membership_by_bisection() -> None:
    members = [new_profile_id() for _ in range(5000)]
    outsiders = [new_profile_id() for _ in range(500)]
    packed = PackedMembers.build([*members, *members[:10], "legacy-id"])  # duplicates collapse
    assert len(packed) == 5001
    assert all(m in packed for m in random.Random(1).sample(members, 500))
    assert "legacy-id" in packed
    assert not any(o in packed for o in outsiders)
    assert 1 not in packed


def test_incremental_additions_and_their_count() -> None:
    base = [new_profile_id() for _ in range(100)]
    packed = PackedMembers.build(base)
    newcomer = new_profile_id()
    assert packed.add([base[0], newcomer, newcomer]) == 1
    assert newcomer in packed and len(packed) == 101


def test_about_sixteen_bytes_per_member() -> None:
    packed = PackedMembers.build(new_profile_id() for _ in range(20_000))
    assert packed.nbytes / 20_000 < 17


async def test_a_full_write_swaps_in_whole_or_not_at_all() -> None:
    store = LocalStore()
    old = [new_profile_id() for _ in range(3)]
    write = store.begin_full("A", "S", None)
    await write.add(old)
    assert await write.commit() == 3
    new = [new_profile_id() for _ in range(2)]
    write = store.begin_full("A", "S", None)
    await write.add(new)
    assert await store.members("A", frozenset({"S"}), old[0]) == frozenset({"S"})  # not yet
    await write.abort()
    assert await write.commit() is None
    assert await store.members("A", frozenset({"S"}), new[0]) == frozenset()
    assert await store.members("A", frozenset({"S", "T"}), old[0]) is None  # T is not synced

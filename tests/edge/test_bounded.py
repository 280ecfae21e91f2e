"""`BoundedMap`: never more than its maximum, oldest inserted first out, a batch at a time."""

from __future__ import annotations

import pytest

from edge.bounded import BoundedMap


def test_a_full_map_drops_its_oldest_batch_to_make_room() -> None:
    table: BoundedMap[int, str] = BoundedMap(10, batch=3)
    for n in range(10):
        table.put(n, str(n))
    table.put(10, "10")
    assert list(table) == [3, 4, 5, 6, 7, 8, 9, 10] and table.evicted == 3
    for n in range(11, 1000):
        table.put(n, str(n))
        assert len(table) <= 10
    assert table.get(999) == "999" and table.get(0) is None


def test_overwriting_keeps_the_place_unless_refreshed() -> None:
    table: BoundedMap[str, int] = BoundedMap(3, batch=1)
    for key in "abc":
        table.put(key, 1)
    table.put("a", 2)
    table.put("d", 1)  # "a" is still the oldest
    assert list(table) == ["b", "c", "d"]
    table.put("b", 2, refresh=True)
    table.put("e", 1)
    assert list(table) == ["d", "b", "e"]


def test_pop_items_and_clear() -> None:
    table: BoundedMap[str, int] = BoundedMap(5)
    table.put("a", 1)
    table.put("b", 2)
    assert table.pop("a") == 1 and table.pop("a") is None
    assert list(table.items()) == [("b", 2)] and list(table.values()) == [2] and "b" in table
    table.clear()
    assert len(table) == 0


def test_a_map_holds_at_least_one_entry() -> None:
    with pytest.raises(ValueError):
        BoundedMap(0)

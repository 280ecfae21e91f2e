"""`BoundedMap`: the one bounded in-process table of the hot path (see docs/memory.md).

A dict with a maximum size. Python dicts keep insertion order, so the oldest inserted entries
are the first ones iterated: when the map is full, `put` drops the oldest `batch` of them in one
pass (a batch, so that a full map scans its head once per `batch` inserts, not on every one).
Overwriting a key keeps its place in that order; `put(..., refresh=True)` moves it to the end.

Not an LRU: a hit costs one dict lookup and changes nothing, which is what the storefront's hot
path wants (cachetools' LRU/TTL caches cost several times more per hit, and the callers keep
their own expiry in the values). Reads are plain dict reads (`get`, `in`), so a caller in a hot
loop may bind `table.get` once. Not thread-safe: each map is used from the event loop's thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class BoundedMap(Generic[K, V]):
    __slots__ = ("_batch", "_data", "evicted", "get", "max_entries")

    def __init__(self, max_entries: int, *, batch: int | None = None) -> None:
        """`batch`: entries dropped at once when full (default: 1% of `max_entries`, at least 1)."""
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self._batch = max(1, min(max_entries, batch if batch is not None else max_entries // 100))
        self._data: dict[K, V] = {}
        self.get = self._data.get
        self.evicted = 0  # entries dropped to make room, since the map was made

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[K]:
        return iter(self._data)

    def put(self, key: K, value: V, *, refresh: bool = False) -> None:
        data = self._data
        if key in data:
            if refresh:
                del data[key]
            data[key] = value
            return
        if len(data) >= self.max_entries:
            for stale in list(islice(data, self._batch)):
                del data[stale]
            self.evicted += self._batch
        data[key] = value

    def pop(self, key: K) -> V | None:
        return self._data.pop(key, None)

    def items(self) -> Iterator[tuple[K, V]]:
        """A snapshot: the map may change while it is iterated."""
        return iter(list(self._data.items()))

    def values(self) -> Iterator[V]:
        return iter(list(self._data.values()))

    def clear(self) -> None:
        self._data.clear()

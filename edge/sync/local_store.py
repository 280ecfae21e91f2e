"""The in-process index (embedded mode, no Redis): about 16 bytes per member.

A segment's members are ULIDs packed to 16 bytes each, sorted, in one `bytes` value searched by
bisection (about 21 probes for 2 million members, a few microseconds). Ids that are not ULIDs,
and members added by incremental passes, sit in a small set of strings beside it until the next
full sync rebuilds the array. A full sync collects the packed ids of every page, then sorts them
once: while it runs it holds about 60 bytes per member it has read, freed when it swaps in.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

from edge.sync.records import SegmentRecord
from klaviyo.ids import ULID_BYTES, ulid_bytes

_W = ULID_BYTES


def _search(blob: bytes, key: bytes) -> bool:
    lo, hi = 0, len(blob) // _W
    while lo < hi:
        mid = (lo + hi) >> 1
        at = mid * _W
        probe = blob[at : at + _W]
        if probe < key:
            lo = mid + 1
        elif probe > key:
            hi = mid
        else:
            return True
    return False


class PackedMembers:
    """One segment's member ids, compact and read-mostly."""

    __slots__ = ("_blob", "_extra")

    def __init__(self, blob: bytes = b"", extra: Iterable[str] = ()) -> None:
        self._blob = blob
        self._extra = set(extra)

    def __contains__(self, profile_id: object) -> bool:
        if not isinstance(profile_id, str):
            return False
        key = ulid_bytes(profile_id)
        if key is not None and _search(self._blob, key):
            return True
        return profile_id in self._extra

    def __len__(self) -> int:
        return len(self._blob) // _W + len(self._extra)

    def add(self, profile_ids: Iterable[str]) -> int:
        """Add members (an incremental pass); the number that were new."""
        added = 0
        for profile_id in profile_ids:
            if profile_id not in self:
                self._extra.add(profile_id)
                added += 1
        return added

    @property
    def nbytes(self) -> int:
        """Memory held: the array, the set and its strings, and this object."""
        extra = sys.getsizeof(self._extra) + sum(sys.getsizeof(s) for s in self._extra)
        return sys.getsizeof(self._blob) + extra + sys.getsizeof(self)

    @classmethod
    def build(cls, profile_ids: Iterable[str]) -> PackedMembers:
        builder = _Builder()
        builder.add(profile_ids)
        return builder.finish()


class _Builder:
    def __init__(self) -> None:
        self._keys: list[bytes] = []
        self._other: set[str] = set()

    def add(self, profile_ids: Iterable[str]) -> None:
        for profile_id in profile_ids:
            key = ulid_bytes(profile_id)
            if key is None:
                self._other.add(profile_id)
            else:
                self._keys.append(key)

    def finish(self) -> PackedMembers:
        keys = sorted(set(self._keys))
        self._keys = []
        return PackedMembers(b"".join(keys), self._other)


class LocalFullWrite:
    """A full sync being read into a new array; `commit` swaps it in."""

    def __init__(self, store: LocalStore, account_id: str, segment_id: str) -> None:
        self._store = store
        self._key = (account_id, segment_id)
        self._builder: _Builder | None = _Builder()

    async def add(self, profile_ids: list[str]) -> None:
        if self._builder is not None:
            self._builder.add(profile_ids)

    async def commit(self) -> int | None:
        """Swap the new members in; their count (None if the write was given up)."""
        if self._builder is None:
            return None
        packed = self._builder.finish()
        self._builder = None
        self._store.segments[self._key] = packed
        return len(packed)

    async def abort(self) -> None:
        self._builder = None


class LocalStore:
    """Indexes and records of every account synced by this process."""

    def __init__(self) -> None:
        self.segments: dict[tuple[str, str], PackedMembers] = {}
        self._records: dict[str, dict[str, SegmentRecord]] = {}

    def begin_full(self, account_id: str, segment_id: str, fence: str | None) -> LocalFullWrite:
        return LocalFullWrite(self, account_id, segment_id)

    async def add(self, account_id: str, segment_id: str, profile_ids: list[str]) -> int:
        packed = self.segments.setdefault((account_id, segment_id), PackedMembers())
        return packed.add(profile_ids)

    async def drop(self, account_id: str, segment_id: str, fence: str | None, *, forget: bool) -> bool:
        """Free a segment's index; with `forget`, its record too (no longer targeted)."""
        self.segments.pop((account_id, segment_id), None)
        if forget:
            records = self._records.get(account_id, {})
            records.pop(segment_id, None)
            if not records:
                self._records.pop(account_id, None)
        return True

    async def members(
        self, account_id: str, segment_ids: frozenset[str], profile_id: str
    ) -> frozenset[str] | None:
        found = []
        for segment_id in segment_ids:
            packed = self.segments.get((account_id, segment_id))
            if packed is None:
                return None
            if profile_id in packed:
                found.append(segment_id)
        return frozenset(found)

    async def write_record(
        self, account_id: str, segment_id: str, record: SegmentRecord, fence: str | None
    ) -> bool:
        self._records.setdefault(account_id, {})[segment_id] = record
        return True

    async def read_records(self, account_id: str) -> dict[str, SegmentRecord]:
        return dict(self._records.get(account_id, {}))

    async def index_bytes(self, account_id: str, segment_id: str) -> int | None:
        packed = self.segments.get((account_id, segment_id))
        return None if packed is None else packed.nbytes

"""The in-process cache (L1): about 155 bytes per cached visitor, its `_kx` string included.

cachetools.TTLCache costs ~400 B per visitor here even with shared segment sets (measured with
tracemalloc by bench/resolver.py: it keeps a link object, an OrderedDict node, a float and a key
tuple per entry), over the 200 B goal. This one keeps one dict slot per
visitor, keyed by the `_kx` string alone; everything else lives in a shared `Membership` value:
its scope (account, generation), its interned segment set and its expiry, rounded down to the
second (to the minute for long TTLs) so that visitors cached at about the same time share one
object. A value of another scope is a miss, so a reconnect never serves old membership.

A value answered from the synced membership index carries the index's `stamp`: it is a memo of
the index, valid only while the index still answers with that stamp (the resolver checks), so a
sync that lands replaces it at once instead of 24 h later.

Eviction is oldest-inserted first, in batches (`edge.bounded.BoundedMap`).
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Iterable
from enum import IntEnum

from edge.bounded import BoundedMap


class Kind(IntEnum):
    ABSENT = 0  # no profile has this `_kx`
    FULL = 1  # `members` is every segment of the profile
    PARTIAL = 2  # only the segments in `checked` are known; `members` are those it is in


class Membership:
    """One cached answer, shared by every visitor of the same scope, answer and expiry."""

    __slots__ = (
        "__weakref__",
        "account_id",
        "checked",
        "expires",
        "generation",
        "kind",
        "members",
        "stamp",
    )

    def __init__(
        self,
        account_id: str,
        generation: int,
        kind: Kind,
        members: frozenset[str],
        checked: frozenset[str] | None,
        expires: float,
        stamp: int | None = None,
    ) -> None:
        self.account_id = account_id
        self.generation = generation
        self.kind = kind
        self.members = members
        self.checked = checked
        self.expires = expires
        self.stamp = stamp  # None: per-visit answer; else the index stamp it was read under

    def answers(self, targeted: frozenset[str]) -> bool:
        """Whether this entry knows membership of every segment in `targeted`."""
        return self.checked is None or targeted <= self.checked

    def __repr__(self) -> str:
        return (
            f"Membership({self.kind.name}, members={sorted(self.members)}, "
            f"checked={None if self.checked is None else sorted(self.checked)}, "
            f"expires={self.expires:.0f}{'' if self.stamp is None else f', stamp={self.stamp}'})"
        )


class Interner:
    """Canonical segment ids, segment sets and `Membership` values.

    Values are held weakly (they vanish with their last cache entry); the id and set tables are
    cleared when they outgrow `max_sets`, which only stops sharing for what is stored later.
    """

    def __init__(self, max_sets: int = 100_000) -> None:
        self._max_sets = max_sets
        self._ids: dict[str, str] = {}
        self._sets: dict[frozenset[str], frozenset[str]] = {}
        self._values: weakref.WeakValueDictionary[tuple[object, ...], Membership] = (
            weakref.WeakValueDictionary()
        )

    def segment_set(self, ids: Iterable[str]) -> frozenset[str]:
        if len(self._sets) > self._max_sets:
            self._sets.clear()
            self._ids.clear()
        ids_table = self._ids
        fresh = frozenset(ids_table.setdefault(i, i) for i in ids)
        return self._sets.setdefault(fresh, fresh)

    def membership(
        self,
        account_id: str,
        generation: int,
        kind: Kind,
        members: Iterable[str],
        checked: Iterable[str] | None,
        expires: float,
        now: float,
        stamp: int | None = None,
    ) -> Membership:
        """The shared value for this answer, its expiry rounded down (never later than asked)."""
        grain = 60.0 if expires - now >= 3600 else 1.0
        expires = math.floor(expires / grain) * grain
        member_set = self.segment_set(members)
        checked_set = None if checked is None else self.segment_set(checked)
        key = (account_id, generation, kind, member_set, checked_set, expires, stamp)
        value = self._values.get(key)
        if value is None:
            value = Membership(account_id, generation, kind, member_set, checked_set, expires, stamp)
            self._values[key] = value
        return value


class L1Cache:
    """Bounded `_kx` -> `Membership`; expired and foreign-scope values read as misses."""

    def __init__(self, max_entries: int, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._data: BoundedMap[str, Membership] = BoundedMap(
            max(1, max_entries), batch=max(1, max_entries // 1000)
        )

    def __len__(self) -> int:
        return len(self._data)

    def get(self, account_id: str, generation: int, kx: str) -> Membership | None:
        value = self._data.get(kx)
        if value is None or value.generation != generation or value.account_id != account_id:
            return None
        if value.expires <= self._clock():
            self._data.pop(kx)
            return None
        return value

    def put(self, kx: str, value: Membership) -> None:
        self._data.put(kx, value, refresh=True)

    def forget_account(self, account_id: str) -> int:
        """Drop every entry of an account (disconnect); a full scan, so for rare events only."""
        doomed = [kx for kx, value in self._data.items() if value.account_id == account_id]
        for kx in doomed:
            self._data.pop(kx)
        return len(doomed)

"""`_kx` -> profile id in the process: long-lived, bounded, compact; in front of L2's copy.

The mapping is stable (docs/KLAVIYO.md), so it is kept for `profile_id_cache_ttl_s` (30 days by
default), much longer than membership: a visitor whose targeted segments are synced then costs no
Klaviyo call and no Redis read on later visits, and a retry after a refused segments call skips
the profile lookup, with or without Redis. Each entry is one bytes value under the `_kx` key
(scope slot, generation, expiry, the id packed to 16 bytes when it is a ULID): about 55 bytes
plus the dict slot. A value of another scope is a miss. Eviction is oldest-inserted first, in
batches (`edge.bounded.BoundedMap`), as in L1.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from edge.bounded import BoundedMap
from klaviyo.ids import pack_profile_id, unpack_profile_id

_HEAD = struct.Struct("<IId")  # account slot, generation, expiry


class ProfileIdCache:
    def __init__(self, max_entries: int, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._data: BoundedMap[str, bytes] = BoundedMap(
            max(1, max_entries), batch=max(1, max_entries // 1000)
        )
        self._slots: dict[str, int] = {}  # account id -> slot; accounts are few
        self._accounts: list[str] = []

    def __len__(self) -> int:
        return len(self._data)

    def get(self, account_id: str, generation: int, kx: str) -> str | None:
        raw = self._data.get(kx)
        if raw is None:
            return None
        slot, gen, expires = _HEAD.unpack_from(raw)
        if gen != generation or self._accounts[slot] != account_id:
            return None
        if expires <= self._clock():
            self._data.pop(kx)
            return None
        return unpack_profile_id(raw[_HEAD.size :])

    def put(self, account_id: str, generation: int, kx: str, profile_id: str, ttl_s: float) -> None:
        slot = self._slots.get(account_id)
        if slot is None:
            slot = self._slots[account_id] = len(self._accounts)
            self._accounts.append(account_id)
        expires = self._clock() + ttl_s
        self._data.put(
            kx, _HEAD.pack(slot, generation & 0xFFFFFFFF, expires) + pack_profile_id(profile_id), refresh=True
        )

    def forget(self, account_id: str, generation: int, kx: str) -> None:
        if self.get(account_id, generation, kx) is not None:
            self._data.pop(kx)

    def forget_account(self, account_id: str) -> int:
        """Drop every entry of an account (disconnect); a full scan, for rare events only."""
        slot = self._slots.get(account_id)
        if slot is None:
            return 0
        doomed = [kx for kx, raw in self._data.items() if _HEAD.unpack_from(raw)[0] == slot]
        for kx in doomed:
            self._data.pop(kx)
        return len(doomed)

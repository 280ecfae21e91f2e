"""The seam for the synced membership index (issue 9): membership by profile id, no Klaviyo call.

How the resolver uses it: when `stamp(account, targeted)` is not None (every targeted segment is
synced and fresh), a visitor needs only its profile id (cached for `profile_id_cache_ttl_s`) and
`members()` answers. Index answers never go to L2 nor into the 24 h membership cache: L1 keeps
them as a memo carrying the stamp, valid only while `stamp()` still returns it, so a sync that
lands (the stamp changes) or an index that turns stale (the stamp becomes None) takes effect on
the visitor's next request. While the index covers the targeted segments it wins over per-visit
answers cached earlier. `stamp()` runs on every request: it must never do I/O.
"""

from __future__ import annotations

from typing import Protocol


class MembershipIndex(Protocol):
    @property
    def enabled(self) -> bool:
        """False lets the resolver skip the index entirely."""
        ...

    def stamp(self, account_id: str, segment_ids: frozenset[str]) -> int | None:
        """Not None while every one of `segment_ids` is synced and fresh; it changes whenever a
        sync that changed the account's index lands."""
        ...

    async def members(
        self, account_id: str, segment_ids: frozenset[str], profile_id: str
    ) -> frozenset[str] | None:
        """Which of `segment_ids` the profile is in; None when the index cannot say now."""
        ...


class NoMembershipIndex:
    """No segment is synced."""

    @property
    def enabled(self) -> bool:
        return False

    def stamp(self, account_id: str, segment_ids: frozenset[str]) -> int | None:
        return None

    async def members(
        self, account_id: str, segment_ids: frozenset[str], profile_id: str
    ) -> frozenset[str] | None:
        return None

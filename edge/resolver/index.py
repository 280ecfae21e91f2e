"""The seam for the synced membership index (issue 9): membership by profile id, no Klaviyo call.

The resolver consults it for each targeted segment once the profile id is known; `None` means the
segment is not synced (or its sync is stale) and per-visit resolution answers instead.
"""

from __future__ import annotations

from typing import Protocol


class MembershipIndex(Protocol):
    @property
    def enabled(self) -> bool:
        """False lets the resolver skip the index entirely."""
        ...

    async def lookup(
        self, account_id: str, generation: int, segment_id: str, profile_id: str
    ) -> bool | None: ...


class NoMembershipIndex:
    """No segment is synced yet."""

    @property
    def enabled(self) -> bool:
        return False

    async def lookup(self, account_id: str, generation: int, segment_id: str, profile_id: str) -> bool | None:
        return None

"""The small shared vocabulary of the Klaviyo client: connections, tiers, and the seams it calls.

`TokenSource` is implemented by `oauth/` and `RateGate` by the resolver's fleet-wide budget; the
client knows only these protocols.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ConnectionRef:
    """One site's Klaviyo connection: tokens are per site, budgets and caches per account.

    `generation` changes on every reconnect, so nothing cached under an older connection is served.
    """

    site_id: str
    account_id: str
    generation: int


class TokenSource(Protocol):
    """Access tokens for a site's connection (implemented by `oauth/`). Any exception = no token."""

    async def access_token(self, site_id: str) -> str: ...

    async def refresh_after_unauthorized(self, site_id: str, rejected: str) -> str: ...


class Tier(StrEnum):
    """Klaviyo's rate-limit tiers for the endpoints kx-edge calls, named after the endpoint."""

    ACCOUNTS = "accounts"  # GET /api/accounts
    PROFILES = "profiles"  # GET /api/profiles?filter=equals(_kx,...)
    PROFILE_SEGMENTS = "profile_segments"  # GET /api/profiles/{id}/relationships/segments
    SEGMENT_MEMBERS = "segment_members"  # GET /api/segments/{id}/relationships/profiles
    SEGMENTS = "segments"  # GET /api/segments
    EVENTS = "events"  # POST /api/events (the event triggers' sender)
    BULK_EVENTS = "bulk_events"  # POST /api/event-bulk-create-jobs


@dataclass(frozen=True, slots=True)
class TierLimit:
    """Klaviyo's two fixed windows per account: burst (1 s) and steady (60 s)."""

    per_second: int
    per_minute: int

    def scaled(self, fraction: float) -> TierLimit:
        """A limit `fraction` of this one, rounded down but never below one call."""
        return TierLimit(max(1, int(self.per_second * fraction)), max(1, int(self.per_minute * fraction)))


# Klaviyo's published limits per account (docs/KLAVIYO.md), the one table every budget of kx-edge is cut from
# (the sandbox keeps its own copy on purpose: a fake that read ours could never catch a mistake
# in it; a test holds the two equal). Segment members says 700-750/min: take the lower figure.
KLAVIYO_LIMITS: Mapping[Tier, TierLimit] = MappingProxyType(
    {
        Tier.ACCOUNTS: TierLimit(1, 15),
        Tier.PROFILES: TierLimit(75, 750),
        Tier.PROFILE_SEGMENTS: TierLimit(3, 60),
        Tier.SEGMENT_MEMBERS: TierLimit(75, 700),
        Tier.SEGMENTS: TierLimit(75, 750),
        Tier.EVENTS: TierLimit(350, 3500),
        Tier.BULK_EVENTS: TierLimit(10, 150),
    }
)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a call may not go out now, and after how long it may."""

    retry_after_s: float
    throttled: bool  # True: Klaviyo's Retry-After; False: our own budget


class RateGate(Protocol):
    """Admission for every HTTP request the client sends, per account and tier."""

    async def take(self, account_key: str, tier: Tier) -> Refusal | None:
        """Take one call from the budget, or say why not (None = go)."""
        ...

    async def block(self, account_key: str, seconds: float) -> None:
        """Klaviyo answered 429: no call for this account until `seconds` have passed."""
        ...


class ReservingGate(RateGate, Protocol):
    """A `RateGate` that can also admit background work only while `reserve` (a fraction) of
    each window of the tier is left over, so that the calls visitors need always find room."""

    async def take(self, account_key: str, tier: Tier, *, reserve: float = 0.0) -> Refusal | None: ...

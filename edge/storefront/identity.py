"""From the `kx` a request carries to the `Identity` the decision uses.

Shared by the storefront and `explain`, so both see the same identity for the same visitor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from edge.resolver.kx import parse_kx
from edge.resolver.results import Identified, Pending, Resolution, Unidentified
from edge.sites.runtime import SiteRuntime
from klaviyo.types import ConnectionRef
from targeting import PENDING, UNIDENTIFIED, Identity

DEFAULT_RETRY_AFTER_MS = 1000


class SegmentResolver(Protocol):
    async def resolve(
        self, conn: ConnectionRef, kx: str | None, targeted: frozenset[str], deadline_s: float | None = None
    ) -> Resolution: ...

    def cached(self, conn: ConnectionRef, kx: str, targeted: frozenset[str]) -> Resolution | None:
        """The answer when it is at hand without I/O, else None."""
        ...


@dataclass(slots=True)
class VisitorIdentity:
    identity: Identity
    kx: str | None
    warnings: list[str] = field(default_factory=list)
    retry_after_ms: int | None = None
    resolution: Resolution | None = None
    not_resolved_because: str | None = None


def identify_cached(
    runtime: SiteRuntime, raw_kx: str | None, resolver: SegmentResolver | None
) -> VisitorIdentity | None:
    """`identify` when it needs no I/O (no kx, nothing to resolve, or a cached answer), else
    None. For the storefront's hot path: no coroutine, and no cache age in the resolution."""
    early = _without_resolving(runtime, raw_kx, resolver)
    if isinstance(early, VisitorIdentity):
        return early
    conn, kx = early
    assert resolver is not None
    resolution = resolver.cached(conn, kx, runtime.compiled.targeted_segments)
    return None if resolution is None else _resolved(kx, resolution)


def unresolved_crawler(raw_kx: str | None) -> VisitorIdentity:
    """A crawler's identity: its `kx` is never looked up. A crawler gets every control whatever
    its segments, and a link checker replaying email links must not spend the account's Klaviyo
    rate limits."""
    return VisitorIdentity(UNIDENTIFIED, parse_kx(raw_kx) if raw_kx else None, [], None, None, "bot")


async def identify(
    runtime: SiteRuntime,
    raw_kx: str | None,
    resolver: SegmentResolver | None,
    *,
    deadline_s: float | None = None,
) -> VisitorIdentity:
    """Resolve a visitor's identity for `runtime`'s live experiences.

    A malformed `kx` is treated as absent (warning `kx_malformed`) and never reaches Klaviyo.
    Nothing is resolved when no live experience needs a segment, or the site is not connected.
    """
    early = _without_resolving(runtime, raw_kx, resolver)
    if isinstance(early, VisitorIdentity):
        return early
    conn, kx = early
    assert resolver is not None
    return _resolved(kx, await resolver.resolve(conn, kx, runtime.compiled.targeted_segments, deadline_s))


def _without_resolving(
    runtime: SiteRuntime, raw_kx: str | None, resolver: SegmentResolver | None
) -> VisitorIdentity | tuple[ConnectionRef, str]:
    """The identity when nothing needs resolving, else what to resolve it with."""
    if not raw_kx:
        return VisitorIdentity(UNIDENTIFIED, None, [], None, None, "no_kx")
    kx = parse_kx(raw_kx)
    if kx is None:
        return VisitorIdentity(UNIDENTIFIED, None, ["kx_malformed"], None, None, "kx_malformed")
    if not runtime.compiled.needs_identity:
        return VisitorIdentity(UNIDENTIFIED, kx, [], None, None, "nothing_targeted")
    conn = runtime.connection_ref
    if conn is None or resolver is None:
        return VisitorIdentity(
            UNIDENTIFIED, kx, ["klaviyo_not_connected"], None, None, "klaviyo_not_connected"
        )
    return conn, kx


def _resolved(kx: str, resolution: Resolution) -> VisitorIdentity:
    if isinstance(resolution, Identified):
        return VisitorIdentity(Identity.identified(resolution.segment_ids), kx, [], None, resolution)
    if isinstance(resolution, Pending):
        retry_after_ms = resolution.retry_after_ms or DEFAULT_RETRY_AFTER_MS
        return VisitorIdentity(PENDING, kx, [], retry_after_ms, resolution)
    assert isinstance(resolution, Unidentified)
    return VisitorIdentity(UNIDENTIFIED, kx, [], None, resolution)

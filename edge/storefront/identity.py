"""From the `kx` a request carries to the `Identity` the decision uses.

Shared by the storefront and `explain`, so both see the same identity for the same visitor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from edge.klaviyo.types import ConnectionRef
from edge.resolver.kx import parse_kx
from edge.resolver.results import Identified, Pending, Resolution, Unidentified
from edge.runtime import SiteRuntime
from targeting import PENDING, UNIDENTIFIED, Identity

DEFAULT_RETRY_AFTER_MS = 1000


class SegmentResolver(Protocol):
    async def resolve(
        self,
        conn: ConnectionRef,
        kx: str | None,
        targeted: frozenset[str],
        deadline_s: float | None = None,
        *,
        detail: bool = True,
    ) -> Resolution: ...


@dataclass(slots=True)
class VisitorIdentity:
    identity: Identity
    kx: str | None
    warnings: list[str] = field(default_factory=list)
    retry_after_ms: int | None = None
    resolution: Resolution | None = None
    not_resolved_because: str | None = None


async def identify(
    runtime: SiteRuntime,
    raw_kx: str | None,
    resolver: SegmentResolver | None,
    *,
    deadline_s: float | None = None,
    detail: bool = True,
) -> VisitorIdentity:
    """Resolve a visitor's identity for `runtime`'s live experiences.

    A malformed `kx` is treated as absent (warning `kx_malformed`) and never reaches Klaviyo.
    Nothing is resolved when no live experience needs a segment, or the site is not connected.
    `detail=False` (the storefront) skips what only `explain` reads: see `Resolver.resolve`.
    """
    if not raw_kx:
        return VisitorIdentity(UNIDENTIFIED, None, [], None, None, "no_kx")
    kx = parse_kx(raw_kx)
    if kx is None:
        return VisitorIdentity(UNIDENTIFIED, None, ["kx_malformed"], None, None, "kx_malformed")
    compiled = runtime.compiled
    if not compiled.needs_identity:
        return VisitorIdentity(UNIDENTIFIED, kx, [], None, None, "nothing_targeted")
    conn = runtime.connection_ref
    if conn is None or resolver is None:
        return VisitorIdentity(
            UNIDENTIFIED, kx, ["klaviyo_not_connected"], None, None, "klaviyo_not_connected"
        )
    resolution = await resolver.resolve(conn, kx, compiled.targeted_segments, deadline_s, detail=detail)
    if isinstance(resolution, Identified):
        return VisitorIdentity(Identity.identified(resolution.segment_ids), kx, [], None, resolution)
    if isinstance(resolution, Pending):
        retry_after_ms = resolution.retry_after_ms or DEFAULT_RETRY_AFTER_MS
        return VisitorIdentity(PENDING, kx, [], retry_after_ms, resolution)
    assert isinstance(resolution, Unidentified)
    return VisitorIdentity(UNIDENTIFIED, kx, [], None, resolution)

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
        self, conn: ConnectionRef, kx: str | None, targeted: frozenset[str], deadline_s: float | None = None
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
) -> VisitorIdentity:
    """Resolve a visitor's identity for `runtime`'s live experiences.

    A malformed `kx` is treated as absent (warning `kx_malformed`) and never reaches Klaviyo.
    Nothing is resolved when no live experience needs a segment, or the site is not connected.
    """
    kx = parse_kx(raw_kx) if raw_kx else None
    result = VisitorIdentity(identity=UNIDENTIFIED, kx=kx)
    if raw_kx and kx is None:
        result.warnings.append("kx_malformed")
    if kx is None:
        result.not_resolved_because = "no_kx" if not raw_kx else "kx_malformed"
        return result
    if not runtime.compiled.needs_identity:
        result.not_resolved_because = "nothing_targeted"
        return result
    conn = runtime.connection_ref
    if conn is None or resolver is None:
        result.warnings.append("klaviyo_not_connected")
        result.not_resolved_because = "klaviyo_not_connected"
        return result
    resolution = await resolver.resolve(conn, kx, runtime.compiled.targeted_segments, deadline_s)
    result.resolution = resolution
    if isinstance(resolution, Identified):
        result.identity = Identity.identified(resolution.segment_ids)
    elif isinstance(resolution, Pending):
        result.identity = PENDING
        result.retry_after_ms = resolution.retry_after_ms or DEFAULT_RETRY_AFTER_MS
    else:
        assert isinstance(resolution, Unidentified)
    return result

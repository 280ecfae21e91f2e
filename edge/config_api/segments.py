"""`GET /v1/sites/{site_id}/klaviyo/segments`: the connected account's segments, for targeting.

Every page of Klaviyo's `GET /api/segments`, kept 60 s per (account, connection generation) in
this process (`SegmentCatalog`), answered starred first, then by name (case-insensitive), then
by id. `?q=` keeps the segments whose name contains it, case-insensitively. 409
`klaviyo_not_connected` when the site has no active connection (the message says why: never
connected, needs reauth, ...); 503 `klaviyo_not_configured` when this kx-edge has no Klaviyo app;
503 `klaviyo_unavailable` when Klaviyo fails, with `Retry-After` when it says when to come back.
"""

from __future__ import annotations

from typing import Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from edge.access.auth import require_site
from edge.config_api.segment_catalog import catalog_of, klaviyo_unavailable
from edge.config_api.views import Segment, SegmentList
from edge.services import services
from edge.web.errors import BadRequest, Conflict, ServiceUnavailable
from edge.web.http import json_response
from klaviyo.errors import KlaviyoError
from klaviyo.models import KlaviyoSegment

MAX_QUERY: Final = 200


def ordered(segments: tuple[KlaviyoSegment, ...], query: str | None) -> list[Segment]:
    """Starred first, then by name and id; only names containing `query` (case-insensitive)."""
    needle = query.casefold() if query else None
    kept = [s for s in segments if needle is None or needle in s.name.casefold()]
    kept.sort(key=lambda s: (not s.is_starred, s.name.casefold(), s.id))
    return [Segment(s.id, s.name, s.is_active, s.is_starred) for s in kept]


async def list_segments(request: Request) -> Response:
    site = await require_site(request)
    svc = services(request)
    query = request.query_params.get("q")
    if query is not None and len(query) > MAX_QUERY:
        raise BadRequest(f"q is at most {MAX_QUERY} characters.", code="bad_query")
    if svc.klaviyo is None:
        raise ServiceUnavailable(
            "Klaviyo is not configured on this kx-edge: the operator must set KLAVIYO_CLIENT_ID and "
            "KLAVIYO_CLIENT_SECRET.",
            code="klaviyo_not_configured",
        )
    runtime = await svc.runtimes.by_site_id(site.id)
    conn = runtime.connection_ref if runtime is not None else None
    if runtime is None or conn is None:
        status = runtime.connection.status.value if runtime and runtime.connection else "disconnected"
        raise Conflict(
            f"This site is not connected to Klaviyo (status: {status}), so there are no segments to list. "
            "Connect it under Integrations -> Klaviyo.",
            code="klaviyo_not_connected",
            details={"status": status},
        )
    try:
        entry = await catalog_of(request).get(svc.klaviyo.api, conn)
    except KlaviyoError as exc:
        raise klaviyo_unavailable(exc, "listing this account's segments") from None
    return json_response(SegmentList(ordered(entry.segments, query), int(entry.fetched_at)))


routes: list[BaseRoute] = [Route("/v1/sites/{site_id}/klaviyo/segments", list_segments, methods=["GET"])]

"""`GET /metrics`: the Prometheus text format, for the operator token only.

The series name sites' Klaviyo accounts and segments and the service's load, so the route is not
public: a scraper sends `Authorization: Bearer <operator token>` (Prometheus' `authorization`
block), and anything else is a 401.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from edge.access.auth import require_operator
from edge.services import services
from edge.web.errors import NotFound


async def metrics(request: Request) -> Response:
    require_operator(request)
    exporter = services(request).metrics
    if exporter is None:
        raise NotFound("Metrics are not collected by this app.", code="metrics_off")
    body, content_type = await exporter.exposition()
    return Response(body, media_type=content_type, headers={"Cache-Control": "no-store"})


routes = [Route("/metrics", metrics, methods=["GET"])]

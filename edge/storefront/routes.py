"""The storefront's routes besides `/v1/assign` (which `EdgeApp` answers before any middleware)."""

from __future__ import annotations

from starlette.middleware.gzip import GZipMiddleware
from starlette.routing import BaseRoute, Route, request_response

from edge.storefront.preview import preview_response
from edge.storefront.snippet import snippet_response

# The snippet is gzipped here only: the JSON answers are small and sent uncompressed, on purpose.
routes: list[BaseRoute] = [
    Route(
        "/v1/snippet.js",
        GZipMiddleware(request_response(snippet_response), minimum_size=500),
        methods=["GET", "HEAD"],
    ),
    Route("/v1/preview", preview_response, methods=["GET"]),
]

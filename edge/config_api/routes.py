"""Every route of the configuration API, in one list for the app."""

from __future__ import annotations

from starlette.routing import BaseRoute

from edge.config_api import (
    api_docs,
    experiences,
    explain,
    openapi,
    preview_links,
    results,
    segments,
    site_keys,
    sites,
    transfer,
    triggers,
)

routes: list[BaseRoute] = [
    *sites.routes,
    *site_keys.routes,
    *experiences.routes,
    *results.routes,
    *preview_links.routes,
    *transfer.routes,
    *segments.routes,
    *explain.routes,
    *triggers.routes,
    *openapi.routes,
    *api_docs.routes,
]

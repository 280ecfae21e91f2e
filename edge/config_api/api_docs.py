"""`GET /docs`: the API reference for people, Swagger UI rendering `/openapi.json`.

Swagger UI is vendored under `static/swagger-ui/` (npm `swagger-ui-dist`, Apache-2.0; see
`VENDORED.md` there) and served from `/docs/assets/`, so the page works where a shop's network
reaches no CDN. The page's Content-Security-Policy keeps it to its own origin (`connect-src
'self'`: "Try it out" calls this server only); Swagger UI sets inline styles, so styles allow
`'unsafe-inline'` while scripts stay `'self'` only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

DOCS_PATH: Final = "/docs"
ASSETS_PATH: Final = "/docs/assets"
STATIC_DIR: Final = Path(__file__).with_name("static")
HEADERS: Final = {
    "Cache-Control": "no-cache",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; font-src 'self' data:; worker-src 'self' blob:; frame-ancestors 'none'; "
        "base-uri 'none'; object-src 'none'; form-action 'self'"
    ),
}
_PAGE: Final = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>kx-edge API reference</title>
<link rel="icon" href="/admin/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="{ASSETS_PATH}/swagger-ui/swagger-ui.css">
<link rel="stylesheet" href="{ASSETS_PATH}/docs.css">
</head>
<body>
<header class="kx-docs-head"><strong>kx-edge API reference</strong>
<p>The configuration API takes <code>Authorization: Bearer &lt;site api_key&gt;</code> (or the operator
token); the storefront endpoints take the site's public key. The document itself:
<a href="/openapi.json">/openapi.json</a>. The merchant page: <a href="/admin">/admin</a>.</p></header>
<main id="swagger-ui"></main>
<script src="{ASSETS_PATH}/swagger-ui/swagger-ui-bundle.js"></script>
<script src="{ASSETS_PATH}/docs.js"></script>
</body>
</html>
"""


async def api_docs(request: Request) -> Response:
    return HTMLResponse(_PAGE, headers=HEADERS)


routes: list[BaseRoute] = [
    Route(DOCS_PATH, api_docs, methods=["GET"]),
    Mount(ASSETS_PATH, app=StaticFiles(directory=STATIC_DIR), name="docs-assets"),
]

"""`POST /v1/sites/{site_id}/experiences/{experience_id}/preview-links`: "preview on store" links.

Body (optional): `{"url": "<a page of the shop>", "ttl_s"?: 60-604800}`. The URL must be on one
of the site's `allowed_origins` (default: the first one, at `/`). The answer lists, per variation,
the signed `kx_preview` value and the URL carrying it; opening it forces that variation in that
browser only (see `edge.storefront.preview`), for any status but ended, so a draft can be
checked before Start. Errors: 401, 404, 409 `experience_ended`, 422 (`url`, `ttl_s`,
`no_allowed_origin`).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode, urlsplit, urlunsplit

import msgspec
from msgspec import Meta, Struct
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from edge.access.auth import require_site
from edge.config_api.experiences import ITEM
from edge.services import services
from edge.storefront.preview import DEFAULT_TTL_S, PARAMETER, preview_value
from edge.web.errors import Conflict, NotFound, Unprocessable
from edge.web.http import decode_json, json_response, read_body

MIN_TTL_S = 60
PATH = ITEM + "/preview-links"


class PreviewLinksRequest(Struct, forbid_unknown_fields=True, kw_only=True):
    url: (
        Annotated[str, Meta(max_length=2048, description="A page of the shop (an allowed origin).")] | None
    ) = None
    ttl_s: Annotated[int, Meta(ge=MIN_TTL_S, le=DEFAULT_TTL_S, description="How long links work.")] = (
        DEFAULT_TTL_S
    )


class PreviewLink(Struct):
    variation_id: str
    name: str
    is_control: bool
    kx_preview: str
    url: str


class PreviewLinks(Struct):
    """One link per variation; each works in the browser that opens it, until `expires_at`."""

    experience_id: str
    expires_at: int
    links: list[PreviewLink]


def _shop_url(url: str | None, origins: tuple[str, ...]) -> tuple[str, str, str, str]:
    if not origins:
        raise Unprocessable(
            "The site has no allowed origins: add the shop's origin first (PATCH the site).",
            code="no_allowed_origin",
        )
    parts = urlsplit(url or origins[0] + "/")
    origin = f"{parts.scheme}://{parts.netloc}"
    if parts.scheme not in ("http", "https") or origin not in origins:
        raise Unprocessable(
            "url must be a page on one of the site's allowed origins.",
            code="validation_failed",
            details=[{"path": "url", "message": "must start with one of: " + ", ".join(origins)}],
        )
    return parts.scheme, parts.netloc, parts.path or "/", parts.query


async def preview_links(request: Request) -> Response:
    site = await require_site(request)
    svc = services(request)
    experience_id = request.path_params["experience_id"]
    raw = await read_body(request, svc.settings.max_body_bytes)
    body = decode_json(raw, PreviewLinksRequest) if raw.strip() else PreviewLinksRequest()
    runtime = await svc.runtimes.by_site_id(site.id)
    experience = runtime.experiences.get(experience_id) if runtime else None
    if runtime is None or experience is None:
        raise NotFound(f"No experience {experience_id} in site {site.id}.", code="experience_not_found")
    if experience.status == "ended":
        raise Conflict(f"Experience {experience_id} has ended: nothing to preview.", code="experience_ended")
    scheme, netloc, path, query = _shop_url(body.url, tuple(site.allowed_origins))
    expires = int(svc.clock()) + body.ttl_s
    links = []
    for variation in experience.variations:
        value = preview_value(runtime.secret, site.id, experience.id, variation.id, expires)
        with_link = "&".join(part for part in (query, urlencode({PARAMETER: value}, safe=":~")) if part)
        links.append(
            PreviewLink(
                variation.id, variation.name, variation.is_control, value,
                urlunsplit((scheme, netloc, path, with_link, "")),
            )
        )  # fmt: skip
    answer = PreviewLinks(experience.id, expires, links)
    return json_response(msgspec.to_builtins(answer), headers={"Cache-Control": "no-store"})


routes: list[BaseRoute] = [Route(PATH, preview_links, methods=["POST"])]
PREVIEW_TYPES = (PreviewLinksRequest, PreviewLinks)

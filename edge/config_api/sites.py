"""`/v1/sites`: creating, listing and deleting sites (operator), reading or changing one (its api
key)."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from edge.access.auth import require_operator, require_site
from edge.config_api.site_removal import delete_site
from edge.services import services
from edge.sites.keys import new_site, site_problems
from edge.web.errors import Unprocessable
from edge.web.http import decode_json, json_response, read_body
from edge.web.routing import method_route


class SiteCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    allowed_origins: list[str] = []


class SitePatch(msgspec.Struct, forbid_unknown_fields=True):
    name: str | None = None
    allowed_origins: list[str] | None = None


async def create_site(request: Request) -> Response:
    require_operator(request)
    svc = services(request)
    body = decode_json(await read_body(request, svc.settings.max_body_bytes), SiteCreate)
    _check(site_problems(body.name, body.allowed_origins))
    created = new_site(body.name.strip(), tuple(body.allowed_origins), svc.cipher, svc.now())
    await svc.store.create_site(created.record)
    payload: dict[str, Any] = created.record.to_public_dict()
    payload["api_key"] = created.api_key
    return json_response(payload, status_code=201, headers={"Location": f"/v1/sites/{created.record.id}"})


async def list_sites(request: Request) -> Response:
    require_operator(request)
    sites = await services(request).store.list_sites()
    return json_response({"sites": [site.to_public_dict() for site in sites]})


async def get_site(request: Request) -> Response:
    site = await require_site(request)
    return json_response(site.to_public_dict())


async def patch_site(request: Request) -> Response:
    site = await require_site(request)
    svc = services(request)
    body = decode_json(await read_body(request, svc.settings.max_body_bytes), SitePatch)
    _check(site_problems(body.name, body.allowed_origins))
    updated = await svc.store.update_site(
        site.id,
        name=body.name.strip() if body.name is not None else None,
        allowed_origins=body.allowed_origins,
        now=svc.now(),
    )
    await svc.runtimes.reload(site.id)  # origins apply to the storefront at once
    return json_response(updated.to_public_dict())


def _check(problems: list[dict[str, str]]) -> None:
    if problems:
        raise Unprocessable("The site is not valid.", details=problems)


routes = [
    method_route("/v1/sites", {"GET": list_sites, "POST": create_site}),
    method_route("/v1/sites/{site_id}", {"GET": get_site, "PATCH": patch_site, "DELETE": delete_site}),
]

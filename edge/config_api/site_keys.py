"""`POST /v1/sites/{site_id}/rotate-key`: a new api key for the site, shown once.

The replaced key keeps opening the site for `key_rotation_grace_s` (so scripts and integrations
can switch without an outage), then it is refused (401). Only the immediately previous key
survives: a second rotation within the grace period ends the older key at once. The previous key
cannot rotate (403 `current_key_required`), so a leaked old key cannot take the site back.
Merchant-page sessions of the site end at the rotation, except the one that asked for it: a
rotation is what a merchant does when the key may have leaked, and a session signed in with that
key must not outlive the decision.
"""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from edge.access.auth import Via, require_site_access
from edge.services import services
from edge.sites.keys import hash_api_key, new_api_key
from edge.web.errors import Forbidden
from edge.web.http import json_response
from edge.web.routing import method_route

ROTATE_PATH = "/v1/sites/{site_id}/rotate-key"


class KeyRotated(msgspec.Struct):
    """The new `api_key` (shown this once; kx-edge keeps only its hash); the replaced key opens
    the site until `previous_key_valid_until` (unix seconds: `grace_s` after the rotation);
    `sessions_ended`: merchant-page sessions the rotation signed out."""

    api_key: str
    previous_key_valid_until: int
    grace_s: int
    sessions_ended: int


async def rotate_key(request: Request) -> Response:
    access = await require_site_access(request)
    if access.via is Via.PREVIOUS_KEY:
        raise Forbidden(
            "This api key was replaced by a rotation: rotate with the site's current key or the "
            "operator token.",
            code="current_key_required",
        )
    svc = services(request)
    api_key, now, grace = new_api_key(), svc.now(), svc.settings.key_rotation_grace_s
    site = await svc.store.rotate_api_key(
        access.site.id, hash_api_key(api_key), previous_valid_until=now + grace, now=now
    )
    keep = access.session.id_hash if access.session is not None else None
    ended = await svc.sessions.delete_for_site(site.id, keep=keep)
    answer = KeyRotated(api_key, now + grace, grace, ended)
    return json_response(msgspec.to_builtins(answer), headers={"Cache-Control": "no-store"})


routes = [method_route(ROTATE_PATH, {"POST": rotate_key})]

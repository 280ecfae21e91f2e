"""`DELETE /v1/sites/{site_id}` (operator): a site and everything it owns go.

In this order, so nothing is left that can still act for the site: its Klaviyo connection is
revoked at Klaviyo (best effort, through the same code as `DELETE .../klaviyo`) and the account's
cached membership dropped; the store deletes the site with its experiences, connection, OAuth
flows, sessions, switches and event rows in one transaction; this worker forgets its runtime at
once (the storefront answers 404 for its public key) and every other worker within its watcher's
next round; the event outbox forgets its Redis counters. Without Klaviyo configured on this
server the tokens cannot be revoked: they are deleted with the site and `klaviyo.revoked` says
false.
"""

from __future__ import annotations

import logging

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from edge.access.auth import require_operator
from edge.connect.routes import disconnect_site
from edge.services import services
from edge.web.errors import NotFound
from edge.web.http import json_response

logger = logging.getLogger("kx_edge.sites")


class KlaviyoRemoval(msgspec.Struct):
    was_connected: bool  # the site held Klaviyo tokens
    revoked: bool  # Klaviyo confirmed their revocation


class SiteDeleted(msgspec.Struct):
    id: str
    deleted: bool
    klaviyo: KlaviyoRemoval


async def delete_site(request: Request) -> Response:
    require_operator(request)
    svc = services(request)
    site_id = request.path_params["site_id"]
    if await svc.store.get_site(site_id) is None:
        raise NotFound(f"No site {site_id}.", code="site_not_found")
    connection = await svc.connections.get(site_id)
    holds_tokens = connection is not None and connection.refresh_token_enc is not None
    klaviyo = KlaviyoRemoval(was_connected=holds_tokens, revoked=False)
    if holds_tokens and svc.klaviyo is not None:
        result = await disconnect_site(svc, site_id)
        klaviyo = KlaviyoRemoval(was_connected=result.was_connected, revoked=result.revoked)
    elif holds_tokens:
        logger.warning("site %s: Klaviyo is not configured here, its tokens are deleted unrevoked", site_id)
    if not await svc.store.delete_site(site_id):
        raise NotFound(f"No site {site_id}.", code="site_not_found")  # deleted meanwhile
    await svc.runtimes.reload(site_id)  # gone from the store: the runtime is forgotten
    if svc.events is not None:
        await svc.events.forget_site(site_id)
    logger.info("site %s deleted", site_id)
    return json_response(SiteDeleted(site_id, True, klaviyo))

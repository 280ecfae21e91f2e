"""The Klaviyo connection's API (connect, status, disconnect) and every route of the surface.

Connect binds the flow to the browser that will approve it (docs/connect.md): called from the
merchant page (its session), the answer sets the binding cookie in that browser and names
Klaviyo's authorize URL; called with an api key, it names a one-time link on this service that
binds whichever browser opens it first, then sends it on to Klaviyo.
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from edge.access.auth import require_site
from edge.connect import browser
from edge.connect.binding import browser_secret_of, set_binding_cookie, set_return_cookie
from edge.connect.link import CALLBACK_PATH, KlaviyoLink
from edge.services import Services, services
from edge.web.errors import ServiceUnavailable
from edge.web.http import json_response
from edge.web.routing import method_route
from oauth.binding import new_browser_secret
from oauth.connection import connection_status
from oauth.disconnect import DisconnectResult, disconnect
from oauth.scopes import required_scopes


def _link(svc: Services) -> KlaviyoLink:
    if svc.klaviyo is None:
        raise ServiceUnavailable(
            "Klaviyo is not configured on this kx-edge: the operator must set KLAVIYO_CLIENT_ID and "
            "KLAVIYO_CLIENT_SECRET.",
            code="klaviyo_not_configured",
        )
    return svc.klaviyo


async def wants_events_scope(svc: Services, site_id: str) -> bool:
    """Whether the site uses event triggers (then connect asks for `events:write`)."""
    for hook in svc.events_scope_hooks:
        if await hook(site_id):
            return True
    return False


async def connect(request: Request) -> Response:
    site = await require_site(request)
    svc = services(request)
    flow = _link(svc).flow
    scopes = required_scopes(events=await wants_events_scope(svc, site.id))
    answer = {"scopes": list(scopes), "expires_in": flow.state_ttl_s}
    if "authorization" not in request.headers:  # the merchant page: require_site used its session
        secret = browser_secret_of(request) or new_browser_secret()
        url = await flow.start(site.id, scopes, browser=secret)
        response = json_response({"authorize_url": url, **answer})
        set_binding_cookie(response, request, secret)
        set_return_cookie(response, request)
        return response
    token = await flow.start_link(site.id, scopes)
    base = svc.settings.public_url.rstrip("/") or f"{request.url.scheme}://{request.url.netloc}"
    link = f"{base}{browser.START_PATH}?{urlencode({'link': token})}"
    return json_response({"authorize_url": link, **answer})


async def status(request: Request) -> Response:
    site = await require_site(request)
    svc = services(request)
    connection = await svc.connections.get(site.id)
    view = dict(connection_status(connection, required_scopes(events=await wants_events_scope(svc, site.id))))
    view["klaviyo_configured"] = svc.klaviyo is not None
    runtime = await svc.runtimes.by_site_id(site.id)
    conn = runtime.connection_ref if runtime is not None else None
    if svc.klaviyo is not None and svc.klaviyo.segment_sync is not None and runtime is not None and conn:
        sync = svc.klaviyo.segment_sync
        view["segment_sync"] = await sync.status(conn.account_id, runtime.compiled.targeted_segments)
    return json_response(view)


async def disconnect_site(svc: Services, site_id: str) -> DisconnectResult:
    """Forget the site's Klaviyo tokens, revoke them at Klaviyo and drop the account's cached
    membership (`DELETE .../klaviyo` and deleting a site). 503 when Klaviyo is not configured."""
    link = _link(svc)
    store = svc.connections
    previous = await store.get(site_id)
    result = await disconnect(site_id, store=store, cipher=svc.cipher, client=link.oauth)
    if previous is not None and previous.account_id:
        # Cache keys carry the generation, so old membership is unreachable anyway; this frees it.
        await link.resolver.forget_account(previous.account_id)
    return result


async def remove(request: Request) -> Response:
    site = await require_site(request)
    svc = services(request)
    result = await disconnect_site(svc, site.id)
    view = dict(connection_status(await svc.connections.get(site.id)))
    view["revoked"] = result.revoked
    view["was_connected"] = result.was_connected
    return json_response(view)


routes = [
    Route("/v1/sites/{site_id}/klaviyo/connect", connect, methods=["POST"]),
    method_route("/v1/sites/{site_id}/klaviyo", {"GET": status, "DELETE": remove}),
    Route(browser.START_PATH, browser.start, methods=["GET", "POST"]),
    Route(CALLBACK_PATH, browser.callback, methods=["GET"]),
    Route(browser.RESULT_PATH, browser.result, methods=["GET"]),
]

"""The Klaviyo connection: connect (OAuth), callback, status, disconnect."""

from __future__ import annotations

import logging
from html import escape
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from edge.access.auth import require_site
from edge.connect.link import CALLBACK_PATH, KlaviyoLink
from edge.connect.pages import OUTCOMES, page, problem_page, status_badge
from edge.services import Services, services
from edge.web.errors import ServiceUnavailable
from edge.web.http import json_response
from edge.web.routing import method_route
from oauth.connection import connection_status
from oauth.disconnect import disconnect
from oauth.errors import (
    AuthorizationDenied,
    FlowError,
    InvalidClient,
    InvalidGrant,
    OAuthError,
    OAuthUnavailable,
    StateExpired,
)
from oauth.scopes import required_scopes

logger = logging.getLogger("kx_edge.klaviyo")
RESULT_PATH = "/oauth/klaviyo/result"


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
    scopes = required_scopes(events=await wants_events_scope(svc, site.id))
    url = await _link(svc).flow.start(site.id, scopes)
    return json_response({"authorize_url": url, "scopes": list(scopes), "expires_in": 600})


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


async def remove(request: Request) -> Response:
    site = await require_site(request)
    svc = services(request)
    link = _link(svc)
    store = svc.connections
    previous = await store.get(site.id)
    result = await disconnect(site.id, store=store, cipher=svc.cipher, client=link.oauth)
    if previous is not None and previous.account_id:
        # Cache keys carry the generation, so old membership is unreachable anyway; this frees it.
        await link.resolver.forget_account(previous.account_id)
    view = dict(connection_status(await store.get(site.id)))
    view["revoked"] = result.revoked
    view["was_connected"] = result.was_connected
    return json_response(view)


async def callback(request: Request) -> Response:
    """Where Klaviyo sends the merchant back. Never shows a token, code or verifier."""
    svc = services(request)
    if svc.klaviyo is None:
        return problem_page(
            "Klaviyo is not configured", "This kx-edge has no Klaviyo app credentials.",
            "Ask the operator to set KLAVIYO_CLIENT_ID and KLAVIYO_CLIENT_SECRET.", status_code=503,
        )  # fmt: skip
    params = request.query_params
    state, code, error = params.get("state", ""), params.get("code"), params.get("error")
    flow = svc.klaviyo.flow
    try:
        if error:
            await flow.fail(state, error, params.get("error_description"))
        if not code:
            return problem_page(
                "Missing authorization code", "Klaviyo sent you back without a code or an error.",
                "Start connecting again from kx-edge.", status_code=400,
            )  # fmt: skip
        connection = await flow.complete(state, code)
    except AuthorizationDenied as exc:
        return _redirect_to_result(svc, "denied", exc.site_id, exc.error)
    except StateExpired:
        return problem_page(
            "This connection link has expired", "It is more than 10 minutes old, so nothing was connected.",
            "Start connecting again: click Sign in with Klaviyo.", status_code=400,
        )  # fmt: skip
    except FlowError:
        return problem_page(
            "This connection link is not valid", "It was already used, or it did not come from kx-edge. "
            "Nothing was connected.", "Start connecting again: click Sign in with Klaviyo.", status_code=400,
        )  # fmt: skip
    except InvalidClient:
        logger.error("Klaviyo refused kx-edge's client credentials during a connect")
        return problem_page(
            "Klaviyo refused kx-edge's app credentials", "Nothing was connected.",
            "Ask the operator to check KLAVIYO_CLIENT_ID and KLAVIYO_CLIENT_SECRET.", status_code=502,
        )  # fmt: skip
    except InvalidGrant:
        return problem_page(
            "Klaviyo did not accept this authorization", "The code expired or was already used.",
            "Start connecting again: click Sign in with Klaviyo.", status_code=400,
        )  # fmt: skip
    except (OAuthUnavailable, OAuthError) as exc:
        logger.warning("connect failed: %s", exc)
        return problem_page(
            "Klaviyo did not answer", "The connection could not be completed just now. Nothing was stored.",
            "Try again in a minute: click Sign in with Klaviyo.", status_code=502,
        )  # fmt: skip
    except Exception:
        logger.exception("connect failed while fetching the Klaviyo account")
        return problem_page(
            "Klaviyo did not answer", "kx-edge could not read your Klaviyo account. Nothing was stored.",
            "Try again in a minute: click Sign in with Klaviyo.", status_code=502,
        )  # fmt: skip
    return _redirect_to_result(svc, "connected", connection.site_id)


def _redirect_to_result(svc: Services, outcome: str, site_id: str, error: str | None = None) -> Response:
    query = {"outcome": outcome, "site_id": site_id} | ({"error": error} if error else {})
    return RedirectResponse(f"{RESULT_PATH}?{urlencode(query)}", status_code=303)


async def result(request: Request) -> Response:
    """After the redirect: the outcome and the site's connection status as it stands now."""
    svc = services(request)
    outcome = request.query_params.get("outcome", "")
    site_id = request.query_params.get("site_id", "")
    title = OUTCOMES.get(outcome, "Klaviyo connection")
    connection = await svc.connections.get(site_id) if site_id else None
    view = connection_status(connection)
    lines = [f"<p>Status: {status_badge(view['status'])}</p>"]
    if view["account_name"]:
        lines.append(f"<p>Account: <strong>{escape(view['account_name'])}</strong></p>")
    if outcome == "denied":
        error = request.query_params.get("error", "access_denied")
        lines.append(
            f"<p>Klaviyo answered <code>{escape(error)}</code>: permission was not granted, so your "
            "connection is unchanged. Click Sign in with Klaviyo to try again.</p>"
        )
    return page(title, "".join(lines))


routes = [
    Route("/v1/sites/{site_id}/klaviyo/connect", connect, methods=["POST"]),
    method_route("/v1/sites/{site_id}/klaviyo", {"GET": status, "DELETE": remove}),
    Route(CALLBACK_PATH, callback, methods=["GET"]),
    Route(RESULT_PATH, result, methods=["GET"]),
]

"""The routes the merchant's browser walks through: the connect link, Klaviyo's callback, the result.

`GET /oauth/klaviyo/start?link=…` (a connect started through the API) shows a page whose button
POSTs to the same URL; the POST binds the link to this browser (setting its binding cookie) and
redirects to Klaviyo. A GET changes nothing, so a link preview or prefetch cannot use the link
up. The callback completes the flow only in the browser the flow is bound to, then redirects
to the result page with a ticket that opens it in that browser only (`edge.connect.binding`).
Pages never show a token, code, state or verifier.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from edge.access.csrf import own_origins
from edge.connect import pages
from edge.connect.binding import (
    RETURN_COOKIE,
    Outcome,
    Result,
    ResultTickets,
    browser_secret_of,
    set_binding_cookie,
)
from edge.services import Services, services
from oauth.binding import new_browser_secret
from oauth.connection import connection_status
from oauth.errors import (
    AuthorizationDenied,
    BrowserMismatch,
    FlowError,
    InvalidClient,
    InvalidGrant,
    OAuthError,
    OAuthUnavailable,
    StateExpired,
    StateReused,
    TokenEndpointError,
)

logger = logging.getLogger("kx_edge.klaviyo")
START_PATH = "/oauth/klaviyo/start"
RESULT_PATH = "/oauth/klaviyo/result"
INTEGRATIONS_PATH = "/admin/integrations"  # the merchant page's Klaviyo card (edge.admin serves it)
_START_AGAIN = "Start connecting again: click Sign in with Klaviyo on the merchant page."
# Klaviyo's token endpoint says this when the code was issued for another flow's PKCE challenge.
_PKCE_ERRORS = ("code challenge failed", 'invalid "code_verifier"')


def _headers(svc: Services) -> dict[str, str]:
    return pages.security_headers(svc.settings.klaviyo_authorize_url)


def _not_configured(svc: Services) -> Response:
    return pages.problem(
        _headers(svc), "Klaviyo is not configured", "This kx-edge has no Klaviyo app credentials.",
        "Ask the operator to set KLAVIYO_CLIENT_ID and KLAVIYO_CLIENT_SECRET.", status_code=503,
    )  # fmt: skip


def _flow_problem(svc: Services, exc: FlowError) -> Response:
    """The page for a link or state that cannot be used (and nothing was connected)."""
    headers = _headers(svc)
    if isinstance(exc, StateReused):
        return pages.problem(
            headers, "This link was already used",
            "Each connection link works once, and this one has been used. Nothing changed.",
            _START_AGAIN, status_code=400,
        )  # fmt: skip
    if isinstance(exc, StateExpired):
        return pages.problem(
            headers, "This connection link has expired",
            "It is more than 10 minutes old, so nothing was connected.", _START_AGAIN, status_code=400,
        )  # fmt: skip
    if isinstance(exc, BrowserMismatch):
        return pages.problem(
            headers, "This connection was started in another browser",
            "For your safety kx-edge finishes a connection only in the browser that started it, and "
            "this browser did not. Nothing was connected, and the link cannot be used any more.",
            "Open the merchant page in the browser you use with Klaviyo and click Sign in with Klaviyo "
            "there (or open the connection link you were given in that browser).", status_code=403,
        )  # fmt: skip
    return pages.problem(
        headers, "This connection link is not valid",
        "It did not come from this kx-edge, or it is too old to recognise. Nothing was connected.",
        _START_AGAIN, status_code=400,
    )  # fmt: skip


async def start(request: Request) -> Response:
    """`GET|POST /oauth/klaviyo/start?link=…`: a connect link, shown then claimed."""
    svc = services(request)
    if svc.klaviyo is None:
        return _not_configured(svc)
    token = request.query_params.get("link", "")
    if request.method != "POST":
        action = f"{START_PATH}?{urlencode({'link': token})}"
        return pages.render("start.html", _headers(svc), title="Connect Klaviyo", action=action)
    origin = request.headers.get("origin")
    if origin is not None and origin not in own_origins(request):
        return pages.problem(
            _headers(svc), "This connection was not started here",
            "The request came from another website, so kx-edge did not follow it.",
            "Open the connection link yourself, in the browser you use with Klaviyo.", status_code=403,
        )  # fmt: skip
    secret = browser_secret_of(request) or new_browser_secret()
    try:
        authorize_url = await svc.klaviyo.flow.claim(token, secret)
    except FlowError as exc:
        return _flow_problem(svc, exc)
    response = pages.redirect(authorize_url, _headers(svc))
    set_binding_cookie(response, request, secret)
    return response


async def callback(request: Request) -> Response:
    """`GET /oauth/klaviyo/callback?code&state` (or `?error`): where Klaviyo sends the browser back."""
    svc = services(request)
    if svc.klaviyo is None:
        return _not_configured(svc)
    headers = _headers(svc)
    params = request.query_params
    state, code, error = params.get("state", ""), params.get("code"), params.get("error")
    browser = browser_secret_of(request)
    flow = svc.klaviyo.flow
    try:
        if error:
            await flow.fail(state, error, params.get("error_description"), browser=browser)
        if not code:
            return pages.problem(
                headers, "Missing authorization code", "Klaviyo sent you back without a code or an error.",
                _START_AGAIN, status_code=400,
            )  # fmt: skip
        connection = await flow.complete(state, code, browser=browser)
    except AuthorizationDenied as exc:
        assert browser is not None  # the flow checked it
        return _to_result(request, Result(Outcome.DENIED, exc.site_id, exc.error), browser)
    except FlowError as exc:
        return _flow_problem(svc, exc)
    except InvalidClient:
        logger.error("Klaviyo refused kx-edge's client credentials during a connect")
        return pages.problem(
            headers, "Klaviyo refused kx-edge's app credentials", "Nothing was connected.",
            "Ask the operator to check KLAVIYO_CLIENT_ID and KLAVIYO_CLIENT_SECRET.", status_code=502,
        )  # fmt: skip
    except InvalidGrant:
        return pages.problem(
            headers, "Klaviyo did not accept this authorization",
            "The code expired or was already used. Nothing was connected.", _START_AGAIN, status_code=400,
        )  # fmt: skip
    except TokenEndpointError as exc:
        return _refused(svc, exc)
    except OAuthUnavailable as exc:
        logger.warning("connect failed: %s", exc)
        return pages.problem(
            headers, "Klaviyo did not answer",
            "The connection could not be completed just now. Nothing was stored.",
            "Try again in a minute: click Sign in with Klaviyo.", status_code=502,
        )  # fmt: skip
    except OAuthError as exc:
        logger.warning("connect failed: %s", exc)
        return pages.problem(
            headers, "The connection could not be completed", f"{exc} Nothing was stored.",
            _START_AGAIN, status_code=502,
        )  # fmt: skip
    except Exception:
        logger.exception("connect failed while fetching the Klaviyo account")
        return pages.problem(
            headers, "Klaviyo did not answer", "kx-edge could not read your Klaviyo account. Nothing was stored.",
            "Try again in a minute: click Sign in with Klaviyo.", status_code=502,
        )  # fmt: skip
    assert browser is not None  # the flow checked it
    return _to_result(request, Result(Outcome.CONNECTED, connection.site_id), browser)


def _refused(svc: Services, exc: TokenEndpointError) -> Response:
    """Klaviyo's token endpoint refused the code for a reason it stated: say which."""
    if exc.error.lower().rstrip(".") in _PKCE_ERRORS:
        message = (
            "This authorization code belongs to another connection attempt, so Klaviyo refused it "
            f"(Klaviyo answered “{exc.error}”). Nothing was stored."
        )
    else:
        detail = f": {exc.description}" if exc.description else ""
        message = f"Klaviyo answered “{exc.error}”{detail}. Nothing was stored."
    return pages.problem(
        _headers(svc), "Klaviyo refused this authorization", message, _START_AGAIN, status_code=400
    )


def _to_result(request: Request, result: Result, browser: str) -> Response:
    """The redirect that ends a callback: the one place that decides where the browser lands."""
    svc = services(request)
    assert svc.settings.secret_key is not None
    query = ResultTickets(svc.settings.secret_key, clock=svc.clock).query(result, browser)
    response = pages.redirect(f"{RESULT_PATH}?{urlencode(query)}", _headers(svc))
    set_binding_cookie(response, request, browser)  # keeps it for the result page
    return response


async def result(request: Request) -> Response:
    """After the callback: the outcome and the site's status as it stands now, in the browser
    that connected; any other request learns nothing about any site."""
    svc = services(request)
    assert svc.settings.secret_key is not None
    tickets = ResultTickets(svc.settings.secret_key, clock=svc.clock)
    found = tickets.check(request.query_params, browser_secret_of(request))
    if found is None:
        return pages.problem(
            _headers(svc), "Klaviyo connection",
            "This page shows the outcome of a connection only in the browser that made it, for 10 "
            "minutes.", "See the connection's status on the merchant page (Integrations).", status_code=403,
        )  # fmt: skip
    view = connection_status(await svc.connections.get(found.site_id))
    title = "Klaviyo is connected" if found.outcome is Outcome.CONNECTED else "Klaviyo was not connected"
    # The merchant page's Integrations card shows the outcome with the new status. A connect the
    # page started goes straight back there: a navigation this page starts (meta refresh) is
    # same-site, so the session's SameSite=Strict cookie goes along, which the redirects from
    # Klaviyo could not carry.
    card = f"{INTEGRATIONS_PATH}?{urlencode({'klaviyo': found.outcome.value} | ({'error': found.error} if found.error else {}))}#klaviyo-card"
    return pages.render(
        "result.html", _headers(svc), title=title, outcome=found.outcome.value, error=found.error or "access_denied",
        status=view["status"], status_label=pages.status_label(view["status"]),
        account_name=view["account_name"], card=card, return_to_card=RETURN_COOKIE in request.cookies,
    )  # fmt: skip

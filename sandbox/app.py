"""`create_fake_klaviyo`: the sandbox Klaviyo as a Starlette app, at the root or under any mount."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox import routes_events as events
from sandbox import routes_profiles as profiles
from sandbox import routes_segments as segments
from sandbox.guard import Handler, PolicyOf, api_endpoint, fixed, instrumented
from sandbox.jsonapi import ApiError, not_found
from sandbox.oauth_records import Scope
from sandbox.oauth_routes import OAuthRoutes
from sandbox.ratelimit import Tier
from sandbox.state import SandboxState

_P, _S, _A, _E = Scope.PROFILES_READ, Scope.SEGMENTS_READ, Scope.ACCOUNTS_READ, Scope.EVENTS_WRITE

API: tuple[tuple[str, str, PolicyOf, Handler], ...] = (
    ("GET", "/api/accounts", fixed(Tier.ACCOUNTS, _A), profiles.get_accounts),
    ("GET", "/api/profiles", fixed(Tier.PROFILES, _P), profiles.get_profiles),
    ("GET", "/api/profiles/{id}", profiles.profile_policy, profiles.get_profile),
    (
        "GET",
        "/api/profiles/{id}/relationships/segments",
        fixed(Tier.PROFILE_SEGMENTS, _P, _S),
        profiles.get_profile_segment_ids,
    ),
    (
        "GET",
        "/api/profiles/{id}/segments",
        fixed(Tier.PROFILE_SEGMENTS, _P, _S),
        profiles.get_profile_segments,
    ),
    ("GET", "/api/segments", fixed(Tier.SEGMENTS, _S), segments.get_segments),
    (
        "GET",
        "/api/segments/{id}/relationships/profiles",
        fixed(Tier.SEGMENT_MEMBERS, _P, _S),
        segments.get_segment_profile_ids,
    ),
    (
        "GET",
        "/api/segments/{id}/profiles",
        fixed(Tier.SEGMENT_MEMBERS, _P, _S),
        segments.get_segment_profiles,
    ),
    ("POST", "/api/events", fixed(Tier.EVENTS, _E), events.create_event),
    (
        "POST",
        "/api/event-bulk-create-jobs",
        fixed(Tier.BULK_EVENTS, _E),
        events.create_event_bulk_job,
    ),
)
"""(method, route template, rate-limit tier and scopes, handler) of every `/api/` endpoint."""


async def _unknown_api_route(request: Request) -> Response:
    return not_found(f"No endpoint answers {request.method} {request.url.path}.").response()


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if "/api/" in request.url.path:
        code = "method_not_allowed" if exc.status_code == 405 else "error"
        error = ApiError(exc.status_code, code, str(exc.detail), str(exc.detail))
        return error.response()
    return PlainTextResponse(str(exc.detail), status_code=exc.status_code)


def create_fake_klaviyo(
    state: SandboxState, *, latency_s: float = 0.0, enforce_rate_limits: bool = True
) -> Starlette:
    """The fake Klaviyo over `state`: OAuth (`/oauth/authorize`, `/oauth/token`,
    `/oauth/revoke`) and the REST API under `/api/`. `latency_s` delays every `/api/` answer;
    `enforce_rate_limits=False` never answers 429 (injected faults still do). Links and
    redirects are built from the request, so the app works mounted under any prefix."""
    oauth = OAuthRoutes(state)
    routes: list[BaseRoute] = [
        Route(
            "/oauth/authorize",
            instrumented(state, "/oauth/authorize", oauth.authorize),
            methods=["GET", "POST"],
        ),
        Route("/oauth/token", instrumented(state, "/oauth/token", oauth.token), methods=["POST"]),
        Route("/oauth/revoke", instrumented(state, "/oauth/revoke", oauth.revoke), methods=["POST"]),
    ]
    for method, template, policy, handler in API:
        endpoint = api_endpoint(
            state,
            template,
            policy,
            handler,
            latency_s=latency_s,
            enforce_rate_limits=enforce_rate_limits,
        )
        # Klaviyo's own links end in "/"; both spellings answer, without a redirect.
        routes.append(Route(template, endpoint, methods=[method]))
        routes.append(Route(template + "/", endpoint, methods=[method]))
    routes.append(Route("/api/{rest:path}", _unknown_api_route, methods=["GET", "POST"]))
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error})
    app.state.sandbox = state
    return app

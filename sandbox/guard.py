"""What every call goes through before its handler: latency, the `revision` header, the bearer
token and its scopes, injected faults, the rate limiter; and the call log after it."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from sandbox.faults import FaultKind
from sandbox.jsonapi import (
    ApiError,
    invalid,
    not_authenticated,
    permission_denied,
    server_error,
    throttled,
)
from sandbox.oauth_records import Scope
from sandbox.ratelimit import Tier
from sandbox.state import SandboxState

_REVISION = re.compile(r"^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$")

Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class ApiContext:
    """Who is calling: handed to every `/api/` handler."""

    state: SandboxState
    account_id: str
    scopes: frozenset[str]


@dataclass(frozen=True, slots=True)
class Policy:
    tier: Tier
    scopes: tuple[Scope, ...]


Handler = Callable[[Request, ApiContext], Awaitable[Response]]
PolicyOf = Callable[[Request], Policy]


def fixed(tier: Tier, *scopes: Scope) -> PolicyOf:
    policy = Policy(tier, scopes)
    return lambda _request: policy


async def injected_fault(state: SandboxState, request: Request, template: str) -> Response | None:
    """The answer of a pending fault for this call; None to answer normally (also after a hang).

    A hang reads the request first, so a client that gives up meanwhile leaves a request that is
    still carried out: "Klaviyo accepted it, but the answer was lost"."""
    fault = state.faults.take(request.method, template)
    if fault is None:
        return None
    if fault.kind is FaultKind.HANG:
        await request.body()  # Starlette keeps it: the endpoint reads it again
        await asyncio.sleep(fault.hang_s)
        return None
    if fault.kind is FaultKind.THROTTLED:
        return throttled(fault.retry_after_s).response()
    return server_error(503 if fault.kind is FaultKind.UNAVAILABLE else 500).response()


def instrumented(state: SandboxState, template: str, endpoint: Endpoint) -> Endpoint:
    """An OAuth endpoint with fault injection and the call log."""

    async def run(request: Request) -> Response:
        response = await injected_fault(state, request, template)
        if response is None:
            response = await endpoint(request)
        state.calls.record(request.method, template, None, response.status_code)
        return response

    return run


def _authenticate(state: SandboxState, request: Request, needs: Sequence[Scope]) -> ApiContext:
    revision = request.headers.get("revision")
    if revision is None:
        raise invalid("The 'revision' header is required.", parameter="revision")
    if not _REVISION.match(revision):
        raise invalid(f"Invalid revision '{revision}'.", parameter="revision")
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise not_authenticated("Authentication credentials were not provided.")
    grant = state.oauth.grant_for_access(token.strip())
    if grant is None:
        raise not_authenticated("The access token is invalid, expired or revoked.")
    missing = [s.value for s in needs if s.value not in grant.scopes]
    if missing:
        raise permission_denied(f"The access token lacks the scope(s): {' '.join(missing)}.")
    return ApiContext(state, grant.account_id, frozenset(grant.scopes))


def api_endpoint(
    state: SandboxState,
    template: str,
    policy_of: PolicyOf,
    handler: Handler,
    *,
    latency_s: float,
    enforce_rate_limits: bool,
) -> Endpoint:
    """A `/api/` endpoint: every refusal is a JSON:API error, every call lands in the log."""

    async def run(request: Request) -> Response:
        account_id: str | None = None
        headers: dict[str, str] = {}  # RateLimit-* once the call counted against a window
        try:
            if latency_s > 0:
                await asyncio.sleep(latency_s)
            policy = policy_of(request)
            context = _authenticate(state, request, policy.scopes)
            account_id = context.account_id
            response = await injected_fault(state, request, template)
            if response is None:
                if enforce_rate_limits:
                    verdict = state.limiter.check(account_id, policy.tier)
                    if not verdict.allowed:
                        raise throttled(verdict.retry_after_s)
                    headers = verdict.headers()
                response = await handler(request, context)
        except ApiError as error:
            response = error.response()
        response.headers.update(headers)
        revision = request.headers.get("revision")
        state.calls.record(request.method, template, account_id, response.status_code, revision)
        return response

    return run

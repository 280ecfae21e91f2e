"""Raw ASGI middleware: request ids, the access log, per-route counts for /metrics
(`Services.route_traffic`) and baseline response headers.

Written against ASGI directly (not BaseHTTPMiddleware): it costs one contextvar set and a few
header appends per request. `/v1/assign` does not pass through it (`EdgeApp` answers it first and
does the same itself). Request ids come from the app's `Services.request_ids`. With `hsts` (the
public URL is https) every answer also tells browsers to use only https here for a year
(`Strict-Transport-Security`), also when a TLS-terminating proxy talks plain http to us.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from edge.metrics.traffic import RouteTraffic
from edge.ops.logs import request_id_var
from edge.web.request_ids import RequestIds, incoming

access_logger = logging.getLogger("kx_edge.access")
HSTS = b"max-age=31536000"  # no includeSubDomains: the merchant's other hosts are not ours to pin


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, access_log: bool = True, hsts: bool = False) -> None:
        self.app = app
        self.access_log = access_log
        baseline = [(b"x-content-type-options", b"nosniff")]
        if hsts:
            baseline.append((b"strict-transport-security", HSTS))
        self.baseline = tuple(baseline)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or _ids(scope).new()
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        header_value = request_id.encode("ascii")

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", ()))
                headers.append((b"x-request-id", header_value))
                headers.extend(self.baseline)
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            duration_s = time.perf_counter() - started
            _traffic(scope).record(scope.get("endpoint"), status, duration_s)
            if self.access_log:
                # The path only: query strings can carry OAuth codes and visitor identifiers.
                access_logger.info(
                    "%s %s %s",
                    scope["method"],
                    scope["path"],
                    status,
                    extra={"status": status, "duration_ms": round(duration_s * 1000, 2)},
                )
            request_id_var.reset(token)


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            return incoming(value)
    return None


def _ids(scope: Scope) -> RequestIds:
    ids: RequestIds = scope["state"]["services"].request_ids
    return ids


def _traffic(scope: Scope) -> RouteTraffic:
    traffic: RouteTraffic = scope["state"]["services"].route_traffic
    return traffic

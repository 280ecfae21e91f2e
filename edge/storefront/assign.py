"""`POST /v1/assign`: the storefront's one round trip, as a lean ASGI handler.

It runs in front of Starlette's middleware and router (see `EdgeApp`), so the route costs what
raw ASGI costs. A returning visitor costs a few dict lookups: the site by its query string, the
resolver's L1 hit (`Resolver.cached`) and the remembered answer (`StorefrontMemo.answer`), plus
one msgspec decode and one join of pre-encoded bytes. Bad input never becomes a 500: each class
has its 4xx here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Iterable
from urllib.parse import parse_qsl

import msgspec
from starlette.applications import Starlette
from starlette.types import Message, Receive, Scope, Send

from edge.services import Services
from edge.sites.runtime import SiteRuntime
from edge.store.errors import StoreUnavailable
from edge.storefront.identity import VisitorIdentity, identify, identify_cached
from edge.storefront.wire import (
    MAX_URL_CHARS,
    AssignRequest,
    new_visitor_id,
    request_decoder,
    response_encoder,
    valid_visitor_id,
)
from edge.web.errors import error_body
from edge.web.middleware import access_logger
from edge.web.request_ids import new_request_id
from targeting import IdentityKind

logger = logging.getLogger("kx_edge.assign")
ASSIGN_PATH = "/v1/assign"
# The answer's bytes between the visitor id and the retry delay, per identity kind.
_IDENTITY_PARTS = {kind: f'","identity":"{kind.value}","retry_after_ms":'.encode() for kind in IdentityKind}
Headers = list[tuple[bytes, bytes]]
_JSON_HEADERS: Headers = [
    (b"content-type", b"application/json"),
    (b"cache-control", b"no-store"),  # personal answers: no shared cache may keep one
    (b"x-content-type-options", b"nosniff"),
]


class EdgeApp(Starlette):
    """Starlette, with `/v1/assign` answered before the middleware stack and the router.

    The storefront's hot path then costs what raw ASGI costs; the handler adds its own request
    id and turns any unexpected error into the JSON 500 itself.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == ASSIGN_PATH:
            await assign(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


class _Refused(Exception):
    def __init__(self, status: int, code: str, message: str, headers: Headers | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or []


async def assign(scope: Scope, receive: Receive, send: Send) -> None:
    svc: Services = scope["state"]["services"]
    extra: Headers = [(b"x-request-id", new_request_id().encode())]
    started = time.perf_counter() if svc.settings.access_log else 0.0
    status = 200
    try:
        status = await _handle(svc, scope, receive, send, extra)
    except StoreUnavailable:  # a site not in memory yet, while its database does not answer
        status = 503
        await _send(
            send, 503, error_body("store_unavailable", "The store does not answer; try again."), extra
        )
    except Exception:
        status = 500
        logger.exception("assign failed")
        await _send(send, 500, error_body("internal_error", "Something went wrong on our side."), extra)
    if started:
        access_logger.info(
            "%s %s %s", scope["method"], ASSIGN_PATH, status,
            extra={"status": status, "duration_ms": round((time.perf_counter() - started) * 1000, 2)},
        )  # fmt: skip


async def _handle(svc: Services, scope: Scope, receive: Receive, send: Send, extra: Headers) -> int:
    """`extra`: the response's own headers (request id, CORS), grown here as they are known.

    The usual request (a known site, the whole body in one message, the visitor's identity in
    L1) takes no await but the body's and the answer's: each step has a synchronous fast path.
    """
    try:
        origin, declared_length = _request_headers(scope["headers"])
        query = scope["query_string"]
        runtime = svc.runtimes.by_query_string(query) or await _site(svc, query)
        if origin is not None:
            if origin not in runtime.origins:
                raise _Refused(403, "origin_not_allowed", f"Origin {origin} is not allowed for this site.")
            extra += [(b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"Origin")]
        if scope["method"] == "OPTIONS":
            await _preflight(send, extra, svc.settings.cors_max_age_s)
            return 204
        if scope["method"] != "POST":
            raise _Refused(405, "method_not_allowed", "Use POST.", [(b"allow", b"POST, OPTIONS")])
        limit = svc.settings.assign_max_body_bytes
        if declared_length is not None and declared_length > limit:
            raise _Refused(413, "payload_too_large", f"The body is larger than {limit} bytes.")
        message = await receive()
        if message["type"] == "http.request" and not message.get("more_body", False):
            body = message.get("body", b"")
            if len(body) > limit:
                raise _Refused(413, "payload_too_large", f"The body is larger than {limit} bytes.")
        else:
            body = await _read_rest(receive, message, limit)
        request = _decode(body)
        who = identify_cached(runtime, request.kx, svc.resolver) or await identify(
            runtime, request.kx, svc.resolver, deadline_s=svc.settings.resolve_deadline_ms / 1000
        )
        waits: list[Awaitable[object]] = []
        payload = _answer(svc, runtime, request, who, waits)
    except _Refused as refused:
        await _send(send, refused.status, error_body(refused.code, refused.message), extra + refused.headers)
        return refused.status
    for wait in waits:  # an observer's write this answer waits for (bounded by the observer)
        await wait
    await _send(send, 200, payload, extra)
    return 200


def _decode(body: bytes) -> AssignRequest:
    if not body:
        raise _Refused(400, "empty_body", "The body must be a JSON object.")
    try:
        return request_decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise _Refused(422, "validation_failed", str(exc)) from None
    except msgspec.DecodeError as exc:
        raise _Refused(400, "malformed_json", f"The body is not valid JSON: {exc}") from None


def _answer(
    svc: Services,
    runtime: SiteRuntime,
    request: AssignRequest,
    who: VisitorIdentity,
    waits: list[Awaitable[object]] | None = None,
) -> bytes:
    """The answer's body; what observers want the answer to wait for goes into `waits`."""
    warnings: list[str] = []
    visitor_id = request.visitor_id
    if visitor_id is None or not valid_visitor_id(visitor_id):
        if visitor_id is not None:
            warnings.append("visitor_id_replaced")
        visitor_id = new_visitor_id()
    url = request.url if request.url is None or len(request.url) <= MAX_URL_CHARS else None
    if who.warnings:
        warnings += who.warnings
    answer = runtime.memo.answer(
        runtime.compiled,
        visitor_id,
        who.identity,
        request.sticky,
        int(svc.clock()),
        svc.settings.sticky_max_age_s,
    )
    if answer.sticky_ignored:
        warnings.append("sticky_ignored")
    for observer in svc.assign_observers:
        try:
            pending = observer.observed(runtime, visitor_id, who, answer.decision, url)
            if pending is not None and waits is not None:
                waits.append(pending)
        except Exception:
            logger.exception("an assignment observer failed")
    # Assembled from pre-encoded parts: the visitor id and token are URL-safe by construction.
    return b"".join(
        (
            b'{"visitor_id":"',
            visitor_id.encode(),
            _IDENTITY_PARTS[who.identity.kind],
            b"null" if who.retry_after_ms is None else str(who.retry_after_ms).encode(),
            b',"warnings":',
            response_encoder.encode(warnings) if warnings else b"[]",
            b',"experiences":[',
            answer.experiences,
            b'],"sticky":"',
            answer.sticky.encode(),
            b'"}',
        )
    )


def _request_headers(headers: Iterable[tuple[bytes, bytes]]) -> tuple[str | None, int | None]:
    origin: str | None = None
    length: int | None = None
    for name, value in headers:
        if name == b"origin":
            origin = value.decode("latin-1")
        elif name == b"content-length":
            if not value.isdigit():
                raise _Refused(400, "bad_content_length", "Content-Length is not a number.")
            length = int(value)
    return origin, length


async def _site(svc: Services, query_string: bytes) -> SiteRuntime:
    public_key = ""
    for name, value in parse_qsl(query_string.decode("latin-1"), max_num_fields=20):
        if name == "site":
            public_key = value
            break
    if not public_key:
        raise _Refused(400, "missing_site", "The site query parameter (the site's public key) is required.")
    if len(public_key) > 128:
        raise _Refused(404, "site_not_found", "No site has this public key.")
    runtime = svc.runtimes.cached(public_key) or await svc.runtimes.by_public_key(public_key)
    if runtime is None:
        raise _Refused(404, "site_not_found", "No site has this public key.")
    return runtime


async def _read_rest(receive: Receive, first: Message, limit: int) -> bytes:
    """The body when it came in several messages (or the client left)."""
    chunks: list[bytes] = []
    size = 0
    message = first
    while True:
        if message["type"] == "http.disconnect":
            raise _Refused(400, "client_disconnected", "The client went away.")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _Refused(413, "payload_too_large", f"The body is larger than {limit} bytes.")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
        message = await receive()


async def _preflight(send: Send, cors: Headers, max_age_s: int) -> None:
    headers = [
        *cors,
        (b"access-control-allow-methods", b"POST, OPTIONS"),
        (b"access-control-allow-headers", b"content-type"),
        (b"access-control-max-age", str(max_age_s).encode()),
    ]
    await send({"type": "http.response.start", "status": 204, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


async def _send(send: Send, status: int, body: bytes, extra: Headers) -> None:
    headers = [(b"content-length", str(len(body)).encode()), *_JSON_HEADERS, *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})

"""`POST /v1/assign`: the storefront's one round trip, as a lean ASGI handler.

It runs in front of Starlette's middleware and router (`EdgeApp.fast_paths`), so the route costs
what raw ASGI costs; it does what the request-context middleware does for the other routes
itself (request id, honouring a valid incoming `X-Request-ID`, the id in every log line, the
access log: see `traffic.py`). A returning visitor costs a few dict lookups: the site by its
query string, the resolver's L1 hit (`Resolver.cached`) and the remembered answer
(`StorefrontMemo.answer`), plus one msgspec decode and one join of pre-encoded bytes. A first
visit adds one `decide` and one token signature, and leaves nothing behind in memory.

The request, step by step (`_handle`), with the seams other parts extend:
1. `_gather` collects everything the request brings into one `AssignInputs`: the site's runtime,
   the raw headers, the decoded body, the visitor's identity and id, the page URL, the warnings
   so far. Whatever the answer should depend on next (a visit context built from the body and
   headers, a bot check) is read here, once, and carried on `AssignInputs`.
2. `respond`: `StorefrontMemo.answer` decides (or recalls) the answer from those inputs, then
   `_tell_observers` tells every `AssignObserver` (event triggers, exposure counting) about the
   answered assignment; they must not block, but may return an awaitable the answer waits for
   (event triggers: the write that makes the visit's events durable, bounded in time).
3. Those waits are awaited, then the 200 is sent.
Other storefront routes that must be as cheap (a tracking beacon) join `EdgeApp.fast_paths`.

Bad input never becomes a 500: every refusal is an `ApiError` with its 4xx, sent as the JSON
error contract; anything else is a bug, logged with the request id and answered 500.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.types import Message, Receive, Scope, Send

from edge.ops.logs import request_id_var
from edge.services import Services
from edge.sites.runtime import SiteRuntime
from edge.store.errors import StoreUnavailable
from edge.storefront.identity import VisitorIdentity, identify, identify_cached, unresolved_crawler
from edge.storefront.memo import Answer, VisitSource
from edge.storefront.visit import build_visit, header, visit_digest
from edge.storefront.wire import (
    MAX_URL_CHARS,
    AssignRequest,
    decode_request,
    new_visitor_id,
    response_encoder,
    valid_visitor_id,
)
from edge.web.errors import (
    ApiError,
    BadRequest,
    Forbidden,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    error_body,
)
from edge.web.request_ids import incoming
from targeting import EMPTY_VISIT, IdentityKind, Visit

logger = logging.getLogger("kx_edge.assign")
ASSIGN_PATH = "/v1/assign"
MAX_QUERY_BYTES = 2048  # the snippet sends `site=<public key>`; anything longer is not ours
MAX_PUBLIC_KEY_CHARS = 128
# The answer's bytes between the visitor id and the retry delay, per identity kind.
_IDENTITY_PARTS = {kind: f'","identity":"{kind.value}","retry_after_ms":'.encode() for kind in IdentityKind}
Headers = list[tuple[bytes, bytes]]
FastHandler = Callable[[Scope, Receive, Send], Awaitable[None]]
_JSON_HEADERS: Headers = [
    (b"content-type", b"application/json"),
    (b"cache-control", b"no-store"),  # personal answers: no shared cache may keep one
    (b"x-content-type-options", b"nosniff"),
]


class EdgeApp(Starlette):
    """Starlette, with the storefront's hot routes answered before the middleware and router.

    `fast_paths` maps an exact path to a raw ASGI handler that does its own request id, error
    handling and logging (`/v1/assign` by default); every other path goes through Starlette.
    """

    def __init__(
        self, *args: Any, fast_paths: Mapping[str, FastHandler] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fast_paths: dict[str, FastHandler] = {ASSIGN_PATH: assign, **(fast_paths or {})}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            handler = self.fast_paths.get(scope["path"])
            if handler is not None:
                await handler(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


@dataclass(slots=True)
class RequestHead:
    """What `/v1/assign` reads of the request line and headers, in one pass over the headers."""

    origin: str | None = None
    content_length: int | None = None
    bad_content_length: bool = False
    request_id: str | None = None  # a valid incoming X-Request-ID
    user_agent: bytes | None = None


@dataclass(slots=True)
class AssignInputs:
    """Everything one request brings, gathered in one place (`_gather`)."""

    runtime: SiteRuntime
    headers: Sequence[tuple[bytes, bytes]]  # as received: lower-case names, raw values
    request: AssignRequest
    who: VisitorIdentity
    visitor_id: str
    url: str | None
    warnings: list[str]
    # What the site's live experiences read of the visit: a `Visit`, or the function building
    # it when the answer needs it (a returning visitor's remembered answer may not: `visit_digest`).
    visit: VisitSource = EMPTY_VISIT
    visit_digest: bytes | None = None  # `edge.storefront.visit.visit_digest`, for a token's request
    # What observers want the answer to wait for (a durable write, bounded by the observer).
    waits: list[Awaitable[object]] = field(default_factory=list)
    bot: bool = False  # the user agent is a known crawler: every test's control, reason `bot`


async def assign(scope: Scope, receive: Receive, send: Send) -> None:
    started = time.perf_counter()
    svc: Services = scope["state"]["services"]
    head = read_head(scope["headers"])
    request_id = head.request_id or svc.request_ids.new()
    token = request_id_var.set(request_id)
    extra: Headers = [(b"x-request-id", request_id.encode())]
    code = ""
    try:
        status, code = await _handle(svc, scope, head, receive, send, extra)
    except StoreUnavailable:  # a site not in memory yet, while its database does not answer
        status, code = 503, "store_unavailable"
        await _send(send, 503, error_body(code, "The store does not answer; try again."), extra)
    except Exception:
        status = 500
        logger.exception("assign failed")
        await _send(send, 500, error_body("internal_error", "Something went wrong on our side."), extra)
    finally:
        request_id_var.reset(token)
    svc.assign_traffic.record(scope["method"], ASSIGN_PATH, status, time.perf_counter() - started, code)


async def _handle(
    svc: Services, scope: Scope, head: RequestHead, receive: Receive, send: Send, extra: Headers
) -> tuple[int, str]:
    """The status sent and a refusal's error code ("" when answered). `extra`: the response's
    own headers (request id, CORS), grown here as they are known."""
    try:
        inputs = await _gather(svc, scope, head, receive, send, extra)
        if inputs is None:
            return 204, ""  # a preflight, answered
        payload = respond(svc, inputs)
    except ApiError as refused:
        headers = extra + [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in refused.headers.items()
        ]
        await _send(send, refused.status, error_body(refused.code, refused.message, refused.details), headers)
        return refused.status, refused.code
    for wait in inputs.waits:
        await wait
    await _send(send, 200, payload, extra)
    return 200, ""


async def _gather(
    svc: Services, scope: Scope, head: RequestHead, receive: Receive, send: Send, extra: Headers
) -> AssignInputs | None:
    """The request's inputs (None once a preflight is answered). Each step has a synchronous
    fast path, so the usual request (a known site, the whole body in one message, the
    visitor's identity in L1) awaits nothing but its body."""
    query = scope["query_string"]
    runtime = svc.runtimes.by_query_string(query) or await _site(svc, query)
    origin = head.origin
    if origin is not None:
        if origin not in runtime.origins:
            raise _origin_refused(origin, readable=scope["method"] != "OPTIONS")
        extra += [(b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"Origin")]
    if scope["method"] == "OPTIONS":
        await _preflight(send, extra, svc.settings.cors_max_age_s)
        return None
    if scope["method"] != "POST":
        raise MethodNotAllowed("Use POST.", headers={"Allow": "POST, OPTIONS"})
    if head.bad_content_length:
        raise BadRequest("Content-Length is not a number.", code="bad_content_length")
    limit = svc.settings.assign_max_body_bytes
    if head.content_length is not None and head.content_length > limit:
        raise _too_large(limit)
    message = await receive()
    if message["type"] == "http.request" and not message.get("more_body", False):
        body = message.get("body", b"")
        if len(body) > limit:
            raise _too_large(limit)
    else:
        body = await _read_rest(receive, message, limit)
    request = decode_request(body)
    bot = svc.bots.is_bot(head.user_agent)
    who = (
        unresolved_crawler(request.kx)
        if bot
        else identify_cached(runtime, request.kx, svc.resolver)
        or await identify(
            runtime, request.kx, svc.resolver, deadline_s=svc.settings.resolve_deadline_ms / 1000
        )
    )
    inputs = inputs_from(runtime, scope["headers"], request, who, svc, body=body)
    inputs.bot = bot
    return inputs


def inputs_from(
    runtime: SiteRuntime,
    headers: Sequence[tuple[bytes, bytes]],
    request: AssignRequest,
    who: VisitorIdentity,
    svc: Services,
    *,
    body: bytes | None = None,
) -> AssignInputs:
    """The inputs of a request whose body is decoded and whose visitor is identified; the visit
    is built (from the body and `svc`'s settings) only when the site's experiences read it, and
    only when the answer needs it: given the raw `body`, a request with a token carries the
    visit's digest instead, which a returning visitor's remembered answer is found by."""
    warnings: list[str] = []
    visitor_id = request.visitor_id
    new_visitor = False
    if visitor_id is None or not valid_visitor_id(visitor_id):
        if visitor_id is not None:
            warnings.append("visitor_id_replaced")
        visitor_id = new_visitor_id()
        new_visitor = True
    if who.warnings:
        warnings += who.warnings
    url = request.url if request.url is None or len(request.url) <= MAX_URL_CHARS else None
    inputs = AssignInputs(runtime, headers, request, who, visitor_id, url, warnings)
    needs = runtime.compiled.visit_needs
    if needs.any:
        user_agent = header(headers, b"user-agent") if needs.device else None
        country = header(headers, svc.country_header) if needs.country else None
        devices = svc.devices

        def visit() -> Visit:
            return build_visit(
                needs,
                request,
                url=url,
                user_agent=user_agent,
                country=country,
                devices=devices,
                new_visitor=new_visitor,
            )

        inputs.visit = visit
        if body is not None and request.sticky:
            inputs.visit_digest = visit_digest(body, user_agent, country)
    return inputs


def respond(svc: Services, inputs: AssignInputs) -> bytes:
    """The 200 answer's body for `inputs`; observers are told on the way."""
    answer, sticky_ignored = inputs.runtime.memo.answer(
        inputs.visitor_id,
        inputs.who.identity,
        inputs.request.sticky,
        int(svc.clock()),
        svc.settings.sticky_max_age_s,
        inputs.visit,
        bot=inputs.bot,
        digest=inputs.visit_digest,
    )
    if sticky_ignored:
        inputs.warnings.append("sticky_ignored")
    _tell_observers(svc, inputs, answer)
    return _body(inputs, answer)


def _tell_observers(svc: Services, inputs: AssignInputs, answer: Answer) -> None:
    for observer in svc.assign_observers:
        try:
            pending = observer.observed(
                inputs.runtime, inputs.visitor_id, inputs.who, answer.decision, inputs.url
            )
            if pending is not None:
                inputs.waits.append(pending)
        except Exception:
            logger.exception("an assignment observer failed")


def _body(inputs: AssignInputs, answer: Answer) -> bytes:
    # Assembled from pre-encoded parts: the visitor id's charset needs no JSON escaping, and the
    # token is URL-safe by construction.
    who, warnings = inputs.who, inputs.warnings
    return b"".join(
        (
            b'{"visitor_id":"',
            inputs.visitor_id.encode(),
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


def read_head(headers: Sequence[tuple[bytes, bytes]]) -> RequestHead:
    head = RequestHead()
    for name, value in headers:
        if name == b"origin":
            head.origin = value.decode("latin-1")
        elif name == b"content-length":
            if value.isdigit():
                head.content_length = int(value)
            else:
                head.bad_content_length = True
        elif name == b"x-request-id":
            head.request_id = incoming(value)
        elif name == b"user-agent":
            head.user_agent = value
    return head


def public_key_of(query_string: bytes) -> str:
    """The `site` query parameter; 400 when it is missing or the query is not one of ours."""
    if len(query_string) > MAX_QUERY_BYTES:
        raise BadRequest(f"The query string is longer than {MAX_QUERY_BYTES} bytes.", code="query_too_long")
    # Bounded by the length above, so no field limit is needed (parse_qsl's raises ValueError).
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if name == "site":
            if value:
                return value
            break
    raise BadRequest("The site query parameter (the site's public key) is required.", code="missing_site")


async def site_of_query(svc: Services, query_string: bytes) -> SiteRuntime:
    """The site whose public key the query names (`/v1/assign`, `/v1/track`); 400 or 404."""
    return svc.runtimes.by_query_string(query_string) or await _site(svc, query_string)


async def _site(svc: Services, query_string: bytes) -> SiteRuntime:
    public_key = public_key_of(query_string)
    if len(public_key) > MAX_PUBLIC_KEY_CHARS:
        raise NotFound("No site has this public key.", code="site_not_found")
    runtime = svc.runtimes.cached(public_key) or await svc.runtimes.by_public_key(public_key)
    if runtime is None:
        raise NotFound("No site has this public key.", code="site_not_found")
    return runtime


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The body is larger than {limit} bytes.")


async def _read_rest(receive: Receive, first: Message, limit: int) -> bytes:
    """The body when it came in several messages (or the client left)."""
    chunks: list[bytes] = []
    size = 0
    message = first
    while True:
        if message["type"] == "http.disconnect":
            raise BadRequest("The client went away.", code="client_disconnected")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
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


def _origin_refused(origin: str, *, readable: bool) -> Forbidden:
    """403 that the refused page can read (`readable`; not for a preflight, which fails anyway):
    a browser hides any cross-origin answer without `Access-Control-Allow-Origin`, so the snippet
    would only see "blocked by CORS policy". The refusal carries no decision, token or visitor id
    (nothing a page may not know), and credentials are never allowed, so echoing the origin on
    it opens nothing."""
    return Forbidden(
        f"Origin {origin} is not in this site's allowed_origins: add it on the merchant page or with "
        "PATCH /v1/sites/{site_id} (allowed_origins).",
        code="origin_not_allowed",
        headers={"Access-Control-Allow-Origin": origin, "Vary": "Origin"} if readable else None,
    )

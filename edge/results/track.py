"""`POST /v1/track?site=<public_key>`: a storefront conversion, as a lean ASGI handler.

A fast path like `/v1/assign` (`EdgeApp.fast_paths`): the same site lookup, CORS and body
bounds, text/plain JSON body. The visitor's sticky token is verified for this site and visitor
(never remembered), and the conversion is attributed to every variation it names; a token that
does not verify attributes nothing, and is still accepted. The answer, `202 {"accepted",
"duplicate"}`, is sent once the conversion's transaction has committed (writer.py); a store that
does not answer within `database_timeout_s` (or a full queue) is a 503, and the client may send
it again: an order id counts once.
"""

from __future__ import annotations

import asyncio
import logging
import time

import msgspec
from starlette.types import Receive, Scope, Send

from edge.ops.logs import request_id_var
from edge.results.attribution import attributions
from edge.results.conversions import TrackBody
from edge.results.writer import WriterFull
from edge.services import Services
from edge.store.errors import StoreUnavailable
from edge.store.results import Conversion, day_of
from edge.storefront.assign import (
    Headers,
    RequestHead,
    _origin_refused,
    _preflight,
    _read_rest,
    _send,
    _too_large,
    read_head,
    site_of_query,
)
from edge.storefront.wire import valid_visitor_id
from edge.web.errors import ApiError, BadRequest, MethodNotAllowed, ServiceUnavailable, error_body

logger = logging.getLogger("kx_edge.track")
TRACK_PATH = "/v1/track"
_decode = msgspec.json.Decoder(TrackBody).decode
_NOT_COUNTED = b'{"accepted":false,"duplicate":false}'
_ANSWERS = {
    False: b'{"accepted":true,"duplicate":false}',
    True: b'{"accepted":true,"duplicate":true}',
}


async def track(scope: Scope, receive: Receive, send: Send) -> None:
    started = time.perf_counter()
    svc: Services = scope["state"]["services"]
    head = read_head(scope["headers"])
    request_id = head.request_id or svc.request_ids.new()
    token = request_id_var.set(request_id)
    extra: Headers = [(b"x-request-id", request_id.encode())]
    code = ""
    try:
        status, code = await _handle(svc, scope, head, receive, send, extra)
    except StoreUnavailable:
        status, code = 503, "store_unavailable"
        await _send(send, 503, error_body(code, "The store does not answer; try again."), extra)
    except Exception:
        status = 500
        logger.exception("track failed")
        await _send(send, 500, error_body("internal_error", "Something went wrong on our side."), extra)
    finally:
        request_id_var.reset(token)
    svc.assign_traffic.record(scope["method"], TRACK_PATH, status, time.perf_counter() - started, code)


async def _handle(
    svc: Services, scope: Scope, head: RequestHead, receive: Receive, send: Send, extra: Headers
) -> tuple[int, str]:
    try:
        body = await _accepted(svc, scope, head, receive, send, extra)
    except ApiError as refused:
        headers = extra + [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in refused.headers.items()
        ]
        await _send(send, refused.status, error_body(refused.code, refused.message, refused.details), headers)
        return refused.status, refused.code
    if body is None:
        return 204, ""
    await _send(send, 202, body, extra)
    return 202, ""


async def _accepted(
    svc: Services, scope: Scope, head: RequestHead, receive: Receive, send: Send, extra: Headers
) -> bytes | None:
    """The 202's body once the conversion is durable (None: a preflight was answered)."""
    runtime = await site_of_query(svc, scope["query_string"])
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
    raw = await _read_rest(receive, await receive(), limit)
    request = decode_track(raw)
    if not valid_visitor_id(request.visitor_id):
        raise BadRequest("visitor_id is not one this service gave out.", code="invalid_visitor_id")
    if not svc.settings.results_enabled or svc.conversions is None:
        return _NOT_COUNTED
    now = svc.clock()
    entries = runtime.memo.read_token(
        request.visitor_id, request.sticky, int(now), svc.settings.sticky_max_age_s
    )
    conversion = Conversion(
        site_id=runtime.site.id,
        visitor_id=request.visitor_id,
        event=request.event,
        attributions=attributions(entries, day_of(now)),
        order_id=request.order_id,
        value=request.value or 0.0,
        currency=None if request.currency is None else request.currency.upper(),
    )
    duplicate = await durably(svc, conversion)
    return _ANSWERS[duplicate]


def decode_track(raw: bytes) -> TrackBody:
    try:
        return _decode(raw).checked()
    except msgspec.ValidationError as bad:
        raise BadRequest(f"The body is not a valid track request: {bad}", code="invalid_body") from None
    except msgspec.DecodeError:
        raise BadRequest("The body is not JSON.", code="invalid_json") from None


async def durably(svc: Services, conversion: Conversion) -> bool:
    """Queue `conversion` and wait for its commit; whether it was a duplicate order id."""
    writer = svc.conversions
    if writer is None:
        raise ServiceUnavailable("Results are not running on this kx-edge.", code="results_unavailable")
    try:
        future = writer.submit(conversion)
    except WriterFull:
        raise ServiceUnavailable(
            "Too many conversions wait for the store; try again.", code="store_busy"
        ) from None
    try:
        return await asyncio.wait_for(asyncio.shield(future), svc.settings.database_timeout_s * 2)
    except TimeoutError:
        raise StoreUnavailable("the conversion was not written in time") from None
    except StoreUnavailable:
        raise
    except Exception as failed:
        raise StoreUnavailable(str(failed)) from None

"""`POST /v1/sites/{site_id}/orders` (api key), the Shopify order webhook and its secret.

Both record an order like `/v1/track` does (attributed by the visitor's sticky token, one
`(site, order id)` counted once, a 202 once durable). The webhook is authenticated by its
signature alone (no api key: Shopify sends none), under the site's webhook secret or, during
a rotation's grace (`webhook_secret_grace_s`), the one it replaced; a bad signature is a 401
and stores nothing. The secret is stored encrypted like a site's signing secret, never shown.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from edge.access.auth import require_site
from edge.results import shopify
from edge.results.attribution import attributions
from edge.results.conversions import ORDER, OrderBody, WebhookSecretBody
from edge.results.track import durably
from edge.services import Services, services
from edge.sites.runtime import SiteRuntime
from edge.store.results import Conversion, day_of
from edge.storefront.wire import valid_visitor_id
from edge.web.errors import BadRequest, NotFound, Unauthorized
from edge.web.http import decode_json, json_response, read_body

SHOPIFY = "shopify"
_CURRENCY = re.compile(r"[A-Za-z]{3}")


async def _runtime(svc: Services, site_id: str) -> SiteRuntime:
    runtime = await svc.runtimes.by_site_id(site_id)
    if runtime is None:
        raise NotFound(f"No site {site_id}.", code="site_not_found")
    return runtime


async def _record(
    svc: Services,
    runtime: SiteRuntime,
    *,
    order_id: str,
    value: float,
    currency: str | None,
    visitor_id: str | None,
    sticky: str | None,
) -> Response:
    if not svc.settings.results_enabled:
        return json_response({"accepted": False, "duplicate": False}, status_code=202)
    now = svc.clock()
    entries = None
    if visitor_id is not None and valid_visitor_id(visitor_id):
        entries = runtime.memo.read_token(visitor_id, sticky, int(now), svc.settings.sticky_max_age_s)
    conversion = Conversion(
        site_id=runtime.site.id,
        visitor_id=visitor_id or "",
        event=ORDER,
        attributions=attributions(entries, day_of(now)),
        order_id=order_id,
        value=value,
        currency=None if currency is None else currency.upper(),
    )
    duplicate = await durably(svc, conversion)
    return json_response({"accepted": True, "duplicate": duplicate}, status_code=202)


async def post_order(request: Request) -> Response:
    site = await require_site(request)
    svc = services(request)
    body = decode_json(await read_body(request, svc.settings.max_body_bytes), OrderBody)
    return await _record(
        svc, await _runtime(svc, site.id), order_id=body.order_id, value=body.value,
        currency=body.currency, visitor_id=body.visitor_id, sticky=body.sticky,
    )  # fmt: skip


async def shopify_order(request: Request) -> Response:
    svc = services(request)
    runtime = await _runtime(svc, request.path_params["site_id"])
    raw = await read_body(request, shopify.MAX_WEBHOOK_BYTES)
    stored = await svc.results_store.webhook_secrets(runtime.site.id, SHOPIFY)
    secrets = []
    if stored is not None:
        secrets.append(svc.cipher.decrypt(stored.secret_enc).encode())
        if stored.previous_enc and stored.previous_until is not None and svc.clock() < stored.previous_until:
            secrets.append(svc.cipher.decrypt(stored.previous_enc).encode())
    if not shopify.signature_valid(raw, request.headers.get(shopify.SIGNATURE_HEADER), secrets):
        raise Unauthorized(
            "The X-Shopify-Hmac-Sha256 signature does not match this site's webhook secret "
            "(set it with PUT /v1/sites/{site_id}/webhooks/shopify).",
            code="invalid_signature",
        )
    order = shopify.parse_order(raw)
    order_id = str(order.id)
    if not 0 < len(order_id) <= 128:
        raise BadRequest("The order id is 1-128 characters.", code="invalid_body")
    currency = order.currency if _CURRENCY.fullmatch(order.currency) else None
    return await _record(
        svc, runtime, order_id=order_id, value=shopify.order_value(order), currency=currency,
        visitor_id=shopify.attribute(order, shopify.VISITOR_ATTRIBUTE),
        sticky=shopify.attribute(order, shopify.STICKY_ATTRIBUTE),
    )  # fmt: skip


async def put_shopify_secret(request: Request) -> Response:
    site = await require_site(request)
    svc = services(request)
    body = decode_json(await read_body(request, svc.settings.max_body_bytes), WebhookSecretBody)
    grace = svc.settings.webhook_secret_grace_s
    now = svc.clock()
    had = await svc.results_store.webhook_secrets(site.id, SHOPIFY)
    await svc.results_store.put_webhook_secret(
        site.id, SHOPIFY, svc.cipher.encrypt(body.secret), now=now, grace_s=grace
    )
    return json_response({"set": True, "previous_valid_until": int(now + grace) if had is not None else None})


routes = [
    Route("/v1/sites/{site_id}/orders", post_order, methods=["POST"]),
    Route("/v1/sites/{site_id}/webhooks/shopify/orders", shopify_order, methods=["POST"]),
    Route("/v1/sites/{site_id}/webhooks/shopify", put_shopify_secret, methods=["PUT"]),
]

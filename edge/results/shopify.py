"""Shopify's `orders/create` webhook: the signature and what we read of the order.

Shopify signs the raw body: `X-Shopify-Hmac-Sha256` is base64(HMAC-SHA256(secret, body)),
compared here in constant time, before the body is parsed. The snippet writes the visitor id and
sticky token into the cart's attributes (`_kx_visitor_id`, `_kx_sticky`: a leading underscore
keeps them out of the customer's view at checkout), which Shopify copies onto the order as
`note_attributes: [{"name", "value"}]`. The order's `id` is the order id, `total_price` (a
decimal string) its value, `currency` its currency.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
from collections.abc import Iterable

import msgspec

from edge.results.conversions import MAX_VALUE
from edge.web.errors import BadRequest

VISITOR_ATTRIBUTE = "_kx_visitor_id"
STICKY_ATTRIBUTE = "_kx_sticky"
SIGNATURE_HEADER = "x-shopify-hmac-sha256"
MAX_WEBHOOK_BYTES = 1_048_576  # an order with many lines is large; Shopify's are well under this


class NoteAttribute(msgspec.Struct):
    name: str
    value: str | int | float | bool | None = None


class ShopifyOrder(msgspec.Struct):
    """The fields of an `orders/create` body we read (every other field is ignored)."""

    id: int | str
    total_price: str
    currency: str
    note_attributes: list[NoteAttribute] = []


def signature_valid(body: bytes, header: str | None, secrets: Iterable[bytes]) -> bool:
    """Whether `header` is the base64 HMAC-SHA256 of `body` under one of `secrets`."""
    if not header:
        return False
    try:
        given = base64.b64decode(header, validate=True)
    except (binascii.Error, ValueError):
        return False
    valid = False
    for secret in secrets:  # every secret is tried: the time taken does not say which matched
        expected = hmac.digest(secret, body, hashlib.sha256)
        valid |= hmac.compare_digest(expected, given)
    return valid


def parse_order(body: bytes) -> ShopifyOrder:
    try:
        return msgspec.json.decode(body, type=ShopifyOrder)
    except msgspec.ValidationError as bad:
        raise BadRequest(f"The body is not a Shopify order: {bad}", code="invalid_body") from None
    except msgspec.DecodeError:
        raise BadRequest("The body is not JSON.", code="invalid_json") from None


def order_value(order: ShopifyOrder) -> float:
    try:
        value = float(order.total_price)
    except ValueError:
        raise BadRequest("total_price is not a number.", code="invalid_body") from None
    if not math.isfinite(value) or not 0 <= value <= MAX_VALUE:
        raise BadRequest(f"total_price must be between 0 and {MAX_VALUE:.0f}.", code="invalid_body")
    return value


def attribute(order: ShopifyOrder, name: str) -> str | None:
    for item in order.note_attributes:
        if item.name == name and isinstance(item.value, str):
            return item.value
    return None

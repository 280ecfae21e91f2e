"""What a conversion request may say: `/v1/track`'s body and the orders API's body.

Bounds: `value` finite, 0 to `MAX_VALUE`; `currency` ISO 4217's shape (three letters, kept
upper-case); `order_id` 1-128 characters; `visitor_id` as `/v1/assign` takes it (1-128 of `[A-Za-z0-9_.:-]`); an event name 1-64 characters of `[A-Za-z0-9_.:-]`.
An `order` needs an `order_id` and a `value`: without an id it could not be counted once.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from edge.storefront.wire import VISITOR_ID_PATTERN
from edge.web.errors import BadRequest

MAX_VALUE = 1e9
ORDER = "order"
EventName = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
OrderId = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
Value = Annotated[float, msgspec.Meta(ge=0, le=MAX_VALUE)]
Currency = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z]{3}$")]
Sticky = Annotated[str, msgspec.Meta(max_length=25_000)]
# The ids /v1/assign accepts (a merchant's own included): a visitor it served can always convert.
VisitorId = Annotated[str, msgspec.Meta(pattern=VISITOR_ID_PATTERN)]


class TrackBody(msgspec.Struct, forbid_unknown_fields=True):
    """`POST /v1/track`."""

    visitor_id: VisitorId
    event: EventName
    sticky: Sticky | None = None
    order_id: OrderId | None = None
    value: Value | None = None
    currency: Currency | None = None

    def checked(self) -> TrackBody:
        if self.event == ORDER and (self.order_id is None or self.value is None):
            raise BadRequest("An order needs order_id and value.", code="order_incomplete")
        if self.event != ORDER and self.order_id is not None:
            raise BadRequest("Only an order has an order_id.", code="invalid_body")
        return self


class OrderBody(msgspec.Struct, forbid_unknown_fields=True):
    """`POST /v1/sites/{site_id}/orders`."""

    order_id: OrderId
    value: Value
    visitor_id: VisitorId | None = None
    sticky: Sticky | None = None
    currency: Currency | None = None


class WebhookSecretBody(msgspec.Struct, forbid_unknown_fields=True):
    """`PUT /v1/sites/{site_id}/webhooks/shopify`."""

    secret: Annotated[str, msgspec.Meta(min_length=16, max_length=512)]

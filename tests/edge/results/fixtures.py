"""A Shopify `orders/create` body, shaped like the REST Admin API's order resource (the webhook's
payload): many fields we ignore, the ones we read (`id`, `total_price`, `currency`,
`note_attributes`), cart attributes the snippet wrote and one a theme wrote."""

from __future__ import annotations

import json
from typing import Any


def shopify_order(
    order_id: int, total_price: str, currency: str, visitor_id: str | None, sticky: str | None
) -> bytes:
    notes: list[dict[str, Any]] = [{"name": "gift_wrap", "value": "yes"}]
    if visitor_id is not None:
        notes.append({"name": "_kx_visitor_id", "value": visitor_id})
    if sticky is not None:
        notes.append({"name": "_kx_sticky", "value": sticky})
    body = {
        "id": order_id,
        "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
        "app_id": 580111,
        "browser_ip": "203.0.113.7",
        "buyer_accepts_marketing": False,
        "cart_token": "Z2NwLXVzLWVhc3QxOjAxSjk3UFg4RlFZMjVTVkRHRlc1RlI3SlRY",
        "checkout_id": 901414060,
        "confirmation_number": "JKWX2HAM4",
        "confirmed": True,
        "contact_email": "jon@example.com",
        "created_at": "2026-12-01T10:30:00-05:00",
        "currency": currency,
        "current_subtotal_price": total_price,
        "current_total_price": total_price,
        "current_total_tax": "0.00",
        "customer_locale": "en-US",
        "discount_codes": [],
        "email": "jon@example.com",
        "financial_status": "paid",
        "fulfillment_status": None,
        "landing_site": "/products/pants?utm_source=klaviyo",
        "name": "#1001",
        "note": None,
        "note_attributes": notes,
        "number": 1,
        "order_number": 1001,
        "presentment_currency": currency,
        "processed_at": "2026-12-01T10:30:00-05:00",
        "referring_site": "https://www.example.com/",
        "source_name": "web",
        "subtotal_price": total_price,
        "tags": "",
        "taxes_included": False,
        "test": False,
        "token": "d5f7a646d13c0b89c472d8b65bc57545",
        "total_discounts": "0.00",
        "total_line_items_price": total_price,
        "total_price": total_price,
        "total_price_set": {
            "shop_money": {"amount": total_price, "currency_code": currency},
            "presentment_money": {"amount": total_price, "currency_code": currency},
        },
        "total_tax": "0.00",
        "total_weight": 0,
        "updated_at": "2026-12-01T10:30:01-05:00",
        "customer": {
            "id": 115310627314723954,
            "email": "jon@example.com",
            "first_name": "Jon",
            "currency": currency,
        },
        "line_items": [
            {
                "id": 866550311766439020,
                "name": "Pants - L",
                "price": total_price,
                "product_id": 632910392,
                "quantity": 1,
                "sku": "PANTS-L",
                "variant_id": 808950810,
                "properties": [],
            }
        ],
        "shipping_lines": [],
        "refunds": [],
    }
    return json.dumps(body).encode()

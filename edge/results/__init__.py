"""Results: what the storefront and the shop report, counted into the results tables.

    bots.py          is this user agent a known crawler? (crawlerdetect, cached per distinct UA)
    counting.py      the exposure and bot counters (an `AssignObserver`) and their flusher
    attribution.py   which cells a visitor's sticky token attributes a conversion to
    writer.py        the group commit of conversions (a 2xx means the conversion is durable)
    conversions.py   what a conversion request may say (validation)
    track.py         `POST /v1/track`, a storefront fast path like `/v1/assign`
    shopify.py       the Shopify `orders/create` webhook's signature and body
    routes.py        `POST /v1/sites/{id}/orders`, the webhook and its secret
    component.py     builds and runs all of it for one app

How each number is counted: docs/results.md. This module imports nothing, so the storefront
can import `edge.results.bots` without importing the rest.
"""

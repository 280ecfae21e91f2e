"""The storefront surface: `POST /v1/assign` (a lean ASGI handler) and `GET /v1/snippet.js`.

What the hot path keeps in memory, its bounds per process and what invalidates each cached
thing (runtime swap, memo serial and `good_until`, generation in the resolver's keys, the index
stamp): docs/memory.md.
"""

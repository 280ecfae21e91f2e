"""The storefront surface: `POST /v1/assign` (a lean ASGI handler) and `GET /v1/snippet.js`."""

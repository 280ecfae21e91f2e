"""The merchant page at `/admin`: sign in with the site's api key, connect Klaviyo, build targeting,
start tests, and see why a visitor got what.

It is a client of the configuration API, never a second source of truth: the page's JavaScript
calls `/v1/sites/{site_id}/...` with the session cookie and an `X-CSRF-Token` header, and
`edge.access.auth.require_site` accepts that session for the one site it is bound to.

    sessions.py   server-side sessions (hashed ids, idle and absolute timeouts) and the cookie
    csrf.py       the CSRF checks: per-session token for changes, double-submit for sign-in
    limits.py     failed sign-ins per client address
    pages.py      the server-rendered pages (Jinja2 templates under templates/)
    routes.py     `routes`: the pages and the static files, for `create_app(extra_routes=...)`

This module imports nothing, so `edge.access.auth` can use the sessions without an import cycle.
"""

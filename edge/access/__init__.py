"""Who may call the configuration API: the operator token, a site's api key, or a merchant-page
session (with its CSRF token) for the one site it is bound to.

    auth.py       `require_site`, `require_operator`: the checks every configuration route makes
    sessions.py   server-side merchant-page sessions (hashed ids, idle and absolute timeouts)
    csrf.py       the CSRF checks: per-session token for changes, double-submit for sign-in

The merchant page (`edge/admin`) uses these; nothing here imports the merchant page.
"""

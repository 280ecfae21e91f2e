"""Binding a connect flow to the browser that started it.

The browser holds a random secret (the edge keeps it in an HttpOnly cookie); a flow stores only
its SHA-256. The callback completes a flow only when the browser that arrives there presents the
secret whose hash the flow holds, so a `state` (or a whole authorize URL) that leaks is worthless
in any other browser: whoever approves it there connects nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

_SECRET = re.compile(r"[A-Za-z0-9_-]{43}")


def new_browser_secret() -> str:
    """A fresh binding secret: 256 random bits, URL-safe (43 characters)."""
    return secrets.token_urlsafe(32)


def is_browser_secret(value: str | None) -> bool:
    """Whether `value` has the shape `new_browser_secret` gives (anything else is ignored)."""
    return value is not None and _SECRET.fullmatch(value) is not None


def browser_hash(secret: str) -> str:
    """What a flow stores of the browser's secret (hex SHA-256): a database dump opens nothing."""
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def same_browser(bound_hash: str | None, secret: str | None) -> bool:
    """Whether `secret` is the one `bound_hash` was made from (constant-time)."""
    if not bound_hash or not is_browser_secret(secret):
        return False
    assert secret is not None
    return hmac.compare_digest(bound_hash, browser_hash(secret))

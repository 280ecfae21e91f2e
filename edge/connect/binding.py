"""The browser's side of a connect: its binding cookie, and the ticket that opens the result page.

The cookie (`kx_connect`, or `__Host-kx_connect` over https) holds the browser's binding secret
(`oauth.binding`); flows store only its hash. It is HttpOnly and SameSite=Lax, not Strict like
the merchant session's: Klaviyo sends the browser back with a cross-site redirect, and a Strict
cookie would not come along on it.

The result page shows a site's connection status and account name, so it opens only with a
ticket: the callback's redirect carries the outcome, the site and an expiry, signed with a key
derived from `KX_EDGE_SECRET_KEY` over those and the hash of the browser's secret. Another
browser (no cookie, or another one), a changed parameter or an old link gets no status.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from starlette.requests import Request
from starlette.responses import Response

from edge.access.sessions import is_secure
from oauth.binding import browser_hash, is_browser_secret
from oauth.crypto import derive_fernet_key

COOKIE: Final = "kx_connect"
SECURE_COOKIE: Final = "__Host-kx_connect"  # the prefix makes browsers insist on Secure, Path=/, no Domain
COOKIE_MAX_AGE_S: Final = 3600  # a flow lives 10 minutes; the result page is read after it
TICKET_TTL_S: Final = 600
_TICKET_INFO: Final = b"kx-edge connect result ticket v1"


def browser_secret_of(request: Request) -> str | None:
    """The request's binding secret, or None (no cookie, or not a secret we could have made)."""
    value = request.cookies.get(SECURE_COOKIE) or request.cookies.get(COOKIE)
    return value if is_browser_secret(value) else None


def set_binding_cookie(response: Response, request: Request, secret: str) -> None:
    secure = is_secure(request)
    response.set_cookie(
        SECURE_COOKIE if secure else COOKIE,
        secret,
        max_age=COOKIE_MAX_AGE_S,
        path="/",
        secure=secure,
        httponly=True,
        samesite="lax",
    )


# Set when the merchant page starts a connect: the result page then sends the browser back to
# the page's Integrations card. A hint, not a credential (the card reads the status itself).
RETURN_COOKIE: Final = "kx_connect_from_page"


def set_return_cookie(response: Response, request: Request) -> None:
    response.set_cookie(
        RETURN_COOKIE, "1", max_age=COOKIE_MAX_AGE_S, path="/oauth/klaviyo", secure=is_secure(request),
        httponly=True, samesite="lax",
    )  # fmt: skip


class Outcome(StrEnum):
    CONNECTED = "connected"
    DENIED = "denied"


_OUTCOMES: Final = frozenset(o.value for o in Outcome)


@dataclass(frozen=True, slots=True)
class Result:
    """What the result page may show, once its ticket checked out."""

    outcome: Outcome
    site_id: str
    error: str | None = None


class ResultTickets:
    """Signs and checks the result page's query (`outcome`, `site_id`, `error`?, `expires`, `sig`)."""

    def __init__(self, secret_key: str, *, clock: Callable[[], float] = time.time) -> None:
        self._key = derive_fernet_key(secret_key, info=_TICKET_INFO)
        self._clock = clock

    def query(self, result: Result, browser_secret: str) -> dict[str, str]:
        """The result page's query for `result`, valid in the browser holding `browser_secret`."""
        expires = str(int(self._clock()) + TICKET_TTL_S)
        query = {"outcome": result.outcome.value, "site_id": result.site_id}
        if result.error:
            query["error"] = result.error
        query["expires"] = expires
        query["sig"] = self._sign(
            result.outcome.value, result.site_id, result.error or "", expires, browser_secret
        )
        return query

    def check(self, query: Mapping[str, str], browser_secret: str | None) -> Result | None:
        """The result the query names, if its signature holds for this browser and it has not
        expired; None otherwise."""
        if browser_secret is None:
            return None
        outcome, site_id = query.get("outcome", ""), query.get("site_id", "")
        error, expires, sig = query.get("error", ""), query.get("expires", ""), query.get("sig", "")
        if outcome not in _OUTCOMES or not site_id or not expires.isdigit():
            return None
        expected = self._sign(outcome, site_id, error, expires, browser_secret)
        if not hmac.compare_digest(sig.encode(), expected.encode()) or self._clock() >= int(expires):
            return None
        return Result(Outcome(outcome), site_id, error or None)

    def _sign(self, *fields: str) -> str:
        *values, browser_secret = fields
        message = json.dumps([*values, browser_hash(browser_secret)]).encode("utf-8")
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

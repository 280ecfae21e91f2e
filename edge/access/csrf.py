"""CSRF checks for the merchant page.

- Every change made with a session (any method but GET and HEAD) carries the session's token: the
  page's JavaScript sends it as `X-CSRF-Token` (read from a meta tag), server-rendered forms as the
  hidden field `csrf_token`. A missing or wrong token answers 403 `csrf_failed`.
- Sign-in has no session yet, so its form is guarded by a double submit: the sign-in page sets a
  random token in a SameSite=Strict cookie and in a hidden field, and the POST must carry both,
  equal. A request whose `Origin` is present and foreign is refused as well.

The session cookie is SameSite=Strict too, so a cross-site request does not even carry it; the
token is the second lock, for browsers or set-ups where SameSite does not hold.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Final
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from edge.access.sessions import AdminSession, is_secure
from edge.services import services
from edge.web.errors import ApiError

HEADER: Final = "x-csrf-token"
FIELD: Final = "csrf_token"
SAFE_METHODS: Final = frozenset({"GET", "HEAD"})
SIGN_IN_COOKIE: Final = "kx_admin_signin"
SIGN_IN_FIELD: Final = "signin_token"
SIGN_IN_PATH: Final = "/admin/sign-in"


class CsrfFailed(ApiError):
    status, default_code = 403, "csrf_failed"


def _same(presented: str | None, expected: str) -> bool:
    return bool(presented) and hmac.compare_digest(str(presented).encode(), expected.encode())


def require_header_token(request: Request, session: AdminSession) -> None:
    """For API calls made with a session: `X-CSRF-Token` must be the session's token."""
    if request.method in SAFE_METHODS:
        return
    if not _same(request.headers.get(HEADER), session.csrf_token):
        raise CsrfFailed(
            "This change needs the page's security token (X-CSRF-Token). Reload the page and try again."
        )


def require_form_token(presented: str | None, session: AdminSession) -> None:
    """For server-rendered form posts: the hidden `csrf_token` field must be the session's token."""
    if not _same(presented, session.csrf_token):
        raise CsrfFailed("The form's security token is missing or wrong. Reload the page and try again.")


def sign_in_token(request: Request) -> str:
    """The token the sign-in form carries: the cookie's, or a fresh one (`set_sign_in_cookie`)."""
    return request.cookies.get(SIGN_IN_COOKIE) or secrets.token_urlsafe(24)


def set_sign_in_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        SIGN_IN_COOKIE, token, path=SIGN_IN_PATH, secure=is_secure(request), httponly=True, samesite="strict"
    )


def require_sign_in_token(request: Request, presented: str | None) -> None:
    """The sign-in POST: same-origin (when the browser says), and the double submit matches."""
    origin = request.headers.get("origin")
    if origin is not None and origin not in own_origins(request):
        raise CsrfFailed(f"Sign-in from {origin[:100]} is not allowed: sign in on this kx-edge's own page.")
    cookie = request.cookies.get(SIGN_IN_COOKIE)
    if not cookie or not _same(presented, cookie):
        raise CsrfFailed("The sign-in form expired. Reload the sign-in page and try again.")


def own_origins(request: Request) -> set[str]:
    """This service's origins: the one the request was addressed to, and the public URL's."""
    origins = {f"{request.url.scheme}://{request.url.netloc}"}
    public = urlsplit(services(request).settings.public_url)
    if public.scheme and public.netloc:
        origins.add(f"{public.scheme}://{public.netloc}")
    return origins

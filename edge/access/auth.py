"""Who may call: the operator token, and each site's api key for that site only."""

from __future__ import annotations

import enum
import hmac
from dataclasses import dataclass

from starlette.requests import Request

from edge.access.csrf import require_header_token
from edge.access.sessions import AdminSession, current_session
from edge.services import services
from edge.sites.keys import hash_api_key
from edge.store import SiteRecord
from edge.web.errors import NotFound, Unauthorized
from edge.web.http import bearer_token

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="kx-edge"'}


def is_operator(request: Request) -> bool:
    token = bearer_token(request)
    expected = services(request).settings.operator_token
    return bool(token and expected and hmac.compare_digest(token.encode(), expected.encode()))


def require_operator(request: Request) -> None:
    if not is_operator(request):
        raise Unauthorized("The operator token is required here.", headers=_CHALLENGE)


class Via(enum.Enum):
    """How the caller opened the site."""

    OPERATOR = "operator"
    KEY = "key"  # the site's current api key
    PREVIOUS_KEY = "previous_key"  # the key a rotation replaced, within its grace period
    SESSION = "session"  # the merchant page's session (with its CSRF token on changes)


@dataclass(frozen=True, slots=True)
class SiteAccess:
    site: SiteRecord
    via: Via
    session: AdminSession | None = None


async def require_site(request: Request) -> SiteRecord:
    """The site named in the path, if the caller's key opens it (see `require_site_access`)."""
    return (await require_site_access(request)).site


async def require_site_access(request: Request) -> SiteAccess:
    """The site named in the path and how the caller opened it.

    A valid key for another site answers 404, exactly like a site that does not exist, so site
    ids cannot be probed with one site's key. A key that a rotation replaced still opens its
    site until the rotation's grace period ends, then it is refused (401). Without an
    Authorization header, the merchant page's session opens the one site it is bound to, and
    every change (any method but GET and HEAD) must then carry the session's CSRF token in
    `X-CSRF-Token` (403 `csrf_failed`).
    """
    site_id = request.path_params["site_id"]
    svc = services(request)
    store = svc.store
    if "authorization" not in request.headers:
        session = await current_session(request)
        if session is not None:
            require_header_token(request, session)
            site = await store.get_site(site_id) if session.site_id == site_id else None
            if site is None:
                raise NotFound(f"No site {site_id}.", code="site_not_found")
            return SiteAccess(site, Via.SESSION, session)
    token = bearer_token(request)
    if token is None:
        raise Unauthorized("An api key is required: Authorization: Bearer <api_key>.", headers=_CHALLENGE)
    if is_operator(request):
        site, via = await store.get_site(site_id), Via.OPERATOR
    else:
        key_hash = hash_api_key(token)
        site, via = await store.get_site_by_api_key_hash(key_hash), Via.KEY
        if site is None:
            site, via = await store.get_site_by_previous_key_hash(key_hash), Via.PREVIOUS_KEY
            if site is not None and not site.previous_key_valid(svc.clock()):
                raise Unauthorized(
                    "The api key was replaced by a rotation and its grace period has ended: use the "
                    "site's new api key.",
                    headers=_CHALLENGE,
                )
        if site is None:
            raise Unauthorized("The api key is not valid.", headers=_CHALLENGE)
        if site.id != site_id:
            site = None
    if site is None:
        raise NotFound(f"No site {site_id}.", code="site_not_found")
    return SiteAccess(site, via)

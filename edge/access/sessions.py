"""Merchant page sessions: one random id per sign-in, bound to one site, kept server-side.

The browser holds only the id (cookie `kx_admin`, or `__Host-kx_admin` over https: HttpOnly,
SameSite=Strict, Path=/). The table keeps its SHA-256, so a database dump opens nothing, with the
site, the CSRF token and two times: a session ends after `IDLE_TIMEOUT_S` without a request or
`ABSOLUTE_TIMEOUT_S` after sign-in, whichever comes first, and signing out deletes the row.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from typing import Final

from starlette.requests import Request
from starlette.responses import Response

from edge.services import services
from edge.store.base import AdminSessionStore
from edge.store.records import AdminSession as AdminSession  # re-exported for the pages and CSRF checks

IDLE_TIMEOUT_S: Final = 30 * 60
ABSOLUTE_TIMEOUT_S: Final = 12 * 3600
TOUCH_EVERY_S: Final = 60  # last_seen is written at most once a minute per session
COOKIE: Final = "kx_admin"
SECURE_COOKIE: Final = "__Host-kx_admin"  # the prefix makes browsers insist on Secure, Path=/, no Domain
_STATE_KEY: Final = "admin_session"


def expired(session: AdminSession, now: float) -> bool:
    return now - session.last_seen_at >= IDLE_TIMEOUT_S or now - session.created_at >= ABSOLUTE_TIMEOUT_S


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


class SessionStore:
    """Sessions by the id the browser holds: hashing, timeouts and touching on top of the
    store's `AdminSessionStore` (the `admin_sessions` table)."""

    def __init__(self, rows: AdminSessionStore, clock: Callable[[], float]) -> None:
        self._rows = rows
        self._clock = clock

    async def create(self, site_id: str) -> tuple[str, AdminSession]:
        """A new session for `site_id`: (the id for the cookie, the stored session)."""
        now = self._clock()
        session_id = secrets.token_urlsafe(32)
        session = AdminSession(_hash(session_id), site_id, secrets.token_urlsafe(32), now, now)
        await self._rows.create(session, expired_before=(now - IDLE_TIMEOUT_S, now - ABSOLUTE_TIMEOUT_S))
        return session_id, session

    async def get(self, session_id: str) -> AdminSession | None:
        """The live session with this id, its last-seen time moved to now; None when unknown or
        expired (an expired one is deleted)."""
        session = await self._rows.get(_hash(session_id))
        if session is None:
            return None
        now = self._clock()
        if expired(session, now):
            await self.delete(session_id)
            return None
        if now - session.last_seen_at >= TOUCH_EVERY_S:
            await self._rows.touch(session.id_hash, now)
        return session

    async def delete(self, session_id: str) -> None:
        await self._rows.delete(_hash(session_id))

    async def count(self, site_id: str) -> int:
        return await self._rows.count(site_id)


def session_store(request: Request) -> SessionStore:
    svc = services(request)
    return SessionStore(svc.sessions, svc.clock)


def is_secure(request: Request) -> bool:
    """Over https, or served behind https (the public URL says so): then the cookie is Secure."""
    return request.url.scheme == "https" or services(request).settings.public_url.startswith("https://")


def session_id_of(request: Request) -> str | None:
    return request.cookies.get(SECURE_COOKIE) or request.cookies.get(COOKIE) or None


async def current_session(request: Request) -> AdminSession | None:
    """The request's live session (looked up once per request), or None."""
    if hasattr(request.state, _STATE_KEY):
        found: AdminSession | None = getattr(request.state, _STATE_KEY)
        return found
    session_id = session_id_of(request)
    session = await session_store(request).get(session_id) if session_id else None
    setattr(request.state, _STATE_KEY, session)
    return session


def set_session_cookie(response: Response, request: Request, session_id: str) -> None:
    secure = is_secure(request)
    response.set_cookie(
        SECURE_COOKIE if secure else COOKIE,
        session_id,
        max_age=ABSOLUTE_TIMEOUT_S,
        path="/",
        secure=secure,
        httponly=True,
        samesite="strict",
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    secure = is_secure(request)
    for name in (COOKIE, SECURE_COOKIE):
        response.delete_cookie(name, path="/", secure=secure or name == SECURE_COOKIE, httponly=True,
                               samesite="strict")  # fmt: skip

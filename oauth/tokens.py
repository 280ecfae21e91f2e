"""Valid access tokens for a site, refreshed ahead of expiry by one refresher at a time.

One refresh per connection runs at a time: callers in this process queue on an asyncio lock per
site, and processes queue on the `LockProvider` lock (Redis across machines). Whoever gets the
lock reads the stored connection again, so a token another process has just refreshed is used,
not refreshed a second time. Failures end in a connection status that says what to do next:
`invalid_grant` -> `needs_reauth` (and no further attempts); a rejected client or a malformed
answer -> `error`; network trouble keeps the status and records `last_error`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import weakref
from collections.abc import Callable

from oauth.client import KlaviyoOAuthClient
from oauth.connection import Connection, ConnectionStatus
from oauth.crypto import TokenCipher
from oauth.errors import (
    DecryptionError,
    InvalidGrant,
    LockTimeout,
    NotConnected,
    OAuthError,
    OAuthUnavailable,
    ReauthRequired,
)
from oauth.storage import ConnectionStore, LockProvider

logger = logging.getLogger(__name__)

# A token this close to `expires_at` is treated as expired: it may die in flight.
_EXPIRY_SKEW_S = 10
_MAX_FAILURE_ENTRIES = 1024
_MAX_REASON = 300


def refresh_lock_name(site_id: str) -> str:
    return f"oauth-refresh:{site_id}"


class TokenManager:
    """Hands out access tokens for connected sites and keeps them fresh.

    `refresh_margin_s`: refresh this long before expiry (at most half the token's lifetime).
    `lock_ttl_s` must exceed a refresh call (default: twice the client's timeout, at least 30 s);
    `lock_wait_s` bounds how long a caller queues behind another refresher. After a failed
    refresh, the next attempt for that site in this process waits `failure_backoff_s`, so an
    outage does not become a retry storm.
    """

    def __init__(
        self,
        store: ConnectionStore,
        cipher: TokenCipher,
        client: KlaviyoOAuthClient,
        locks: LockProvider,
        clock: Callable[[], float] = time.time,
        *,
        refresh_margin_s: float = 300.0,
        lock_ttl_s: float | None = None,
        lock_wait_s: float = 15.0,
        failure_backoff_s: float = 10.0,
    ) -> None:
        self._store = store
        self._cipher = cipher
        self._client = client
        self._locks = locks
        self._clock = clock
        self._refresh_margin_s = refresh_margin_s
        # The lock must outlive a refresh call, or a second refresher could start meanwhile.
        self._lock_ttl_s = lock_ttl_s or max(30.0, 2 * client.config.timeout_s + 5)
        self._lock_wait_s = lock_wait_s
        self._failure_backoff_s = failure_backoff_s
        self._local: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._failed_at: dict[str, float] = {}

    async def get_access_token(self, site_id: str) -> str:
        """A valid access token for the site, refreshed first when it is close to expiry.

        Raises `NotConnected`, `ReauthRequired` (at once, without calling Klaviyo, once a
        refresh met `invalid_grant`), `OAuthUnavailable` (transient: treat as pending), or
        another `OAuthError` when Klaviyo refused the refresh for a reason stated in the status.
        """
        connection = await self._usable(site_id)
        token = await self._current(connection, rejected=None)
        if token is not None:
            return token
        return await self._refresh(site_id, rejected=None)

    async def refresh_after_unauthorized(self, site_id: str, rejected_access_token: str) -> str:
        """The REST API answered 401 to `rejected_access_token`: a token to retry with once.

        Refreshes unless the stored token already differs from the rejected one (someone else
        refreshed meanwhile). Raises like `get_access_token`.
        """
        connection = await self._usable(site_id)
        token = await self._current(connection, rejected=rejected_access_token)
        if token is not None:
            return token
        return await self._refresh(site_id, rejected=rejected_access_token)

    async def _refresh(self, site_id: str, rejected: str | None) -> str:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._lock_wait_s
        local = self._local.get(site_id)
        if local is None:
            local = self._local[site_id] = asyncio.Lock()
        try:
            async with asyncio.timeout_at(deadline):
                await local.acquire()
        except TimeoutError:
            return await self._while_busy(site_id, rejected)
        try:
            wait_s = max(0.0, deadline - loop.time())
            try:
                async with self._locks.lock(refresh_lock_name(site_id), self._lock_ttl_s, wait_s):
                    return await self._refresh_locked(site_id, rejected)
            except LockTimeout:
                return await self._while_busy(site_id, rejected)
        finally:
            local.release()

    async def _while_busy(self, site_id: str, rejected: str | None) -> str:
        """Someone else has been refreshing for longer than we wait: use the stored token if it
        is still good (theirs may have landed already), else give up for now."""
        connection = await self._usable(site_id)
        token = await self._unexpired(connection, rejected)
        if token is None:
            raise OAuthUnavailable("another worker is still refreshing this connection's token")
        return token

    async def _refresh_locked(self, site_id: str, rejected: str | None) -> str:
        connection = await self._usable(site_id)
        token = await self._current(connection, rejected)
        if token is not None:
            return token
        now = self._clock()
        failed_at = self._failed_at.get(site_id)
        if failed_at is not None and now < failed_at + self._failure_backoff_s:
            token = await self._unexpired(connection, rejected)
            if token is not None:
                return token
            retry_in = failed_at + self._failure_backoff_s - now
            raise OAuthUnavailable(
                f"the last token refresh failed ({connection.last_error or 'unknown'}); "
                f"next attempt in {retry_in:.0f}s"
            )
        refresh_token = await self._decrypt(connection, connection.refresh_token_enc)
        try:
            tokens = await self._client.refresh(refresh_token)
        except InvalidGrant as exc:
            reason = _reason(exc)
            await self._store.update(
                dataclasses.replace(connection, status=ConnectionStatus.NEEDS_REAUTH, last_error=reason)
            )
            logger.warning("site %s needs to reconnect Klaviyo: %s", site_id, reason)
            raise ReauthRequired(site_id, exc.error) from exc
        except OAuthError as exc:
            self._note_failure(site_id, now)
            transient = isinstance(exc, OAuthUnavailable)
            status = connection.status if transient else ConnectionStatus.ERROR
            await self._store.update(dataclasses.replace(connection, status=status, last_error=_reason(exc)))
            logger.warning("site %s: token refresh failed: %s", site_id, exc)
            token = await self._unexpired(connection, rejected)
            if token is not None:
                return token
            raise
        self._failed_at.pop(site_id, None)
        refreshed = dataclasses.replace(
            connection,
            status=ConnectionStatus.ACTIVE,
            access_token_enc=self._cipher.encrypt(tokens.access_token),
            refresh_token_enc=self._cipher.encrypt(tokens.refresh_token),
            expires_at=tokens.expires_at,
            scopes=tokens.scopes or connection.scopes,
            last_refresh_at=int(self._clock()),
            last_error=None,
        )
        if await self._store.update(refreshed):
            return tokens.access_token
        # Reconnected or disconnected while we refreshed: the stored connection wins.
        connection = await self._usable(site_id)
        token = await self._unexpired(connection, None)
        if token is None:
            raise OAuthUnavailable("the connection changed during a token refresh")
        return token

    async def _usable(self, site_id: str) -> Connection:
        connection = await self._store.get(site_id)
        if (
            connection is None
            or connection.status is ConnectionStatus.DISCONNECTED
            or not connection.has_tokens
            or connection.expires_at is None
        ):
            raise NotConnected(site_id)
        if connection.status is ConnectionStatus.NEEDS_REAUTH:
            raise ReauthRequired(site_id, connection.last_error)
        return connection

    async def _current(self, connection: Connection, rejected: str | None) -> str | None:
        """The stored token if it may be used without refreshing, else None."""
        if rejected is None:
            if self._due(connection):
                return None
            return await self._decrypt(connection, connection.access_token_enc)
        return await self._unexpired(connection, rejected)

    async def _unexpired(self, connection: Connection, rejected: str | None) -> str | None:
        """The stored token if it has not expired and is not the rejected one, else None."""
        assert connection.expires_at is not None
        if self._clock() >= connection.expires_at - _EXPIRY_SKEW_S:
            return None
        token = await self._decrypt(connection, connection.access_token_enc)
        return None if token == rejected else token

    def _due(self, connection: Connection) -> bool:
        assert connection.expires_at is not None
        margin = self._refresh_margin_s
        issued = connection.last_refresh_at or connection.connected_at
        if issued is not None and connection.expires_at > issued:
            # Short-lived tokens would otherwise be refreshed on every call.
            margin = min(margin, (connection.expires_at - issued) / 2)
        return self._clock() >= connection.expires_at - margin

    async def _decrypt(self, connection: Connection, value: str | None) -> str:
        if value is None:
            raise NotConnected(connection.site_id)
        try:
            return self._cipher.decrypt(value)
        except DecryptionError as exc:
            reason = _reason(exc)
            if connection.last_error != reason:
                await self._store.update(
                    dataclasses.replace(connection, status=ConnectionStatus.ERROR, last_error=reason)
                )
            raise

    def _note_failure(self, site_id: str, now: float) -> None:
        self._failed_at.pop(site_id, None)
        self._failed_at[site_id] = now
        if len(self._failed_at) > _MAX_FAILURE_ENTRIES:
            horizon = now - self._failure_backoff_s
            for stale in [s for s, at in self._failed_at.items() if at < horizon]:
                del self._failed_at[stale]
            while len(self._failed_at) > _MAX_FAILURE_ENTRIES:
                del self._failed_at[next(iter(self._failed_at))]


def _reason(exc: OAuthError) -> str:
    text = f"{exc.code}: {exc}"
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 1] + "…"

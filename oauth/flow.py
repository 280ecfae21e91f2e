"""The connect flow: start (authorize URL with a one-time state) and the callback.

A flow is bound to a site and to the browser that started it (`oauth.binding`): `start` takes
the browser's binding secret and stores its hash with the state, the PKCE verifier, the scopes
and a short expiry. A connect started without a browser (through the API) gets a one-time link
instead (`start_link`): the first browser to `claim` it is bound to a fresh flow, and only then
is a state for Klaviyo made. `complete` takes the state (once), checks the browser, exchanges
the code, asks the caller's `fetch_account` who the account is, and stores the connection.

Taking a state leaves a `used_at` record under it (until `REUSED_MEMORY_S` has passed), so a
second use says "already used" rather than "unknown"; an expired record is put back as it was,
so it keeps saying "expired". Unknown, reused, expired and foreign-browser states all fail
before anything is exchanged or stored.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import NoReturn

from oauth.binding import browser_hash, is_browser_secret, same_browser
from oauth.client import KlaviyoOAuthClient
from oauth.connection import AccountInfo, Connection, ConnectionStatus
from oauth.crypto import TokenCipher
from oauth.errors import (
    AuthorizationDenied,
    BrowserMismatch,
    OAuthError,
    StateExpired,
    StateReused,
    StateUnknown,
)
from oauth.pkce import new_code_verifier
from oauth.storage import ConnectionStore, FlowState, FlowStateStore

logger = logging.getLogger(__name__)

FetchAccount = Callable[[str], Awaitable[AccountInfo]]
"""Given an access token, the connected account (the edge calls `GET /api/accounts`)."""

STATE_TTL_S = 600
REUSED_MEMORY_S = 86400  # how long a used state or link still answers "already used"
_MAX_STATE_LENGTH = 256


def new_state() -> str:
    """A one-time OAuth state: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


class ConnectFlow:
    """Starts and completes "Connect Klaviyo" for a site."""

    def __init__(
        self,
        client: KlaviyoOAuthClient,
        states: FlowStateStore,
        connections: ConnectionStore,
        cipher: TokenCipher,
        fetch_account: FetchAccount,
        *,
        clock: Callable[[], float] = time.time,
        state_ttl_s: int = STATE_TTL_S,
    ) -> None:
        self._client = client
        self._states = states
        self._connections = connections
        self._cipher = cipher
        self._fetch_account = fetch_account
        self._clock = clock
        self._state_ttl_s = state_ttl_s

    @property
    def state_ttl_s(self) -> int:
        return self._state_ttl_s

    async def start(self, site_id: str, scopes: Sequence[str], *, browser: str) -> str:
        """Store a new one-time state for `site_id`, bound to the browser holding the secret
        `browser`, and return the Klaviyo authorize URL."""
        if not is_browser_secret(browser):
            raise ValueError("browser must be a secret from oauth.binding.new_browser_secret()")
        record = self._new_record(site_id, scopes, browser=browser_hash(browser))
        url = self._client.authorization_url(record.state, record.code_verifier, record.scopes)
        await self._states.put(record)
        return url

    async def start_link(self, site_id: str, scopes: Sequence[str]) -> str:
        """Store a flow no browser holds yet and return the one-time token of its link; the
        first browser to open the link claims it (`claim`). Klaviyo never sees this token."""
        record = dataclasses.replace(self._new_record(site_id, scopes, browser=None), is_link=True)
        await self._states.put(record)
        return record.state

    async def claim(self, token: str, browser: str) -> str:
        """Bind the link `token` to the browser holding `browser`: returns the Klaviyo authorize
        URL of a fresh flow bound to it. The link then answers `StateReused`, except to the same
        browser while the link's lifetime lasts (a reload, the back button), which gets another
        fresh flow. Raises `StateUnknown`, `StateReused`, `StateExpired`."""
        if not is_browser_secret(browser):
            raise ValueError("browser must be a secret from oauth.binding.new_browser_secret()")
        link = await self._take(token, claimed_by=browser_hash(browser))
        if link.used_at is not None:
            reload = (
                link.is_link
                and same_browser(link.browser, browser)
                and self._clock() < link.created_at + self._state_ttl_s
            )
            if not reload:
                raise StateReused()
        elif not link.is_link:
            raise StateUnknown()  # a state for Klaviyo, not a link: it is spent now
        return await self.start(link.site_id, link.scopes, browser=browser)

    async def complete(self, state: str, code: str, *, browser: str | None) -> Connection:
        """Finish the callback `?code&state` in the browser holding `browser` (None: no binding
        cookie came): returns the stored, active connection.

        Raises `StateUnknown`/`StateReused`/`StateExpired`/`BrowserMismatch` (nothing exchanged
        or stored), the client's errors for the exchange (`InvalidGrant`: start again), and
        whatever `fetch_account` raises (the fresh grant is then revoked, best effort, since
        nothing keeps it).
        """
        flow = await self._take_bound(state, browser)
        tokens = await self._client.exchange_code(code, flow.code_verifier)
        try:
            account = await self._fetch_account(tokens.access_token)
        except Exception:
            await self._revoke_quietly(flow.site_id, tokens.refresh_token)
            raise
        connection = Connection(
            site_id=flow.site_id,
            status=ConnectionStatus.ACTIVE,
            account_id=account.id,
            account_name=account.name,
            scopes=tokens.scopes or flow.scopes,
            access_token_enc=self._cipher.encrypt(tokens.access_token),
            refresh_token_enc=self._cipher.encrypt(tokens.refresh_token),
            expires_at=tokens.expires_at,
            connected_at=int(self._clock()),
        )
        stored = await self._connections.save(connection)
        logger.info(
            "site %s connected Klaviyo account %s (generation %d)",
            stored.site_id,
            stored.account_id,
            stored.generation,
        )
        return stored

    async def fail(
        self, state: str, error: str, description: str | None = None, *, browser: str | None
    ) -> NoReturn:
        """Finish a callback that carried `?error=` instead of a code: the state is used up and
        the connection stays as it was. Always raises: `AuthorizationDenied` (with the site id),
        or `StateUnknown`/`StateReused`/`StateExpired`/`BrowserMismatch`."""
        flow = await self._take_bound(state, browser)
        raise AuthorizationDenied(error, description, site_id=flow.site_id)

    def _new_record(self, site_id: str, scopes: Sequence[str], *, browser: str | None) -> FlowState:
        if not site_id:
            raise ValueError("site_id is required")
        wanted = tuple(dict.fromkeys(scopes))
        if not wanted:
            raise ValueError("at least one scope is required")
        now = int(self._clock())
        return FlowState(
            state=new_state(),
            site_id=site_id,
            code_verifier=new_code_verifier(),
            scopes=wanted,
            created_at=now,
            expires_at=now + self._state_ttl_s,
            browser=browser,
        )

    async def _take_bound(self, state: str, browser: str | None) -> FlowState:
        flow = await self._take(state)
        if flow.used_at is not None:
            raise StateReused()
        if flow.is_link:
            raise StateUnknown()  # a connect link's token, not a state Klaviyo was given
        if not same_browser(flow.browser, browser):
            logger.warning("site %s: a connect callback arrived in another browser; refused", flow.site_id)
            raise BrowserMismatch()
        return flow

    async def _take(self, state: str, *, claimed_by: str | None = None) -> FlowState:
        """Take the record of `state` and leave what its next use must find: the same record
        while it is expired, a used one otherwise (a link's remembers the browser that claimed
        it, `claimed_by`). A used record comes back as it is, for the caller to refuse."""
        if not state or len(state) > _MAX_STATE_LENGTH:
            raise StateUnknown()
        flow = await self._states.take(state)
        if flow is None:
            raise StateUnknown()
        now = int(self._clock())
        if flow.used_at is not None:
            await self._states.put(flow)
            return flow
        if now >= flow.expires_at:
            await self._states.put(flow)
            raise StateExpired()
        used = dataclasses.replace(
            flow,
            code_verifier="",
            browser=claimed_by if flow.is_link else flow.browser,
            used_at=now,
            expires_at=now + REUSED_MEMORY_S,
        )
        await self._states.put(used)
        return flow

    async def _revoke_quietly(self, site_id: str, refresh_token: str) -> None:
        try:
            await self._client.revoke(refresh_token)
        except OAuthError as exc:
            logger.warning("site %s: revoking an unused grant failed: %s", site_id, exc)

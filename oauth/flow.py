"""The connect flow: start (authorize URL with a one-time state) and the callback.

`start` stores the state, bound to the site, with its PKCE verifier, scopes and a short expiry;
`complete` takes the state (once), exchanges the code, asks the caller's `fetch_account` who the
account is, and stores the connection. Unknown, reused and expired states fail before anything
is exchanged or stored.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import NoReturn

from oauth.client import KlaviyoOAuthClient
from oauth.connection import AccountInfo, Connection, ConnectionStatus
from oauth.crypto import TokenCipher
from oauth.errors import AuthorizationDenied, OAuthError, StateExpired, StateUnknown
from oauth.pkce import new_code_verifier
from oauth.storage import ConnectionStore, FlowState, FlowStateStore

logger = logging.getLogger(__name__)

FetchAccount = Callable[[str], Awaitable[AccountInfo]]
"""Given an access token, the connected account (the edge calls `GET /api/accounts`)."""

STATE_TTL_S = 600
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

    async def start(self, site_id: str, scopes: Sequence[str]) -> str:
        """Store a new one-time state for `site_id` and return the Klaviyo authorize URL."""
        if not site_id:
            raise ValueError("site_id is required")
        wanted = tuple(dict.fromkeys(scopes))
        if not wanted:
            raise ValueError("at least one scope is required")
        now = int(self._clock())
        record = FlowState(
            state=new_state(),
            site_id=site_id,
            code_verifier=new_code_verifier(),
            scopes=wanted,
            created_at=now,
            expires_at=now + self._state_ttl_s,
        )
        url = self._client.authorization_url(record.state, record.code_verifier, wanted)
        await self._states.put(record)
        return url

    async def complete(self, state: str, code: str) -> Connection:
        """Finish the callback `?code&state`: returns the stored, active connection.

        Raises `StateUnknown`/`StateExpired` (nothing exchanged or stored), the client's errors
        for the exchange (`InvalidGrant`: start again), and whatever `fetch_account` raises (the
        fresh grant is then revoked, best effort, since nothing keeps it).
        """
        flow = await self._take(state)
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

    async def fail(self, state: str, error: str, description: str | None = None) -> NoReturn:
        """Finish a callback that carried `?error=` instead of a code: the state is used up and
        the connection stays as it was. Always raises: `AuthorizationDenied` (with the site id),
        or `StateUnknown`/`StateExpired`."""
        flow = await self._take(state)
        raise AuthorizationDenied(error, description, site_id=flow.site_id)

    async def _take(self, state: str) -> FlowState:
        if not state or len(state) > _MAX_STATE_LENGTH:
            raise StateUnknown()
        flow = await self._states.take(state)
        if flow is None:
            raise StateUnknown()
        if self._clock() >= flow.expires_at:
            raise StateExpired()
        return flow

    async def _revoke_quietly(self, site_id: str, refresh_token: str) -> None:
        try:
            await self._client.revoke(refresh_token)
        except OAuthError as exc:
            logger.warning("site %s: revoking an unused grant failed: %s", site_id, exc)

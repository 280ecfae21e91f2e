"""Everything that talks to Klaviyo for one app, built from the settings in the lifespan.

`oauth/` owns tokens, `klaviyo/` the REST client, `edge/resolver` segment membership; this
module joins them: the resolver gets its tokens from the token manager, the connect flow asks
the REST client who the account is.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from edge.fleet.locks import LocalLockProvider, RedisLockProvider
from edge.fleet.redis_client import RedisClient
from edge.resolver import Resolver, ResolverConfig
from edge.settings import Settings
from edge.sync import SegmentSync, build_segment_sync
from klaviyo import KlaviyoClient
from klaviyo import errors as klaviyo_errors
from oauth.client import KlaviyoOAuthClient
from oauth.connection import AccountInfo
from oauth.crypto import TokenCipher
from oauth.flow import ConnectFlow
from oauth.settings import KlaviyoOAuthConfig
from oauth.storage import ConnectionStore, FlowStateStore, LockProvider
from oauth.tokens import TokenManager

CALLBACK_PATH = "/oauth/klaviyo/callback"
ACCOUNT_FETCH_WAIT_S = 5.0


class ManagedTokens:
    """The resolver's `TokenSource`, answered by oauth's `TokenManager`."""

    def __init__(self, manager: TokenManager) -> None:
        self._manager = manager

    async def access_token(self, site_id: str) -> str:
        return await self._manager.get_access_token(site_id)

    async def refresh_after_unauthorized(self, site_id: str, rejected: str) -> str:
        return await self._manager.refresh_after_unauthorized(site_id, rejected)


class _GivenToken:
    """A token source holding one access token: the connect callback's, before it is stored."""

    def __init__(self, token: str) -> None:
        self._token = token

    async def access_token(self, site_id: str) -> str:
        return self._token

    async def refresh_after_unauthorized(self, site_id: str, rejected: str) -> str:
        raise PermissionError("a token fresh from the exchange was refused")


@dataclass(slots=True)
class KlaviyoLink:
    oauth: KlaviyoOAuthClient
    flow: ConnectFlow
    tokens: TokenManager
    resolver: Resolver
    segment_sync: SegmentSync | None

    @property
    def api(self) -> KlaviyoClient:
        return self.resolver.klaviyo

    async def aclose(self) -> None:
        if self.segment_sync is not None:
            await self.segment_sync.aclose()
        await self.resolver.aclose()
        await self.oauth.aclose()


def redirect_uri(settings: Settings) -> str:
    return settings.public_url.rstrip("/") + CALLBACK_PATH


def resolver_config(settings: Settings) -> ResolverConfig:
    return ResolverConfig(
        segment_cache_ttl_s=settings.segment_cache_ttl_s,
        negative_cache_ttl_s=settings.negative_cache_ttl_s,
        profile_id_cache_ttl_s=settings.profile_id_cache_ttl_s,
        resolve_deadline_ms=settings.resolve_deadline_ms,
        l1_max_entries=settings.l1_max_entries,
        api_base=settings.klaviyo_api_base,
        revision=settings.klaviyo_revision,
        # Without Redis (or while it is down) each worker keeps its own budget: its share.
        local_budget_share=1.0 / settings.worker_processes,
    )


def build_klaviyo_link(
    settings: Settings,
    *,
    http: httpx.AsyncClient,
    redis: RedisClient | None,
    connections: ConnectionStore,
    flows: FlowStateStore,
    cipher: TokenCipher,
    clock: Callable[[], float] = time.time,
) -> KlaviyoLink | None:
    """The app's Klaviyo objects, or None when no Klaviyo app credentials are configured."""
    if not (settings.klaviyo_client_id and settings.klaviyo_client_secret):
        return None
    oauth = KlaviyoOAuthClient(
        KlaviyoOAuthConfig(
            client_id=settings.klaviyo_client_id,
            client_secret=settings.klaviyo_client_secret,
            redirect_uri=redirect_uri(settings),
            authorize_url=settings.klaviyo_authorize_url,
            token_url=settings.klaviyo_token_url,
            revoke_url=settings.klaviyo_revoke_url,
            timeout_s=settings.klaviyo_timeout_s,
        ),
        clock=clock,
    )
    locks: LockProvider = (
        RedisLockProvider(redis, settings.redis_prefix) if redis is not None else LocalLockProvider()
    )
    tokens = TokenManager(connections, cipher, oauth, locks, clock)
    segment_sync = (
        build_segment_sync(settings, http=http, tokens=ManagedTokens(tokens), redis=redis, clock=clock)
        if settings.segment_sync_enabled
        else None
    )
    resolver = Resolver(
        http,
        ManagedTokens(tokens),
        config=resolver_config(settings),
        redis=redis,
        prefix=settings.redis_prefix,
        index=segment_sync.index if segment_sync is not None else None,
    )
    if segment_sync is not None:
        segment_sync.share_budget(resolver.gate)

    async def fetch_account(access_token: str) -> AccountInfo:
        """`GET /api/accounts` with the fresh token (1/s, 15/min): waits out a spent budget or a
        429 for a few seconds, so two connects in the same second both succeed."""
        client = KlaviyoClient(
            http,
            _GivenToken(access_token),
            gate=resolver.gate,
            api_base=settings.klaviyo_api_base,
            revision=settings.klaviyo_revision,
        )
        # The account is not known yet: budget this call under its grant, not a shared key.
        grant = "connect-" + hashlib.sha256(access_token.encode()).hexdigest()[:16]
        deadline = time.monotonic() + ACCOUNT_FETCH_WAIT_S
        while True:
            try:
                account = await client.get_account(grant)
                return AccountInfo(id=account.id, name=account.organization_name)
            except (klaviyo_errors.CallRefused, klaviyo_errors.RateLimited) as exc:
                pause = min(exc.retry_after_s or 0.5, 2.0)
                if time.monotonic() + pause > deadline:
                    raise
                await asyncio.sleep(pause)

    flow = ConnectFlow(oauth, flows, connections, cipher, fetch_account, clock=clock)
    return KlaviyoLink(oauth=oauth, flow=flow, tokens=tokens, resolver=resolver, segment_sync=segment_sync)

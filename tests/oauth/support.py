"""Helpers shared by the oauth tests: constants, a fake clock, stored connections, token answers."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
import respx

from oauth.connection import Connection, ConnectionStatus
from oauth.crypto import TokenCipher
from oauth.memory import MemoryConnectionStore
from oauth.tokens import TokenManager
from tests.waiting import wait_until_async

CLIENT_ID = "kx-client-id"
CLIENT_SECRET = "client-SECRET-9f8e7d"
REDIRECT_URI = "https://kx.example/oauth/klaviyo/callback"
TOKEN_URL = "https://a.klaviyo.com/oauth/token"
REVOKE_URL = "https://a.klaviyo.com/oauth/revoke"
AUTHORIZE_URL = "https://www.klaviyo.com/oauth/authorize"
BASIC = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
SECRET_KEY = "test-secret-key-0123456789"
T0 = 1_800_000_000
SITE = "site_1"


class FakeClock:
    """Unix seconds that only move when a test says so."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class CountingStore(MemoryConnectionStore):
    """Counts reads, so a test can tell when concurrent callers have all looked at the record."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def get(self, site_id: str) -> Connection | None:
        self.reads += 1
        return await super().get(site_id)


def answer_after_reads(
    store: CountingStore, reads: int, body: dict[str, object], status: int = 200
) -> Callable[[httpx.Request], Awaitable[httpx.Response]]:
    """A respx side effect that answers once `store` has been read `reads` times.

    respx answers without suspending, so without this the first caller would finish before the
    others even start, and a test of concurrent callers would prove nothing.
    """

    async def answer(request: httpx.Request) -> httpx.Response:
        async def everyone_read() -> bool:
            return store.reads >= reads

        await wait_until_async(everyone_read, timeout=5, what=f"{reads} reads of the store")
        return httpx.Response(status, json=body)

    return answer


@dataclass
class Tokens:
    access: str = "access-SECRET-1"
    refresh: str = "refresh-SECRET-1"
    expires_in: int = 3600


async def connect(
    store: MemoryConnectionStore,
    cipher: TokenCipher,
    clock: FakeClock,
    tokens: Tokens | None = None,
    *,
    site_id: str = SITE,
    account_id: str = "acct_A",
) -> Connection:
    """Store an active connection as the connect flow would."""
    tokens = tokens or Tokens()
    return await store.save(
        Connection(
            site_id=site_id,
            status=ConnectionStatus.ACTIVE,
            account_id=account_id,
            account_name="Acme Outdoors",
            scopes=("accounts:read", "profiles:read", "segments:read"),
            access_token_enc=cipher.encrypt(tokens.access),
            refresh_token_enc=cipher.encrypt(tokens.refresh),
            expires_at=int(clock()) + tokens.expires_in,
            connected_at=int(clock()),
        )
    )


def token_answer(
    access: str = "access-SECRET-2",
    refresh: str | None = "refresh-SECRET-2",
    expires_in: int = 3600,
    scope: str | None = "accounts:read profiles:read segments:read",
) -> dict[str, object]:
    body: dict[str, object] = {
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": expires_in,
    }
    if refresh is not None:
        body["refresh_token"] = refresh
    if scope is not None:
        body["scope"] = scope
    return body


@dataclass(slots=True)
class TokenRig:
    """What most TokenManager tests share: the manager and what it stands on."""

    manager: TokenManager
    store: CountingStore
    cipher: TokenCipher
    clock: FakeClock
    klaviyo: respx.MockRouter

    async def connect(self, tokens: Tokens | None = None, **where: str) -> Connection:
        """An active connection, stored as the connect flow would (`site_id`, `account_id`)."""
        return await connect(self.store, self.cipher, self.clock, tokens, **where)

    async def stored(self) -> Connection:
        return await stored(self.store)


async def stored(store: MemoryConnectionStore, site_id: str = SITE) -> Connection:
    """The site's stored connection, which must exist."""
    connection = await store.get(site_id)
    assert connection is not None
    return connection

"""TokenManager: refresh ahead of expiry, rotation, one refresher, invalid_grant, 401, at rest."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import parse_qsl

import httpx
import pytest
import respx

from oauth.client import KlaviyoOAuthClient
from oauth.connection import ConnectionStatus
from oauth.crypto import TokenCipher
from oauth.errors import (
    DecryptionError,
    InvalidClient,
    LockTimeout,
    NotConnected,
    OAuthUnavailable,
    ReauthRequired,
)
from oauth.memory import MemoryLockProvider
from oauth.tokens import TokenManager
from tests.oauth.support import (
    BASIC,
    SECRET_KEY,
    SITE,
    TOKEN_URL,
    CountingStore,
    FakeClock,
    TokenRig,
    Tokens,
    answer_after_reads,
    connect,
    stored,
    token_answer,
)
from tests.waiting import wait_until_async


async def test_a_fresh_token_is_returned_without_calling_klaviyo(rig: TokenRig) -> None:
    await rig.connect()
    rig.clock.advance(3600 - 301)
    assert await rig.manager.get_access_token(SITE) == "access-SECRET-1"


async def test_refreshes_ahead_of_expiry_and_stores_the_rotated_refresh_token(rig: TokenRig) -> None:
    before = await rig.connect()
    rig.clock.advance(3600 - 300)  # inside the 300 s margin, not yet expired
    route = rig.klaviyo.post(TOKEN_URL).respond(200, json=token_answer(expires_in=3600))

    assert await rig.manager.get_access_token(SITE) == "access-SECRET-2"

    request = route.calls.last.request
    assert request.headers["authorization"] == BASIC
    assert sorted(parse_qsl(request.content.decode())) == [
        ("grant_type", "refresh_token"),
        ("refresh_token", "refresh-SECRET-1"),
    ]
    after = await rig.stored()
    assert after.access_token_enc is not None and after.refresh_token_enc is not None
    assert rig.cipher.decrypt(after.access_token_enc) == "access-SECRET-2"
    assert rig.cipher.decrypt(after.refresh_token_enc) == "refresh-SECRET-2"
    assert after.expires_at == int(rig.clock()) + 3600
    assert after.last_refresh_at == int(rig.clock())
    assert after.generation == before.generation  # a refresh is not a new connection
    # The new token is good for the next hour: no more calls.
    assert await rig.manager.get_access_token(SITE) == "access-SECRET-2"
    assert route.call_count == 1


async def test_an_unrotated_refresh_token_is_kept(rig: TokenRig) -> None:
    await rig.connect()
    rig.clock.advance(3600)
    rig.klaviyo.post(TOKEN_URL).respond(200, json=token_answer(refresh=None, scope=None))
    assert await rig.manager.get_access_token(SITE) == "access-SECRET-2"
    after = await rig.stored()
    assert after.refresh_token_enc is not None
    assert rig.cipher.decrypt(after.refresh_token_enc) == "refresh-SECRET-1"
    assert after.scopes == ("accounts:read", "profiles:read", "segments:read")


async def test_short_lived_tokens_are_not_refreshed_on_every_call(rig: TokenRig) -> None:
    await rig.connect(Tokens(expires_in=120))
    rig.clock.advance(59)  # the margin shrinks to half the lifetime (60 s)
    assert await rig.manager.get_access_token(SITE) == "access-SECRET-1"


async def test_concurrent_callers_in_one_process_share_one_refresh(rig: TokenRig) -> None:
    await rig.connect()
    rig.clock.advance(3600)
    route = rig.klaviyo.post(TOKEN_URL).mock(side_effect=answer_after_reads(rig.store, 5, token_answer()))
    tokens = await asyncio.gather(*(rig.manager.get_access_token(SITE) for _ in range(5)))
    assert tokens == ["access-SECRET-2"] * 5
    assert route.call_count == 1


async def test_invalid_grant_means_needs_reauth_and_no_retry_storm(rig: TokenRig) -> None:
    await rig.connect()
    rig.clock.advance(3600)
    route = rig.klaviyo.post(TOKEN_URL).respond(400, json={"error": "invalid_grant"})
    with pytest.raises(ReauthRequired) as caught:
        await rig.manager.get_access_token(SITE)
    assert caught.value.code == "needs_reauth"
    after = await rig.stored()
    assert after.status is ConnectionStatus.NEEDS_REAUTH
    assert after.last_error is not None and "invalid_grant" in after.last_error
    assert after.refresh_token_enc is not None  # tokens kept; the merchant reconnects
    rig.clock.advance(3600)
    for _ in range(3):
        with pytest.raises(ReauthRequired):
            await rig.manager.get_access_token(SITE)
        with pytest.raises(ReauthRequired):
            await rig.manager.refresh_after_unauthorized(SITE, "access-SECRET-1")
    assert route.call_count == 1


async def test_concurrent_callers_share_one_invalid_grant(rig: TokenRig) -> None:
    await rig.connect()
    rig.clock.advance(3600)
    route = rig.klaviyo.post(TOKEN_URL).mock(
        side_effect=answer_after_reads(rig.store, 4, {"error": "invalid_grant"}, status=400)
    )
    results = await asyncio.gather(
        *(rig.manager.get_access_token(SITE) for _ in range(4)), return_exceptions=True
    )
    assert all(isinstance(result, ReauthRequired) for result in results)
    assert route.call_count == 1


async def test_a_transient_failure_keeps_the_status_and_backs_off(rig: TokenRig) -> None:
    await rig.connect()
    rig.clock.advance(3600)
    route = rig.klaviyo.post(TOKEN_URL).mock(
        side_effect=[httpx.Response(503), httpx.Response(200, json=token_answer())]
    )
    with pytest.raises(OAuthUnavailable):
        await rig.manager.get_access_token(SITE)
    after = await rig.stored()
    assert after.status is ConnectionStatus.ACTIVE
    assert after.last_error is not None and "503" in after.last_error
    # Within the back-off nobody calls Klaviyo again.
    with pytest.raises(OAuthUnavailable, match="next attempt"):
        await rig.manager.get_access_token(SITE)
    assert route.call_count == 1
    rig.clock.advance(10)
    assert await rig.manager.get_access_token(SITE) == "access-SECRET-2"
    assert (await rig.stored()).last_error is None
    assert route.call_count == 2


async def test_a_failed_early_refresh_still_serves_the_unexpired_token(rig: TokenRig) -> None:
    await rig.connect()
    rig.clock.advance(3600 - 200)
    rig.klaviyo.post(TOKEN_URL).mock(side_effect=httpx.ConnectError("refused"))
    assert await rig.manager.get_access_token(SITE) == "access-SECRET-1"
    assert await rig.manager.get_access_token(SITE) == "access-SECRET-1"  # backing off
    assert (await rig.stored()).last_error is not None


async def test_invalid_client_marks_the_connection_error(rig: TokenRig) -> None:
    await rig.connect()
    rig.clock.advance(3600)
    route = rig.klaviyo.post(TOKEN_URL).mock(
        side_effect=[
            httpx.Response(401, json={"error": "invalid_client"}),
            httpx.Response(200, json=token_answer()),
        ]
    )
    with pytest.raises(InvalidClient):
        await rig.manager.get_access_token(SITE)
    after = await rig.stored()
    assert after.status is ConnectionStatus.ERROR
    assert after.last_error is not None and after.last_error.startswith("invalid_client")
    # Once the operator fixes the credentials, the next attempt recovers the connection.
    rig.clock.advance(10)
    assert await rig.manager.get_access_token(SITE) == "access-SECRET-2"
    assert (await rig.stored()).status is ConnectionStatus.ACTIVE
    assert route.call_count == 2


async def test_unauthorized_refreshes_once_and_a_stale_rejection_uses_the_new_token(rig: TokenRig) -> None:
    await rig.connect()  # the token looks fresh, but the API said 401
    route = rig.klaviyo.post(TOKEN_URL).respond(200, json=token_answer())
    assert await rig.manager.refresh_after_unauthorized(SITE, "access-SECRET-1") == "access-SECRET-2"
    # A second request that was rejected with the old token: someone already refreshed.
    assert await rig.manager.refresh_after_unauthorized(SITE, "access-SECRET-1") == "access-SECRET-2"
    assert route.call_count == 1


async def test_concurrent_unauthorized_callers_share_one_refresh(rig: TokenRig) -> None:
    await rig.connect()
    route = rig.klaviyo.post(TOKEN_URL).mock(side_effect=answer_after_reads(rig.store, 3, token_answer()))
    tokens = await asyncio.gather(
        *(rig.manager.refresh_after_unauthorized(SITE, "access-SECRET-1") for _ in range(3))
    )
    assert tokens == ["access-SECRET-2"] * 3
    assert route.call_count == 1


async def test_unknown_and_disconnected_sites_are_not_connected(rig: TokenRig) -> None:
    with pytest.raises(NotConnected) as caught:
        await rig.manager.get_access_token(SITE)
    assert caught.value.code == "not_connected"
    await rig.connect()
    await rig.store.disconnect(SITE)
    with pytest.raises(NotConnected):
        await rig.manager.get_access_token(SITE)
    with pytest.raises(NotConnected):
        await rig.manager.refresh_after_unauthorized(SITE, "access-SECRET-1")


async def test_tokens_are_encrypted_at_rest_and_old_keys_still_decrypt(
    store: CountingStore,
    client: KlaviyoOAuthClient,
    clock: FakeClock,
    klaviyo: respx.MockRouter,
) -> None:
    old = TokenCipher("the-old-key")
    await connect(store, old, clock)
    dump = json.dumps(store.records())
    assert "access-SECRET-1" not in dump
    assert "refresh-SECRET-1" not in dump

    rotated = TokenCipher(SECRET_KEY, old_secrets=["the-old-key"])
    manager = TokenManager(store, rotated, client, MemoryLockProvider(), clock)
    assert await manager.get_access_token(SITE) == "access-SECRET-1"
    clock.advance(3600)
    route = klaviyo.post(TOKEN_URL).respond(200, json=token_answer())
    assert await manager.get_access_token(SITE) == "access-SECRET-2"
    assert dict(parse_qsl(route.calls.last.request.content.decode()))["refresh_token"] == ("refresh-SECRET-1")
    dump = json.dumps(store.records())
    for plaintext in ("access-SECRET-1", "refresh-SECRET-1", "access-SECRET-2", "refresh-SECRET-2"):
        assert plaintext not in dump
    # Written under the new key only.
    after = await stored(store)
    assert after.access_token_enc is not None
    assert TokenCipher(SECRET_KEY).decrypt(after.access_token_enc) == "access-SECRET-2"


async def test_undecryptable_tokens_mark_the_connection_error(
    store: CountingStore, client: KlaviyoOAuthClient, clock: FakeClock
) -> None:
    await connect(store, TokenCipher("a-lost-key"), clock)
    manager = TokenManager(store, TokenCipher(SECRET_KEY), client, MemoryLockProvider(), clock)
    with pytest.raises(DecryptionError):
        await manager.get_access_token(SITE)
    after = await stored(store)
    assert after.status is ConnectionStatus.ERROR
    assert after.last_error is not None and after.last_error.startswith("decryption_failed")
    with pytest.raises(DecryptionError):
        await manager.get_access_token(SITE)
    assert await stored(store) == after


async def test_a_reconnect_during_a_refresh_wins(rig: TokenRig) -> None:
    await rig.connect()
    rig.clock.advance(3600)

    async def reconnect_meanwhile(request: httpx.Request) -> httpx.Response:
        await rig.connect(Tokens(access="access-NEW"), account_id="acct_B")
        return httpx.Response(200, json=token_answer(access="access-OLD-ACCOUNT"))

    rig.klaviyo.post(TOKEN_URL).mock(side_effect=reconnect_meanwhile)
    assert await rig.manager.get_access_token(SITE) == "access-NEW"
    after = await rig.stored()
    assert after.account_id == "acct_B"
    assert after.access_token_enc is not None
    assert rig.cipher.decrypt(after.access_token_enc) == "access-NEW"


class BusyLocks:
    """A LockProvider whose lock another process always holds."""

    @asynccontextmanager
    async def lock(self, name: str, ttl_s: float, wait_s: float) -> AsyncIterator[None]:
        raise LockTimeout(name, wait_s)
        yield  # pragma: no cover


async def test_a_busy_refresh_lock_is_unavailable_unless_a_token_is_still_valid(
    store: CountingStore,
    cipher: TokenCipher,
    client: KlaviyoOAuthClient,
    clock: FakeClock,
) -> None:
    manager = TokenManager(store, cipher, client, BusyLocks(), clock)
    await connect(store, cipher, clock)
    clock.advance(3600 - 100)
    assert await manager.get_access_token(SITE) == "access-SECRET-1"
    clock.advance(100)
    with pytest.raises(OAuthUnavailable):
        await manager.get_access_token(SITE)


async def test_refresh_takes_the_provider_lock_by_site(
    store: CountingStore,
    cipher: TokenCipher,
    client: KlaviyoOAuthClient,
    clock: FakeClock,
    klaviyo: respx.MockRouter,
) -> None:
    taken: list[tuple[str, float]] = []

    class RecordingLocks(MemoryLockProvider):
        @asynccontextmanager
        async def lock(self, name: str, ttl_s: float, wait_s: float) -> AsyncIterator[None]:
            taken.append((name, ttl_s))
            async with super().lock(name, ttl_s, wait_s):
                yield

    manager = TokenManager(store, cipher, client, RecordingLocks(), clock, lock_ttl_s=42)
    await connect(store, cipher, clock)
    clock.advance(3600)
    klaviyo.post(TOKEN_URL).respond(200, json=token_answer())
    await manager.get_access_token(SITE)
    assert taken == [(f"oauth-refresh:{SITE}", 42)]


async def test_error_messages_and_reprs_never_contain_tokens(rig: TokenRig) -> None:
    connection = await rig.connect()
    rig.clock.advance(3600)
    rig.klaviyo.post(TOKEN_URL).respond(
        400, json={"error": "invalid_grant", "error_description": "refresh-SECRET-1 revoked"}
    )
    with pytest.raises(ReauthRequired) as caught:
        await rig.manager.get_access_token(SITE)
    after = await rig.stored()
    texts = [str(caught.value), repr(caught.value), str(after.last_error), repr(after)]
    texts += [repr(connection), repr(rig.manager), json.dumps(after.to_status_dict())]
    for text in texts:
        assert "SECRET" not in text


async def test_a_disconnect_during_a_refresh_wins(rig: TokenRig) -> None:
    await rig.connect()
    rig.clock.advance(3600)

    async def disconnect_meanwhile(request: httpx.Request) -> httpx.Response:
        await rig.store.disconnect(SITE)
        return httpx.Response(200, json=token_answer())

    rig.klaviyo.post(TOKEN_URL).mock(side_effect=disconnect_meanwhile)
    with pytest.raises(NotConnected):
        await rig.manager.get_access_token(SITE)
    assert not (await rig.stored()).has_tokens


async def test_callers_queue_no_longer_than_lock_wait(
    store: CountingStore,
    cipher: TokenCipher,
    client: KlaviyoOAuthClient,
    clock: FakeClock,
    klaviyo: respx.MockRouter,
) -> None:
    manager = TokenManager(store, cipher, client, MemoryLockProvider(), clock, lock_wait_s=0.05)
    await connect(store, cipher, clock)
    clock.advance(3600)
    release = asyncio.Event()

    async def slow(request: httpx.Request) -> httpx.Response:
        await release.wait()
        return httpx.Response(200, json=token_answer())

    klaviyo.post(TOKEN_URL).mock(side_effect=slow)
    first = asyncio.create_task(manager.get_access_token(SITE))

    async def first_is_refreshing() -> bool:
        return store.reads >= 2  # its look before the lock and its look after taking it

    await wait_until_async(first_is_refreshing, timeout=5)
    with pytest.raises(OAuthUnavailable, match="still refreshing"):
        await manager.get_access_token(SITE)
    release.set()
    assert await first == "access-SECRET-2"

"""The connect flow: one-time state bound to a site, PKCE, exchange, account, stored connection."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, parse_qsl, urlsplit

import httpx
import pytest
import respx

from oauth.binding import browser_hash, new_browser_secret
from oauth.client import KlaviyoOAuthClient
from oauth.connection import AccountInfo, ConnectionStatus
from oauth.crypto import TokenCipher
from oauth.errors import (
    AuthorizationDenied,
    BrowserMismatch,
    InvalidGrant,
    StateExpired,
    StateReused,
    StateUnknown,
)
from oauth.flow import REUSED_MEMORY_S, STATE_TTL_S, ConnectFlow
from oauth.memory import MemoryConnectionStore, MemoryFlowStateStore
from oauth.pkce import s256_challenge
from oauth.scopes import required_scopes
from oauth.storage import FlowState
from tests.oauth.support import (
    BASIC,
    REDIRECT_URI,
    REVOKE_URL,
    SITE,
    T0,
    TOKEN_URL,
    FakeClock,
    token_answer,
)

CODE = "code-SECRET-77"
BROWSER = new_browser_secret()  # the binding secret of the merchant's browser


class Accounts:
    """A stand-in for the edge's `GET /api/accounts` call."""

    def __init__(self, *accounts: AccountInfo) -> None:
        self._accounts = list(accounts)
        self.seen: list[str] = []

    async def __call__(self, access_token: str) -> AccountInfo:
        self.seen.append(access_token)
        return self._accounts.pop(0)


@pytest.fixture
def accounts() -> Accounts:
    return Accounts(AccountInfo("acct_A", "Acme Outdoors"), AccountInfo("acct_B", "Bravo"))


@pytest.fixture
def flow(
    client: KlaviyoOAuthClient,
    flow_store: MemoryFlowStateStore,
    store: MemoryConnectionStore,
    cipher: TokenCipher,
    accounts: Accounts,
    clock: FakeClock,
) -> ConnectFlow:
    return ConnectFlow(client, flow_store, store, cipher, accounts, clock=clock)


def state_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["state"][0]


async def started(flow: ConnectFlow, browser: str = BROWSER) -> str:
    """The state of a flow the merchant's browser started."""
    return state_of(await flow.start(SITE, ["accounts:read"], browser=browser))


async def test_start_stores_a_one_time_state_bound_to_the_site(
    flow: ConnectFlow, flow_store: MemoryFlowStateStore
) -> None:
    url = await flow.start(SITE, required_scopes(events=False), browser=BROWSER)
    query = parse_qs(urlsplit(url).query)
    state = query["state"][0]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43,}", state)  # >= 256 bits, URL-safe
    assert query["scope"] == ["accounts:read profiles:read segments:read"]
    assert query["code_challenge_method"] == ["S256"]
    record = await flow_store.take(state)
    assert record is not None
    assert record.site_id == SITE
    assert record.browser == browser_hash(BROWSER)  # bound to this browser, by a hash only
    assert BROWSER not in str(record.to_record())
    assert record.expires_at == T0 + 600
    assert record.scopes == required_scopes(events=False)
    assert query["code_challenge"] == [s256_challenge(record.code_verifier)]
    assert record.code_verifier not in url


async def test_each_start_gets_its_own_state_and_verifier(
    flow: ConnectFlow, flow_store: MemoryFlowStateStore
) -> None:
    first = state_of(await flow.start(SITE, ["accounts:read"], browser=BROWSER))
    second = state_of(await flow.start(SITE, ["accounts:read"], browser=BROWSER))
    assert first != second
    a, b = await flow_store.take(first), await flow_store.take(second)
    assert a is not None and b is not None
    assert a.code_verifier != b.code_verifier


async def test_complete_exchanges_with_the_verifier_and_stores_an_active_connection(
    flow: ConnectFlow,
    store: MemoryConnectionStore,
    cipher: TokenCipher,
    accounts: Accounts,
    klaviyo: respx.MockRouter,
) -> None:
    url = await flow.start(SITE, required_scopes(events=True), browser=BROWSER)
    state = state_of(url)
    challenge = parse_qs(urlsplit(url).query)["code_challenge"][0]
    route = klaviyo.post(TOKEN_URL).respond(200, json=token_answer(scope="accounts:read"))

    connection = await flow.complete(state, CODE, browser=BROWSER)

    request = route.calls.last.request
    assert request.headers["authorization"] == BASIC
    sent = dict(parse_qsl(request.content.decode()))
    assert s256_challenge(sent["code_verifier"]) == challenge  # the verifier of this state
    assert sorted(parse_qsl(request.content.decode())) == sorted(
        [
            ("grant_type", "authorization_code"),
            ("code", CODE),
            ("code_verifier", sent["code_verifier"]),
            ("redirect_uri", REDIRECT_URI),
        ]
    )
    assert accounts.seen == ["access-SECRET-2"]
    assert connection == await store.get(SITE)
    assert connection.status is ConnectionStatus.ACTIVE
    assert (connection.account_id, connection.account_name) == ("acct_A", "Acme Outdoors")
    assert connection.scopes == ("accounts:read",)  # what Klaviyo granted, not what we asked
    assert connection.generation == 1
    assert connection.expires_at == T0 + 3600
    assert connection.connected_at == T0
    assert connection.access_token_enc is not None
    assert connection.refresh_token_enc is not None
    assert cipher.decrypt(connection.access_token_enc) == "access-SECRET-2"
    assert cipher.decrypt(connection.refresh_token_enc) == "refresh-SECRET-2"
    view = connection.to_status_dict(required_scopes(events=True))
    assert view["missing_scopes"] == ["profiles:read", "segments:read", "events:write"]


async def test_the_requested_scopes_count_when_klaviyo_does_not_state_them(
    flow: ConnectFlow, klaviyo: respx.MockRouter
) -> None:
    state = state_of(await flow.start(SITE, required_scopes(events=False), browser=BROWSER))
    klaviyo.post(TOKEN_URL).respond(200, json=token_answer(scope=None))
    connection = await flow.complete(state, CODE, browser=BROWSER)
    assert connection.scopes == required_scopes(events=False)


async def test_a_replayed_state_says_already_used_without_a_second_exchange(
    flow: ConnectFlow, store: MemoryConnectionStore, clock: FakeClock, klaviyo: respx.MockRouter
) -> None:
    state = state_of(await flow.start(SITE, ["accounts:read"], browser=BROWSER))
    route = klaviyo.post(TOKEN_URL).respond(200, json=token_answer())
    first = await flow.complete(state, CODE, browser=BROWSER)
    for _ in range(2):  # however often it is replayed, and after the state's own lifetime
        with pytest.raises(StateReused) as caught:
            await flow.complete(state, CODE, browser=BROWSER)
        assert caught.value.code == "state_reused"
        assert "already used" in str(caught.value)
        clock.advance(STATE_TTL_S)
    assert route.call_count == 1
    assert await store.get(SITE) == first
    clock.advance(REUSED_MEMORY_S + 3600)  # long forgotten: then it is merely unknown
    await flow.start_link(SITE, ["accounts:read"])  # a write sweeps what the store may drop
    with pytest.raises(StateUnknown):
        await flow.complete(state, CODE, browser=BROWSER)


@pytest.mark.parametrize("state", ["", "never-issued", "x" * 10_000])
async def test_an_unknown_state_fails_and_stores_nothing(
    flow: ConnectFlow, store: MemoryConnectionStore, state: str
) -> None:
    with pytest.raises(StateUnknown):
        await flow.complete(state, CODE, browser=BROWSER)
    assert await store.get(SITE) is None


async def test_an_expired_state_keeps_saying_expired(
    flow: ConnectFlow, store: MemoryConnectionStore, clock: FakeClock
) -> None:
    state = state_of(await flow.start(SITE, ["accounts:read"], browser=BROWSER))
    clock.advance(600)
    for _ in range(2):
        with pytest.raises(StateExpired) as caught:
            await flow.complete(state, CODE, browser=BROWSER)
        assert caught.value.code == "state_expired"
    assert await store.get(SITE) is None


async def test_a_state_just_inside_its_lifetime_still_works(
    flow: ConnectFlow, clock: FakeClock, klaviyo: respx.MockRouter
) -> None:
    state = state_of(await flow.start(SITE, ["accounts:read"], browser=BROWSER))
    clock.advance(599)
    klaviyo.post(TOKEN_URL).respond(200, json=token_answer())
    assert (await flow.complete(state, CODE, browser=BROWSER)).status is ConnectionStatus.ACTIVE


async def test_a_declined_consent_uses_up_the_state_and_names_the_site(
    flow: ConnectFlow, store: MemoryConnectionStore
) -> None:
    state = state_of(await flow.start(SITE, ["accounts:read"], browser=BROWSER))
    with pytest.raises(AuthorizationDenied) as caught:
        await flow.fail(state, "access_denied", "The user denied access", browser=BROWSER)
    assert caught.value.code == "authorization_denied"
    assert (caught.value.error, caught.value.site_id) == ("access_denied", SITE)
    with pytest.raises(StateReused):
        await flow.fail(state, "access_denied", browser=BROWSER)
    assert await store.get(SITE) is None


async def test_a_rejected_code_stores_nothing_and_uses_up_the_state(
    flow: ConnectFlow, store: MemoryConnectionStore, klaviyo: respx.MockRouter
) -> None:
    state = state_of(await flow.start(SITE, ["accounts:read"], browser=BROWSER))
    klaviyo.post(TOKEN_URL).respond(400, json={"error": "invalid_grant"})
    with pytest.raises(InvalidGrant):
        await flow.complete(state, CODE, browser=BROWSER)
    with pytest.raises(StateReused):
        await flow.complete(state, CODE, browser=BROWSER)
    assert await store.get(SITE) is None


async def test_reconnecting_another_account_replaces_the_connection_and_bumps_generation(
    flow: ConnectFlow, store: MemoryConnectionStore, klaviyo: respx.MockRouter
) -> None:
    klaviyo.post(TOKEN_URL).mock(
        side_effect=[
            httpx.Response(200, json=token_answer(access="access-A")),
            httpx.Response(200, json=token_answer(access="access-B")),
        ]
    )
    first = await flow.complete(await started(flow), CODE, browser=BROWSER)
    second = await flow.complete(await started(flow), CODE, browser=BROWSER)
    assert (first.account_id, second.account_id) == ("acct_A", "acct_B")
    assert second.generation == first.generation + 1
    assert await store.get(SITE) == second


async def test_a_failed_account_lookup_revokes_the_fresh_grant_and_stores_nothing(
    client: KlaviyoOAuthClient,
    flow_store: MemoryFlowStateStore,
    store: MemoryConnectionStore,
    cipher: TokenCipher,
    clock: FakeClock,
    klaviyo: respx.MockRouter,
) -> None:
    async def broken(access_token: str) -> AccountInfo:
        raise RuntimeError("accounts API down")

    flow = ConnectFlow(client, flow_store, store, cipher, broken, clock=clock)
    klaviyo.post(TOKEN_URL).respond(200, json=token_answer())
    revoke = klaviyo.post(REVOKE_URL).respond(200)
    with pytest.raises(RuntimeError):
        await flow.complete(await started(flow), CODE, browser=BROWSER)
    assert dict(parse_qsl(revoke.calls.last.request.content.decode()))["token"] == ("refresh-SECRET-2")
    assert await store.get(SITE) is None


async def test_start_validates_its_input(flow: ConnectFlow) -> None:
    with pytest.raises(ValueError):
        await flow.start("", ["accounts:read"], browser=BROWSER)
    with pytest.raises(ValueError):
        await flow.start(SITE, [], browser=BROWSER)
    with pytest.raises(ValueError):
        await flow.start(SITE, ["accounts:read"], browser="not-a-binding-secret")
    with pytest.raises(ValueError):
        await flow.start_link(SITE, [])


def test_flow_state_repr_hides_state_and_verifier() -> None:
    record = FlowState(
        state="state-SECRET",
        site_id=SITE,
        code_verifier="verifier-SECRET",
        scopes=(),
        created_at=T0,
        expires_at=T0 + 600,
    )
    assert "SECRET" not in repr(record)


@pytest.mark.parametrize("presented", [None, "", "forged", new_browser_secret()])
async def test_a_callback_in_another_browser_is_refused_before_any_exchange(
    flow: ConnectFlow, store: MemoryConnectionStore, klaviyo: respx.MockRouter, presented: str | None
) -> None:
    """A leaked authorize URL approved elsewhere: that browser lacks the binding secret."""
    state = await started(flow)
    with pytest.raises(BrowserMismatch) as caught:
        await flow.complete(state, CODE, browser=presented)
    assert caught.value.code == "browser_mismatch"
    assert not klaviyo.calls  # no route is mocked: an exchange would have failed the test
    assert await store.get(SITE) is None
    # The state is spent: the merchant starts again rather than racing whoever holds the URL.
    with pytest.raises(StateReused):
        await flow.complete(state, CODE, browser=BROWSER)


async def test_a_denial_in_another_browser_is_refused_too(flow: ConnectFlow) -> None:
    state = await started(flow)
    with pytest.raises(BrowserMismatch):
        await flow.fail(state, "access_denied", browser=new_browser_secret())


async def test_a_link_is_claimed_by_the_first_browser_that_opens_it(
    flow: ConnectFlow,
    flow_store: MemoryFlowStateStore,
    store: MemoryConnectionStore,
    klaviyo: respx.MockRouter,
) -> None:
    token = await flow.start_link(SITE, required_scopes(events=True))
    url = await flow.claim(token, BROWSER)
    state = state_of(url)
    assert state != token  # Klaviyo sees a state of its own, never the link's token
    assert parse_qs(urlsplit(url).query)["scope"] == [
        "accounts:read profiles:read segments:read events:write"
    ]
    klaviyo.post(TOKEN_URL).respond(200, json=token_answer())
    with pytest.raises(BrowserMismatch):  # bound to the claiming browser, not to any other
        await flow.complete(state, CODE, browser=new_browser_secret())
    other = state_of(await flow.claim(token, BROWSER))  # the same browser again (a reload)
    connection = await flow.complete(other, CODE, browser=BROWSER)
    assert connection.site_id == SITE and connection.status is ConnectionStatus.ACTIVE


async def test_a_claimed_link_says_already_used_to_every_other_browser(
    flow: ConnectFlow, clock: FakeClock
) -> None:
    token = await flow.start_link(SITE, ["accounts:read"])
    await flow.claim(token, BROWSER)
    with pytest.raises(StateReused):
        await flow.claim(token, new_browser_secret())
    clock.advance(STATE_TTL_S)  # and to the claiming browser too, once the link's lifetime is over
    with pytest.raises(StateReused):
        await flow.claim(token, BROWSER)


async def test_a_link_token_is_no_state_and_a_state_is_no_link(
    flow: ConnectFlow, klaviyo: respx.MockRouter, clock: FakeClock
) -> None:
    token = await flow.start_link(SITE, ["accounts:read"])
    with pytest.raises(StateUnknown):
        await flow.complete(token, CODE, browser=BROWSER)
    # Someone who saw a bound state (in a leaked authorize URL) cannot turn it into a link to
    # claim for their own browser, not even by trying twice.
    state = await started(flow)
    intruder = new_browser_secret()
    with pytest.raises(StateUnknown):
        await flow.claim(state, intruder)
    with pytest.raises(StateReused):
        await flow.claim(state, intruder)
    expired = await flow.start_link(SITE, ["accounts:read"])
    clock.advance(STATE_TTL_S)
    with pytest.raises(StateExpired):
        await flow.claim(expired, BROWSER)

"""KlaviyoOAuthClient against Klaviyo's token and revoke endpoints, every branch, through respx."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
import respx

from oauth.client import KlaviyoOAuthClient, TokenSet
from oauth.errors import (
    InvalidClient,
    InvalidGrant,
    OAuthError,
    OAuthUnavailable,
    TokenEndpointError,
)
from oauth.pkce import new_code_verifier, s256_challenge
from oauth.settings import KlaviyoOAuthConfig
from tests.oauth.support import (
    AUTHORIZE_URL,
    BASIC,
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT_URI,
    REVOKE_URL,
    T0,
    TOKEN_URL,
    token_answer,
)

CODE = "code-SECRET-4c3b2a"
VERIFIER = "verifier-SECRET-" + "v" * 48
REFRESH = "refresh-SECRET-1"
SECRETS = (CODE, VERIFIER, REFRESH, CLIENT_SECRET, "access-SECRET-2", "refresh-SECRET-2")

Operation = Callable[[KlaviyoOAuthClient], Awaitable[TokenSet]]


def exchange(client: KlaviyoOAuthClient) -> Awaitable[TokenSet]:
    return client.exchange_code(CODE, VERIFIER)


def refresh(client: KlaviyoOAuthClient) -> Awaitable[TokenSet]:
    return client.refresh(REFRESH)


OPERATIONS = [pytest.param(exchange, id="exchange"), pytest.param(refresh, id="refresh")]


def form(request: httpx.Request) -> list[tuple[str, str]]:
    """The form body as sorted pairs: compares exactly, duplicates included."""
    assert request.headers["content-type"].startswith("application/x-www-form-urlencoded")
    return sorted(parse_qsl(request.content.decode(), keep_blank_values=True))


def assert_no_secrets(exc: BaseException) -> None:
    for text in (str(exc), repr(exc), *map(str, exc.args)):
        for secret in SECRETS:
            assert secret not in text


async def test_exchange_sends_basic_auth_and_the_exact_form(
    client: KlaviyoOAuthClient, klaviyo: respx.MockRouter
) -> None:
    route = klaviyo.post(TOKEN_URL).respond(200, json=token_answer(expires_in=3600))
    tokens = await client.exchange_code(CODE, VERIFIER)
    request = route.calls.last.request
    assert request.headers["authorization"] == BASIC
    assert form(request) == sorted(
        [
            ("grant_type", "authorization_code"),
            ("code", CODE),
            ("code_verifier", VERIFIER),
            ("redirect_uri", REDIRECT_URI),
        ]
    )
    assert tokens == TokenSet(
        access_token="access-SECRET-2",
        refresh_token="refresh-SECRET-2",
        expires_at=T0 + 3600,
        scopes=("accounts:read", "profiles:read", "segments:read"),
    )


async def test_refresh_sends_basic_auth_and_the_exact_form(
    client: KlaviyoOAuthClient, klaviyo: respx.MockRouter
) -> None:
    route = klaviyo.post(TOKEN_URL).respond(200, json=token_answer(expires_in=1800))
    tokens = await client.refresh(REFRESH)
    request = route.calls.last.request
    assert request.headers["authorization"] == BASIC
    assert form(request) == [("grant_type", "refresh_token"), ("refresh_token", REFRESH)]
    assert tokens.refresh_token == "refresh-SECRET-2"  # rotated
    assert tokens.expires_at == T0 + 1800


async def test_refresh_without_a_new_refresh_token_keeps_the_old_one(
    client: KlaviyoOAuthClient, klaviyo: respx.MockRouter
) -> None:
    klaviyo.post(TOKEN_URL).respond(200, json=token_answer(refresh=None, scope=None))
    tokens = await client.refresh(REFRESH)
    assert tokens.refresh_token == REFRESH
    assert tokens.scopes == ()


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize(
    ("status", "body", "error_class", "error"),
    [
        (400, {"error": "invalid_grant"}, InvalidGrant, "invalid_grant"),
        (401, {"error": "invalid_client"}, InvalidClient, "invalid_client"),
        (400, {"error": "invalid_grant_type"}, TokenEndpointError, "invalid_grant_type"),
        (400, {"error": 'Invalid "code_verifier"'}, TokenEndpointError, 'Invalid "code_verifier"'),
        (400, {"error": "Code challenge failed."}, TokenEndpointError, "Code challenge failed."),
        (403, {"message": "forbidden"}, TokenEndpointError, "http_403"),
        (200, {"error": "invalid_grant"}, InvalidGrant, "invalid_grant"),  # authlib's own path
    ],
)
async def test_token_endpoint_errors_map_to_the_error_tree(
    client: KlaviyoOAuthClient,
    klaviyo: respx.MockRouter,
    operation: Operation,
    status: int,
    body: dict[str, str],
    error_class: type[TokenEndpointError],
    error: str,
) -> None:
    klaviyo.post(TOKEN_URL).respond(status, json=body)
    with pytest.raises(error_class) as caught:
        await operation(client)
    assert type(caught.value) is error_class
    assert caught.value.error == error
    assert (
        caught.value.code
        == {
            InvalidGrant: "invalid_grant",
            InvalidClient: "invalid_client",
            TokenEndpointError: "token_endpoint_error",
        }[error_class]
    )
    assert_no_secrets(caught.value)


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize(
    "side_effect",
    [
        pytest.param(httpx.ConnectError("connection refused"), id="network"),
        pytest.param(httpx.ReadTimeout("timed out"), id="timeout"),
        pytest.param(httpx.Response(500, text="oops"), id="500"),
        pytest.param(httpx.Response(503, json={"error": "temporarily_unavailable"}), id="503"),
        pytest.param(httpx.Response(429, headers={"Retry-After": "3"}), id="429"),
    ],
)
async def test_transient_failures_are_unavailable(
    client: KlaviyoOAuthClient,
    klaviyo: respx.MockRouter,
    operation: Operation,
    side_effect: Exception | httpx.Response,
) -> None:
    klaviyo.post(TOKEN_URL).mock(side_effect=[side_effect])
    with pytest.raises(OAuthUnavailable) as caught:
        await operation(client)
    assert caught.value.code == "oauth_unavailable"
    assert_no_secrets(caught.value)


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize(
    "response",
    [
        pytest.param(httpx.Response(200, text="<html>login</html>"), id="not-json"),
        pytest.param(httpx.Response(200, json=["a"]), id="json-array"),
        pytest.param(httpx.Response(200, json={"token_type": "Bearer"}), id="no-access-token"),
        pytest.param(httpx.Response(200, json={**token_answer(), "expires_in": "soon"}), id="bad-expiry"),
        pytest.param(httpx.Response(200, json={**token_answer(), "expires_in": 0}), id="zero-expiry"),
        pytest.param(httpx.Response(200, json={**token_answer(), "token_type": "mac"}), id="not-bearer"),
        pytest.param(httpx.Response(302, headers={"Location": "/login"}), id="redirect"),
    ],
)
async def test_malformed_answers_are_token_endpoint_errors(
    client: KlaviyoOAuthClient,
    klaviyo: respx.MockRouter,
    operation: Operation,
    response: httpx.Response,
) -> None:
    klaviyo.post(TOKEN_URL).mock(return_value=response)
    with pytest.raises(TokenEndpointError) as caught:
        await operation(client)
    assert type(caught.value) is TokenEndpointError
    assert_no_secrets(caught.value)


async def test_exchange_requires_a_refresh_token(
    client: KlaviyoOAuthClient, klaviyo: respx.MockRouter
) -> None:
    klaviyo.post(TOKEN_URL).respond(200, json=token_answer(refresh=None))
    with pytest.raises(TokenEndpointError, match="no refresh_token"):
        await client.exchange_code(CODE, VERIFIER)


async def test_an_empty_code_is_an_invalid_grant_without_a_call(
    client: KlaviyoOAuthClient,
) -> None:
    with pytest.raises(InvalidGrant):
        await client.exchange_code("", VERIFIER)


async def test_error_descriptions_that_echo_secrets_are_scrubbed(
    client: KlaviyoOAuthClient, klaviyo: respx.MockRouter
) -> None:
    klaviyo.post(TOKEN_URL).respond(
        400,
        json={"error": "invalid_grant", "error_description": f"code {CODE} / {VERIFIER} is bad"},
    )
    with pytest.raises(InvalidGrant) as caught:
        await client.exchange_code(CODE, VERIFIER)
    assert caught.value.description == "code *** / *** is bad"
    assert_no_secrets(caught.value)


async def test_revoke_sends_the_refresh_token_with_basic_auth(
    client: KlaviyoOAuthClient, klaviyo: respx.MockRouter
) -> None:
    route = klaviyo.post(REVOKE_URL).respond(200)
    await client.revoke(REFRESH)
    request = route.calls.last.request
    assert request.headers["authorization"] == BASIC
    assert form(request) == [("token", REFRESH), ("token_type_hint", "refresh_token")]


@pytest.mark.parametrize(
    ("response", "error_class"),
    [
        (httpx.Response(400, json={"error": "invalid_grant"}), InvalidGrant),
        (httpx.Response(401, json={"error": "invalid_client"}), InvalidClient),
        (httpx.Response(400, json={"error": "unsupported_token_type"}), TokenEndpointError),
        (httpx.Response(502), OAuthUnavailable),
        (httpx.ConnectError("refused"), OAuthUnavailable),
        (httpx.ConnectTimeout("slow"), OAuthUnavailable),
    ],
)
async def test_revoke_failures_map_to_the_error_tree(
    client: KlaviyoOAuthClient,
    klaviyo: respx.MockRouter,
    response: Exception | httpx.Response,
    error_class: type[OAuthError],
) -> None:
    klaviyo.post(REVOKE_URL).mock(side_effect=[response])
    with pytest.raises(error_class) as caught:
        await client.revoke(REFRESH)
    assert type(caught.value) is error_class
    assert_no_secrets(caught.value)


async def test_authorization_url_carries_pkce_s256_state_and_scopes(
    client: KlaviyoOAuthClient,
) -> None:
    verifier = new_code_verifier()
    url = client.authorization_url("state-123", verifier, ("accounts:read", "segments:read"))
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == AUTHORIZE_URL
    assert sorted(parse_qsl(parts.query)) == sorted(
        [
            ("response_type", "code"),
            ("client_id", CLIENT_ID),
            ("redirect_uri", REDIRECT_URI),
            ("scope", "accounts:read segments:read"),
            ("state", "state-123"),
            ("code_challenge", s256_challenge(verifier)),
            ("code_challenge_method", "S256"),
        ]
    )
    assert verifier not in url


def test_authorization_url_rejects_a_bad_verifier(config: KlaviyoOAuthConfig) -> None:
    client = KlaviyoOAuthClient(config)
    with pytest.raises(ValueError, match="code_verifier"):
        client.authorization_url("state", "too-short", ("accounts:read",))
    with pytest.raises(ValueError, match="scope"):
        client.authorization_url("state", new_code_verifier(), ())


def test_reprs_never_show_secrets(config: KlaviyoOAuthConfig) -> None:
    tokens = TokenSet("access-SECRET-2", "refresh-SECRET-2", T0, ("accounts:read",))
    for text in (repr(tokens), str(tokens), repr(config), repr(KlaviyoOAuthClient(config))):
        for secret in SECRETS:
            assert secret not in text
    assert "***" in repr(tokens)


@pytest.mark.parametrize(
    "change",
    [
        {"client_id": ""},
        {"client_secret": ""},
        {"redirect_uri": "/callback"},
        {"token_url": "ftp://a.klaviyo.com/oauth/token"},
        {"timeout_s": 0},
    ],
)
def test_config_validates_its_fields(change: dict[str, object]) -> None:
    fields: dict[str, object] = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "redirect_uri": REDIRECT_URI,
        **change,
    }
    with pytest.raises(ValueError):
        KlaviyoOAuthConfig(**fields)  # type: ignore[arg-type]


async def test_the_timeout_bounds_the_whole_call(
    config: KlaviyoOAuthConfig, klaviyo: respx.MockRouter
) -> None:
    hang = [True]

    async def hangs_once(request: httpx.Request) -> httpx.Response:
        if hang.pop():
            await asyncio.Event().wait()  # never set: only the client's timeout ends this
        return httpx.Response(200, json=token_answer())

    klaviyo.post(TOKEN_URL).mock(side_effect=hangs_once)
    quick = dataclasses.replace(config, timeout_s=0.05)
    async with KlaviyoOAuthClient(quick) as client:
        with pytest.raises(OAuthUnavailable, match=r"within 0\.05s"):
            await client.refresh(REFRESH)
        hang.append(False)
        assert (await client.refresh(REFRESH)).access_token == "access-SECRET-2"

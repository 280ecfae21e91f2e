"""Klaviyo's OAuth endpoints through authlib: authorize URL, code exchange, refresh, revoke.

Every call builds a short-lived `AsyncOAuth2Client` over one shared httpx transport (so the
connection pool is shared), because authlib keeps the current token on the client object and
one client serving many sites at once would mix their tokens up. Every failure leaves as an
error of `oauth.errors`; messages never carry a token, code, verifier or the client secret.
"""

from __future__ import annotations

import asyncio
import time
import warnings
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from authlib.deprecate import AuthlibDeprecationWarning  # type: ignore[import-untyped]
from authlib.integrations.base_client import (  # type: ignore[import-untyped]
    OAuthError as AuthlibOAuthError,
)

from oauth.errors import (
    InvalidGrant,
    OAuthError,
    OAuthUnavailable,
    TokenEndpointError,
    token_endpoint_error,
)
from oauth.pkce import is_valid_code_verifier
from oauth.scopes import parse_scope
from oauth.settings import KlaviyoOAuthConfig

# authlib prefers the `httpx2` distribution and warns (a DeprecationWarning, which our tests turn
# into errors) when it falls back to plain httpx, the client every other part of kx-edge uses.
# Silence exactly that warning, exactly while importing the integration.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import (  # type: ignore[import-untyped]
        AsyncOAuth2Client,
    )

T = TypeVar("T")
_MAX_LIFETIME_S = 366 * 86400


@dataclass(frozen=True, slots=True)
class TokenSet:
    """Tokens from one token-endpoint answer; `expires_at` is unix seconds.

    `scopes` is empty when Klaviyo did not state them (RFC 6749: then they equal the request).
    `repr()` masks both tokens.
    """

    access_token: str
    refresh_token: str
    expires_at: int
    scopes: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return (
            f"TokenSet(access_token='***', refresh_token='***', "
            f"expires_at={self.expires_at}, scopes={self.scopes!r})"
        )


class KlaviyoOAuthClient:
    """Talks to Klaviyo's authorize, token and revoke endpoints (Basic client auth, PKCE S256).

    `transport` is the seam for tests; the client owns it and closes it in `aclose()`.
    `clock` (unix seconds) turns `expires_in` into `expires_at`.
    """

    def __init__(
        self,
        config: KlaviyoOAuthConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._transport = transport if transport is not None else httpx.AsyncHTTPTransport()
        self._clock = clock

    @property
    def config(self) -> KlaviyoOAuthConfig:
        return self._config

    def __repr__(self) -> str:
        return f"KlaviyoOAuthClient(client_id={self._config.client_id!r})"

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def __aenter__(self) -> KlaviyoOAuthClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def authorization_url(self, state: str, code_verifier: str, scopes: Sequence[str]) -> str:
        """The Klaviyo consent URL carrying `state`, the S256 challenge of `code_verifier`, scopes."""
        if not state:
            raise ValueError("state is required")
        if not is_valid_code_verifier(code_verifier):
            raise ValueError("code_verifier must be 43-128 characters of [A-Za-z0-9-._~]")
        if not scopes:
            raise ValueError("at least one scope is required")
        url, _ = self._session().create_authorization_url(
            self._config.authorize_url,
            state=state,
            code_verifier=code_verifier,
            scope=" ".join(scopes),
        )
        return str(url)

    async def exchange_code(self, code: str, code_verifier: str) -> TokenSet:
        """Trade an authorization code (with its PKCE verifier) for tokens."""
        if not code:
            raise InvalidGrant("invalid_grant", "the callback carried no authorization code")
        secrets = (code, code_verifier)
        session = self._session(secrets)
        token = await self._guard(
            session.fetch_token(
                self._config.token_url,
                grant_type="authorization_code",
                code=code,
                code_verifier=code_verifier,
                redirect_uri=self._config.redirect_uri,
            ),
            secrets,
        )
        return self._token_set(token, secrets)

    async def refresh(self, refresh_token: str) -> TokenSet:
        """New tokens for a refresh token; `refresh_token` in the answer is the rotated one, or
        the same one when Klaviyo did not rotate it."""
        secrets = (refresh_token,)
        received: dict[str, Any] = {}

        async def update_token(token: Mapping[str, Any], **_: Any) -> None:
            received.update(token)

        session = self._session(secrets, update_token=update_token)
        await self._guard(session.refresh_token(self._config.token_url, refresh_token=refresh_token), secrets)
        return self._token_set(received, secrets)

    async def revoke(self, refresh_token: str) -> None:
        """Revoke a refresh token (and with it the grant) at Klaviyo."""
        secrets = (refresh_token,)
        response: httpx.Response = await self._guard(
            self._session(secrets).revoke_token(
                self._config.revoke_url,
                token=refresh_token,
                token_type_hint="refresh_token",  # noqa: S106 (a hint name)
            ),
            secrets,
        )
        _check_response(response, secrets, expect_json=False)

    def _session(
        self,
        secrets: Iterable[str] = (),
        *,
        update_token: Callable[..., Awaitable[None]] | None = None,
    ) -> Any:
        session = AsyncOAuth2Client(
            client_id=self._config.client_id,
            client_secret=self._config.client_secret,
            token_endpoint_auth_method="client_secret_basic",  # noqa: S106 (a method name)
            revocation_endpoint_auth_method="client_secret_basic",
            redirect_uri=self._config.redirect_uri,
            code_challenge_method="S256",
            update_token=update_token,
            transport=self._transport,
            timeout=self._config.timeout_s,
        )
        secrets = tuple(secrets)

        def check(response: httpx.Response) -> httpx.Response:
            return _check_response(response, secrets, expect_json=True)

        session.register_compliance_hook("access_token_response", check)
        session.register_compliance_hook("refresh_token_response", check)
        return session

    async def _guard(self, call: Awaitable[T], secrets: tuple[str, ...]) -> T:
        """Await an authlib call, turning every failure into an `oauth.errors` error."""
        try:
            # httpx's timeout applies per phase (connect, write, read); this bounds the whole call.
            async with asyncio.timeout(self._config.timeout_s):
                return await call
        except OAuthError:
            raise
        except AuthlibOAuthError as exc:
            error = exc.error if isinstance(exc.error, str) else "unknown_error"
            raise token_endpoint_error(error, exc.description, secrets=secrets) from None
        except (httpx.TimeoutException, TimeoutError) as exc:
            raise OAuthUnavailable(f"Klaviyo did not answer within {self._config.timeout_s:g}s") from exc
        except httpx.TransportError as exc:
            raise OAuthUnavailable(f"cannot reach Klaviyo ({type(exc).__name__})") from exc

    def _token_set(self, token: Mapping[str, Any], secrets: tuple[str, ...]) -> TokenSet:
        def malformed(what: str) -> TokenEndpointError:
            return TokenEndpointError("invalid_token_response", what, secrets=secrets)

        access_token = token.get("access_token")
        refresh_token = token.get("refresh_token")
        expires_in = token.get("expires_in")
        token_type = token.get("token_type", "Bearer")
        if not isinstance(access_token, str) or not access_token:
            raise malformed("the answer has no access_token")
        if not isinstance(refresh_token, str) or not refresh_token:
            raise malformed("the answer has no refresh_token")
        if not isinstance(token_type, str) or token_type.lower() != "bearer":
            raise malformed("the token type is not Bearer")
        try:
            lifetime = int(expires_in)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise malformed("the answer has no valid expires_in") from None
        if not 0 < lifetime <= _MAX_LIFETIME_S:
            raise malformed("expires_in is out of range")
        scope = token.get("scope")
        return TokenSet(
            access_token=access_token,
            refresh_token=refresh_token,
            expires_at=int(self._clock()) + lifetime,
            scopes=parse_scope(scope) if isinstance(scope, str) else (),
        )


def _check_response(
    response: httpx.Response, secrets: tuple[str, ...], *, expect_json: bool
) -> httpx.Response:
    """Raise the matching error for a failed answer; authlib only looks at the body."""
    status = response.status_code
    if status == 429 or status >= 500:
        raise OAuthUnavailable(f"Klaviyo answered HTTP {status}", status=status)
    if 200 <= status < 300:
        if expect_json:
            problem = _token_body_problem(_json_object(response))
            if problem:
                raise TokenEndpointError("invalid_token_response", problem, status=status, secrets=secrets)
        return response
    body = _json_object(response) or {}
    error = body.get("error")
    description = body.get("error_description")
    raise token_endpoint_error(
        error if isinstance(error, str) and error else f"http_{status}",
        description if isinstance(description, str) else None,
        status=status,
        secrets=secrets,
    )


def _token_body_problem(body: dict[str, Any] | None) -> str | None:
    """What makes a 2xx token answer unusable (authlib would crash on a bad `expires_in`)."""
    if body is None:
        return "the answer is not a JSON object"
    if "error" in body:
        return None  # authlib raises it as an OAuth error
    if not isinstance(body.get("access_token"), str) or not body["access_token"]:
        return "the answer has no access_token"
    expires_in = body.get("expires_in")
    if isinstance(expires_in, bool) or not isinstance(expires_in, int | float | str):
        return "the answer has no valid expires_in"
    try:
        int(expires_in)
    except ValueError:
        return "the answer has no valid expires_in"
    return None


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None

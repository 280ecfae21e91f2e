"""The fake's OAuth server state: clients, grants, one-time codes, access and refresh tokens."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hmac
import secrets
import threading
from collections.abc import Iterable

from sandbox.oauth_records import (
    VERIFIER_PATTERN,
    AccessToken,
    AuthorizationCode,
    Grant,
    OAuthClient,
    RefreshToken,
    TokenError,
    TokenErrorCode,
    TokenSet,
    s256,
)
from sandbox.records import Clock

_E = TokenErrorCode


class OAuthRegistry:
    """Switches: `access_ttl_s` (the `expires_in` answered), `code_ttl_s`, `refresh_idle_ttl_s`
    (refresh tokens die unused for that long), `rotate_refresh_tokens` (each refresh answers a
    new refresh token and kills the old one), `auto_approve` (GET /oauth/authorize redirects at
    once as if the merchant clicked Allow)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.RLock()
        self._clients: dict[str, OAuthClient] = {}
        self._connected: dict[str, str] = {}  # client id -> account its consent page preselects
        self._grants: dict[str, Grant] = {}
        self._codes: dict[str, AuthorizationCode] = {}
        self._access: dict[str, AccessToken] = {}
        self._refresh: dict[str, RefreshToken] = {}
        self.access_ttl_s = 3600
        self.code_ttl_s = 300
        self.refresh_idle_ttl_s = 90 * 86400
        self.rotate_refresh_tokens = True
        self.auto_approve = False

    def register_client(
        self, client_id: str, client_secret: str, redirect_uris: Iterable[str], name: str = "kx-edge"
    ) -> OAuthClient:
        client = OAuthClient(client_id, client_secret, tuple(redirect_uris), name)
        with self._lock:
            self._clients[client_id] = client
        return client

    def client(self, client_id: str) -> OAuthClient | None:
        return self._clients.get(client_id)

    def connect(self, client_id: str, account_id: str) -> None:
        """Preselect the account a client's consent page offers (default: the first account)."""
        self._connected[client_id] = account_id

    def connected_account(self, client_id: str) -> str | None:
        return self._connected.get(client_id)

    def authenticate(self, authorization: str | None) -> OAuthClient:
        """The client named by an HTTP Basic header, or `invalid_client`."""
        scheme, _, encoded = (authorization or "").partition(" ")
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        client_id, sep, secret = decoded.partition(":")
        client = self._clients.get(client_id)
        if (
            scheme.lower() != "basic"
            or not sep
            or client is None
            or not hmac.compare_digest(client.client_secret.encode(), secret.encode())
        ):
            raise TokenError(_E.INVALID_CLIENT, "Client authentication failed.")
        return client

    def issue_code(
        self,
        client_id: str,
        redirect_uri: str,
        code_challenge: str,
        scopes: tuple[str, ...],
        account_id: str,
    ) -> str:
        code = secrets.token_urlsafe(24)
        expires_at = self._clock() + self.code_ttl_s
        record = AuthorizationCode(
            code, client_id, redirect_uri, code_challenge, scopes, account_id, expires_at
        )
        with self._lock:
            self._codes[code] = record
        return code

    def exchange_code(self, client: OAuthClient, code: str, verifier: str, redirect_uri: str) -> TokenSet:
        """`grant_type=authorization_code`: the code is one-time, bound to client and redirect."""
        if not VERIFIER_PATTERN.match(verifier):
            raise TokenError(_E.INVALID_CODE_VERIFIER, "code_verifier must match [A-Za-z0-9-._~]{43,128}")
        with self._lock:
            record = self._codes.get(code)
            if record is None or record.client_id != client.client_id:
                raise TokenError(_E.INVALID_GRANT, "Unknown, used or foreign authorization code.")
            if record.expires_at <= self._clock():
                del self._codes[code]
                raise TokenError(_E.INVALID_GRANT, "The authorization code expired.")
            if record.redirect_uri != redirect_uri:
                raise TokenError(_E.INVALID_GRANT, "redirect_uri differs from the authorize call.")
            if not hmac.compare_digest(s256(verifier), record.code_challenge):
                raise TokenError(_E.CODE_CHALLENGE_FAILED, "S256(code_verifier) != code_challenge")
            del self._codes[code]
            grant = Grant(secrets.token_hex(8), client.client_id, record.account_id, record.scopes)
            self._grants[grant.id] = grant
            return self._issue(grant, refresh=None)

    def refresh(self, client: OAuthClient, refresh_token: str) -> TokenSet:
        """`grant_type=refresh_token`: 400 `invalid_grant` once revoked, rotated away or idle."""
        with self._lock:
            record = self._refresh.get(refresh_token)
            grant = self._grants.get(record.grant_id) if record else None
            if record is None or grant is None or grant.client_id != client.client_id:
                raise TokenError(_E.INVALID_GRANT, "The refresh token is invalid or revoked.")
            if self._clock() - record.last_used > self.refresh_idle_ttl_s:
                del self._refresh[refresh_token]
                raise TokenError(_E.INVALID_GRANT, "The refresh token expired unused.")
            if self.rotate_refresh_tokens:
                del self._refresh[refresh_token]
                return self._issue(grant, refresh=None)
            return self._issue(grant, refresh=refresh_token)

    def issue_tokens(self, client_id: str, account_id: str, scopes: Iterable[str]) -> TokenSet:
        """A ready connection without the browser dance, for tests and benchmarks."""
        with self._lock:
            grant = Grant(secrets.token_hex(8), client_id, account_id, tuple(scopes))
            self._grants[grant.id] = grant
            return self._issue(grant, refresh=None)

    def _issue(self, grant: Grant, refresh: str | None) -> TokenSet:
        now = self._clock()
        access = secrets.token_urlsafe(32)
        self._access[access] = AccessToken(access, grant.id, now + self.access_ttl_s)
        refresh = refresh or secrets.token_urlsafe(32)
        self._refresh[refresh] = RefreshToken(refresh, grant.id, now)
        scope = " ".join(grant.scopes)
        return TokenSet(access, refresh, self.access_ttl_s, scope, grant.account_id)

    def grant_for_access(self, token: str) -> Grant | None:
        """The live grant behind an unexpired access token, or None (a 401)."""
        record = self._access.get(token)
        if record is None or record.expires_at <= self._clock():
            return None
        return self._grants.get(record.grant_id)

    def revoke(self, token: str, client_id: str | None = None) -> bool:
        """Revoke the installation a refresh (or access) token belongs to: all its tokens die."""
        with self._lock:
            record = self._refresh.get(token) or self._access.get(token)
            grant = self._grants.get(record.grant_id) if record else None
            if grant is None or (client_id is not None and grant.client_id != client_id):
                return False
            self._drop_grants({grant.id})
            return True

    def revoke_all(self, *, account_id: str | None = None) -> None:
        """Uninstall: every grant (of one account, or all) and all their tokens die."""
        with self._lock:
            self._drop_grants({g.id for g in self._grants.values() if account_id in (None, g.account_id)})

    def expire_access_tokens(self) -> None:
        """Every access token issued so far is expired now; refresh tokens still work."""
        with self._lock:
            now = self._clock()
            for token, record in self._access.items():
                self._access[token] = dataclasses.replace(record, expires_at=now)

    def _drop_grants(self, grant_ids: set[str]) -> None:
        for grant_id in grant_ids:
            self._grants.pop(grant_id, None)
        for table in (self._access, self._refresh):
            for token in [t for t, r in table.items() if r.grant_id in grant_ids]:
                del table[token]

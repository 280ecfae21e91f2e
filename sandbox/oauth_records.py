"""Values of the fake's OAuth side: clients, grants, codes, tokens, and the token errors."""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from enum import StrEnum


class Scope(StrEnum):
    """The scopes the fake's endpoints check (any `name:read|write` scope may be granted)."""

    ACCOUNTS_READ = "accounts:read"
    PROFILES_READ = "profiles:read"
    SEGMENTS_READ = "segments:read"
    EVENTS_WRITE = "events:write"


SCOPE_PATTERN = re.compile(r"^[a-z][a-z-]*:(read|write)$")
VERIFIER_PATTERN = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


def s256(verifier: str) -> str:
    """PKCE S256: base64url(sha256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class TokenErrorCode(StrEnum):
    """The `error` strings of Klaviyo's token endpoint (docs/KLAVIYO.md, Klaviyo's troubleshooting)."""

    INVALID_CLIENT = "invalid_client"
    INVALID_GRANT = "invalid_grant"
    INVALID_GRANT_TYPE = "invalid_grant_type"
    INVALID_CODE_VERIFIER = 'Invalid "code_verifier"'
    CODE_CHALLENGE_FAILED = "Code challenge failed."
    INVALID_REQUEST = "invalid_request"


class TokenError(Exception):
    """A refused token or revoke request: rendered as `{"error", "error_description"}`."""

    def __init__(self, code: TokenErrorCode, description: str) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description

    @property
    def status(self) -> int:
        return 401 if self.code is TokenErrorCode.INVALID_CLIENT else 400


@dataclass(frozen=True, slots=True)
class OAuthClient:
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    name: str = "kx-edge"


@dataclass(frozen=True, slots=True)
class Grant:
    """One installation: what a merchant allowed a client to do in one account."""

    id: str
    client_id: str
    account_id: str
    scopes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AuthorizationCode:
    code: str
    client_id: str
    redirect_uri: str
    code_challenge: str
    scopes: tuple[str, ...]
    account_id: str
    expires_at: float


@dataclass(frozen=True, slots=True)
class AccessToken:
    token: str
    grant_id: str
    expires_at: float


@dataclass(frozen=True, slots=True)
class RefreshToken:
    token: str
    grant_id: str
    last_used: float


@dataclass(frozen=True, slots=True)
class TokenSet:
    """What the token endpoint answers, plus the account it connects to (for tests)."""

    access_token: str
    refresh_token: str
    expires_in: int
    scope: str
    account_id: str

    def as_json(self) -> dict[str, str | int]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "scope": self.scope,
        }

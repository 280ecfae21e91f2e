"""Errors raised by the oauth package: one base, and every subclass carries a stable `code`.

```
OAuthError                   oauth_error
├── TokenEndpointError       token_endpoint_error  Klaviyo refused a token or revoke call (4xx);
│   │                                              `.error` holds Klaviyo's error string
│   ├── InvalidGrant         invalid_grant         code or refresh token no longer valid: reconnect
│   └── InvalidClient        invalid_client        client id/secret rejected: fix the configuration
├── OAuthUnavailable         oauth_unavailable     network error, timeout, 429 or 5xx: transient
├── FlowError                flow_error            the connect callback cannot be completed
│   ├── StateUnknown         state_unknown         a `state` never issued (forged, or long gone)
│   ├── StateReused          state_reused          a `state` or connect link already used
│   ├── StateExpired         state_expired         `state` older than its time to live
│   ├── BrowserMismatch      browser_mismatch      the flow was started in another browser
│   └── AuthorizationDenied  authorization_denied  Klaviyo redirected back with `?error=`
├── NotConnected             not_connected         the site has no Klaviyo connection
├── ReauthRequired           needs_reauth          the connection needs the merchant to reconnect
├── DecryptionError          decryption_failed     a stored secret cannot be decrypted
└── LockTimeout              lock_timeout          a lock was not acquired within its wait
```

Messages are safe to log and to show: they never contain tokens, authorization codes, PKCE
verifiers or the client secret (text that comes from Klaviyo is scrubbed and truncated).
"""

from __future__ import annotations

from collections.abc import Iterable

_MAX_TEXT = 200


def safe_text(text: str | None, secrets: Iterable[str] = (), *, limit: int = _MAX_TEXT) -> str:
    """Printable, truncated `text` with every occurrence of a secret replaced by `***`."""
    if not text:
        return ""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class OAuthError(Exception):
    """Base of every error the oauth package raises."""

    code = "oauth_error"


class TokenEndpointError(OAuthError):
    """Klaviyo's token or revoke endpoint answered with an error (a 4xx, or a malformed answer)."""

    code = "token_endpoint_error"

    def __init__(
        self,
        error: str,
        description: str | None = None,
        *,
        status: int | None = None,
        secrets: Iterable[str] = (),
    ) -> None:
        secrets = tuple(secrets)
        self.error = safe_text(error, secrets, limit=100) or "unknown_error"
        self.description = safe_text(description, secrets) or None
        self.status = status
        where = f"HTTP {status} " if status is not None else ""
        detail = f": {self.description}" if self.description else ""
        super().__init__(f"Klaviyo token endpoint answered {where}{self.error}{detail}")


class InvalidGrant(TokenEndpointError):
    """The authorization code or refresh token is not valid any more: the merchant must reconnect."""

    code = "invalid_grant"


class InvalidClient(TokenEndpointError):
    """Klaviyo rejected the client id or secret: the OAuth app configuration needs fixing."""

    code = "invalid_client"


def token_endpoint_error(
    error: str,
    description: str | None = None,
    *,
    status: int | None = None,
    secrets: Iterable[str] = (),
) -> TokenEndpointError:
    """The error class that matches Klaviyo's error string."""
    cls: type[TokenEndpointError] = {
        "invalid_grant": InvalidGrant,
        "invalid_client": InvalidClient,
    }.get(error, TokenEndpointError)
    return cls(error, description, status=status, secrets=secrets)


class OAuthUnavailable(OAuthError):
    """Klaviyo could not be reached or answered 429/5xx; trying again later may succeed."""

    code = "oauth_unavailable"

    def __init__(self, message: str, *, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class FlowError(OAuthError):
    """The OAuth callback cannot complete the connect flow."""

    code = "flow_error"


class StateUnknown(FlowError):
    """The `state` is unknown: never issued, forged, or used so long ago that it is forgotten."""

    code = "state_unknown"

    def __init__(self) -> None:
        super().__init__("unknown OAuth state; start connecting again")


class StateReused(FlowError):
    """The `state` (or the connect link) was already used once."""

    code = "state_reused"

    def __init__(self) -> None:
        super().__init__("this connection link was already used; start connecting again")


class BrowserMismatch(FlowError):
    """The callback arrived in a browser that does not hold the flow's binding secret."""

    code = "browser_mismatch"

    def __init__(self) -> None:
        super().__init__("the connection was started in another browser; nothing was connected")


class StateExpired(FlowError):
    """The `state` was issued too long ago."""

    code = "state_expired"

    def __init__(self) -> None:
        super().__init__("the OAuth state has expired; start connecting again")


class AuthorizationDenied(FlowError):
    """Klaviyo sent the merchant back with `?error=` (for example `access_denied`)."""

    code = "authorization_denied"

    def __init__(self, error: str, description: str | None, *, site_id: str) -> None:
        self.error = safe_text(error, limit=100) or "unknown_error"
        self.description = safe_text(description) or None
        self.site_id = site_id
        detail = f": {self.description}" if self.description else ""
        super().__init__(f"Klaviyo authorization failed with {self.error}{detail}")


class NotConnected(OAuthError):
    """The site has no Klaviyo connection (never connected, or disconnected)."""

    code = "not_connected"

    def __init__(self, site_id: str) -> None:
        self.site_id = site_id
        super().__init__(f"site {site_id} is not connected to Klaviyo")


class ReauthRequired(OAuthError):
    """Klaviyo no longer honours the connection's grant: the merchant must reconnect."""

    code = "needs_reauth"

    def __init__(self, site_id: str, reason: str | None = None) -> None:
        self.site_id = site_id
        self.reason = reason
        detail = f" ({reason})" if reason else ""
        super().__init__(f"the Klaviyo connection of site {site_id} needs reconnecting{detail}")


class DecryptionError(OAuthError):
    """A stored value could not be decrypted with any configured key."""

    code = "decryption_failed"


class LockTimeout(OAuthError):
    """A lock was not acquired within its wait."""

    code = "lock_timeout"

    def __init__(self, name: str, wait_s: float) -> None:
        self.name = name
        self.wait_s = wait_s
        super().__init__(f"lock {name!r} not acquired within {wait_s:g}s")

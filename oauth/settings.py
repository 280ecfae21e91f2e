"""The Klaviyo OAuth app's configuration, passed in by the edge (which reads the settings)."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

DEFAULT_AUTHORIZE_URL = "https://www.klaviyo.com/oauth/authorize"
DEFAULT_TOKEN_URL = "https://a.klaviyo.com/oauth/token"  # noqa: S105 (a URL, not a secret)
DEFAULT_REVOKE_URL = "https://a.klaviyo.com/oauth/revoke"


@dataclass(frozen=True, slots=True, kw_only=True)
class KlaviyoOAuthConfig:
    """Client credentials, endpoints and the redirect URI registered with Klaviyo.

    Every endpoint is a setting so tests and sandboxes can point the flow at a fake Klaviyo.
    The client secret never appears in `repr()`.
    """

    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str
    authorize_url: str = DEFAULT_AUTHORIZE_URL
    token_url: str = DEFAULT_TOKEN_URL
    revoke_url: str = DEFAULT_REVOKE_URL
    timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if not self.client_id:
            raise ValueError("KlaviyoOAuthConfig.client_id is required")
        if not self.client_secret:
            raise ValueError("KlaviyoOAuthConfig.client_secret is required")
        for name in ("redirect_uri", "authorize_url", "token_url", "revoke_url"):
            url = getattr(self, name)
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError(f"KlaviyoOAuthConfig.{name} must be an absolute http(s) URL")
        if not self.timeout_s > 0:
            raise ValueError("KlaviyoOAuthConfig.timeout_s must be positive")

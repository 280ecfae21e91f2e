"""Klaviyo OAuth for kx-edge: the client, the connect flow, tokens at rest and their refresh.

Depends on stdlib, authlib, httpx and cryptography only; the edge supplies the stores and locks
(`oauth.storage` declares them, `oauth.memory` has in-process versions).
"""

from oauth.binding import browser_hash, new_browser_secret, same_browser
from oauth.client import KlaviyoOAuthClient, TokenSet
from oauth.connection import (
    AccountInfo,
    Connection,
    ConnectionStatus,
    ConnectionStatusView,
    connection_status,
)
from oauth.crypto import TokenCipher
from oauth.disconnect import DisconnectResult, disconnect
from oauth.errors import (
    AuthorizationDenied,
    BrowserMismatch,
    DecryptionError,
    FlowError,
    InvalidClient,
    InvalidGrant,
    LockTimeout,
    NotConnected,
    OAuthError,
    OAuthUnavailable,
    ReauthRequired,
    StateExpired,
    StateReused,
    StateUnknown,
    TokenEndpointError,
)
from oauth.flow import ConnectFlow, FetchAccount
from oauth.scopes import BASE_SCOPES, EVENTS_SCOPE, missing_scopes, required_scopes
from oauth.settings import KlaviyoOAuthConfig
from oauth.storage import ConnectionStore, FlowState, FlowStateStore, LockProvider
from oauth.tokens import TokenManager

__all__ = [
    "BASE_SCOPES",
    "EVENTS_SCOPE",
    "AccountInfo",
    "AuthorizationDenied",
    "BrowserMismatch",
    "ConnectFlow",
    "Connection",
    "ConnectionStatus",
    "ConnectionStatusView",
    "ConnectionStore",
    "DecryptionError",
    "DisconnectResult",
    "FetchAccount",
    "FlowError",
    "FlowState",
    "FlowStateStore",
    "InvalidClient",
    "InvalidGrant",
    "KlaviyoOAuthClient",
    "KlaviyoOAuthConfig",
    "LockProvider",
    "LockTimeout",
    "NotConnected",
    "OAuthError",
    "OAuthUnavailable",
    "ReauthRequired",
    "StateExpired",
    "StateReused",
    "StateUnknown",
    "TokenCipher",
    "TokenEndpointError",
    "TokenManager",
    "TokenSet",
    "browser_hash",
    "connection_status",
    "disconnect",
    "missing_scopes",
    "new_browser_secret",
    "required_scopes",
    "same_browser",
]

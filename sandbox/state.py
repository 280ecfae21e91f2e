"""`SandboxState`: everything one fake Klaviyo holds, shared by its app and the tests driving it."""

from __future__ import annotations

import time
from collections.abc import Iterable

from sandbox.calls import CallLog
from sandbox.directory import Directory
from sandbox.event_log import EventLog
from sandbox.faults import FaultPlan
from sandbox.oauth_records import OAuthClient, TokenSet
from sandbox.oauth_store import OAuthRegistry
from sandbox.ratelimit import RateLimiter
from sandbox.records import Clock, RecordedEvent


class SandboxState(Directory):
    """Accounts, profiles, segments and members (the `Directory` methods), plus:

    - `oauth`: clients, codes, grants and tokens (`OAuthRegistry`, with its switches);
    - `event_log`: received events, deduplicated (`events()` reads them);
    - `calls`: every answered request (`CallLog`: `count`, `counts`, `records`, `reset`);
    - `faults`: injected failures (`FaultPlan.inject`);
    - `limiter`: the rate-limit windows (`RateLimiter.override` shrinks a tier);
    - `refuse_kx_member_filter`: answer 400 to `equals(_kx,...)` on segment members, as a
      Klaviyo that does not support it would (docs/KLAVIYO.md: unverified).

    `clock` (seconds since the epoch) drives token expiry, codes, rate-limit windows and the
    timestamps of new records, so tests move time instead of sleeping.
    """

    def __init__(
        self,
        *,
        clock: Clock = time.time,
        access_ttl_s: int = 3600,
        rotate_refresh_tokens: bool = True,
        refuse_kx_member_filter: bool = False,
    ) -> None:
        super().__init__(clock)
        self.oauth = OAuthRegistry(clock)
        self.oauth.access_ttl_s = access_ttl_s
        self.oauth.rotate_refresh_tokens = rotate_refresh_tokens
        self.event_log = EventLog(self, clock)
        self.calls = CallLog(clock)
        self.faults = FaultPlan()
        self.limiter = RateLimiter(clock)
        self.refuse_kx_member_filter = refuse_kx_member_filter

    def add_client(
        self,
        client_id: str,
        client_secret: str,
        redirect_uris: Iterable[str],
        *,
        name: str = "kx-edge",
        account_id: str | None = None,
    ) -> OAuthClient:
        """Register an OAuth app; `account_id` preselects the account its consent page offers."""
        client = self.oauth.register_client(client_id, client_secret, redirect_uris, name)
        if account_id is not None:
            self.oauth.connect(client_id, account_id)
        return client

    def default_account_for(self, client_id: str) -> str | None:
        """The account a client's consent page preselects: the connected one, else the first."""
        connected = self.oauth.connected_account(client_id)
        if connected is not None and self.account(connected) is not None:
            return connected
        accounts = self.accounts()
        return accounts[0].id if accounts else None

    def issue_tokens(self, client_id: str, account_id: str, scopes: Iterable[str]) -> TokenSet:
        """Tokens for an installed app without going through the consent page."""
        return self.oauth.issue_tokens(client_id, account_id, scopes)

    def events(self, *, account_id: str | None = None, metric_name: str | None = None) -> list[RecordedEvent]:
        """Recorded (deduplicated) events, oldest first."""
        return self.event_log.events(account_id=account_id, metric_name=metric_name)

    def expire_access_tokens(self) -> None:
        self.oauth.expire_access_tokens()

    def revoke(self, token: str) -> bool:
        """Revoke the installation behind a refresh or access token (as the merchant would)."""
        return self.oauth.revoke(token)

    def uninstall(self, account_id: str | None = None) -> None:
        """Every installation (of one account, or all) is gone: refresh answers invalid_grant."""
        self.oauth.revoke_all(account_id=account_id)

    def reset_counters(self) -> None:
        """Forget the call log and the rate-limit windows."""
        self.calls.reset()
        self.limiter.reset()

"""The storage and lock protocols oauth/ needs; edge/ supplies the implementations.

`oauth.memory` holds in-process implementations that double as the reference semantics.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from oauth.connection import Connection


class ConnectionStore(Protocol):
    """One connection record per site."""

    async def get(self, site_id: str) -> Connection | None:
        """The site's record, or None if it never connected."""
        ...

    async def save(self, connection: Connection) -> Connection:
        """Replace the site's whole record atomically (a connect, possibly to another account).

        The store assigns `generation`: the previous record's generation + 1, or 1 for a site
        with no record; the argument's `generation` is ignored. Returns the stored record.
        """
        ...

    async def update(self, connection: Connection) -> bool:
        """Replace the record only if the stored `generation` equals `connection.generation`.

        Refreshed tokens and status marks go through here, so a refresh that finishes after a
        reconnect or disconnect can never resurrect the old connection. False: nothing written.
        """
        ...

    async def disconnect(self, site_id: str) -> Connection | None:
        """Atomically replace the record with `previous.as_disconnected()` and return `previous`.

        Returns None (and stores nothing) when the site has no record.
        """
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowState:
    """A pending connect: the one-time `state`, the site and browser it is bound to, its PKCE
    verifier.

    `browser` is the SHA-256 of the binding secret the starting browser holds (`oauth.binding`).
    `is_link` marks a connect started without a browser (through the API): its key is the token
    of a one-time link, never a state Klaviyo sees, and `browser` is None until a browser claims
    it. `used_at` marks the record a taken flow leaves behind, so a second use can be told apart
    from a state never issued.
    Times are unix seconds. `repr()` shows neither the state nor the verifier.
    """

    state: str = field(repr=False)
    site_id: str
    code_verifier: str = field(repr=False)
    scopes: tuple[str, ...]
    created_at: int
    expires_at: int
    browser: str | None = field(default=None, repr=False)
    is_link: bool = False
    used_at: int | None = None

    def to_record(self) -> dict[str, Any]:
        """A JSON-compatible dict of every field, for stores that keep documents."""
        return {
            "state": self.state,
            "site_id": self.site_id,
            "code_verifier": self.code_verifier,
            "scopes": list(self.scopes),
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "browser": self.browser,
            "is_link": self.is_link,
            "used_at": self.used_at,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> FlowState:
        """The inverse of `to_record`."""
        return cls(
            state=str(record["state"]),
            site_id=str(record["site_id"]),
            code_verifier=str(record["code_verifier"]),
            scopes=tuple(str(s) for s in record["scopes"]),
            created_at=int(record["created_at"]),
            expires_at=int(record["expires_at"]),
            browser=None if record.get("browser") is None else str(record["browser"]),
            is_link=bool(record.get("is_link", False)),
            used_at=None if record.get("used_at") is None else int(record["used_at"]),
        )


class FlowStateStore(Protocol):
    """Pending connect flows, keyed by their one-time `state`."""

    async def put(self, record: FlowState) -> None:
        """Store a new flow. The store may drop records some time after `expires_at`."""
        ...

    async def take(self, state: str) -> FlowState | None:
        """Remove and return the record in one atomic step: a state can be taken once.

        (The connect flow puts a `used_at` record back under the same state after taking one,
        so a replay is recognised; stores need to do nothing for it.)
        """
        ...


class LockProvider(Protocol):
    """Named mutual exclusion (within a process, or across processes and machines)."""

    def lock(self, name: str, ttl_s: float, wait_s: float) -> AbstractAsyncContextManager[None]:
        """Hold `name` for the body. Raises `oauth.errors.LockTimeout` when not acquired within
        `wait_s`. A holder that dies releases it after `ttl_s` at the latest."""
        ...

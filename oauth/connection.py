"""A site's Klaviyo connection: status, account, granted scopes and its tokens, encrypted.

`Connection` holds ciphertext only (`TokenCipher` decrypts on use). `generation` grows on every
connect and disconnect, so anything cached under (account, generation) becomes unreachable
when the connection changes. `connection_status()` is the public view, without secrets.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypedDict

from oauth.scopes import missing_scopes


class ConnectionStatus(StrEnum):
    DISCONNECTED = "disconnected"
    ACTIVE = "active"
    NEEDS_REAUTH = "needs_reauth"  # Klaviyo refused the grant: the merchant must reconnect
    ERROR = "error"  # refresh failed for a reason reconnecting may not fix; see last_error


@dataclass(frozen=True, slots=True)
class AccountInfo:
    """The connected Klaviyo account, fetched once at connect (`GET /api/accounts`)."""

    id: str
    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Connection:
    """One site's connection record, as stores keep it. Times are unix seconds."""

    site_id: str
    status: ConnectionStatus
    generation: int = 0
    account_id: str | None = None
    account_name: str | None = None
    scopes: tuple[str, ...] = ()
    access_token_enc: str | None = field(default=None, repr=False)
    refresh_token_enc: str | None = field(default=None, repr=False)
    expires_at: int | None = None
    connected_at: int | None = None
    last_refresh_at: int | None = None
    last_error: str | None = None

    @property
    def has_tokens(self) -> bool:
        return self.access_token_enc is not None and self.refresh_token_enc is not None

    def as_disconnected(self) -> Connection:
        """The record that replaces this one on disconnect: no account, no tokens, next generation."""
        return Connection(
            site_id=self.site_id,
            status=ConnectionStatus.DISCONNECTED,
            generation=self.generation + 1,
        )

    def to_status_dict(self, required_scopes: Iterable[str] = ()) -> ConnectionStatusView:
        return connection_status(self, required_scopes)

    def to_record(self) -> dict[str, Any]:
        """A JSON-compatible dict of every field, for stores that keep documents."""
        return {
            "site_id": self.site_id,
            "status": self.status.value,
            "generation": self.generation,
            "account_id": self.account_id,
            "account_name": self.account_name,
            "scopes": list(self.scopes),
            "access_token_enc": self.access_token_enc,
            "refresh_token_enc": self.refresh_token_enc,
            "expires_at": self.expires_at,
            "connected_at": self.connected_at,
            "last_refresh_at": self.last_refresh_at,
            "last_error": self.last_error,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Connection:
        """The inverse of `to_record`."""
        return cls(
            site_id=str(record["site_id"]),
            status=ConnectionStatus(record["status"]),
            generation=int(record["generation"]),
            account_id=_opt_str(record.get("account_id")),
            account_name=_opt_str(record.get("account_name")),
            scopes=tuple(str(s) for s in record.get("scopes") or ()),
            access_token_enc=_opt_str(record.get("access_token_enc")),
            refresh_token_enc=_opt_str(record.get("refresh_token_enc")),
            expires_at=_opt_int(record.get("expires_at")),
            connected_at=_opt_int(record.get("connected_at")),
            last_refresh_at=_opt_int(record.get("last_refresh_at")),
            last_error=_opt_str(record.get("last_error")),
        )


class ConnectionStatusView(TypedDict):
    """What `GET /v1/sites/{site_id}/klaviyo` shows: no token, ciphertext or secret."""

    status: str
    account_id: str | None
    account_name: str | None
    scopes: list[str]
    missing_scopes: list[str]
    connected_at: int | None
    last_refresh_at: int | None
    last_error: str | None
    generation: int


def connection_status(
    connection: Connection | None, required_scopes: Iterable[str] = ()
) -> ConnectionStatusView:
    """The public view of a site's connection (`None`: never connected).

    `missing_scopes` lists the required scopes the connection was not granted; a site without
    a connection has nothing granted and nothing to list.
    """
    if connection is None:
        connection = Connection(site_id="", status=ConnectionStatus.DISCONNECTED)
    connected = connection.status is not ConnectionStatus.DISCONNECTED
    return {
        "status": connection.status.value,
        "account_id": connection.account_id,
        "account_name": connection.account_name,
        "scopes": list(connection.scopes),
        "missing_scopes": list(missing_scopes(connection.scopes, required_scopes)) if connected else [],
        "connected_at": connection.connected_at,
        "last_refresh_at": connection.last_refresh_at,
        "last_error": connection.last_error,
        "generation": connection.generation,
    }


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)

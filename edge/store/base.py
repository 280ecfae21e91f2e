"""The storage interfaces the edge depends on. One implementation of each, written in portable
SQL over `edge.store.database.Database`, serves both backends (SQLite, PostgreSQL).

The storefront's hot path never reaches a store: it reads compiled configuration from memory
(`edge.sites.runtime`), so a slow or absent database delays configuration changes, never answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from edge.store.records import AdminSession, ExperienceRecord, SiteRecord


class Store(Protocol):
    async def ping(self) -> bool: ...

    async def close(self) -> None: ...

    # Sites
    async def create_site(self, site: SiteRecord) -> None: ...

    async def get_site(self, site_id: str) -> SiteRecord | None: ...

    async def get_site_by_public_key(self, public_key: str) -> SiteRecord | None: ...

    async def get_site_by_api_key_hash(self, api_key_hash: str) -> SiteRecord | None: ...

    async def get_site_by_previous_key_hash(self, api_key_hash: str) -> SiteRecord | None:
        """The site whose previous (rotated-out) key has this hash, whatever its validity."""
        ...

    async def list_sites(self) -> list[SiteRecord]: ...

    async def site_versions(self) -> dict[str, int]:
        """Every site's config_version: how workers notice each other's changes."""
        ...

    async def update_site(
        self,
        site_id: str,
        *,
        name: str | None = None,
        allowed_origins: Sequence[str] | None = None,
        now: int,
    ) -> SiteRecord: ...

    async def rotate_api_key(
        self, site_id: str, new_key_hash: str, *, previous_valid_until: int, now: int
    ) -> SiteRecord:
        """Replace the site's key; the replaced one stays the previous key until
        `previous_valid_until` (an older previous key is dropped). `NotFoundInStore` if no site."""
        ...

    async def delete_site(self, site_id: str) -> bool:
        """Delete the site and everything it owns; False when there is no such site."""
        ...

    # Experiences (each write bumps the site's config_version in the same transaction)
    async def list_experiences(self, site_id: str) -> list[ExperienceRecord]: ...

    async def get_experience(self, site_id: str, experience_id: str) -> ExperienceRecord | None: ...

    async def create_experience(
        self, site_id: str, experience_id: str, *, type: str, status: str, body: dict[str, Any], now: int
    ) -> ExperienceRecord: ...

    async def replace_experience(
        self,
        site_id: str,
        experience_id: str,
        *,
        expected_version: int,
        type: str,
        status: str,
        body: dict[str, Any],
        now: int,
    ) -> ExperienceRecord: ...

    async def delete_experience(self, site_id: str, experience_id: str, *, expected_version: int) -> None: ...


class AdminSessionStore(Protocol):
    """The merchant page's sessions, by the SHA-256 of their id (`edge.access.sessions`)."""

    async def create(self, session: AdminSession, *, expired_before: tuple[float, float]) -> None:
        """Store `session`; first forget every session idle since `expired_before[0]` or
        signed in before `expired_before[1]`."""
        ...

    async def get(self, id_hash: str) -> AdminSession | None: ...

    async def touch(self, id_hash: str, now: float) -> None: ...

    async def delete(self, id_hash: str) -> None: ...

    async def count(self, site_id: str) -> int: ...

    async def delete_for_site(self, site_id: str, *, keep: str | None = None) -> int:
        """End every session of the site but `keep` (an id hash); how many ended."""
        ...


SwitchValues = dict[str, bool]
"""One site's trigger switches by trigger name (the columns of `event_triggers`)."""


class SwitchStore(Protocol):
    """Each site's event trigger switches (`edge.events.switches` mirrors them in memory)."""

    async def get(self, site_id: str) -> SwitchValues | None: ...

    async def changed_since(self, updated_at: int) -> list[tuple[str, SwitchValues, int]]:
        """(site id, switches, updated_at) of every row written at or after `updated_at`."""
        ...

    async def put(self, site_id: str, changes: dict[str, bool], now: int) -> SwitchValues:
        """Set the named switches (the others keep their value) and return them all."""
        ...

"""The storage interface the edge depends on; `SqliteStore` is the embedded implementation.

Methods are async so a networked database can implement the same protocol; the SQLite store
answers inline (WAL, synchronous=NORMAL: sub-millisecond), and the storefront's hot path never
reaches the store at all (it reads compiled configuration from memory).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from edge.store.records import ExperienceRecord, SiteRecord


class Store(Protocol):
    async def ping(self) -> bool: ...

    async def close(self) -> None: ...

    # Sites
    async def create_site(self, site: SiteRecord) -> None: ...

    async def get_site(self, site_id: str) -> SiteRecord | None: ...

    async def get_site_by_public_key(self, public_key: str) -> SiteRecord | None: ...

    async def get_site_by_api_key_hash(self, api_key_hash: str) -> SiteRecord | None: ...

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

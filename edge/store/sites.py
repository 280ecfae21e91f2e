"""Sites and their experiences, in portable SQL over either backend."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from edge.store.database import Database, Queries, Row
from edge.store.errors import AlreadyExists, ConstraintViolation, NotFoundInStore, VersionConflict
from edge.store.records import ExperienceRecord, SiteRecord

_SITE_COLUMNS = (
    "id, name, public_key, api_key_hash, signing_secret_enc, allowed_origins, config_version, "
    "created_at, updated_at, previous_api_key_hash, previous_key_valid_until"
)
_EXPERIENCE_COLUMNS = "site_id, id, type, status, body, version, created_at, updated_at"

SITE_OWNED_TABLES: tuple[str, ...] = (
    "event_outbox",
    "event_pending",
    "event_profile_state",
    "event_counts",
    "event_trigger_state",
    "result_cells",
    "result_bots",
    "result_orders",
    "result_visitors",
    "result_currencies",
    "result_events",
    "result_webhook_secrets",
)
"""Tables with a `site_id` but no foreign key to `sites` (their rows may outlive a write of the
site, e.g. counters): `delete_site` clears them by hand. Every other table a site owns declares
`REFERENCES sites(id) ON DELETE CASCADE`, which is what a new table should do."""


class SqlSiteStore:
    """The `Store` protocol over a `Database`. Every experience write bumps the site's
    `config_version` in the same transaction: how every worker notices the change."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def ping(self) -> bool:
        return await self.db.ping()

    async def close(self) -> None:
        await self.db.close()

    # Sites

    async def create_site(self, site: SiteRecord) -> None:
        try:
            await self.db.execute(
                f"INSERT INTO sites ({_SITE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    site.id, site.name, site.public_key, site.api_key_hash, site.signing_secret_enc,
                    json.dumps(list(site.allowed_origins)), site.config_version, site.created_at,
                    site.updated_at, site.previous_api_key_hash, site.previous_key_valid_until,
                ),
            )  # fmt: skip
        except ConstraintViolation as exc:
            raise AlreadyExists(f"site {site.id} collides with an existing site") from exc

    async def get_site(self, site_id: str) -> SiteRecord | None:
        return await self._one_site("id = ?", site_id)

    async def get_site_by_public_key(self, public_key: str) -> SiteRecord | None:
        return await self._one_site("public_key = ?", public_key)

    async def get_site_by_api_key_hash(self, api_key_hash: str) -> SiteRecord | None:
        return await self._one_site("api_key_hash = ?", api_key_hash)

    async def get_site_by_previous_key_hash(self, api_key_hash: str) -> SiteRecord | None:
        return await self._one_site("previous_api_key_hash = ?", api_key_hash)

    async def list_sites(self) -> list[SiteRecord]:
        rows = await self.db.fetch_all(f"SELECT {_SITE_COLUMNS} FROM sites ORDER BY created_at, rowid")
        return [_site(row) for row in rows]

    async def site_versions(self) -> dict[str, int]:
        return {
            row[0]: int(row[1]) for row in await self.db.fetch_all("SELECT id, config_version FROM sites")
        }

    async def update_site(
        self,
        site_id: str,
        *,
        name: str | None = None,
        allowed_origins: Sequence[str] | None = None,
        now: int,
    ) -> SiteRecord:
        async with self.db.transaction() as tx:
            row = await tx.fetch_one(
                f"SELECT {_SITE_COLUMNS} FROM sites WHERE id = ?{tx.dialect.for_update}", (site_id,)
            )
            if row is None:
                raise NotFoundInStore(f"no site {site_id}")
            site = _site(row)
            await tx.execute(
                "UPDATE sites SET name = ?, allowed_origins = ?, config_version = config_version + 1, "
                "updated_at = ? WHERE id = ?",
                (
                    site.name if name is None else name,
                    json.dumps(list(site.allowed_origins if allowed_origins is None else allowed_origins)),
                    now,
                    site_id,
                ),
            )
            updated = await tx.fetch_one(f"SELECT {_SITE_COLUMNS} FROM sites WHERE id = ?", (site_id,))
        assert updated is not None
        return _site(updated)

    async def rotate_api_key(
        self, site_id: str, new_key_hash: str, *, previous_valid_until: int, now: int
    ) -> SiteRecord:
        """The site's key becomes `new_key_hash`; the current one becomes the previous key,
        valid until `previous_valid_until`. An older previous key is dropped, so only the
        immediately previous key survives a second rotation."""
        async with self.db.transaction() as tx:
            changed = await tx.execute(
                "UPDATE sites SET previous_api_key_hash = api_key_hash, previous_key_valid_until = ?, "
                "api_key_hash = ?, updated_at = ? WHERE id = ?",
                (previous_valid_until, new_key_hash, now, site_id),
            )
            if not changed:
                raise NotFoundInStore(f"no site {site_id}")
            row = await tx.fetch_one(f"SELECT {_SITE_COLUMNS} FROM sites WHERE id = ?", (site_id,))
        assert row is not None
        return _site(row)

    async def delete_site(self, site_id: str) -> bool:
        """Delete the site and everything it owns (experiences, connection, flows, sessions,
        switches, its pending events and counters) in one transaction. False: no such site."""
        async with self.db.transaction() as tx:
            for table in SITE_OWNED_TABLES:
                await tx.execute(f"DELETE FROM {table} WHERE site_id = ?", (site_id,))
            return await tx.execute("DELETE FROM sites WHERE id = ?", (site_id,)) > 0

    async def _one_site(self, where: str, value: str) -> SiteRecord | None:
        row = await self.db.fetch_one(f"SELECT {_SITE_COLUMNS} FROM sites WHERE {where}", (value,))
        return None if row is None else _site(row)

    # Experiences

    async def list_experiences(self, site_id: str) -> list[ExperienceRecord]:
        rows = await self.db.fetch_all(
            f"SELECT {_EXPERIENCE_COLUMNS} FROM experiences WHERE site_id = ? ORDER BY created_at, rowid",
            (site_id,),
        )
        return [_experience(row) for row in rows]

    async def get_experience(self, site_id: str, experience_id: str) -> ExperienceRecord | None:
        row = await self.db.fetch_one(
            f"SELECT {_EXPERIENCE_COLUMNS} FROM experiences WHERE site_id = ? AND id = ?",
            (site_id, experience_id),
        )
        return None if row is None else _experience(row)

    async def create_experience(
        self, site_id: str, experience_id: str, *, type: str, status: str, body: dict[str, Any], now: int
    ) -> ExperienceRecord:
        try:
            async with self.db.transaction() as tx:
                await tx.execute(
                    f"INSERT INTO experiences ({_EXPERIENCE_COLUMNS}) VALUES (?, ?, ?, ?, ?, 1, ?, ?)",
                    (site_id, experience_id, type, status, json.dumps(body), now, now),
                )
                await bump_config_version(tx, site_id, now)
        except ConstraintViolation as exc:
            raise AlreadyExists(f"experience {experience_id} already exists") from exc
        return ExperienceRecord(site_id, experience_id, type, status, body, 1, now, now)

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
    ) -> ExperienceRecord:
        async with self.db.transaction() as tx:
            # Conditional on the version: two writers holding the same version cannot both win.
            changed = await tx.execute(
                "UPDATE experiences SET type = ?, status = ?, body = ?, version = version + 1, "
                "updated_at = ? WHERE site_id = ? AND id = ? AND version = ?",
                (type, status, json.dumps(body), now, site_id, experience_id, expected_version),
            )
            if not changed:
                await _refuse(tx, site_id, experience_id)
            await bump_config_version(tx, site_id, now)
            row = await tx.fetch_one(
                f"SELECT {_EXPERIENCE_COLUMNS} FROM experiences WHERE site_id = ? AND id = ?",
                (site_id, experience_id),
            )
        assert row is not None
        return _experience(row)

    async def delete_experience(self, site_id: str, experience_id: str, *, expected_version: int) -> None:
        async with self.db.transaction() as tx:
            deleted = await tx.execute(
                "DELETE FROM experiences WHERE site_id = ? AND id = ? AND version = ?",
                (site_id, experience_id, expected_version),
            )
            if not deleted:
                await _refuse(tx, site_id, experience_id)
            await tx.execute("UPDATE sites SET config_version = config_version + 1 WHERE id = ?", (site_id,))


async def _refuse(tx: Queries, site_id: str, experience_id: str) -> None:
    """A conditional write changed nothing: say why."""
    row = await tx.fetch_one(
        "SELECT version FROM experiences WHERE site_id = ? AND id = ?", (site_id, experience_id)
    )
    if row is None:
        raise NotFoundInStore(f"no experience {experience_id}")
    raise VersionConflict(int(row[0]))


async def bump_config_version(tx: Queries, site_id: str, now: int) -> None:
    """The write is one the storefront must see: every worker reloads the site's runtime."""
    await tx.execute(
        "UPDATE sites SET config_version = config_version + 1, updated_at = ? WHERE id = ?", (now, site_id)
    )


def _site(row: Row) -> SiteRecord:
    return SiteRecord(
        id=row[0],
        name=row[1],
        public_key=row[2],
        api_key_hash=row[3],
        signing_secret_enc=row[4],
        allowed_origins=tuple(json.loads(row[5])),
        config_version=int(row[6]),
        created_at=int(row[7]),
        updated_at=int(row[8]),
        previous_api_key_hash=row[9],
        previous_key_valid_until=None if row[10] is None else int(row[10]),
    )


def _experience(row: Row) -> ExperienceRecord:
    return ExperienceRecord(
        site_id=row[0],
        id=row[1],
        type=row[2],
        status=row[3],
        body=json.loads(row[4]),
        version=int(row[5]),
        created_at=int(row[6]),
        updated_at=int(row[7]),
    )

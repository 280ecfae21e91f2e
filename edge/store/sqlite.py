"""The embedded store: one SQLite file in WAL mode."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from edge.store.errors import AlreadyExists, NotFoundInStore, VersionConflict
from edge.store.migrations import migrate
from edge.store.records import ExperienceRecord, SiteRecord

_SITE_COLUMNS = (
    "id, name, public_key, api_key_hash, signing_secret_enc, allowed_origins, config_version, "
    "created_at, updated_at"
)
_EXPERIENCE_COLUMNS = "site_id, id, type, status, body, version, created_at, updated_at"


class SqliteStore:
    """Sites, experiences and (in later migrations) connections in one SQLite file.

    Autocommit mode with explicit `BEGIN IMMEDIATE` transactions: every multi-row write is one
    transaction, and writers queue on SQLite's lock (busy_timeout) instead of failing.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self._conn.execute("PRAGMA foreign_keys = ON")
        self._conn.execute("PRAGMA busy_timeout = 5000")
        self.schema_version = migrate(self._conn)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    @property
    def connection(self) -> sqlite3.Connection:
        """For store extensions in the same package (connections, outbox)."""
        return self._conn

    async def ping(self) -> bool:
        return bool(self._conn.execute("SELECT 1").fetchone()[0] == 1)

    async def close(self) -> None:
        self._conn.close()

    # Sites

    async def create_site(self, site: SiteRecord) -> None:
        try:
            with self.transaction() as conn:
                conn.execute(
                    f"INSERT INTO sites ({_SITE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        site.id, site.name, site.public_key, site.api_key_hash, site.signing_secret_enc,
                        json.dumps(list(site.allowed_origins)), site.config_version, site.created_at,
                        site.updated_at,
                    ),
                )  # fmt: skip
        except sqlite3.IntegrityError as exc:
            raise AlreadyExists(f"site {site.id} collides with an existing site") from exc

    async def get_site(self, site_id: str) -> SiteRecord | None:
        return self._one_site("id = ?", site_id)

    async def get_site_by_public_key(self, public_key: str) -> SiteRecord | None:
        return self._one_site("public_key = ?", public_key)

    async def get_site_by_api_key_hash(self, api_key_hash: str) -> SiteRecord | None:
        return self._one_site("api_key_hash = ?", api_key_hash)

    async def list_sites(self) -> list[SiteRecord]:
        rows = self._conn.execute(f"SELECT {_SITE_COLUMNS} FROM sites ORDER BY created_at, rowid")
        return [_site(row) for row in rows]

    async def site_versions(self) -> dict[str, int]:
        return {row[0]: int(row[1]) for row in self._conn.execute("SELECT id, config_version FROM sites")}

    async def update_site(
        self,
        site_id: str,
        *,
        name: str | None = None,
        allowed_origins: Sequence[str] | None = None,
        now: int,
    ) -> SiteRecord:
        with self.transaction() as conn:
            row = conn.execute(f"SELECT {_SITE_COLUMNS} FROM sites WHERE id = ?", (site_id,)).fetchone()
            if row is None:
                raise NotFoundInStore(f"no site {site_id}")
            site = _site(row)
            conn.execute(
                "UPDATE sites SET name = ?, allowed_origins = ?, config_version = config_version + 1, "
                "updated_at = ? WHERE id = ?",
                (
                    site.name if name is None else name,
                    json.dumps(list(site.allowed_origins if allowed_origins is None else allowed_origins)),
                    now,
                    site_id,
                ),
            )
        updated = await self.get_site(site_id)
        assert updated is not None
        return updated

    def _one_site(self, where: str, value: str) -> SiteRecord | None:
        row = self._conn.execute(f"SELECT {_SITE_COLUMNS} FROM sites WHERE {where}", (value,)).fetchone()
        return None if row is None else _site(row)

    # Experiences

    async def list_experiences(self, site_id: str) -> list[ExperienceRecord]:
        rows = self._conn.execute(
            f"SELECT {_EXPERIENCE_COLUMNS} FROM experiences WHERE site_id = ? ORDER BY created_at, rowid",
            (site_id,),
        )
        return [_experience(row) for row in rows]

    async def get_experience(self, site_id: str, experience_id: str) -> ExperienceRecord | None:
        row = self._conn.execute(
            f"SELECT {_EXPERIENCE_COLUMNS} FROM experiences WHERE site_id = ? AND id = ?",
            (site_id, experience_id),
        ).fetchone()
        return None if row is None else _experience(row)

    async def create_experience(
        self, site_id: str, experience_id: str, *, type: str, status: str, body: dict[str, Any], now: int
    ) -> ExperienceRecord:
        try:
            with self.transaction() as conn:
                conn.execute(
                    f"INSERT INTO experiences ({_EXPERIENCE_COLUMNS}) VALUES (?, ?, ?, ?, ?, 1, ?, ?)",
                    (site_id, experience_id, type, status, json.dumps(body), now, now),
                )
                self._bump_config_version(conn, site_id, now)
        except sqlite3.IntegrityError as exc:
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
        with self.transaction() as conn:
            current = self._locked_version(conn, site_id, experience_id, expected_version)
            conn.execute(
                "UPDATE experiences SET type = ?, status = ?, body = ?, version = ?, updated_at = ? "
                "WHERE site_id = ? AND id = ?",
                (type, status, json.dumps(body), current + 1, now, site_id, experience_id),
            )
            self._bump_config_version(conn, site_id, now)
        updated = await self.get_experience(site_id, experience_id)
        assert updated is not None
        return updated

    async def delete_experience(self, site_id: str, experience_id: str, *, expected_version: int) -> None:
        with self.transaction() as conn:
            self._locked_version(conn, site_id, experience_id, expected_version)
            conn.execute("DELETE FROM experiences WHERE site_id = ? AND id = ?", (site_id, experience_id))
            conn.execute("UPDATE sites SET config_version = config_version + 1 WHERE id = ?", (site_id,))

    @staticmethod
    def _locked_version(
        conn: sqlite3.Connection, site_id: str, experience_id: str, expected_version: int
    ) -> int:
        row = conn.execute(
            "SELECT version FROM experiences WHERE site_id = ? AND id = ?", (site_id, experience_id)
        ).fetchone()
        if row is None:
            raise NotFoundInStore(f"no experience {experience_id}")
        if int(row[0]) != expected_version:
            raise VersionConflict(int(row[0]))
        return int(row[0])

    @staticmethod
    def _bump_config_version(conn: sqlite3.Connection, site_id: str, now: int) -> None:
        conn.execute(
            "UPDATE sites SET config_version = config_version + 1, updated_at = ? WHERE id = ?",
            (now, site_id),
        )


def _site(row: sqlite3.Row) -> SiteRecord:
    return SiteRecord(
        id=row["id"],
        name=row["name"],
        public_key=row["public_key"],
        api_key_hash=row["api_key_hash"],
        signing_secret_enc=row["signing_secret_enc"],
        allowed_origins=tuple(json.loads(row["allowed_origins"])),
        config_version=int(row["config_version"]),
        created_at=int(row["created_at"]),
        updated_at=int(row["updated_at"]),
    )


def _experience(row: sqlite3.Row) -> ExperienceRecord:
    return ExperienceRecord(
        site_id=row["site_id"],
        id=row["id"],
        type=row["type"],
        status=row["status"],
        body=json.loads(row["body"]),
        version=int(row["version"]),
        created_at=int(row["created_at"]),
        updated_at=int(row["updated_at"]),
    )

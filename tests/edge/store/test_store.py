from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from edge.store import AlreadyExists, SiteRecord, SqliteStore, VersionConflict
from edge.store.migrations import MIGRATIONS, migrate, schema_version


def _site(site_id: str = "site_1", public_key: str = "pk_1", key_hash: str = "h1") -> SiteRecord:
    return SiteRecord(site_id, "Shop", public_key, key_hash, "enc", ("https://a.example",), 1, 10, 10)


def test_migrations_build_an_empty_file(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "db.sqlite3")
    assert store.schema_version == len(MIGRATIONS)
    tables = {row[0] for row in store.connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"sites", "experiences"} <= tables
    assert store.connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_migrations_are_safe_on_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    first = SqliteStore(path)
    await first.create_site(_site())
    await first.close()
    again = SqliteStore(path)  # runs migrate() again on a file that is up to date
    assert again.schema_version == len(MIGRATIONS)
    assert (await again.get_site("site_1")) == _site()


def test_a_partial_schema_is_migrated_forward(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "old.sqlite3", isolation_level=None)
    conn.execute("BEGIN")
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute("COMMIT")
    assert migrate(conn) == len(MIGRATIONS)
    assert schema_version(conn) == len(MIGRATIONS)


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "new.sqlite3", isolation_level=None)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(RuntimeError, match="newer"):
        migrate(conn)


async def test_sites_are_found_by_id_public_key_and_key_hash(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "db.sqlite3")
    await store.create_site(_site())
    assert (await store.get_site_by_public_key("pk_1")) == _site()
    assert (await store.get_site_by_api_key_hash("h1")) == _site()
    assert await store.get_site("site_2") is None
    with pytest.raises(AlreadyExists):
        await store.create_site(_site(public_key="pk_other"))


async def test_experience_writes_bump_the_config_version(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "db.sqlite3")
    await store.create_site(_site())
    created = await store.create_experience(
        "site_1", "exp", type="test", status="draft", body={"a": 1}, now=20
    )
    site = await store.get_site("site_1")
    assert site is not None and site.config_version == 2
    replaced = await store.replace_experience(
        "site_1", "exp", expected_version=created.version, type="test", status="live", body={"a": 2}, now=30
    )
    assert replaced.version == 2 and replaced.body == {"a": 2} and replaced.status == "live"
    with pytest.raises(VersionConflict) as stale:
        await store.replace_experience(
            "site_1", "exp", expected_version=1, type="test", status="live", body={"a": 3}, now=40
        )
    assert stale.value.current_version == 2
    await store.delete_experience("site_1", "exp", expected_version=2)
    assert await store.list_experiences("site_1") == []
    site = await store.get_site("site_1")
    assert site is not None and site.config_version == 4


async def test_a_failed_write_leaves_nothing_behind(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "db.sqlite3")
    await store.create_site(_site())
    await store.create_experience("site_1", "exp", type="test", status="draft", body={}, now=20)
    with pytest.raises(AlreadyExists):
        await store.create_experience("site_1", "exp", type="test", status="draft", body={}, now=21)
    site = await store.get_site("site_1")
    assert site is not None and site.config_version == 2  # the failed create did not bump it

"""The merchant page's session rows and the trigger switches, on each backend."""

from __future__ import annotations

import pytest

from edge.store import AdminSession, Database, SiteRecord, SqlSiteStore
from edge.store.sessions import SqlAdminSessionStore
from edge.store.switches import SqlSwitchStore


@pytest.fixture
async def db(database: Database) -> Database:
    await SqlSiteStore(database).create_site(SiteRecord("site_1", "Shop", "pk", "h", "enc", (), 1, 1, 1))
    return database


async def test_sessions_are_kept_touched_swept_and_deleted(db: Database) -> None:
    rows = SqlAdminSessionStore(db)
    await rows.create(AdminSession("old", "site_1", "c0", 100.0, 100.0), expired_before=(0.0, 0.0))
    await rows.create(AdminSession("new", "site_1", "c1", 500.0, 500.0), expired_before=(200.0, 0.0))
    assert await rows.get("old") is None  # swept on the way in: idle since before 200
    assert await rows.get("new") == AdminSession("new", "site_1", "c1", 500.0, 500.0)
    await rows.touch("new", 560.5)
    found = await rows.get("new")
    assert found is not None and found.last_seen_at == 560.5
    assert await rows.count("site_1") == 1
    await rows.delete("new")
    assert (await rows.get("new"), await rows.count("site_1")) == (None, 0)


async def test_switches_keep_what_a_put_does_not_name(db: Database) -> None:
    switches = SqlSwitchStore(db)
    assert await switches.get("site_1") is None
    assert await switches.put("site_1", {"entered_test": True}, 10) == {
        "entered_test": True, "saw_personalization": False, "profile_sync": False,
    }  # fmt: skip
    assert (await switches.put("site_1", {"profile_sync": True}, 20))["entered_test"] is True
    assert [(s, v["profile_sync"], t) for s, v, t in await switches.changed_since(15)] == [
        ("site_1", True, 20)
    ]
    assert await switches.changed_since(21) == []
    with pytest.raises(ValueError, match="no such switches"):
        await switches.put("site_1", {"nope": True}, 30)


async def test_a_sites_sessions_end_together_but_one(db: Database) -> None:
    store = SqlAdminSessionStore(db)
    await SqlSiteStore(db).create_site(SiteRecord("site_2", "Other", "pk2", "h2", "enc", (), 1, 1, 1))
    for id_hash, site_id in (("a", "site_1"), ("b", "site_1"), ("c", "site_1"), ("d", "site_2")):
        await store.create(AdminSession(id_hash, site_id, "csrf", 10.0, 10.0), expired_before=(0, 0))
    assert await store.delete_for_site("site_1", keep="b") == 2
    assert [await store.get(h) is not None for h in "abcd"] == [False, True, False, True]
    assert await store.delete_for_site("site_1") == 1
    assert await store.count("site_1") == 0 and await store.count("site_2") == 1

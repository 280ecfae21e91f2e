"""Sites and experiences, on each backend."""

from __future__ import annotations

import pytest

from edge.store import AlreadyExists, Database, NotFoundInStore, SiteRecord, SqlSiteStore, VersionConflict


def _site(site_id: str = "site_1", public_key: str = "pk_1", key_hash: str = "h1") -> SiteRecord:
    return SiteRecord(site_id, "Shop", public_key, key_hash, "enc", ("https://a.example",), 1, 10, 10)


@pytest.fixture
def store(database: Database) -> SqlSiteStore:
    return SqlSiteStore(database)


async def test_sites_are_found_by_id_public_key_and_key_hash(store: SqlSiteStore) -> None:
    await store.create_site(_site())
    assert (await store.get_site_by_public_key("pk_1")) == _site()
    assert (await store.get_site_by_api_key_hash("h1")) == _site()
    assert await store.get_site("site_2") is None
    with pytest.raises(AlreadyExists):
        await store.create_site(_site(public_key="pk_other"))
    with pytest.raises(AlreadyExists):
        await store.create_site(_site("site_2", key_hash="h1"))


async def test_sites_are_listed_in_creation_order_with_their_versions(store: SqlSiteStore) -> None:
    for n in (3, 1, 2):  # the same second: creation order, not id order
        await store.create_site(_site(f"site_{n}", f"pk_{n}", f"h{n}"))
    assert [s.id for s in await store.list_sites()] == ["site_3", "site_1", "site_2"]
    updated = await store.update_site("site_1", name="Renamed", allowed_origins=["https://b.example"], now=20)
    assert (updated.name, updated.allowed_origins, updated.config_version) == (
        "Renamed",
        ("https://b.example",),
        2,
    )
    assert await store.site_versions() == {"site_1": 2, "site_2": 1, "site_3": 1}
    with pytest.raises(NotFoundInStore):
        await store.update_site("site_9", name="x", now=20)


async def test_experience_writes_bump_the_config_version(store: SqlSiteStore) -> None:
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
    with pytest.raises(VersionConflict):
        await store.delete_experience("site_1", "exp", expected_version=1)
    with pytest.raises(NotFoundInStore):
        await store.delete_experience("site_1", "nope", expected_version=1)
    await store.delete_experience("site_1", "exp", expected_version=2)
    assert await store.list_experiences("site_1") == []
    site = await store.get_site("site_1")
    assert site is not None and site.config_version == 4


async def test_experiences_are_listed_in_creation_order(store: SqlSiteStore) -> None:
    await store.create_site(_site())
    for name in ("zeta", "alpha", "mid"):
        await store.create_experience("site_1", name, type="test", status="draft", body={"n": name}, now=20)
    assert [e.id for e in await store.list_experiences("site_1")] == ["zeta", "alpha", "mid"]
    assert (await store.get_experience("site_1", "alpha")) == (await store.list_experiences("site_1"))[1]


async def test_a_failed_write_leaves_nothing_behind(store: SqlSiteStore) -> None:
    await store.create_site(_site())
    await store.create_experience("site_1", "exp", type="test", status="draft", body={}, now=20)
    with pytest.raises(AlreadyExists):
        await store.create_experience("site_1", "exp", type="test", status="draft", body={}, now=21)
    site = await store.get_site("site_1")
    assert site is not None and site.config_version == 2  # the failed create did not bump it


async def test_rotating_a_key_keeps_only_the_immediately_previous_one(store: SqlSiteStore) -> None:
    await store.create_site(_site())
    await store.create_site(_site("site_2", "pk_2", "h2"))
    rotated = await store.rotate_api_key("site_1", "h1b", previous_valid_until=500, now=100)
    assert (rotated.api_key_hash, rotated.previous_api_key_hash, rotated.previous_key_valid_until) == (
        "h1b",
        "h1",
        500,
    )
    assert rotated.updated_at == 100 and rotated.config_version == 1  # the storefront is not reloaded
    assert rotated.previous_key_valid(499) and not rotated.previous_key_valid(500)
    assert await store.get_site_by_api_key_hash("h1b") == rotated
    assert await store.get_site_by_api_key_hash("h1") is None
    assert await store.get_site_by_previous_key_hash("h1") == rotated
    again = await store.rotate_api_key("site_1", "h1c", previous_valid_until=900, now=200)
    assert (again.previous_api_key_hash, again.previous_key_valid_until) == ("h1b", 900)
    assert await store.get_site_by_previous_key_hash("h1") is None
    assert await store.get_site("site_2") == _site("site_2", "pk_2", "h2")
    with pytest.raises(NotFoundInStore):
        await store.rotate_api_key("site_9", "h9", previous_valid_until=1, now=1)

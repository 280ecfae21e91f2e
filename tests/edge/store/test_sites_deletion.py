"""`delete_site`: the site and everything it owns go in one transaction, on each backend."""

from __future__ import annotations

from edge.events.component import sql_outbox
from edge.events.outbox import NewEvent, ProfileWrite, VisitWrite
from edge.events.triggers import Trigger
from edge.store import AdminSession, Database, SiteRecord, SqlSiteStore
from edge.store.connections import SqlConnectionStore, SqlFlowStateStore
from edge.store.results import Attribution, Conversion, SqlResultsStore
from edge.store.sessions import SqlAdminSessionStore
from edge.store.switches import SqlSwitchStore
from oauth.connection import Connection, ConnectionStatus
from oauth.crypto import TokenCipher
from oauth.storage import FlowState
from tests.databases import all_rows, table_columns

NOW = 1_800_000_000.0


async def _fill(db: Database, site_id: str, n: int) -> None:
    await SqlSiteStore(db).create_site(SiteRecord(site_id, "Shop", f"pk_{n}", f"h{n}", "enc", (), 1, n, n))
    await SqlSiteStore(db).create_experience(site_id, "exp", type="test", status="live", body={}, now=n)
    await SqlConnectionStore(db).save(
        Connection(site_id=site_id, status=ConnectionStatus.ACTIVE, account_id="A")
    )
    flow = FlowState(
        state=f"state-{n}", site_id=site_id, code_verifier="v" * 64, scopes=(), created_at=n,
        expires_at=int(NOW) + 600,
    )  # fmt: skip
    await SqlFlowStateStore(db, TokenCipher("k" * 40), clock=lambda: NOW).put(flow)
    await SqlAdminSessionStore(db).create(
        AdminSession(f"hash{n}", site_id, "csrf", NOW, NOW), expired_before=(0, 0)
    )
    await SqlSwitchStore(db).put(site_id, {"entered_test": True}, n)
    outbox = sql_outbox(db)
    event = NewEvent(site_id, Trigger.ENTERED_TEST, f"uid-{n}", b"{}", b"{}", NOW)
    await outbox.append(
        [VisitWrite(site_id, int(NOW // 86_400), (event,))], {(site_id, "entered_test", "no_kx"): 1}, NOW
    )
    claimed = [c for c in await outbox.claim(10, NOW) if c.site_id == site_id]
    await outbox.settle(NOW, failed=[(c, "kept for a week") for c in claimed])
    profile = ProfileWrite(f"kx{n}", "some experiences", event)
    await outbox.append([VisitWrite(site_id, int(NOW // 86_400), (event,), profile)], {}, NOW)
    results = SqlResultsStore(db)
    await results.add_counts({(site_id, "exp", "a", "custom", 1): 1}, {(site_id, "exp", 1): 1})
    seen = (Attribution("exp", "a", "custom", 1),)
    order = Conversion(site_id, "v", "order", seen, order_id="o1", value=1.0, currency="USD")
    await results.record_conversions([order, Conversion(site_id, "v", "add_to_cart", seen)], NOW)
    await results.put_webhook_secret(site_id, "shopify", "enc", now=NOW, grace_s=1)


async def _rows_of(db: Database, site_id: str) -> dict[str, int]:
    """Rows holding `site_id` in every table that has a site column (a new table is covered)."""
    found = {}
    for table, columns in (await table_columns(db)).items():
        if "site_id" in columns or table == "sites":
            found[table] = sum(1 for row in await all_rows(db, table) if site_id in row)
    return found


async def test_deleting_a_site_deletes_everything_it_owns_and_nothing_else(database: Database) -> None:
    await _fill(database, "site_1", 1)
    await _fill(database, "site_2", 2)
    before = await _rows_of(database, "site_1")
    assert all(before.values()), before  # every table that holds site rows has some of site_1
    assert await SqlSiteStore(database).delete_site("site_1")
    assert set((await _rows_of(database, "site_1")).values()) == {0}
    assert await _rows_of(database, "site_2") == before
    assert not await SqlSiteStore(database).delete_site("site_1")

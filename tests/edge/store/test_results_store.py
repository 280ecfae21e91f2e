"""The results tables on each backend: counts, exact order sums, idempotency, the reader."""

from __future__ import annotations

from datetime import date

import pytest

from edge.store import Database
from edge.store.results import Attribution, Conversion, SqlResultsStore, to_date, to_day
from edge.store.results_records import CUSTOM_AUDIENCE, ResultCell

DAY = to_day(date(2026, 12, 1))
NOW = 1_800_000_000.0


@pytest.fixture
def store(database: Database) -> SqlResultsStore:
    return SqlResultsStore(database)


def _order(
    order_id: str, visitor: str, value: float, *attributions: Attribution, currency: str = "USD"
) -> Conversion:
    return Conversion("s1", visitor, "order", attributions, order_id=order_id, value=value, currency=currency)


async def test_exposures_and_bots_add_up_per_cell_and_day(store: SqlResultsStore) -> None:
    await store.add_counts({("s1", "exp", "a", CUSTOM_AUDIENCE, DAY): 2}, {("s1", "exp", DAY): 3})
    await store.add_counts(
        {("s1", "exp", "a", CUSTOM_AUDIENCE, DAY): 1, ("s1", "exp", "b", "vip", DAY + 1): 4},
        {("s1", "exp", DAY + 1): 1, ("s1", "other", DAY): 9},
    )
    cells = await store.result_cells("s1", "exp", first_day=None, last_day=None)
    assert cells == [
        ResultCell("a", CUSTOM_AUDIENCE, to_date(DAY), visitors=3),
        ResultCell("b", "vip", to_date(DAY + 1), visitors=4),
    ]
    assert await store.result_cells("s1", "exp", first_day=to_date(DAY + 1), last_day=None) == cells[1:]
    assert await store.result_cells("s1", "exp", first_day=None, last_day=to_date(DAY)) == cells[:1]
    assert await store.result_cells("s2", "exp", first_day=None, last_day=None) == []
    assert await store.bots_excluded("s1", "exp", first_day=None, last_day=None) == 4
    assert await store.bots_excluded("s1", "exp", first_day=to_date(DAY), last_day=to_date(DAY)) == 3
    assert await store.bots_excluded("s1", "nope", first_day=None, last_day=None) == 0


async def test_orders_keep_exact_per_visitor_sums_of_squares(store: SqlResultsStore) -> None:
    a = Attribution("exp", "a", CUSTOM_AUDIENCE, DAY)
    other = Attribution("exp2", "x", "vip", DAY - 3)
    await store.add_counts({("s1", "exp", "a", CUSTOM_AUDIENCE, DAY): 10}, {})
    dups = await store.record_conversions(
        [
            _order("o1", "v1", 10.0, a, other),
            _order("o2", "v1", 30.0, a),
            _order("o3", "v2", 5.5, a, currency="EUR"),
        ],
        NOW,
    )
    assert dups == [False, False, False]
    # Again, and within one batch: counted once.
    assert await store.record_conversions([_order("o1", "v1", 10.0, a), _order("o4", "v2", 1.0, a)], NOW) == [
        True,
        False,
    ]
    assert await store.record_conversions([_order("o5", "v3", 2.0, a), _order("o5", "v3", 2.0, a)], NOW) == [
        False,
        True,
    ]
    # Per visitor: v1 = 2 orders, 40.0; v2 = 2 orders, 6.5; v3 = 1 order, 2.0.
    [cell] = await store.result_cells("s1", "exp", first_day=None, last_day=None)
    assert (cell.visitors, cell.converters, cell.orders) == (10, 3, 5)
    assert cell.revenue == pytest.approx(48.5)
    assert cell.revenue_sq == pytest.approx(40.0**2 + 6.5**2 + 2.0**2)
    assert cell.orders_sq == pytest.approx(4 + 4 + 1)
    assert cell.revenue_orders == pytest.approx(40.0 * 2 + 6.5 * 2 + 2.0 * 1)
    [exp2] = await store.result_cells("s1", "exp2", first_day=None, last_day=None)
    assert exp2 == ResultCell("x", "vip", to_date(DAY - 3), 0, 1, 1, 10.0, 100.0, 1.0, 10.0)
    assert await store.currencies("s1", "exp") == ["EUR", "USD"]
    assert await store.currencies("s1", "exp2") == ["USD"]


async def test_a_visitors_later_orders_stay_in_the_cell_of_their_first(store: SqlResultsStore) -> None:
    first = Attribution("exp", "a", CUSTOM_AUDIENCE, DAY)
    later = Attribution("exp", "b", CUSTOM_AUDIENCE, DAY + 5)  # a token re-issued after it was lost
    await store.record_conversions([_order("o1", "v1", 3.0, first)], NOW)
    await store.record_conversions([_order("o2", "v1", 4.0, later)], NOW)
    [cell] = await store.result_cells("s1", "exp", first_day=None, last_day=None)
    assert (cell.variation_id, cell.orders, cell.converters, cell.revenue_sq) == ("a", 2, 1, 49.0)


async def test_order_ids_are_per_site_and_unattributed_orders_count_nothing(store: SqlResultsStore) -> None:
    assert await store.record_conversions([_order("o1", "v1", 3.0)], NOW) == [False]
    assert await store.record_conversions([_order("o1", "v1", 3.0)], NOW) == [True]
    other_site = Conversion("s2", "v1", "order", (), order_id="o1", value=3.0)
    assert await store.record_conversions([other_site], NOW) == [False]
    assert await store.result_cells("s1", "exp", first_day=None, last_day=None) == []


async def test_other_events_are_counted_per_variation_and_name(store: SqlResultsStore) -> None:
    a = Attribution("exp", "a", CUSTOM_AUDIENCE, DAY)
    b = Attribution("exp", "b", "vip", DAY)
    events = [Conversion("s1", "v1", "add_to_cart", (a,)), Conversion("s1", "v2", "add_to_cart", (b,))]
    assert await store.record_conversions([*events, events[0]], NOW) == [False, False, False]
    assert await store.event_counts("s1", "exp") == {("a", "add_to_cart"): 2, ("b", "add_to_cart"): 1}
    assert await store.result_cells("s1", "exp", first_day=None, last_day=None) == []


async def test_a_new_webhook_secret_keeps_the_previous_for_the_grace(store: SqlResultsStore) -> None:
    assert await store.webhook_secrets("s1", "shopify") is None
    await store.put_webhook_secret("s1", "shopify", "enc1", now=NOW, grace_s=60)
    first = await store.webhook_secrets("s1", "shopify")
    assert first is not None and first.secret_enc == "enc1"
    await store.put_webhook_secret("s1", "shopify", "enc2", now=NOW + 10, grace_s=60)
    second = await store.webhook_secrets("s1", "shopify")
    assert second is not None
    assert (second.secret_enc, second.previous_enc, second.previous_until) == ("enc2", "enc1", NOW + 70)

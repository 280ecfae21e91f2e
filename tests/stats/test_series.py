"""Cumulative daily series for the chart."""

from __future__ import annotations

from datetime import date

import msgspec
import pytest

from stats import DailyRow, InvalidArmsError, cumulative_series
from tests.stats.factories import arms

D1, D2, D3 = date(2025, 3, 1), date(2025, 3, 2), date(2025, 3, 3)
ROWS = [
    DailyRow(D2, "a", visitors=100, converters=4, orders=5, revenue=200.0),
    DailyRow(D1, "a", visitors=100, converters=2, orders=2, revenue=100.0),
    DailyRow(D1, "b", visitors=100, converters=3, orders=3, revenue=90.0),
    DailyRow(D3, "b", visitors=50, converters=3, orders=3, revenue=210.0),
    DailyRow(D2, "b", visitors=100, converters=3, orders=4, revenue=150.0),
]


def test_each_variation_gets_its_running_totals_for_every_day_in_order() -> None:
    control, treatment = cumulative_series(arms("a", "b"), ROWS)
    assert [p.day for p in control.points] == [D1, D2, D3] == [p.day for p in treatment.points]
    assert [(p.visitors, p.converters, p.orders, p.revenue) for p in control.points] == [
        (100, 2, 2, 100.0),
        (200, 6, 7, 300.0),
        (200, 6, 7, 300.0),  # nothing on day 3: carried forward
    ]
    assert [(p.visitors, p.converters, p.orders, p.revenue) for p in treatment.points] == [
        (100, 3, 3, 90.0),
        (200, 6, 7, 240.0),
        (250, 9, 10, 450.0),
    ]


def test_rates_and_lifts_are_cumulative() -> None:
    control, treatment = cumulative_series(arms("a", "b"), ROWS)
    assert control.is_control and not treatment.is_control
    assert [p.conversion_rate for p in control.points] == pytest.approx([0.02, 0.03, 0.03])
    assert [p.revenue_per_visitor for p in treatment.points] == pytest.approx([0.9, 1.2, 1.8])
    assert [p.conversion_rate_lift for p in treatment.points] == pytest.approx([0.5, 0.0, 0.2])
    assert [p.revenue_per_visitor_lift for p in treatment.points] == pytest.approx([-0.1, -0.2, 0.2])
    assert all(p.conversion_rate_lift is None and p.revenue_per_visitor_lift is None for p in control.points)


def test_rows_of_one_day_are_summed_and_strangers_left_out() -> None:
    split = [DailyRow(D1, "a", visitors=60, converters=1), DailyRow(D1, "a", visitors=40, converters=1)]
    (control, treatment) = cumulative_series(arms("a", "b"), [*split, DailyRow(D1, "gone", visitors=5)])
    assert (control.points[0].visitors, control.points[0].converters) == (100, 2)
    assert treatment.points[0].visitors == 0 and treatment.points[0].conversion_rate is None


def test_no_lift_while_the_control_has_nothing_to_compare_with() -> None:
    rows = [
        DailyRow(D1, "b", visitors=10, converters=1, orders=1, revenue=5.0),
        DailyRow(D2, "a", visitors=10),
    ]
    _, treatment = cumulative_series(arms("a", "b"), rows)
    assert [p.conversion_rate_lift for p in treatment.points] == [None, None]
    assert [p.revenue_per_visitor_lift for p in treatment.points] == [None, None]


def test_no_rows_no_points_and_the_series_encodes() -> None:
    series = cumulative_series(arms("a", "b", "c"), [])
    assert [(s.variation_id, s.points) for s in series] == [("a", ()), ("b", ()), ("c", ())]
    encoded = msgspec.json.decode(msgspec.json.encode(cumulative_series(arms("a", "b"), ROWS)))
    assert encoded[1]["points"][0]["day"] == "2025-03-01"


def test_a_bad_split_raises() -> None:
    with pytest.raises(InvalidArmsError):
        cumulative_series(arms("a", "b", weights=[1, -1]), ROWS)

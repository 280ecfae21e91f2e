"""Cumulative daily series for the results chart.

Given per-day rows, each variation gets one point per day seen in any row (days without a row
carry the totals forward): its cumulative visitors, converters, orders and revenue, the
cumulative conversion rate and revenue per visitor, and their relative lift over the control's
cumulative values on the same day (None for the control, or while the control's value is zero
or unknown). Lifts here are point values only: an interval per day would need sums of squares
of each visitor's running total, which per-day rows cannot give.

A visitor should be counted in the row of the day they entered the test, so that cumulative
visitors are unique visitors.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

import msgspec

from stats.inputs import Arm, DailyRow, VariationData, check_arms
from stats.numbers import finite, ratio_or_none


class SeriesPoint(msgspec.Struct, frozen=True):
    """One variation's totals from the first day through `day`."""

    day: date
    visitors: int
    converters: int
    orders: int
    revenue: float
    conversion_rate: float | None
    revenue_per_visitor: float | None
    conversion_rate_lift: float | None
    revenue_per_visitor_lift: float | None


class VariationSeries(msgspec.Struct, frozen=True):
    variation_id: str
    is_control: bool
    points: tuple[SeriesPoint, ...]


def cumulative_series(arms: Sequence[Arm], rows: Iterable[DailyRow]) -> tuple[VariationSeries, ...]:
    """Per arm (in the arms' order), its cumulative point for every day of `rows`, oldest first.

    Rows of one (day, variation) are summed; rows of a variation that is not an arm are left out.
    Raises `InvalidArmsError` on a bad split.
    """
    control_id = check_arms(arms).variation_id
    by_day: dict[date, dict[str, VariationData]] = {}
    for row in rows:
        that_day = by_day.setdefault(row.day, {})
        entry = VariationData(row.variation_id, row.visitors, row.converters, row.orders, row.revenue)
        known = that_day.get(row.variation_id)
        that_day[row.variation_id] = entry if known is None else known + entry
    running = {arm.variation_id: VariationData(arm.variation_id) for arm in arms}
    points: dict[str, list[SeriesPoint]] = {arm.variation_id: [] for arm in arms}
    for day in sorted(by_day):
        for variation_id, entry in by_day[day].items():
            if variation_id in running:
                running[variation_id] = running[variation_id] + entry
        control = running[control_id]
        for variation_id, totals in running.items():
            points[variation_id].append(_point(day, totals, None if variation_id == control_id else control))
    return tuple(
        VariationSeries(arm.variation_id, arm.is_control, tuple(points[arm.variation_id])) for arm in arms
    )


def _point(day: date, totals: VariationData, control: VariationData | None) -> SeriesPoint:
    conversion = ratio_or_none(totals.converters, totals.visitors)
    per_visitor = ratio_or_none(totals.revenue, totals.visitors)
    return SeriesPoint(
        day=day,
        visitors=totals.visitors,
        converters=totals.converters,
        orders=totals.orders,
        revenue=finite(totals.revenue) or 0.0,
        conversion_rate=conversion,
        revenue_per_visitor=per_visitor,
        conversion_rate_lift=None
        if control is None
        else _lift(conversion, ratio_or_none(control.converters, control.visitors)),
        revenue_per_visitor_lift=None
        if control is None
        else _lift(per_visitor, ratio_or_none(control.revenue, control.visitors)),
    )


def _lift(value: float | None, baseline: float | None) -> float | None:
    if value is None or not baseline:
        return None
    return finite((value - baseline) / baseline)

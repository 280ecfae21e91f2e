"""What the engine is given: the experiment's arms and aggregated counts per variation.

All counts are aggregates the caller keeps per variation (and per audience or per day); no
visitor-level data ever reaches the engine. Sums of squares are over visitors, of each
visitor's total over the test, which is what the variance of a per-visitor mean needs:

- `revenue_sq` = sum over visitors of (that visitor's total revenue) ** 2;
- `orders_sq` = sum over visitors of (that visitor's order count) ** 2;
- `revenue_orders` = sum over visitors of revenue_i * orders_i, optional: only the interval of
  the average-order-value lift needs it (the delta method's covariance term).

Conversion is binomial, so converters is both its sum and its sum of squares.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import date

import msgspec

from stats.errors import InvalidArmsError


class Arm(msgspec.Struct, frozen=True):
    """One variation as configured: its id, its traffic weight, and whether it is the control."""

    variation_id: str
    weight: float
    is_control: bool = False


class VariationData(msgspec.Struct, frozen=True):
    """Aggregated counts of one variation (in one audience, or on one day)."""

    variation_id: str
    visitors: int = 0
    converters: int = 0
    orders: int = 0
    revenue: float = 0.0
    revenue_sq: float = 0.0
    orders_sq: float = 0.0
    revenue_orders: float | None = None

    def __add__(self, other: VariationData) -> VariationData:
        """Sum of two aggregates of the same variation; the cross term survives only if both have it."""
        cross = (
            None
            if self.revenue_orders is None or other.revenue_orders is None
            else self.revenue_orders + other.revenue_orders
        )
        return VariationData(
            variation_id=self.variation_id,
            visitors=self.visitors + other.visitors,
            converters=self.converters + other.converters,
            orders=self.orders + other.orders,
            revenue=self.revenue + other.revenue,
            revenue_sq=self.revenue_sq + other.revenue_sq,
            orders_sq=self.orders_sq + other.orders_sq,
            revenue_orders=cross,
        )


class DailyRow(msgspec.Struct, frozen=True):
    """One variation's counts for one day, as the cumulative series reads them."""

    day: date
    variation_id: str
    visitors: int = 0
    converters: int = 0
    orders: int = 0
    revenue: float = 0.0


def check_arms(arms: Sequence[Arm]) -> Arm:
    """Validate the split and return its control; raise `InvalidArmsError` otherwise."""
    controls = [arm for arm in arms if arm.is_control]
    if len(controls) != 1:
        raise InvalidArmsError(f"exactly one control is needed, got {len(controls)}")
    ids = [arm.variation_id for arm in arms]
    if len(set(ids)) != len(ids):
        raise InvalidArmsError("variation ids must be unique")
    for arm in arms:
        if not (math.isfinite(arm.weight) and arm.weight > 0):
            raise InvalidArmsError(f"variation {arm.variation_id!r}: weight must be finite and > 0")
    return controls[0]


def collect(arms: Sequence[Arm], data: Iterable[VariationData]) -> list[VariationData]:
    """One aggregate per arm, in the arms' order: entries of one variation are summed, a missing
    variation counts as zeros, and data of a variation that is not an arm is left out."""
    totals = {arm.variation_id: VariationData(arm.variation_id, revenue_orders=0.0) for arm in arms}
    for entry in data:
        if entry.variation_id in totals:
            totals[entry.variation_id] = totals[entry.variation_id] + entry
    return list(totals.values())

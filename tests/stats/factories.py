"""Builders for the stats tests: aggregates made from visitor-level lists, as a counter would."""

from __future__ import annotations

from collections.abc import Sequence

from stats import Arm, VariationData


def from_visitors(variation_id: str, revenues: Sequence[float], orders: Sequence[int]) -> VariationData:
    """Aggregate one variation from each visitor's total revenue and order count."""
    assert len(revenues) == len(orders)
    return VariationData(
        variation_id=variation_id,
        visitors=len(orders),
        converters=sum(1 for count in orders if count > 0),
        orders=sum(orders),
        revenue=sum(revenues),
        revenue_sq=sum(r * r for r in revenues),
        orders_sq=float(sum(o * o for o in orders)),
        revenue_orders=sum(r * o for r, o in zip(revenues, orders, strict=True)),
    )


def busy(
    variation_id: str, *, visitors: int = 1_000, orders: int = 40, order_value: float = 50.0
) -> VariationData:
    """A variation with enough data for a verdict: `orders` visitors bought once at two prices."""
    half = orders // 2
    revenues = (
        [order_value * 0.5] * half + [order_value * 1.5] * (orders - half) + [0.0] * (visitors - orders)
    )
    return from_visitors(variation_id, revenues, [1] * orders + [0] * (visitors - orders))


def arms(*ids: str, weights: Sequence[float] | None = None) -> list[Arm]:
    """Arms with the first id as the control, equal weights unless given."""
    shares = weights or [1.0] * len(ids)
    return [
        Arm(variation_id, weight, index == 0)
        for index, (variation_id, weight) in enumerate(zip(ids, shares, strict=True))
    ]

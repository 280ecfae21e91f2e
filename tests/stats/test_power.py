"""The sample size needed to detect a 10% change of the conversion rate."""

from __future__ import annotations

import math

import pytest
from scipy import stats as distributions

from stats import DETECTABLE_LIFT, VariationData, sample_size


def _power(p1: float, lift: float, n: int, alpha: float = 0.05) -> float:
    """Power of the two-sided two-proportion z-test with n per group (the formula, inverted)."""
    p2 = p1 * (1 + lift)
    p_bar = (p1 + p2) / 2
    z_alpha = distributions.norm.ppf(1 - alpha / 2)
    spread = math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    return float(
        distributions.norm.cdf(
            (abs(p2 - p1) * math.sqrt(n) - z_alpha * math.sqrt(2 * p_bar * (1 - p_bar))) / spread
        )
    )


@pytest.mark.parametrize(
    ("visitors", "converters", "orders"), [(10_000, 300, 330), (2_000, 200, 200), (500, 4, 9)]
)
def test_the_sample_size_is_the_smallest_reaching_80_percent_power(
    visitors: int, converters: int, orders: int
) -> None:
    size = sample_size(VariationData("c", visitors=visitors, converters=converters, orders=orders))
    p1 = converters / visitors
    assert size.detectable_lift == DETECTABLE_LIFT and size.power == 0.8 and size.alpha == 0.05
    assert size.visitors_per_group is not None and size.orders_per_group is not None
    assert _power(p1, DETECTABLE_LIFT, size.visitors_per_group) >= 0.8
    assert _power(p1, DETECTABLE_LIFT, size.visitors_per_group - 1) < 0.8
    assert size.orders_per_group == math.ceil(size.visitors_per_group * orders / visitors)


def test_a_larger_change_needs_fewer_orders() -> None:
    control = VariationData("c", visitors=10_000, converters=300, orders=300)
    ten = sample_size(control).orders_per_group
    twenty_five = sample_size(control, detectable_lift=0.25).orders_per_group
    assert ten is not None and twenty_five is not None
    assert twenty_five < ten / 4


@pytest.mark.parametrize(
    "control",
    [
        VariationData("c"),
        VariationData("c", visitors=500),
        VariationData("c", visitors=500, converters=500, orders=500),
        VariationData("c", visitors=500, converters=480, orders=480),  # 1.1 x 96% is above 100%
    ],
)
def test_no_plan_without_a_conversion_rate_to_plan_from(control: VariationData) -> None:
    size = sample_size(control)
    assert size.visitors_per_group is None and size.orders_per_group is None

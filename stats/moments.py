"""Per-visitor metrics as sample moments: the mean and variance each test statistic needs.

These follow GrowthBook's statistics (`gbstats.models.statistics`) term for term, so that the
lift computed from them is GrowthBook's:

- a proportion (conversion): mean p = x / n, variance p (1 - p);
- a sample mean (revenue or orders per visitor): mean s / n, variance
  (s2 - s**2 / n) / (n - 1) (the unbiased sample variance; 0 when n <= 1);
- a ratio of two per-visitor sums (average order value = revenue / orders): mean M / D, and the
  delta-method variance of the ratio per visitor
  var_m / d**2 - 2 cov m / d**3 + m**2 var_d / d**4 with m, d the per-visitor means and
  cov = (sum m_i d_i - M D / n) / (n - 1); unknown (None) without the cross term.

Where GrowthBook answers a mean of 0 for no visitors (or no orders), the mean here is None, so
no lift is made from a mean that does not exist.
"""

from __future__ import annotations

from enum import StrEnum

import msgspec

from stats.inputs import VariationData


class Metric(StrEnum):
    """The metrics reported per variation; the values are the results' field names."""

    CONVERSION_RATE = "conversion_rate"
    REVENUE_PER_VISITOR = "revenue_per_visitor"
    ORDERS_PER_VISITOR = "orders_per_visitor"
    AVERAGE_ORDER_VALUE = "average_order_value"


class Moments(msgspec.Struct, frozen=True):
    """A metric of one variation: its units `n`, its mean and the per-unit variance of the mean's
    estimator (so the estimator's variance is `variance / n`). The mean is None where it is
    undefined (no visitors; for a ratio, a zero denominator), the variance None where unknown."""

    n: int
    mean: float | None
    variance: float | None


def proportion(n: int, successes: float) -> Moments:
    if n <= 0:
        return Moments(0, None, None)
    mean = successes / n
    return Moments(n, mean, mean * (1 - mean))


def sample_mean(n: int, total: float, total_sq: float) -> Moments:
    if n <= 0:
        return Moments(0, None, None)
    return Moments(n, total / n, _sample_variance(n, total, total_sq))


def _sample_variance(n: int, total: float, total_sq: float) -> float:
    return (total_sq - total * total / n) / (n - 1) if n > 1 else 0.0


def ratio(n: int, m_sum: float, m_sq: float, d_sum: float, d_sq: float, cross: float | None) -> Moments:
    """The ratio `m_sum / d_sum` of two per-visitor sums over the same `n` visitors."""
    if n <= 0 or d_sum == 0:
        return Moments(n, None, None)
    mean = m_sum / d_sum
    if cross is None:
        return Moments(n, mean, None)
    if n == 1:
        return Moments(n, mean, 0.0)
    m, d = m_sum / n, d_sum / n
    var_m, var_d = _sample_variance(n, m_sum, m_sq), _sample_variance(n, d_sum, d_sq)
    covariance = (cross - m_sum * d_sum / n) / (n - 1)
    d2 = d * d
    variance = var_m / d2 - 2 * covariance * m / (d2 * d) + m * m * var_d / (d2 * d2)
    return Moments(n, mean, variance)


def metric_moments(data: VariationData) -> dict[Metric, Moments]:
    """Every reported metric of one variation, as moments over its visitors."""
    n = data.visitors
    return {
        Metric.CONVERSION_RATE: proportion(n, data.converters),
        Metric.REVENUE_PER_VISITOR: sample_mean(n, data.revenue, data.revenue_sq),
        Metric.ORDERS_PER_VISITOR: sample_mean(n, data.orders, data.orders_sq),
        Metric.AVERAGE_ORDER_VALUE: ratio(
            n, data.revenue, data.revenue_sq, data.orders, data.orders_sq, data.revenue_orders
        ),
    }

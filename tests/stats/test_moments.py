"""Moments from aggregates equal the same statistics computed from visitor-level data."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest

from stats import Metric, Moments, metric_moments
from tests.stats.factories import from_visitors

RNG = np.random.default_rng(7)
ORDERS = [int(k) for k in np.where(RNG.random(400) < 0.2, 1 + RNG.poisson(0.4, 400), 0)]
REVENUES = [sum(float(v) for v in RNG.lognormal(4, 0.5, k)) for k in ORDERS]


def test_revenue_and_orders_per_visitor_use_the_unbiased_sample_variance() -> None:
    moments = metric_moments(from_visitors("v", REVENUES, ORDERS))
    revenue, orders = moments[Metric.REVENUE_PER_VISITOR], moments[Metric.ORDERS_PER_VISITOR]
    assert revenue.mean == pytest.approx(np.mean(REVENUES))
    assert revenue.variance == pytest.approx(np.var(REVENUES, ddof=1))
    assert orders.mean == pytest.approx(np.mean(ORDERS))
    assert orders.variance == pytest.approx(np.var(ORDERS, ddof=1))


def test_conversion_is_a_proportion_with_binomial_variance() -> None:
    moments = metric_moments(from_visitors("v", REVENUES, ORDERS))[Metric.CONVERSION_RATE]
    converted = np.array(ORDERS) > 0
    assert moments.mean == pytest.approx(converted.mean())
    assert moments.variance == pytest.approx(converted.mean() * (1 - converted.mean()))


def test_average_order_value_variance_is_the_delta_method_of_the_ratio() -> None:
    moments = metric_moments(from_visitors("v", REVENUES, ORDERS))[Metric.AVERAGE_ORDER_VALUE]
    m, d = np.array(REVENUES), np.array(ORDERS, dtype=float)
    cov = np.cov(m, d, ddof=1)
    gradient = np.array([1 / d.mean(), -m.mean() / d.mean() ** 2])
    assert moments.mean == pytest.approx(m.sum() / d.sum())
    assert moments.variance == pytest.approx(gradient @ cov @ gradient)


def test_average_order_value_variance_is_unknown_without_the_cross_term() -> None:
    data = from_visitors("v", REVENUES, ORDERS)
    without = metric_moments(msgspec.structs.replace(data, revenue_orders=None))
    assert without[Metric.AVERAGE_ORDER_VALUE].variance is None
    assert without[Metric.AVERAGE_ORDER_VALUE].mean == pytest.approx(sum(REVENUES) / sum(ORDERS))


def test_no_visitors_gives_no_means_without_dividing_by_zero() -> None:
    moments = metric_moments(from_visitors("v", [], []))
    assert all(m.n == 0 and m.mean is None and m.variance is None for m in moments.values())


def test_no_orders_gives_no_average_order_value() -> None:
    moments = metric_moments(from_visitors("v", [0.0] * 50, [0] * 50))
    assert moments[Metric.AVERAGE_ORDER_VALUE].mean is None
    assert moments[Metric.REVENUE_PER_VISITOR].mean == 0 and moments[Metric.CONVERSION_RATE].mean == 0


def test_a_single_visitor_has_a_mean_but_no_variance() -> None:
    moments = metric_moments(from_visitors("v", [30.0], [2]))
    assert moments[Metric.AVERAGE_ORDER_VALUE] == Moments(1, 15.0, 0.0)
    assert moments[Metric.REVENUE_PER_VISITOR] == Moments(1, 30.0, 0.0)

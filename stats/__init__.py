"""kx-edge's statistics engine: A/B test results from aggregated counts, as GrowthBook computes them.

Pure: it imports the standard library, msgspec and scipy only, does no I/O and never reads a
clock. The caller keeps counts per variation and passes them in; the answer is a msgspec Struct
whose JSON (`msgspec.json.encode`) is the results API answer, field for field, so the route is
a thin view.

Inputs. The split: `Arm(variation_id, weight, is_control=False)`, exactly one control, weights
finite and > 0 (else `InvalidArmsError`). The counts, per variation: `VariationData(
variation_id, visitors, converters, orders, revenue, revenue_sq, orders_sq, revenue_orders=None)`
where `revenue` is the sum of per-visitor revenue, `revenue_sq` the sum over visitors of each
visitor's total revenue squared, `orders_sq` the same for order counts, and `revenue_orders`
(optional) the sum over visitors of revenue_i * orders_i: without it the average-order-value lift
has a value but no interval. Conversion is binomial (converters = its sum = its sum of squares).

    analyze_experience(experience_id, arms, data, *, bots_excluded=0, currencies=()) -> ExperimentResults
    analyze_audiences(experience_id, arms, {audience: data}) -> tuple[AudienceResults, ...]
    cumulative_series(arms, rows: Iterable[DailyRow]) -> tuple[VariationSeries, ...]

Metrics per variation: conversion rate (converters / visitors), revenue per visitor, orders per
visitor and average order value (revenue / orders, a ratio metric). Every non-control variation
gets, per metric, a `MetricLift(value, ci_low, ci_high, p_value, chance_to_beat_control)`: the
relative lift over the control (0.05 = +5%), its 95% interval and two-sided p-value from Welch's
t-test on the delta-method variance of the relative lift, and its chance to beat the control
under the Gaussian posterior of a flat prior (GrowthBook's frequentist and default Bayesian
engines; formulas in `stats.lift`, checked against gbstats' own answers to 1e-6).
`VariationResult.chance_to_beat_control` is the chance on the headline metric, revenue per
visitor (`ExperimentResults.headline_metric`): it counts both more orders and bigger orders,
which is what a free-shipping or pricing test is for. No correction is made for comparing
several variations with one control (GrowthBook makes none by default either).

Never NaN or infinity: what cannot be computed (no visitors, no orders, zero variance, a control
mean of zero) is None, and the control's `lift` and `chance_to_beat_control` are None.
`ExperimentResults` also carries `srm` (chi-square goodness of fit against the weights,
`mismatch` when p < 0.001), `bots_excluded` (as passed), `warnings` (`ResultWarning` codes,
thresholds in `stats.health`) and `sample_size`: visitors and orders per group needed to detect a
10% change of the control's conversion rate at 80% power and alpha 0.05 (`stats.power`).
Beyond the contract's fields it adds `headline_metric`, `sample_size`, per-variation
`orders_per_visitor`, and per lift `p_value` and `chance_to_beat_control`.

Breakdowns: `analyze_audiences` makes the same report from each audience's counts (bots and
currencies are the whole experiment's, so audience reports carry neither); `cumulative_series`
turns per-day rows `DailyRow(day, variation_id, visitors, converters, orders, revenue)` into each
variation's cumulative totals, rates and point lifts per day (`stats.series`).
"""

from stats.errors import InvalidArmsError, StatsError
from stats.health import (
    BOT_SHARE,
    MIN_ORDERS,
    MIN_REVENUE,
    MIN_VISITORS,
    ResultWarning,
    has_enough_data,
)
from stats.inputs import Arm, DailyRow, VariationData
from stats.lift import MetricLift, relative_lift
from stats.moments import Metric, Moments, metric_moments
from stats.power import DETECTABLE_LIFT, SampleSize, sample_size
from stats.report import HEADLINE_METRIC, analyze_audiences, analyze_experience
from stats.results import AudienceResults, ExperimentResults, Lifts, VariationResult
from stats.series import SeriesPoint, VariationSeries, cumulative_series
from stats.srm import SRM_P_VALUE, SampleRatio, sample_ratio

__all__ = [
    "BOT_SHARE",
    "DETECTABLE_LIFT",
    "HEADLINE_METRIC",
    "MIN_ORDERS",
    "MIN_REVENUE",
    "MIN_VISITORS",
    "SRM_P_VALUE",
    "Arm",
    "AudienceResults",
    "DailyRow",
    "ExperimentResults",
    "InvalidArmsError",
    "Lifts",
    "Metric",
    "MetricLift",
    "Moments",
    "ResultWarning",
    "SampleRatio",
    "SampleSize",
    "SeriesPoint",
    "StatsError",
    "VariationData",
    "VariationResult",
    "VariationSeries",
    "analyze_audiences",
    "analyze_experience",
    "cumulative_series",
    "has_enough_data",
    "metric_moments",
    "relative_lift",
    "sample_ratio",
    "sample_size",
]

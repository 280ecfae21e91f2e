"""kx-edge's statistics engine: A/B test results from aggregated counts, as GrowthBook computes them.

Pure: it imports the standard library, msgspec and scipy only, does no I/O and never
reads a clock. The caller (the results route) keeps counts per variation and passes them in;
the answer is a msgspec Struct whose JSON is the results API answer, field for field.

Input, per variation (`VariationData`): `visitors` n, `converters`, `orders`, `revenue` (sum of
per-visitor revenue), `revenue_sq` (sum over visitors of each visitor's total revenue squared),
`orders_sq` (the same for order counts) and, optionally, `revenue_orders` (sum over visitors of
revenue_i * orders_i; without it the average-order-value lift has a value but no interval).
The split is a sequence of `Arm(variation_id, weight, is_control)`, exactly one control.

    results = analyze_experience("exp_1", arms, data, bots_excluded=12, currencies={"USD"})
    msgspec.json.encode(results)

Metrics per variation: conversion rate (converters / visitors), revenue per visitor, orders per
visitor, average order value (revenue / orders, a ratio metric). Every non-control variation
gets, per metric, a `MetricLift`: the relative lift over the control (0.05 = +5%), its 95%
interval and two-sided p-value from Welch's t-test on the delta-method variance of the relative
lift, and its chance to beat the control under the Gaussian posterior of a flat prior
(GrowthBook's frequentist and default Bayesian engines; formulas in `stats.lift`).
`VariationResult.chance_to_beat_control` is the headline metric's, revenue per visitor
(`ExperimentResults.headline_metric`): it counts both more orders and bigger orders, which is
what a free-shipping or pricing test is for. No correction is made for comparing several
variations with one control (GrowthBook makes none by default either).

Never NaN: what cannot be computed (no visitors, zero variance, a control mean of zero) is None,
and the control's `lift` and `chance_to_beat_control` are None. `ExperimentResults` also carries
the sample-ratio check `srm` (chi-square against the weights, `mismatch` when p < 0.001),
`warnings` (`ResultWarning` codes, thresholds in `stats.health`), and `sample_size`: visitors
and orders per group needed to detect a 10% change of the conversion rate at 80% power and
alpha 0.05 (formula in `stats.power`).

Breakdowns: `analyze_audiences` runs the same report per audience; `cumulative_series` turns
per-day rows (`DailyRow`) into each variation's cumulative rates and lifts per day.
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

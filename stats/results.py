"""What the engine answers: msgspec Structs that encode 1:1 to the results API's JSON.

`msgspec.json.encode(results)` (or `msgspec.to_builtins`) gives the answer of
`GET /v1/sites/{site_id}/experiences/{id}/results`; every float is finite or null.
"""

from __future__ import annotations

import msgspec

from stats.health import ResultWarning
from stats.lift import MetricLift
from stats.moments import Metric
from stats.power import SampleSize
from stats.srm import SampleRatio


class Lifts(msgspec.Struct, frozen=True):
    """A variation's lift over the control, per metric."""

    conversion_rate: MetricLift
    revenue_per_visitor: MetricLift
    orders_per_visitor: MetricLift
    average_order_value: MetricLift


class VariationResult(msgspec.Struct, frozen=True):
    """One variation's totals, rates and (except for the control) lift and chance to beat it.

    Rates are None without visitors (average order value: without orders).
    `chance_to_beat_control` is the headline metric's (`ExperimentResults.headline_metric`);
    each metric's own is in `lift`. Both are None for the control.
    """

    variation_id: str
    is_control: bool
    visitors: int
    converters: int
    orders: int
    revenue: float
    conversion_rate: float | None
    revenue_per_visitor: float | None
    average_order_value: float | None
    orders_per_visitor: float | None
    chance_to_beat_control: float | None
    lift: Lifts | None


class ExperimentResults(msgspec.Struct, frozen=True):
    """The whole report of one experiment (or of one audience of it)."""

    experience_id: str
    headline_metric: Metric
    variations: tuple[VariationResult, ...]
    srm: SampleRatio
    bots_excluded: int
    warnings: tuple[ResultWarning, ...]
    sample_size: SampleSize


class AudienceResults(msgspec.Struct, frozen=True):
    """The report restricted to one audience's visitors."""

    audience: str
    results: ExperimentResults

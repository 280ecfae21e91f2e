"""The engine computes what GrowthBook's engine (gbstats) computes, to 1e-6.

`gbstats_golden.json` holds fixed experiments (aggregates) and gbstats' answers for them: the
relative lift, its 95% interval and p-value from its two-sided Welch t-test, the chance to win
from its Bayesian engine (flat prior), and its SRM p-value. `make_gbstats_golden.py` made it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stats import Arm, Metric, VariationData, analyze_experience, sample_ratio

GOLDEN: dict[str, Any] = json.loads((Path(__file__).parent / "gbstats_golden.json").read_text())
TOLERANCE = 1e-6
FIELDS = ("value", "ci_low", "ci_high", "p_value", "chance_to_beat_control")

CASES = [
    pytest.param(experiment, variation_id, metric, id=f"{experiment['name']}-{variation_id}-{metric}")
    for experiment in GOLDEN["experiments"]
    for variation_id, by_metric in experiment["lift"].items()
    for metric in by_metric
]


def _inputs(experiment: dict[str, Any]) -> tuple[list[Arm], list[VariationData]]:
    arms, data = [], []
    for arm in experiment["arms"]:
        arms.append(Arm(arm["variation_id"], arm["weight"], arm["is_control"]))
        counts = {k: v for k, v in arm.items() if k not in ("weight", "is_control")}
        data.append(VariationData(**counts))
    return arms, data


def test_golden_file_covers_proportions_means_and_ratios_on_several_experiments() -> None:
    assert GOLDEN["generator"].startswith("gbstats ")
    assert len(GOLDEN["experiments"]) >= 4
    assert {metric for _, _, metric in (case.values for case in CASES)} == {m.value for m in Metric}


@pytest.mark.parametrize(("experiment", "variation_id", "metric"), CASES)
def test_lift_interval_p_value_and_chance_match_gbstats(
    experiment: dict[str, Any], variation_id: str, metric: str
) -> None:
    arms, data = _inputs(experiment)
    results = analyze_experience(experiment["name"], arms, data)
    variation = next(v for v in results.variations if v.variation_id == variation_id)
    assert variation.lift is not None
    lift = getattr(variation.lift, metric)
    expected = experiment["lift"][variation_id][metric]
    for field in FIELDS:
        assert getattr(lift, field) == pytest.approx(expected[field], abs=TOLERANCE), field


@pytest.mark.parametrize("experiment", GOLDEN["experiments"], ids=lambda e: e["name"])
def test_headline_chance_is_gbstats_chance_on_revenue_per_visitor(experiment: dict[str, Any]) -> None:
    arms, data = _inputs(experiment)
    for variation in analyze_experience(experiment["name"], arms, data).variations[1:]:
        expected = experiment["lift"][variation.variation_id]["revenue_per_visitor"]
        assert variation.chance_to_beat_control == pytest.approx(
            expected["chance_to_beat_control"], abs=TOLERANCE
        )


@pytest.mark.parametrize("experiment", GOLDEN["experiments"], ids=lambda e: e["name"])
def test_srm_of_each_experiment_matches_gbstats(experiment: dict[str, Any]) -> None:
    arms, data = _inputs(experiment)
    srm = analyze_experience(experiment["name"], arms, data).srm
    assert srm.p_value == pytest.approx(experiment["srm_p_value"], abs=TOLERANCE)


@pytest.mark.parametrize("case", GOLDEN["srm"], ids=lambda c: "-".join(map(str, c["visitors"])))
def test_srm_p_value_matches_gbstats(case: dict[str, Any]) -> None:
    srm = sample_ratio(case["visitors"], case["weights"])
    assert srm.p_value == pytest.approx(case["p_value"], abs=TOLERANCE, rel=1e-6)
    assert srm.mismatch is (case["p_value"] < 0.001)

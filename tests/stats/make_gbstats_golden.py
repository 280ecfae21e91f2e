"""Writes `gbstats_golden.json`: GrowthBook's own engine (gbstats) run on fixed experiments.

Not a test and not collected. gbstats 0.8.0 pins numpy < 2 and pandas < 2, so it cannot live in
the project's environment; regenerate from a throwaway one:

    python3 -m venv /tmp/gb && /tmp/gb/bin/pip install gbstats==0.8.0
    /tmp/gb/bin/python tests/stats/make_gbstats_golden.py > tests/stats/gbstats_golden.json

Each experiment's visitors are simulated with a fixed seed (conversion, then 1 + Poisson extra
orders per converter, log-normal order values in cents) and aggregated into the engine's inputs;
the JSON holds the aggregates and what gbstats computes from them.
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import version
from typing import Any

import numpy as np
from gbstats.bayesian.tests import EffectBayesianABTest
from gbstats.frequentist.tests import TwoSidedTTest
from gbstats.models.statistics import ProportionStatistic, RatioStatistic, SampleMeanStatistic
from gbstats.utils import check_srm

# name, seed, then per arm (first = control): (weight, visitors, conversion, extra orders, log mean)
EXPERIMENTS: list[tuple[str, int, list[tuple[float, int, float, float, float]]]] = [
    ("large_positive", 1, [(1, 10_000, 0.030, 0.10, 4.2), (1, 10_000, 0.034, 0.10, 4.2)]),
    ("medium_noisy", 2, [(1, 2_000, 0.040, 0.20, 4.0), (1, 2_100, 0.043, 0.15, 4.1)]),
    ("variation_worse", 3, [(1, 5_000, 0.050, 0.05, 4.5), (1, 4_900, 0.041, 0.05, 4.4)]),
    ("small_high_conversion", 4, [(1, 150, 0.15, 0.30, 3.8), (1, 160, 0.20, 0.30, 3.8)]),
    (
        "three_arms_unequal",
        5,
        [(2, 8_000, 0.025, 0.10, 4.3), (1, 4_000, 0.028, 0.10, 4.3), (1, 4_100, 0.022, 0.25, 4.1)],
    ),
]
SRM_CASES: list[tuple[list[int], list[float]]] = [
    ([5_000, 4_600], [1, 1]),
    ([5_000, 5_030], [1, 1]),
    ([6_700, 3_300], [2, 1]),
    ([6_000, 4_000], [2, 1]),
    ([3_400, 3_300, 3_350], [1, 1, 1]),
    ([5_000, 2_600, 2_400], [0.5, 0.25, 0.25]),
]


def simulate(
    rng: np.random.Generator, visitors: int, conversion: float, extra: float, log_mean: float
) -> dict[str, Any]:
    converted = rng.random(visitors) < conversion
    orders = np.where(converted, 1 + rng.poisson(extra, visitors), 0)
    revenue = np.array([sum(round(float(v), 2) for v in rng.lognormal(log_mean, 0.6, k)) for k in orders])
    return {
        "visitors": visitors,
        "converters": int(converted.sum()),
        "orders": int(orders.sum()),
        "revenue": float(revenue.sum()),
        "revenue_sq": float((revenue**2).sum()),
        "orders_sq": float((orders**2).sum()),
        "revenue_orders": float((revenue * orders).sum()),
    }


def statistics(arm: dict[str, Any]) -> dict[str, Any]:
    n = arm["visitors"]
    revenue = SampleMeanStatistic(n=n, sum=arm["revenue"], sum_squares=arm["revenue_sq"])
    orders = SampleMeanStatistic(n=n, sum=arm["orders"], sum_squares=arm["orders_sq"])
    return {
        "conversion_rate": ProportionStatistic(n=n, sum=arm["converters"]),
        "revenue_per_visitor": revenue,
        "orders_per_visitor": orders,
        "average_order_value": RatioStatistic(
            n=n, m_statistic=revenue, d_statistic=orders, m_d_sum_of_products=arm["revenue_orders"]
        ),
    }


def compare(control: dict[str, Any], variation: dict[str, Any]) -> dict[str, dict[str, float]]:
    out = {}
    for metric, stat_a in statistics(control).items():
        stat_b = statistics(variation)[metric]
        frequentist = TwoSidedTTest(stat_a, stat_b).compute_result()
        bayesian = EffectBayesianABTest(stat_a, stat_b).compute_result()
        assert frequentist.error_message is None and bayesian.error_message is None, metric
        out[metric] = {
            "value": float(frequentist.expected),
            "ci_low": float(frequentist.ci[0]),
            "ci_high": float(frequentist.ci[1]),
            "p_value": float(frequentist.p_value),
            "chance_to_beat_control": float(bayesian.chance_to_win),
        }
    return out


def main() -> None:
    experiments = []
    for name, seed, specs in EXPERIMENTS:
        rng = np.random.default_rng(seed)
        arms = []
        for index, (weight, visitors, conversion, extra, log_mean) in enumerate(specs):
            arm = {"variation_id": f"v{index}", "weight": weight, "is_control": index == 0}
            arms.append(arm | simulate(rng, visitors, conversion, extra, log_mean))
        expected = {arm["variation_id"]: compare(arms[0], arm) for arm in arms[1:]}
        srm = float(check_srm([a["visitors"] for a in arms], [a["weight"] for a in arms]))
        experiments.append({"name": name, "arms": arms, "lift": expected, "srm_p_value": srm})
    srm_cases = [{"visitors": v, "weights": w, "p_value": float(check_srm(v, w))} for v, w in SRM_CASES]
    golden = {"generator": f"gbstats {version('gbstats')}", "experiments": experiments, "srm": srm_cases}
    json.dump(golden, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()

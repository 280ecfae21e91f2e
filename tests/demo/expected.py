"""What the demo traffic's plan should produce, recomputed from the plan alone: each visitor's
variation of the demo test by GrowthBook's bucketing (as `targeting` computes it for
`/v1/assign`), their purchase by the plan's draw, the statistics by `stats`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from demo.experiences import demo_experiences
from demo.traffic_plan import DEMO_TEST, Kind, TrafficPlan
from stats import Arm, ExperimentResults, VariationData, analyze_experience
from targeting.bucketing import bucket_ranges, choose_variation, hash_v2


@dataclass
class Group:
    visitors: int = 0
    orders: int = 0
    revenue: float = 0.0
    revenue_sq: float = 0.0


@dataclass
class Expected:
    bots: int = 0
    humans: int = 0
    vips: int = 0
    vip_orders: int = 0
    groups: dict[str, Group] = field(default_factory=dict)  # the demo test's, per variation
    vip_groups: dict[str, Group] = field(default_factory=dict)

    @property
    def orders(self) -> int:
        return sum(g.orders for g in self.groups.values())


def demo_test() -> dict[str, Any]:
    return next(body for body in demo_experiences() if body["id"] == DEMO_TEST)


def arms() -> list[Arm]:
    return [Arm(v["id"], float(v["weight"]), bool(v["is_control"])) for v in demo_test()["variations"]]


def expected(plan: TrafficPlan) -> Expected:
    body = demo_test()
    ids = [v["id"] for v in body["variations"]]
    ranges = bucket_ranges([float(v["weight"]) for v in body["variations"]], body["traffic_percent"] / 100)
    found = Expected(groups={i: Group() for i in ids}, vip_groups={i: Group() for i in ids})
    for visit in plan.visits():
        if visit.kind is Kind.BOT:
            found.bots += 1
            continue
        variation = ids[choose_variation(hash_v2(body.get("seed") or body["id"], visit.visitor_id), ranges)]
        found.humans += 1
        buys = visit.orders(plan.rates, variation)
        groups = [found.groups[variation]]
        if visit.kind is Kind.VIP:
            found.vips += 1
            found.vip_orders += buys
            groups.append(found.vip_groups[variation])
        for group in groups:
            group.visitors += 1
            if buys:
                group.orders += 1
                group.revenue += visit.order_value
                group.revenue_sq += visit.order_value**2
    return found


def expected_results(plan: TrafficPlan, found: Expected) -> ExperimentResults:
    data = [
        VariationData(i, g.visitors, g.orders, g.orders, g.revenue, g.revenue_sq, g.orders, g.revenue)
        for i, g in found.groups.items()
    ]
    return analyze_experience(DEMO_TEST, arms(), data, bots_excluded=found.bots, currencies=[plan.currency])

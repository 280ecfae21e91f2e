"""How much data a test needs: a standard two-proportion power calculation.

To detect a relative change `DETECTABLE_LIFT` of the control's conversion rate p1 (so
p2 = p1 (1 + lift)) with a two-sided test at level alpha and power 1 - beta, each group needs

    n = (z_(1-alpha/2) sqrt(2 pbar (1 - pbar)) + z_(1-beta) sqrt(p1 (1-p1) + p2 (1-p2)))**2
        / (p2 - p1)**2,   pbar = (p1 + p2) / 2

visitors (the normal-approximation formula without continuity correction, Fleiss 1981), and
therefore about n times the control's orders per visitor orders. For small conversion rates
this is about 1,600 orders per group for a 10% change at 80% power and alpha 0.05; the "about
300 orders" rule of thumb corresponds to a change of roughly 25%.
"""

from __future__ import annotations

import math

import msgspec
from scipy import special

from stats.inputs import VariationData

DETECTABLE_LIFT = 0.10
POWER = 0.80
ALPHA = 0.05


class SampleSize(msgspec.Struct, frozen=True):
    """Visitors and orders each group needs to detect `detectable_lift`; None when the control
    has no conversion rate to plan from (no visitors, none or every visitor converted)."""

    detectable_lift: float
    power: float
    alpha: float
    visitors_per_group: int | None
    orders_per_group: int | None


def sample_size(
    control: VariationData,
    *,
    detectable_lift: float = DETECTABLE_LIFT,
    power: float = POWER,
    alpha: float = ALPHA,
) -> SampleSize:
    """The per-group sample size planned from the control's conversion rate and orders."""
    unknown = SampleSize(detectable_lift, power, alpha, None, None)
    if control.visitors <= 0:
        return unknown
    p1 = control.converters / control.visitors
    p2 = p1 * (1 + detectable_lift)
    if not (0 < p1 < 1 and 0 < p2 < 1) or detectable_lift == 0:
        return unknown
    p_bar = (p1 + p2) / 2
    z_alpha = float(special.ndtri(1 - alpha / 2))
    z_power = float(special.ndtri(power))
    root = z_alpha * math.sqrt(2 * p_bar * (1 - p_bar)) + z_power * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    visitors = root**2 / (p2 - p1) ** 2
    orders_per_visitor = control.orders / control.visitors
    return SampleSize(
        detectable_lift,
        power,
        alpha,
        visitors_per_group=math.ceil(visitors),
        orders_per_group=math.ceil(visitors * orders_per_visitor),
    )

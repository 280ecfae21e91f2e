"""Sample-ratio mismatch: do the visitors split across variations as the weights say?

Pearson's chi-square goodness of fit of the visitors per variation against the configured
weights (`scipy.stats.chisquare`, k - 1 degrees of freedom), as GrowthBook's `check_srm`.
A p-value under 0.001 means the split itself is broken (a redirect losing visitors, a bot
hitting one variation, caching that serves one variation more): do not trust the test.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
from scipy import stats

from stats.numbers import finite

SRM_P_VALUE = 0.001


class SampleRatio(msgspec.Struct, frozen=True):
    """The goodness-of-fit p-value (None when there is nothing to test) and the verdict."""

    p_value: float | None
    mismatch: bool


def sample_ratio(visitors: Sequence[int], weights: Sequence[float]) -> SampleRatio:
    """Test `visitors[i]` against `weights[i]` (weights need not sum to 1; all must be > 0).

    Fewer than two variations or no visitors at all: nothing to test (p-value None, no mismatch).
    """
    total = sum(visitors)
    if len(visitors) < 2 or total <= 0:
        return SampleRatio(None, False)
    weight_sum = sum(weights)
    expected = [total * weight / weight_sum for weight in weights]
    p_value = finite(float(stats.chisquare(visitors, expected).pvalue))
    return SampleRatio(p_value, p_value is not None and p_value < SRM_P_VALUE)

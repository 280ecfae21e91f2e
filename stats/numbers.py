"""Output numbers are finite floats or None: never NaN or infinity, which JSON cannot carry."""

from __future__ import annotations

import math


def finite(value: float) -> float | None:
    """`value` as a plain float when it is finite, else None."""
    value = float(value)
    return value if math.isfinite(value) else None


def ratio_or_none(numerator: float, denominator: float) -> float | None:
    """`numerator / denominator`, or None when the denominator is zero."""
    return finite(numerator / denominator) if denominator else None

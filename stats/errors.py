"""Errors raised by the stats package.

The engine never raises for what counts can be (zero visitors, zero variance, a zero control
mean all come out as nulls); it raises only when the experiment's set-up is not one::

    StatsError                     code "stats_error"
    └── InvalidArmsError           code "invalid_arms"  (no or several controls, duplicate ids,
                                                         a weight that is not finite and > 0)
"""

from __future__ import annotations


class StatsError(Exception):
    """Base of every error the stats package raises."""

    code = "stats_error"


class InvalidArmsError(StatsError):
    """The variations passed as the experiment's arms do not describe a valid split."""

    code = "invalid_arms"

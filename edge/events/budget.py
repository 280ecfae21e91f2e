"""The event sender's budget: the same limiter as the resolver's, with windows of its own.

Klaviyo limits `POST /api/events` to 350/s and 3,500/min and the bulk endpoint to 10/s and
150/min per account (docs/KLAVIYO.md, `klaviyo.KLAVIYO_LIMITS`). The sender spends `fraction` of that (times
`share` when several processes send for the same accounts) in a `klaviyo.LocalRateGate`, whose
sliding windows stay under Klaviyo's fixed ones wherever they fall. A 429 blocks the account's
event calls for Retry-After; the resolver's budget (another gate) is untouched, since Klaviyo's
limits are per endpoint tier.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from klaviyo import LocalRateGate, Tier, budget_limits

EVENT_TIERS = (Tier.EVENTS, Tier.BULK_EVENTS)


class EventsBudget(LocalRateGate):
    """A `LocalRateGate` over the event tiers only (any other tier is a programming error)."""

    def __init__(
        self, *, fraction: float = 0.8, share: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(budget_limits(fraction, share=share, tiers=EVENT_TIERS), clock=clock)

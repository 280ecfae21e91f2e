"""What the results tables hold, as the results API reads them.

Counts are kept per (site, experience, variation, audience, day) cell, where `day` is the UTC day
the visitor *entered* the experience (their cohort) and `audience` is what admitted them: an
advanced audience's id, or `custom` for custom rules. A visitor belongs to exactly one cell of an
experience, and their later orders are added to that same cell, so every sum (including the
per-visitor sums of squares the variance needs) is exact for any range of days and any audience.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Protocol

CUSTOM_AUDIENCE = "custom"
"""The audience of visitors admitted by custom rules (or by no targeting at all)."""


@dataclass(frozen=True, slots=True)
class ResultCell:
    """One cohort's aggregate: visitors who entered `variation_id` on `day` through `audience`,
    and everything they bought afterwards (see `stats.inputs` for what each sum is)."""

    variation_id: str
    audience: str
    day: date
    visitors: int = 0
    converters: int = 0
    orders: int = 0
    revenue: float = 0.0
    revenue_sq: float = 0.0
    orders_sq: float = 0.0
    revenue_orders: float = 0.0


class ResultsReader(Protocol):
    """Read side of the results tables (the results API, the merchant page, the experience list)."""

    async def result_cells(
        self, site_id: str, experience_id: str, *, first_day: date | None, last_day: date | None
    ) -> list[ResultCell]:
        """Every cell of the experience whose day is within [first_day, last_day] (None: open)."""
        ...

    async def bots_excluded(
        self, site_id: str, experience_id: str, *, first_day: date | None, last_day: date | None
    ) -> int:
        """Bot requests that got the control of this experience instead of entering it."""
        ...

    async def currencies(self, site_id: str, experience_id: str) -> list[str]:
        """Every currency an order attributed to this experience was in (upper-case ISO 4217)."""
        ...

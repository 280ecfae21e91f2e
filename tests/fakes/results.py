"""An in-memory `ResultsReader` holding chosen cells, and cohorts with exact per-visitor sums."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from edge.store.results_records import CUSTOM_AUDIENCE, ResultCell

DAY = date(2026, 11, 2)


def cohort(
    variation_id: str,
    visitors: int,
    buyers: int = 0,
    value: float = 0.0,
    *,
    audience: str = CUSTOM_AUDIENCE,
    day: date = DAY,
) -> ResultCell:
    """`visitors` who entered `variation_id` on `day`, of whom `buyers` placed one order of `value`."""
    return ResultCell(
        variation_id=variation_id,
        audience=audience,
        day=day,
        visitors=visitors,
        converters=buyers,
        orders=buyers,
        revenue=buyers * value,
        revenue_sq=buyers * value * value,
        orders_sq=float(buyers),
        revenue_orders=buyers * value,
    )


@dataclass
class FakeResults:
    """Cells, bots and currencies per (site, experience), filtered by day as the store filters them."""

    cells: dict[tuple[str, str], list[ResultCell]] = field(default_factory=dict)
    bots: dict[tuple[str, str], dict[date, int]] = field(default_factory=dict)
    currency: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    def add(self, site_id: str, experience_id: str, *cells: ResultCell) -> None:
        self.cells.setdefault((site_id, experience_id), []).extend(cells)

    def add_bots(self, site_id: str, experience_id: str, count: int, day: date = DAY) -> None:
        days = self.bots.setdefault((site_id, experience_id), {})
        days[day] = days.get(day, 0) + count

    async def result_cells(
        self, site_id: str, experience_id: str, *, first_day: date | None, last_day: date | None
    ) -> list[ResultCell]:
        return [
            cell
            for cell in self.cells.get((site_id, experience_id), [])
            if (first_day is None or cell.day >= first_day) and (last_day is None or cell.day <= last_day)
        ]

    async def bots_excluded(
        self, site_id: str, experience_id: str, *, first_day: date | None, last_day: date | None
    ) -> int:
        return sum(
            count
            for day, count in self.bots.get((site_id, experience_id), {}).items()
            if (first_day is None or day >= first_day) and (last_day is None or day <= last_day)
        )

    async def currencies(self, site_id: str, experience_id: str) -> list[str]:
        return list(self.currency.get((site_id, experience_id), []))

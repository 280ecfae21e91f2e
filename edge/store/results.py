"""The results tables (migration 5) on either backend: the write side and `ResultsReader`.

Writes come in batches, each one transaction: exposure and bot counts from a process' counters
(`add_counts`), and conversions (`record_conversions`, a group commit of `/v1/track`, the
orders API and the Shopify webhook).

How an order is added exactly (docs/results.md). The statistics need, per cell, the sums of
squares of *per-visitor* totals (revenue², orders², revenue x orders). Adding order `v` to a
visitor whose totals in the experience were `R` revenue and `n` orders changes them by
`(R+v)² - R²`, `(n+1)² - n²` and `(R+v)(n+1) - R·n`, so the store keeps `R` and `n` per
(site, experience, visitor) in `result_visitors`, only for visitors who ordered, updated in the
same transaction as the cell. A visitor's orders always go to the cell of their first attributed
order (the row remembers it), so their totals live in one cell even if a later token names
another cohort. `(site, order_id)` is a primary key: an order id counts once, whatever sends it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from edge.store.database import Database, Queries, Row
from edge.store.results_records import ResultCell

EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
CellKey = tuple[str, str, str, str, int]  # (site, experience, variation, audience, day)
BotKey = tuple[str, str, int]  # (site, experience, day)
_ROWS_PER_STATEMENT = 200
_CELL_SUMS = ("converters", "orders", "revenue", "revenue_sq", "orders_sq", "revenue_orders")


def day_of(epoch_s: float) -> int:
    """The UTC day (days since 1970-01-01) of a unix time."""
    return int(epoch_s // 86_400)


def to_date(day: int) -> date:
    return date.fromordinal(EPOCH_ORDINAL + day)


def to_day(when: date) -> int:
    return when.toordinal() - EPOCH_ORDINAL


@dataclass(frozen=True, slots=True)
class Attribution:
    """An experience the visitor had entered (or was counted in), and the cell they belong to."""

    experience_id: str
    variation_id: str
    audience: str
    day: int


@dataclass(frozen=True, slots=True)
class Conversion:
    """One accepted conversion. `order_id` set: an order (deduplicated on (site, order_id));
    otherwise an occurrence of the event `event` (counted per cell and event name)."""

    site_id: str
    visitor_id: str
    event: str
    attributions: tuple[Attribution, ...]
    order_id: str | None = None
    value: float = 0.0
    currency: str | None = None


@dataclass(frozen=True, slots=True)
class WebhookSecrets:
    """A site's webhook secret (encrypted) and, during a rotation's grace, the previous one."""

    secret_enc: str
    previous_enc: str | None
    previous_until: float | None


class SqlResultsStore:
    def __init__(self, db: Database) -> None:
        self._db = db
        self.backend = db.dialect.name

    # --- writing ---------------------------------------------------------------------------------

    async def add_counts(self, exposures: Mapping[CellKey, int], bots: Mapping[BotKey, int]) -> None:
        """Add visitors to cells and bot requests to experiences, in one transaction."""
        cells = [(*key, n) for key, n in exposures.items() if n]
        bot_rows = [(*key, n) for key, n in bots.items() if n]
        if not cells and not bot_rows:
            return
        async with self._db.transaction() as tx:
            await _upsert_many(
                tx,
                "INSERT INTO result_cells (site_id, experience_id, variation_id, audience, day, visitors) VALUES ",
                "(?, ?, ?, ?, ?, ?)",
                " ON CONFLICT (site_id, experience_id, variation_id, audience, day) DO UPDATE SET "
                "visitors = result_cells.visitors + excluded.visitors",
                cells,
            )
            await _upsert_many(
                tx,
                "INSERT INTO result_bots (site_id, experience_id, day, n) VALUES ",
                "(?, ?, ?, ?)",
                " ON CONFLICT (site_id, experience_id, day) DO UPDATE SET n = result_bots.n + excluded.n",
                bot_rows,
            )

    async def record_conversions(self, conversions: Sequence[Conversion], now: float) -> list[bool]:
        """Record a batch in one transaction; return, per conversion, whether it was a duplicate
        (an order id this site already has, or one earlier in the batch)."""
        duplicates: list[bool] = []
        async with self._db.transaction() as tx:
            for conversion in conversions:
                if conversion.order_id is None:
                    await _add_event(tx, conversion)
                    duplicates.append(False)
                    continue
                claimed = await tx.fetch_one(
                    "INSERT INTO result_orders (site_id, order_id, created_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (site_id, order_id) DO NOTHING RETURNING order_id",
                    (conversion.site_id, conversion.order_id, now),
                )
                duplicates.append(claimed is None)
                if claimed is not None:
                    for attribution in conversion.attributions:
                        await _add_order(tx, conversion, attribution)
        return duplicates

    async def webhook_secrets(self, site_id: str, kind: str) -> WebhookSecrets | None:
        row = await self._db.fetch_one(
            "SELECT secret_enc, previous_enc, previous_until FROM result_webhook_secrets "
            "WHERE site_id = ? AND kind = ?",
            (site_id, kind),
        )
        if row is None:
            return None
        return WebhookSecrets(str(row[0]), row[1], None if row[2] is None else float(row[2]))

    async def put_webhook_secret(
        self, site_id: str, kind: str, secret_enc: str, *, now: float, grace_s: float
    ) -> None:
        """Set the secret; the one it replaces stays valid until `now + grace_s`."""
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO result_webhook_secrets (site_id, kind, secret_enc, previous_enc, previous_until, "
                "updated_at) VALUES (?, ?, ?, NULL, NULL, ?) ON CONFLICT (site_id, kind) DO UPDATE SET "
                "previous_enc = result_webhook_secrets.secret_enc, previous_until = ?, "
                "secret_enc = excluded.secret_enc, updated_at = excluded.updated_at",
                (site_id, kind, secret_enc, now, now + grace_s),
            )

    # --- reading (ResultsReader) -------------------------------------------------------------

    async def result_cells(
        self, site_id: str, experience_id: str, *, first_day: date | None, last_day: date | None
    ) -> list[ResultCell]:
        where, params = _day_range(site_id, experience_id, first_day, last_day)
        rows = await self._db.fetch_all(
            "SELECT variation_id, audience, day, visitors, converters, orders, revenue, revenue_sq, "
            f"orders_sq, revenue_orders FROM result_cells WHERE {where} "
            "ORDER BY day, variation_id, audience",
            params,
        )
        return [_cell(row) for row in rows]

    async def bots_excluded(
        self, site_id: str, experience_id: str, *, first_day: date | None, last_day: date | None
    ) -> int:
        where, params = _day_range(site_id, experience_id, first_day, last_day)
        row = await self._db.fetch_one(f"SELECT coalesce(sum(n), 0) FROM result_bots WHERE {where}", params)
        return 0 if row is None else int(row[0])

    async def currencies(self, site_id: str, experience_id: str) -> list[str]:
        rows = await self._db.fetch_all(
            "SELECT currency FROM result_currencies WHERE site_id = ? AND experience_id = ? ORDER BY currency",
            (site_id, experience_id),
        )
        return [str(row[0]) for row in rows]

    async def event_counts(self, site_id: str, experience_id: str) -> dict[tuple[str, str], int]:
        """Occurrences of non-order events, per (variation, event name), over every day."""
        rows = await self._db.fetch_all(
            "SELECT variation_id, event, sum(n) FROM result_events WHERE site_id = ? AND experience_id = ? "
            "GROUP BY variation_id, event",
            (site_id, experience_id),
        )
        return {(str(r[0]), str(r[1])): int(r[2]) for r in rows}


async def _upsert_many(tx: Queries, head: str, one: str, tail: str, rows: Sequence[tuple[Any, ...]]) -> None:
    for start in range(0, len(rows), _ROWS_PER_STATEMENT):
        part = rows[start : start + _ROWS_PER_STATEMENT]
        await tx.execute(head + ", ".join([one] * len(part)) + tail, [v for row in part for v in row])


async def _add_order(tx: Queries, order: Conversion, attribution: Attribution) -> None:
    key = (order.site_id, attribution.experience_id, order.visitor_id)
    known = await tx.fetch_one(
        "SELECT variation_id, audience, day, orders, revenue FROM result_visitors "
        "WHERE site_id = ? AND experience_id = ? AND visitor_id = ?" + tx.dialect.for_update,
        key,
    )
    value = order.value
    if known is None:
        cell = (attribution.variation_id, attribution.audience, attribution.day)
        n, r = 0, 0.0
        await tx.execute(
            "INSERT INTO result_visitors (site_id, experience_id, visitor_id, variation_id, audience, day, "
            "orders, revenue) VALUES (?, ?, ?, ?, ?, ?, 1, ?)",
            (*key, *cell, value),
        )
    else:
        cell = (str(known[0]), str(known[1]), int(known[2]))
        n, r = int(known[3]), float(known[4])
        await tx.execute(
            "UPDATE result_visitors SET orders = ?, revenue = ? "
            "WHERE site_id = ? AND experience_id = ? AND visitor_id = ?",
            (n + 1, r + value, *key),
        )
    sums = (
        1 if n == 0 else 0,
        1,
        value,
        (r + value) ** 2 - r**2,
        float((n + 1) ** 2 - n**2),
        (r + value) * (n + 1) - r * n,
    )
    await tx.execute(
        "INSERT INTO result_cells (site_id, experience_id, variation_id, audience, day, "
        + ", ".join(_CELL_SUMS)
        + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (site_id, experience_id, variation_id, audience, day) DO UPDATE SET "
        + ", ".join(f"{c} = result_cells.{c} + excluded.{c}" for c in _CELL_SUMS),
        (order.site_id, attribution.experience_id, *cell, *sums),
    )
    if order.currency is not None:
        await tx.execute(
            "INSERT INTO result_currencies (site_id, experience_id, currency) VALUES (?, ?, ?) "
            "ON CONFLICT (site_id, experience_id, currency) DO NOTHING",
            (order.site_id, attribution.experience_id, order.currency),
        )


async def _add_event(tx: Queries, event: Conversion) -> None:
    rows = [
        (event.site_id, a.experience_id, a.variation_id, a.audience, a.day, event.event, 1)
        for a in event.attributions
    ]
    await _upsert_many(
        tx,
        "INSERT INTO result_events (site_id, experience_id, variation_id, audience, day, event, n) VALUES ",
        "(?, ?, ?, ?, ?, ?, ?)",
        " ON CONFLICT (site_id, experience_id, variation_id, audience, day, event) DO UPDATE SET "
        "n = result_events.n + excluded.n",
        rows,
    )


def _day_range(
    site_id: str, experience_id: str, first_day: date | None, last_day: date | None
) -> tuple[str, list[Any]]:
    where = "site_id = ? AND experience_id = ?"
    params: list[Any] = [site_id, experience_id]
    if first_day is not None:
        where += " AND day >= ?"
        params.append(to_day(first_day))
    if last_day is not None:
        where += " AND day <= ?"
        params.append(to_day(last_day))
    return where, params


def _cell(row: Row) -> ResultCell:
    return ResultCell(
        variation_id=str(row[0]),
        audience=str(row[1]),
        day=to_date(int(row[2])),
        visitors=int(row[3]),
        converters=int(row[4]),
        orders=int(row[5]),
        revenue=float(row[6]),
        revenue_sq=float(row[7]),
        orders_sq=float(row[8]),
        revenue_orders=float(row[9]),
    )

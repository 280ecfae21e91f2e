"""The event outbox in the app's database (tables of migration 3), on either backend.

Every write is one transaction: a batch of visits is appended, deduplicated and capped at once,
and a sender's results are settled at once. Statements go per batch, not per event (`IN (...)`,
multi-row `VALUES`, `execute_many`): each statement is a thread hand-off on SQLite and a round
trip on PostgreSQL. Durability: a committed append survives a killed process (SQLite: WAL with
synchronous=NORMAL, lost only to a power cut before the next checkpoint; PostgreSQL: its commit).

One row per undelivered event: `state` 'pending' (claimable once `available_at` has passed; a
claim pushes `available_at` to the end of the lease) or 'failed' (kept with its reason, pruned).
Sent events are deleted and counted. `event_pending` counts pending events per site and trigger
(their sum is what the cap bounds), kept exact in the same transactions. Concurrent writers (a
fleet on PostgreSQL) stay correct: dedupe keys and profile states are claimed by
`INSERT ... ON CONFLICT ... RETURNING`, so of two nodes appending the same key one enqueues it;
claims skip rows another sender holds (`skip_locked`). Only the cap is approximate under
concurrency (two nodes over it at once may both drop their excess).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from edge.store.database import Database, Queries, Row, chunks, placeholders
from edge.store.outbox_records import (
    AppendResult,
    Backlog,
    Claimed,
    NewEvent,
    OutboxStats,
    ProfileWrite,
    Retry,
    SkipCounts,
    TriggerStats,
    VisitWrite,
)

HOUR_S = 3600
_KEEP_FAILED_S = 7 * 86_400
_KEEP_FAILED_ROWS = 10_000
_KEEP_PROFILE_STATE_S = 30 * 86_400
_ROWS_PER_STATEMENT = 200  # multi-row VALUES: well under both backends' bound-value limits
_Counts = Counter[tuple[str, str, str]]  # (site, trigger, outcome) -> n
_CLAIMED = "id, site_id, trigger, unique_id, body, profile, attempts, created_at"


class SqlOutbox:
    """`triggers`: every trigger name `stats` reports on; `empty_experiences`: the experiences
    hash of a visitor with none, which a visitor without a recorded state is taken to have."""

    backend: str

    def __init__(
        self,
        db: Database,
        *,
        triggers: Sequence[str],
        empty_experiences: str,
        cap: int = 100_000,
        lease_s: float = 30.0,
    ) -> None:
        self._db = db
        self.backend = db.dialect.name
        self._triggers = tuple(triggers)
        self._empty = empty_experiences
        self.cap = cap
        self.lease_s = lease_s

    async def aclose(self) -> None:
        """The database belongs to the app: nothing of ours to close."""

    # --- writing -----------------------------------------------------------------------------

    async def append(self, visits: Sequence[VisitWrite], skips: SkipCounts, now: float) -> AppendResult:
        counts: _Counts = Counter()
        pending: _Counts = Counter()
        duplicates = 0
        rows: list[tuple[Any, ...]] = []
        async with self._db.transaction() as tx:
            wanted = list(
                dict.fromkeys((v.day, e.unique_id) for v in visits for e in v.events if e.deduplicated)
            )
            fresh = await _claim_keys(tx, wanted)
            # One profile write per visitor and batch: the last one (earlier ones are outdated).
            last: dict[tuple[str, str], ProfileWrite] = {
                (v.site_id, v.profile.kx_hash): v.profile for v in visits if v.profile is not None
            }
            changed = await self._write_profiles(tx, last, now)
            for visit in visits:
                carried = False  # an enqueued event of this visit carries the profile property
                for event in visit.events:
                    if event.deduplicated:
                        key = (visit.day, event.unique_id)
                        if key not in fresh:
                            duplicates += 1
                            continue
                        fresh.discard(key)  # twice in one batch: the second is a duplicate
                    rows.append(_row(event, now))
                    pending[(event.site_id, event.trigger, "")] += 1
                    carried = True
                profile = visit.profile
                key_of_profile = (visit.site_id, profile.kx_hash) if profile is not None else None
                if profile is None or key_of_profile not in changed or last[key_of_profile] is not profile:
                    continue
                if not carried:
                    rows.append(_row(profile.event, now))
                    pending[(profile.event.site_id, profile.event.trigger, "")] += 1
            await tx.execute_many(
                "INSERT INTO event_outbox (site_id, trigger, unique_id, body, profile, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )
            for (site_id, trigger, reason), n in skips.items():
                counts[(site_id, trigger, "skipped:" + reason)] += n
            await _add_pending(tx, pending, 1)
            size_row = await tx.fetch_one("SELECT coalesce(sum(n), 0) FROM event_pending")
            size = int(size_row[0]) if size_row is not None else 0
            dropped = await _drop_oldest(tx, size - self.cap, counts) if size > self.cap else 0
            await _add_counts(tx, counts, now)
        return AppendResult(enqueued=sum(pending.values()), duplicates=duplicates, dropped=dropped)

    async def _write_profiles(
        self, tx: Queries, profiles: dict[tuple[str, str], ProfileWrite], now: float
    ) -> set[tuple[str, str]]:
        """Record each visitor's experiences; return the visitors whose experiences changed."""
        changed: set[tuple[str, str]] = set()
        upserts = [
            (s, k, p.experiences_hash, now)
            for (s, k), p in profiles.items()
            if p.experiences_hash != self._empty
        ]
        for part in chunks(upserts, _ROWS_PER_STATEMENT):
            returned = await tx.fetch_all(
                "INSERT INTO event_profile_state (site_id, kx_hash, experiences_hash, updated_at) VALUES "
                + ", ".join(["(?, ?, ?, ?)"] * len(part))
                + " ON CONFLICT (site_id, kx_hash) DO UPDATE SET experiences_hash = excluded.experiences_hash, "
                "updated_at = excluded.updated_at "
                "WHERE event_profile_state.experiences_hash <> excluded.experiences_hash RETURNING site_id, kx_hash",
                [value for row in part for value in row],
            )
            changed.update((str(r[0]), str(r[1])) for r in returned)
        # Back to no experiences: a change only for a visitor who had some on record.
        for (site_id, kx_hash), profile in profiles.items():
            if profile.experiences_hash == self._empty:
                returned = await tx.fetch_all(
                    "UPDATE event_profile_state SET experiences_hash = ?, updated_at = ? "
                    "WHERE site_id = ? AND kx_hash = ? AND experiences_hash <> ? RETURNING site_id",
                    (self._empty, now, site_id, kx_hash, self._empty),
                )
                if returned:
                    changed.add((site_id, kx_hash))
        return changed

    # --- sending -----------------------------------------------------------------------------

    async def claim(self, limit: int, now: float) -> list[Claimed]:
        async with self._db.transaction() as tx:
            rows = await tx.fetch_all(
                "UPDATE event_outbox SET available_at = ? WHERE id IN (SELECT id FROM event_outbox "
                "WHERE state = 'pending' AND available_at <= ? ORDER BY available_at, id LIMIT ?"
                f"{tx.dialect.skip_locked}) RETURNING {_CLAIMED}",
                (now + self.lease_s, now, limit),
            )
        rows.sort(key=lambda r: int(r[0]))
        return [_claimed(row) for row in rows]

    async def settle(
        self,
        now: float,
        *,
        sent: Sequence[Claimed] = (),
        failed: Sequence[tuple[Claimed, str]] = (),
        retry: Sequence[Retry] = (),
    ) -> None:
        counts: _Counts = Counter()
        done: _Counts = Counter()
        states: dict[tuple[str, str], _State] = {}
        async with self._db.transaction() as tx:
            # Only rows still pending count: another sender may have settled one first (its lease ran out).
            for site_id, trigger in await _where_pending(
                tx, "DELETE FROM event_outbox", (), [e.ref for e in sent]
            ):
                done[(site_id, trigger, "")] += 1
                counts[(site_id, trigger, "sent")] += 1
            for event in sent:
                states.setdefault((event.site_id, event.trigger), _State()).last_sent_at = now
            by_reason: dict[str, list[str]] = {}
            for event, reason in failed:
                by_reason.setdefault(reason, []).append(event.ref)
                states.setdefault((event.site_id, event.trigger), _State()).error = reason
            for reason, refs in by_reason.items():
                update = "UPDATE event_outbox SET state = 'failed', last_error = ?, available_at = ?, attempts = attempts + 1"
                for site_id, trigger in await _where_pending(tx, update, (reason, now), refs):
                    done[(site_id, trigger, "")] += 1
                    counts[(site_id, trigger, "failed")] += 1
            await tx.execute_many(
                "UPDATE event_outbox SET available_at = ?, attempts = attempts + ?, "
                "last_error = coalesce(?, last_error) WHERE id = ? AND state = 'pending'",
                [(r.at, 0 if r.error is None else 1, r.error, int(r.event.ref)) for r in retry],
            )
            for item in retry:
                if item.error is not None:
                    key = (item.event.site_id, item.event.trigger)
                    states.setdefault(key, _State()).error = item.error + " (will retry)"
            await _add_pending(tx, done, -1)
            await _add_counts(tx, counts, now)
            await _trigger_states(tx, states, now)

    # --- reading and upkeep --------------------------------------------------------------------

    async def seen(self, unique_ids: Sequence[str], day: int) -> set[str]:
        found: set[str] = set()
        for part in chunks(list(unique_ids)):
            rows = await self._db.fetch_all(
                f"SELECT unique_id FROM event_dedupe WHERE day = ? AND unique_id IN ({placeholders(len(part))})",
                (day, *part),
            )
            found.update(str(r[0]) for r in rows)
        return found

    async def stats(self, site_id: str, now: float) -> OutboxStats:
        triggers = {t: TriggerStats() for t in self._triggers}
        since = int(now // HOUR_S) - 23
        for trigger, outcome, n in await self._db.fetch_all(
            "SELECT trigger, outcome, SUM(n) FROM event_counts WHERE site_id = ? AND hour >= ? "
            "GROUP BY trigger, outcome",
            (site_id, since),
        ):
            triggers.setdefault(trigger, TriggerStats()).counts[outcome] = int(n)
        for trigger, n in await self._db.fetch_all(
            "SELECT trigger, n FROM event_pending WHERE site_id = ?", (site_id,)
        ):
            triggers.setdefault(trigger, TriggerStats()).pending = int(n)
        for trigger, sent_at, error, error_at in await self._db.fetch_all(
            "SELECT trigger, last_sent_at, last_error, last_error_at FROM event_trigger_state WHERE site_id = ?",
            (site_id,),
        ):
            stats = triggers.setdefault(trigger, TriggerStats())
            stats.last_sent_at, stats.last_error, stats.last_error_at = sent_at, error, error_at
        size = await self._db.fetch_one("SELECT coalesce(sum(n), 0) FROM event_pending")
        return OutboxStats(triggers=triggers, size=int(size[0]) if size is not None else 0)

    async def forget_site(self, site_id: str, now: float) -> None:
        """Nothing to do: `delete_site` clears this outbox's tables in its own transaction."""

    async def backlog(self, now: float) -> Backlog:
        row = await self._db.fetch_one(
            "SELECT count(*), min(created_at) FROM event_outbox WHERE state = 'pending'"
        )
        if row is None or not row[0]:
            return Backlog(0, None)
        return Backlog(int(row[0]), max(0.0, now - float(row[1])))

    async def prune(self, now: float) -> None:
        async with self._db.transaction() as tx:
            await tx.execute("DELETE FROM event_dedupe WHERE day < ?", (int(now // 86_400) - 1,))
            await tx.execute("DELETE FROM event_counts WHERE hour < ?", (int(now // HOUR_S) - 48,))
            await tx.execute(
                "DELETE FROM event_profile_state WHERE updated_at < ?", (now - _KEEP_PROFILE_STATE_S,)
            )
            await tx.execute(
                "DELETE FROM event_outbox WHERE state = 'failed' AND (available_at < ? OR id <= "
                "(SELECT id FROM event_outbox WHERE state = 'failed' ORDER BY id DESC LIMIT 1 OFFSET ?))",
                (now - _KEEP_FAILED_S, _KEEP_FAILED_ROWS),
            )


async def _claim_keys(tx: Queries, keys: list[tuple[int, str]]) -> set[tuple[int, str]]:
    """Insert the dedupe keys not stored yet; return those (the others were enqueued before)."""
    fresh: set[tuple[int, str]] = set()
    for part in chunks(keys, _ROWS_PER_STATEMENT):
        rows = await tx.fetch_all(
            "INSERT INTO event_dedupe (day, unique_id) VALUES "
            + ", ".join(["(?, ?)"] * len(part))
            + " ON CONFLICT DO NOTHING RETURNING day, unique_id",
            [value for key in part for value in key],
        )
        fresh.update((int(r[0]), str(r[1])) for r in rows)
    return fresh


async def _where_pending(
    tx: Queries, statement: str, params: tuple[Any, ...], refs: Sequence[str]
) -> list[tuple[str, str]]:
    """Run `statement` on the still-pending rows among `refs`; return their (site, trigger)."""
    touched: list[tuple[str, str]] = []
    for part in chunks([int(ref) for ref in refs]):
        rows = await tx.fetch_all(
            f"{statement} WHERE state = 'pending' AND id IN ({placeholders(len(part))}) RETURNING site_id, trigger",
            (*params, *part),
        )
        touched += [(str(r[0]), str(r[1])) for r in rows]
    return touched


async def _drop_oldest(tx: Queries, excess: int, counts: _Counts) -> int:
    gone = await tx.fetch_all(
        "DELETE FROM event_outbox WHERE id IN (SELECT id FROM event_outbox WHERE state = 'pending' "
        f"ORDER BY id LIMIT ?{tx.dialect.skip_locked}) RETURNING site_id, trigger",
        (excess,),
    )
    dropped: _Counts = Counter((str(site_id), str(trigger), "") for site_id, trigger in gone)
    for (site_id, trigger, _), n in dropped.items():
        counts[(site_id, trigger, "dropped")] += n
    await _add_pending(tx, dropped, -1)
    return len(gone)


def _row(event: NewEvent, now: float) -> tuple[Any, ...]:
    return (event.site_id, event.trigger, event.unique_id, event.attributes.decode("utf-8"),
            event.profile.decode("utf-8"), now)  # fmt: skip


async def _add_pending(tx: Queries, changes: _Counts, sign: int) -> None:
    await tx.execute_many(
        "INSERT INTO event_pending (site_id, trigger, n) VALUES (?, ?, ?) "
        "ON CONFLICT (site_id, trigger) DO UPDATE SET n = event_pending.n + excluded.n",
        [(site_id, trigger, sign * n) for (site_id, trigger, _), n in _sorted(changes) if n],
    )


async def _add_counts(tx: Queries, counts: _Counts, now: float) -> None:
    hour = int(now // HOUR_S)
    await tx.execute_many(
        "INSERT INTO event_counts (site_id, trigger, hour, outcome, n) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (site_id, trigger, hour, outcome) DO UPDATE SET n = event_counts.n + excluded.n",
        [(site, trigger, hour, outcome, n) for (site, trigger, outcome), n in _sorted(counts) if n],
    )


def _sorted(counts: _Counts) -> Iterable[tuple[tuple[str, str, str], int]]:
    # Counter rows are updated in key order by every writer: two transactions never wait on
    # each other's rows in opposite orders (a deadlock on PostgreSQL).
    return sorted(counts.items())


def _claimed(r: Row) -> Claimed:
    return Claimed(
        ref=str(r[0]),
        site_id=str(r[1]),
        trigger=str(r[2]),
        unique_id=str(r[3]),
        attributes=str(r[4]).encode("utf-8"),
        profile=str(r[5]).encode("utf-8"),
        attempts=int(r[6]),
        created_at=float(r[7]),
    )


@dataclass(slots=True)
class _State:
    last_sent_at: float | None = None
    error: str | None = None


async def _trigger_states(tx: Queries, states: dict[tuple[str, str], _State], now: float) -> None:
    await tx.execute_many(
        "INSERT INTO event_trigger_state (site_id, trigger, last_sent_at, last_error, last_error_at) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (site_id, trigger) DO UPDATE SET "
        "last_sent_at = coalesce(excluded.last_sent_at, event_trigger_state.last_sent_at), "
        "last_error = coalesce(excluded.last_error, event_trigger_state.last_error), "
        "last_error_at = coalesce(excluded.last_error_at, event_trigger_state.last_error_at)",
        [
            (site_id, trigger, state.last_sent_at, state.error[:500] if state.error else None,
             now if state.error else None)
            for (site_id, trigger), state in sorted(states.items())
        ],
    )  # fmt: skip

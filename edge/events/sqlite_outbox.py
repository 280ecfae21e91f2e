"""The embedded outbox: tables of migration 3 in the app's SQLite file.

It keeps its own connection, used only by its own thread, so no outbox write ever runs on the
event loop and its transactions never interleave with the store's. Every write is one
`BEGIN IMMEDIATE` transaction: a batch of visits is appended, deduplicated and capped at once,
and a sender's results are settled at once. WAL with synchronous=NORMAL: a committed append
survives a killed process (not a power cut before the next checkpoint).

One row per undelivered event: `state` 'pending' (claimable once `available_at` has passed; a
claim pushes `available_at` to the end of the lease) or 'failed' (kept with its reason, pruned).
Sent events are deleted and counted. `event_pending` counts pending events per site and trigger
(their sum is what the cap bounds), kept exact in the same transactions. One index on the
outbox; dedupe keys (personalizations only, see `NewEvent.deduplicated`) clustered by day.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from edge.events.outbox import (
    AppendResult,
    Claimed,
    NewEvent,
    OutboxStats,
    Retry,
    SkipCounts,
    TriggerStats,
    VisitWrite,
)
from edge.events.payload import digest
from edge.events.triggers import Trigger
from edge.store.migrations import migrate

T = TypeVar("T")
EMPTY_EXPERIENCES = digest()
HOUR_S = 3600
_KEEP_FAILED_S = 7 * 86_400
_KEEP_FAILED_ROWS = 10_000
_KEEP_PROFILE_STATE_S = 30 * 86_400
_Counts = Counter[tuple[str, str, str]]  # (site, trigger, outcome) -> n


class SqliteOutbox:
    backend = "sqlite"

    def __init__(self, path: Path | str, *, cap: int = 100_000, lease_s: float = 30.0) -> None:
        self.path = str(path)
        self.cap = cap
        self.lease_s = lease_s
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kx-events-outbox")
        self._conn: sqlite3.Connection | None = None

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._call, work)

    def _call(self, work: Callable[[sqlite3.Connection], T]) -> T:
        if self._conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA busy_timeout = 5000")
            migrate(conn)
            self._conn = conn
        return work(self._conn)

    async def aclose(self) -> None:
        def close(conn: sqlite3.Connection) -> None:
            conn.close()
            self._conn = None

        if self._conn is not None:
            await self._run(close)
        self._executor.shutdown(wait=False)

    # --- writing -----------------------------------------------------------------------------

    async def append(self, visits: Sequence[VisitWrite], skips: SkipCounts, now: float) -> AppendResult:
        return await self._run(lambda conn: self._append(conn, visits, skips, now))

    def _append(
        self, conn: sqlite3.Connection, visits: Sequence[VisitWrite], skips: SkipCounts, now: float
    ) -> AppendResult:
        counts: _Counts = Counter()
        pending: _Counts = Counter()
        duplicates = 0
        rows: list[tuple[Any, ...]] = []
        with _transaction(conn):
            # Statements per batch, not per event: the Python side of sqlite3 costs as much as
            # SQLite itself for rows this small.
            seen = _known_keys(
                conn, [(v.day, e.unique_id) for v in visits for e in v.events if e.deduplicated]
            )
            fresh_keys: list[tuple[int, str]] = []
            for visit in visits:
                carried = False  # an enqueued event of this visit carries the profile property
                for event in visit.events:
                    if event.deduplicated:
                        key = (visit.day, event.unique_id)
                        if key in seen:
                            duplicates += 1
                            continue
                        seen.add(key)
                        fresh_keys.append(key)
                    rows.append(_row(event, now))
                    pending[(event.site_id, event.trigger.value, "")] += 1
                    carried = True
                profile = visit.profile
                if profile is None:
                    continue
                row = conn.execute(
                    "SELECT experiences_hash FROM event_profile_state WHERE site_id = ? AND kx_hash = ?",
                    (visit.site_id, profile.kx_hash),
                ).fetchone()
                previous = row[0] if row is not None else EMPTY_EXPERIENCES
                if previous == profile.experiences_hash:
                    continue
                conn.execute(
                    "INSERT INTO event_profile_state (site_id, kx_hash, experiences_hash, updated_at) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (site_id, kx_hash) DO UPDATE SET "
                    "experiences_hash = excluded.experiences_hash, updated_at = excluded.updated_at",
                    (visit.site_id, profile.kx_hash, profile.experiences_hash, now),
                )
                if not carried:
                    rows.append(_row(profile.event, now))
                    pending[(profile.event.site_id, profile.event.trigger.value, "")] += 1
            conn.executemany("INSERT INTO event_dedupe (day, unique_id) VALUES (?, ?)", fresh_keys)
            conn.executemany(
                "INSERT INTO event_outbox (site_id, trigger, unique_id, body, profile, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )
            for (site_id, trigger, reason), n in skips.items():
                counts[(site_id, trigger.value, "skipped:" + reason)] += n
            _add_pending(conn, pending, 1)
            size = int(conn.execute("SELECT coalesce(sum(n), 0) FROM event_pending").fetchone()[0])
            dropped = self._drop_oldest(conn, size - self.cap, counts) if size > self.cap else 0
            _add_counts(conn, counts, now)
        return AppendResult(enqueued=sum(pending.values()), duplicates=duplicates, dropped=dropped)

    @staticmethod
    def _drop_oldest(conn: sqlite3.Connection, excess: int, counts: _Counts) -> int:
        gone = conn.execute(
            "DELETE FROM event_outbox WHERE id IN (SELECT id FROM event_outbox WHERE state = 'pending' "
            "ORDER BY id LIMIT ?) RETURNING site_id, trigger",
            (excess,),
        ).fetchall()
        dropped: _Counts = Counter((site_id, trigger, "") for site_id, trigger in gone)
        for (site_id, trigger, _), n in dropped.items():
            counts[(site_id, trigger, "dropped")] += n
        _add_pending(conn, dropped, -1)
        return len(gone)

    # --- sending -----------------------------------------------------------------------------

    async def claim(self, limit: int, now: float) -> list[Claimed]:
        def work(conn: sqlite3.Connection) -> list[Claimed]:
            with _transaction(conn):
                rows = conn.execute(
                    "UPDATE event_outbox SET available_at = ? WHERE id IN (SELECT id FROM event_outbox "
                    "WHERE state = 'pending' AND available_at <= ? ORDER BY available_at, id LIMIT ?) "
                    "RETURNING id, site_id, trigger, unique_id, body, profile, attempts, created_at",
                    (now + self.lease_s, now, limit),
                ).fetchall()
            rows.sort(key=lambda r: int(r[0]))
            return [_claimed(row) for row in rows]

        return await self._run(work)

    async def settle(
        self,
        now: float,
        *,
        sent: Sequence[Claimed] = (),
        failed: Sequence[tuple[Claimed, str]] = (),
        retry: Sequence[Retry] = (),
    ) -> None:
        def work(conn: sqlite3.Connection) -> None:
            counts: _Counts = Counter()
            done: _Counts = Counter()
            states: dict[tuple[str, str], _State] = {}
            with _transaction(conn):
                for event in sent:
                    key = (event.site_id, event.trigger.value)
                    if conn.execute(
                        "DELETE FROM event_outbox WHERE id = ? AND state = 'pending'", (int(event.ref),)
                    ).rowcount:  # not when another sender settled it first (its lease ran out)
                        done[(*key, "")] += 1
                        counts[(*key, "sent")] += 1
                    states.setdefault(key, _State()).last_sent_at = now
                for event, reason in failed:
                    key = (event.site_id, event.trigger.value)
                    if conn.execute(
                        "UPDATE event_outbox SET state = 'failed', last_error = ?, available_at = ?, "
                        "attempts = attempts + 1 WHERE id = ? AND state = 'pending'",
                        (reason, now, int(event.ref)),
                    ).rowcount:
                        done[(*key, "")] += 1
                        counts[(*key, "failed")] += 1
                    states.setdefault(key, _State()).error = reason
                for item in retry:
                    conn.execute(
                        "UPDATE event_outbox SET available_at = ?, attempts = attempts + ?, "
                        "last_error = coalesce(?, last_error) WHERE id = ? AND state = 'pending'",
                        (item.at, 0 if item.error is None else 1, item.error, int(item.event.ref)),
                    )
                    if item.error is not None:
                        key = (item.event.site_id, item.event.trigger.value)
                        states.setdefault(key, _State()).error = item.error + " (will retry)"
                _add_pending(conn, done, -1)
                _add_counts(conn, counts, now)
                for (site_id, trigger), state in states.items():
                    _trigger_state(conn, site_id, trigger, state, now)

        await self._run(work)

    # --- reading and upkeep --------------------------------------------------------------------

    async def seen(self, unique_ids: Sequence[str], day: int) -> set[str]:
        def work(conn: sqlite3.Connection) -> set[str]:
            rows = conn.execute(
                "SELECT unique_id FROM event_dedupe WHERE day = ? AND unique_id IN (SELECT value FROM json_each(?))",
                (day, json.dumps(list(unique_ids))),
            )
            return {r[0] for r in rows}

        return await self._run(work) if unique_ids else set()

    async def stats(self, site_id: str, now: float) -> OutboxStats:
        def work(conn: sqlite3.Connection) -> OutboxStats:
            triggers = {t: TriggerStats() for t in Trigger}
            since = int(now // HOUR_S) - 23
            for trigger, outcome, n in conn.execute(
                "SELECT trigger, outcome, SUM(n) FROM event_counts WHERE site_id = ? AND hour >= ? "
                "GROUP BY trigger, outcome",
                (site_id, since),
            ):
                triggers[Trigger(trigger)].counts[outcome] = int(n)
            for trigger, n in conn.execute(
                "SELECT trigger, n FROM event_pending WHERE site_id = ?", (site_id,)
            ):
                triggers[Trigger(trigger)].pending = int(n)
            for trigger, sent_at, error, error_at in conn.execute(
                "SELECT trigger, last_sent_at, last_error, last_error_at FROM event_trigger_state "
                "WHERE site_id = ?",
                (site_id,),
            ):
                stats = triggers[Trigger(trigger)]
                stats.last_sent_at, stats.last_error, stats.last_error_at = sent_at, error, error_at
            size = conn.execute("SELECT coalesce(sum(n), 0) FROM event_pending").fetchone()[0]
            return OutboxStats(triggers=triggers, size=int(size))

        return await self._run(work)

    async def prune(self, now: float) -> None:
        def work(conn: sqlite3.Connection) -> None:
            with _transaction(conn):
                conn.execute(
                    "DELETE FROM event_dedupe WHERE day < ?", (int(now // 86_400) - 1,)
                )  # by key range
                conn.execute("DELETE FROM event_counts WHERE hour < ?", (int(now // HOUR_S) - 48,))
                conn.execute(
                    "DELETE FROM event_profile_state WHERE updated_at < ?", (now - _KEEP_PROFILE_STATE_S,)
                )
                conn.execute(
                    "DELETE FROM event_outbox WHERE state = 'failed' AND (available_at < ? OR id <= "
                    "(SELECT id FROM event_outbox WHERE state = 'failed' ORDER BY id DESC LIMIT 1 OFFSET ?))",
                    (now - _KEEP_FAILED_S, _KEEP_FAILED_ROWS),
                )

        await self._run(work)


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _row(event: NewEvent, now: float) -> tuple[Any, ...]:
    return (event.site_id, event.trigger.value, event.unique_id, event.attributes.decode("utf-8"),
            event.profile.decode("utf-8"), now)  # fmt: skip


def _known_keys(conn: sqlite3.Connection, keys: list[tuple[int, str]]) -> set[tuple[int, str]]:
    """Which (day, unique_id) dedupe keys are stored already: one query per day in the batch."""
    known: set[tuple[int, str]] = set()
    for day in {day for day, _ in keys}:
        ids = json.dumps([uid for d, uid in keys if d == day])
        rows = conn.execute(
            "SELECT unique_id FROM event_dedupe WHERE day = ? AND unique_id IN (SELECT value FROM json_each(?))",
            (day, ids),
        )
        known.update((day, r[0]) for r in rows)
    return known


def _add_pending(conn: sqlite3.Connection, changes: _Counts, sign: int) -> None:
    conn.executemany(
        "INSERT INTO event_pending (site_id, trigger, n) VALUES (?, ?, ?) "
        "ON CONFLICT (site_id, trigger) DO UPDATE SET n = n + excluded.n",
        [(site_id, trigger, sign * n) for (site_id, trigger, _), n in changes.items() if n],
    )


def _claimed(r: sqlite3.Row | tuple[Any, ...]) -> Claimed:
    return Claimed(
        ref=str(r[0]),
        site_id=r[1],
        trigger=Trigger(r[2]),
        unique_id=r[3],
        attributes=r[4].encode("utf-8"),
        profile=r[5].encode("utf-8"),
        attempts=int(r[6]),
        created_at=float(r[7]),
    )


def _add_counts(conn: sqlite3.Connection, counts: _Counts, now: float) -> None:
    hour = int(now // HOUR_S)
    conn.executemany(
        "INSERT INTO event_counts (site_id, trigger, hour, outcome, n) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (site_id, trigger, hour, outcome) DO UPDATE SET n = n + excluded.n",
        [(site, trigger, hour, outcome, n) for (site, trigger, outcome), n in counts.items() if n],
    )


@dataclass(slots=True)
class _State:
    last_sent_at: float | None = None
    error: str | None = None


def _trigger_state(conn: sqlite3.Connection, site_id: str, trigger: str, state: _State, now: float) -> None:
    conn.execute(
        "INSERT INTO event_trigger_state (site_id, trigger, last_sent_at, last_error, last_error_at) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (site_id, trigger) DO UPDATE SET "
        "last_sent_at = coalesce(excluded.last_sent_at, last_sent_at), "
        "last_error = coalesce(excluded.last_error, last_error), "
        "last_error_at = coalesce(excluded.last_error_at, last_error_at)",
        (site_id, trigger, state.last_sent_at, state.error[:500] if state.error else None,
         now if state.error else None),
    )  # fmt: skip

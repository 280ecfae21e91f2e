"""The storefront's memory per worker: fill every bounded table and print bytes per entry and RSS.

Run from the repository root: `.venv/bin/python -m bench.memory [--sites 50] [--visitors 200000]`.

In one process, the way a worker fills them: `--sites` runtimes of `bench.decisions`' site (10
live experiences), each with its memo in the one process-wide `MemoTables`; `--visitors` returning
visitors spread over the sites (a first visit, then the return visit whose answer is
remembered); the resolver's L1 (one `_kx` per identified visitor, 70% of them, in 0-8 segments,
shared segment sets as the resolver interns them) and its `_kx` -> profile-id cache. For each
table it prints the entries it holds (never more than its bound) and the bytes per entry
(tracemalloc, the allocations the table's entries keep alive), then the RSS, and the worst case
per worker at the default bounds (docs/memory.md explains the model).
"""

from __future__ import annotations

import argparse
import gc
import random
import secrets
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from bench.decisions import SEGMENTS, site_documents
from edge.resolver.config import ResolverConfig
from edge.resolver.l1 import Interner, Kind, L1Cache
from edge.resolver.pids import ProfileIdCache
from edge.storefront.memo import MAX_ANSWERS, MemoTables, StorefrontMemo
from targeting import UNIDENTIFIED, Identity, compile_site, parse_experience

YEAR = 365 * 86_400


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measured(fill: Callable[[], int]) -> tuple[int, float]:
    """(entries, bytes per entry) of what `fill` adds and keeps."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    entries = fill()
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    return entries, grown / max(1, entries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sites", type=int, default=50)
    parser.add_argument("--visitors", type=int, default=200_000)
    args = parser.parse_args()
    rng = random.Random(7)
    docs = site_documents(random.Random(20240611))
    rss_start = rss_mb()
    tables = MemoTables()
    secret = secrets.token_bytes(32)
    holder: list[StorefrontMemo] = []

    def sites() -> int:
        for n in range(args.sites):
            compiled = compile_site(parse_experience(d) for d in docs)
            holder.append(StorefrontMemo(compiled, secret, f"site_{n}", tables))
        return len(holder)

    site_count, site_bytes = measured(sites)
    identities = [
        Identity.identified(frozenset(rng.sample(SEGMENTS, rng.randint(0, 8))))
        if rng.random() < 0.7
        else UNIDENTIFIED
        for _ in range(1000)
    ]
    now = int(time.time())

    def answers() -> int:
        for v in range(args.visitors):
            memo = holder[v % len(holder)]
            visitor, identity = f"{v:022d}", identities[v % len(identities)]
            first = memo.answer(visitor, identity, None, now, YEAR)[0]
            memo.answer(visitor, identity, first.sticky, now + 1, YEAR)
        return len(tables.answers)

    answer_count, answer_bytes = measured(answers)
    config = ResolverConfig()
    l1 = L1Cache(config.l1_max_entries, time.monotonic)
    pids = ProfileIdCache(config.profile_id_l1_max_entries, time.monotonic)
    interner = Interner()
    identified = int(args.visitors * 0.7)
    kxs: list[str] = []

    def l1_fill() -> int:  # the `_kx` strings are L1's keys: counted here, shared with the ids
        kxs.extend(f"{secrets.token_urlsafe(12)}==.{v:06d}" for v in range(identified))
        clock = time.monotonic()
        for kx, identity in zip(kxs, identities * (identified // len(identities) + 1), strict=False):
            value = interner.membership("ACCT", 1, Kind.FULL, identity.segments, None, clock + 86_400, clock)
            l1.put(kx, value)
        return len(l1)

    l1_count, l1_bytes = measured(l1_fill)

    def pid_fill() -> int:
        for n, kx in enumerate(kxs):
            pids.put("ACCT", 1, kx, f"01J{n:023d}", 30 * 86_400)
        return len(pids)

    pid_count, pid_bytes = measured(pid_fill)
    gc.collect()
    print(f"filled: {args.sites} sites, {args.visitors:,} returning visitors ({identified:,} identified)")
    print(f"{'table':<40} {'entries':>10} {'bound':>10} {'B/entry':>9}")
    rows = [
        ("site runtime (compiled site + memo)", site_count, None, site_bytes),
        ("storefront answers (all sites)", answer_count, tables.answers.max_entries, answer_bytes),
        ("resolver L1 (_kx -> membership)", l1_count, config.l1_max_entries, l1_bytes),
        ("resolver profile ids (_kx -> id)", pid_count, config.profile_id_l1_max_entries, pid_bytes),
    ]
    for name, count, bound, per in rows:
        print(f"{name:<40} {count:>10,} {bound if bound is not None else '-':>10} {per:>9,.0f}")
    print(f"encoded fragments {len(tables.fragments):,}, encoded lists {len(tables.lists):,}")
    print(f"RSS: {rss_start:.0f} MB at start, {rss_mb():.0f} MB filled")
    worst = (
        MAX_ANSWERS * answer_bytes
        + config.l1_max_entries * l1_bytes
        + config.profile_id_l1_max_entries * pid_bytes
    )
    print(
        f"worst case per worker at the default bounds, besides the sites: {worst / 2**20:,.0f} MB "
        f"(answers {MAX_ANSWERS:,} x {answer_bytes:.0f} B, L1 {config.l1_max_entries:,} x {l1_bytes:.0f} B, "
        f"profile ids {config.profile_id_l1_max_entries:,} x {pid_bytes:.0f} B); plus {site_bytes / 1024:.0f} KB per site"
    )
    print("(indicative on a shared machine; tracemalloc counts Python allocations, RSS adds the interpreter)")


if __name__ == "__main__":
    main()

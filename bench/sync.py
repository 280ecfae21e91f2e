"""Segment sync against per-visit resolution, side by side (issue 9's measurements).

    .venv/bin/python -m bench.sync [--visitors 1500] [--arrival-s 120] [--per-segment]

A fake Klaviyo (sandbox/, 80 ms of latency) enforcing the real rate limits, in real time
(nothing compressed); one account with 3 targeted segments holding 20,000 members in total; the
resolver and the sync on a shared Redis (the fleet's shape: fleet-wide budget, Redis index).
Then `--visitors` distinct identified visitors arrive evenly over `--arrival-s`; each asks as the
storefront snippet does (`resolve()` with the 250 ms deadline, again after `retry_after_ms`
clamped to 0.2-5 s while pending) until identified or 60 s after its first request.

Modes, one after the other, each on a fresh fake (fresh rate-limit windows) and Redis prefix:
- per-visit: no index; the fake refuses the per-segment `_kx` filter (docs/KLAVIYO.md: unverified), so
  visitors take the profile path: profile by `_kx` (75/s) + its segments (3/s, 60/min).
- per-visit, per-segment checks (`--per-segment`): the `_kx` filter allowed: 1 + 3 calls (75/s).
- sync: the index is built first (full sync of the 3 segments), then the visitors arrive; each
  costs one profile lookup.

Reports, per mode: the share identified within 1 s of their first request, those still pending
after 60 s, identified per minute, Klaviyo calls by endpoint, 429s; and index bytes per member,
in-process (the packed array) and in Redis (MEMORY USAGE). Only 127.0.0.1; the Redis keys use a
bench-only prefix and are deleted afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import httpx
import redis
import redis.asyncio as aioredis

from edge.resolver import Identified, Pending, Resolver, ResolverConfig
from edge.sync import SegmentSync, SyncConfig
from edge.sync.local_store import PackedMembers
from klaviyo import ConnectionRef
from sandbox import Profile, SandboxState, running_fake_klaviyo
from sandbox.sample_data import demo_kx, demo_profile_id

REDIS_URL = os.environ.get("KX_BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
ACCOUNT = "BenchAcct"
CLIENT_ID = "bench-sync"
SEGMENTS = {"BVip01": 10_000, "BLoyal": 6_000, "BWinbk": 4_000}  # 20,000 members in total
CONN = ConnectionRef("bench-site", ACCOUNT, 1)
TARGETED = frozenset(SEGMENTS)
LATENCY_S = 0.08
PENDING_LIMIT_S = 60.0


class Tokens:
    def __init__(self, token: str) -> None:
        self._token = token

    async def access_token(self, site_id: str) -> str:
        return self._token

    async def refresh_after_unauthorized(self, site_id: str, rejected: str) -> str:
        return self._token


def build_state() -> tuple[SandboxState, list[str], dict[str, list[str]]]:
    """The account: 20,000 profiles, each in one of the 3 segments; their `_kx`; members."""
    state = SandboxState()
    state.add_account("Bench Outfitters", account_id=ACCOUNT)
    state.add_client(CLIENT_ID, "secret", ["http://127.0.0.1/cb"], account_id=ACCOUNT)
    profiles, kxs, members = [], [], {}
    now = time.time()
    index = 0
    for segment_id, size in SEGMENTS.items():
        state.add_segment(ACCOUNT, segment_id, segment_id=segment_id)
        joined: dict[str, float] = {}
        for _ in range(size):
            email = f"bench-sync-{index}@example.com"
            pid = demo_profile_id(email)
            profiles.append(Profile(pid, ACCOUNT, email=email, kx=demo_kx(email), created=now, updated=now))
            kxs.append(demo_kx(email))
            joined[pid] = now - 86_400 + index
            index += 1
        members[segment_id] = list(joined)
        state.add_profiles(profiles[-size:])
        state.add_members(segment_id, joined)
    return state, kxs, members


@dataclass
class Outcome:
    mode: str
    identified_after_s: list[float] = field(default_factory=list)
    identified_at_s: list[float] = field(default_factory=list)  # since the first arrival
    pending: int = 0
    calls: Counter[str] = field(default_factory=Counter)
    throttled: int = 0
    sync_s: float | None = None
    sync_calls: int = 0
    notes: list[str] = field(default_factory=list)


async def visitor(resolver: Resolver, kx: str, start: float, out: Outcome) -> None:
    first = time.monotonic()
    while True:
        result = await resolver.resolve(CONN, kx, TARGETED)
        now = time.monotonic()
        if isinstance(result, Identified):
            out.identified_after_s.append(now - first)
            out.identified_at_s.append(now - start)
            return
        if now - first >= PENDING_LIMIT_S:
            out.pending += 1
            return
        retry_ms = result.retry_after_ms if isinstance(result, Pending) else None
        wait = min(5.0, max(0.2, (retry_ms or 800) / 1000))
        await asyncio.sleep(min(wait, max(0.0, first + PENDING_LIMIT_S - now) + 0.001))


async def run_mode(mode: str, visitors: int, arrival_s: float) -> Outcome:
    state, kxs, members = build_state()
    state.refuse_kx_member_filter = mode == "per-visit"
    token = state.issue_tokens(CLIENT_ID, ACCOUNT, ["profiles:read", "segments:read"]).access_token
    prefix = f"kxbench-sync:{uuid.uuid4().hex[:8]}:"
    out = Outcome(mode)
    redis_client = aioredis.Redis.from_url(REDIS_URL)
    with running_fake_klaviyo(state, latency_s=LATENCY_S) as url:
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=50)
        async with httpx.AsyncClient(limits=limits, timeout=5.0) as http:
            tokens = Tokens(token)
            config = ResolverConfig(api_base=url)
            resolver = Resolver(http, tokens, config=config, redis=redis_client, prefix=prefix)
            sync: SegmentSync | None = None
            if mode == "sync":
                sync = SegmentSync(
                    http, tokens, config=SyncConfig(), redis=redis_client, prefix=prefix, api_base=url
                )
                resolver.index = sync.index
                sync.share_budget(resolver.gate)
            await resolver.start()
            try:
                if sync is not None:
                    out.sync_s, out.sync_calls = await initial_sync(sync, state)
                    await index_sizes(sync, members, out)
                state.calls.reset()
                chosen = random.Random(9).sample(kxs, visitors)
                start = time.monotonic()
                tasks = []
                for i, kx in enumerate(chosen):
                    delay = start + i * arrival_s / visitors - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    tasks.append(asyncio.create_task(visitor(resolver, kx, start, out)))
                await asyncio.gather(*tasks)
                for (_, route), count in state.calls.counts().items():
                    out.calls[route] += count
                out.throttled = state.calls.count(status=429)
                if sync is not None:
                    out.notes.append(f"sync metrics: {sync_summary(sync.metrics.snapshot())}")
            finally:
                if sync is not None:
                    await sync.aclose()
                await resolver.aclose()
    await redis_client.aclose()
    cleanup(prefix)
    return out


async def initial_sync(sync: SegmentSync, state: SandboxState) -> tuple[float, int]:
    """Start the sync and wait (bounded) until every segment is fresh."""
    started = time.monotonic()
    await sync.start()
    sync.set_site_targets(CONN.site_id, CONN, TARGETED)
    while time.monotonic() - started < 300:
        statuses = await sync.status(ACCOUNT, TARGETED)
        if all(s["state"] == "fresh" for s in statuses):
            return time.monotonic() - started, state.calls.count("/api/segments/{id}/relationships/profiles")
        await asyncio.sleep(0.1)  # polling a status, bounded by the 300 s above
    raise RuntimeError("the initial sync did not finish within 300 s")


async def index_sizes(sync: SegmentSync, members: dict[str, list[str]], out: Outcome) -> None:
    redis_bytes = sum([await sync.index_bytes(ACCOUNT, s) or 0 for s in members])
    total = sum(len(m) for m in members.values())
    packed = sum(PackedMembers.build(m).nbytes for m in members.values())
    interned = sum(
        sys.getsizeof(s) + sum(sys.getsizeof(sys.intern(p)) for p in m)
        for m in members.values()
        for s in [set(m)]
    )
    out.notes.append(
        f"index bytes per member: in-process packed array {packed / total:.1f} B "
        f"(a set of interned id strings would be {interned / total:.0f} B); "
        f"Redis sets (MEMORY USAGE, {total} members) {redis_bytes / total:.1f} B"
    )


def sync_summary(metrics: dict[str, int]) -> str:
    keys = ("sync.full_ok", "sync.incremental_ok", "sync.pages", "sync.budget_wait", "sync.page_retry")
    return ", ".join(f"{k.removeprefix('sync.')}={metrics.get(k, 0)}" for k in keys)


def cleanup(prefix: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        doomed = list(client.scan_iter(match=prefix + "*", count=1000))
        if doomed:
            client.delete(*doomed)
    finally:
        client.close()


def per_minute(times: list[float], arrival_s: float) -> str:
    minutes = Counter(int(t // 60) for t in times)
    last = int((arrival_s + PENDING_LIMIT_S) // 60) + 1
    spans = [f"{m}-{m + 1} min: {minutes.get(m, 0)}" for m in range(last) if minutes.get(m, 0) or m < 3]
    ordered = sorted(times)
    peak = max((sum(1 for u in ordered[i:] if u < t + 60) for i, t in enumerate(ordered)), default=0)
    return f"{'; '.join(spans)}; peak in any 60 s: {peak}"


def report(outcomes: list[Outcome], visitors: int, arrival_s: float) -> None:
    print(
        f"\n{visitors} distinct identified visitors over {arrival_s:.0f} s, 3 targeted segments, 20,000 members,"
    )
    print(f"fake Klaviyo with {LATENCY_S * 1000:.0f} ms latency and the real rate limits, real time.\n")
    rows: list[tuple[str, list[str]]] = [
        ("identified within 1 s of first request", []),
        ("still pending 60 s after first request", []),
        ("identified per minute (by first-answer time)", []),
        ("median time to identified (s)", []),
        ("Klaviyo calls during the visits, by endpoint", []),
        ("429s received", []),
        ("initial full sync (s, calls)", []),
    ]
    for out in outcomes:
        within = sum(1 for s in out.identified_after_s if s <= 1.0)
        ordered = sorted(out.identified_after_s)
        median = ordered[len(ordered) // 2] if ordered else float("nan")
        calls = ", ".join(f"{route} {n}" for route, n in sorted(out.calls.items()))
        values = [
            f"{within / visitors:.1%} ({within})",
            str(out.pending),
            per_minute(out.identified_at_s, arrival_s),
            f"{median:.2f}",
            calls,
            str(out.throttled),
            "-" if out.sync_s is None else f"{out.sync_s:.1f} s, {out.sync_calls} calls",
        ]
        for (_, column), value in zip(rows, values, strict=True):
            column.append(value)
    for label, values in rows:
        print(label)
        for out, value in zip(outcomes, values, strict=True):
            print(f"  {out.mode:<22} {value}")
    for out in outcomes:
        for note in out.notes:
            print(f"{out.mode}: {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visitors", type=int, default=1500)
    parser.add_argument("--arrival-s", type=float, default=120.0)
    parser.add_argument("--per-segment", action="store_true", help="also run per-visit with the _kx filter")
    parser.add_argument("--only", choices=["per-visit", "sync"], help="run one mode")
    args = parser.parse_args()
    modes = ["per-visit", *(["per-visit/per-segment"] if args.per_segment else []), "sync"]
    if args.only:
        modes = [args.only]
    outcomes = []
    for mode in modes:
        print(f"running {mode} ...", flush=True)
        started = time.monotonic()
        outcomes.append(asyncio.run(run_mode(mode, args.visitors, args.arrival_s)))
        print(f"  {mode} took {time.monotonic() - started:.0f} s", flush=True)
    report(outcomes, args.visitors, args.arrival_s)


if __name__ == "__main__":
    main()

"""Segment resolution across a small fleet, against the fake Klaviyo (issue 5's measurements).

    .venv/bin/python -m bench.resolver

A fake Klaviyo (sandbox/) with 80 ms of latency that enforces the real rate limits; 2 uvicorn
worker processes (uvloop, httptools) sharing Redis, each running a tiny ASGI app around
`Resolver.resolve`; 500 concurrent first requests for one new `_kx`; then 10,000 requests over
1,000 distinct visitors with 64 in flight; then 5,000 requests for the visitors identified so far
(cache hits). Reports Klaviyo calls per distinct `_kx` by endpoint,
429s, resolver latency on hit and on miss (measured in the workers around `resolve()`),
end-to-end latency, and L1 bytes per cached visitor (tracemalloc, 100k synthetic visitors).
Only 127.0.0.1; the Redis keys use a bench-only prefix and are deleted afterwards.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, MutableMapping
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

import httpx
import redis
import redis.asyncio as aioredis
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from edge.resolver import Identified, Pending, Resolver, ResolverConfig, Source
from edge.resolver.l1 import Interner, Kind, L1Cache
from klaviyo import ConnectionRef

ROOT = Path(__file__).resolve().parents[1]
REDIS_URL = os.environ.get("KX_BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
LATENCY_S = 0.08
HOT_REQUESTS = 500
VISITORS = 1_000
REQUESTS = 10_000
IN_FLIGHT = 64
HIT_REQUESTS = 5_000
CLIENT_ID, CLIENT_SECRET, REDIRECT = "bench-client", "bench-secret", "http://127.0.0.1/callback"
SCOPES = ("accounts:read", "profiles:read", "segments:read")
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


# --- the worker: runs in each uvicorn worker process -----------------------------------------


class _StaticTokens:
    def __init__(self, token: str) -> None:
        self._token = token

    async def access_token(self, site_id: str) -> str:
        return self._token

    async def refresh_after_unauthorized(self, site_id: str, rejected: str) -> str:
        return self._token


def create_worker_app() -> Starlette:
    """The ASGI app of one worker (`uvicorn --factory`), configured by KXB_* variables."""
    env = os.environ
    conn = ConnectionRef("bench-site", env["KXB_ACCOUNT"], 1)
    targeted = frozenset(env["KXB_TARGETED"].split(","))
    samples: dict[str, list[float]] = {"hit": [], "resolved": [], "pending": []}
    outcomes: Counter[str] = Counter()
    state: dict[str, Resolver] = {}

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=50)
        async with httpx.AsyncClient(limits=limits, timeout=5.0) as http:
            # A blocking pool: a burst waits for a connection instead of failing at once.
            pool = aioredis.BlockingConnectionPool.from_url(
                env["KXB_REDIS_URL"], max_connections=128, socket_timeout=1.0
            )
            client = aioredis.Redis(connection_pool=pool)
            config = ResolverConfig(api_base=env["KXB_API_BASE"])
            resolver = Resolver(
                http, _StaticTokens(env["KXB_TOKEN"]), config=config, redis=client, prefix=env["KXB_PREFIX"]
            )
            await resolver.start()
            state["resolver"] = resolver
            try:
                yield
            finally:
                await resolver.aclose()
                await client.aclose()

    async def resolve(request: Request) -> JSONResponse:
        resolver = state["resolver"]
        started = time.perf_counter()
        result = await resolver.resolve(conn, request.query_params.get("kx"), targeted)
        elapsed_us = (time.perf_counter() - started) * 1e6
        info = result.info
        if isinstance(result, Pending):
            category = "pending"
        elif info.source in (Source.L1, Source.L2) and info.waited_for is None:
            category = "hit"
        else:
            category = "resolved"  # from Klaviyo, or waited for another request's resolution
        samples[category].append(elapsed_us)
        kind = type(result).__name__.lower()
        outcomes[f"{kind}:{result.reason if isinstance(result, Pending) else info.source}"] += 1
        segments = sorted(result.segment_ids) if isinstance(result, Identified) else None
        return JSONResponse({"identity": kind, "source": result.info.source, "segments": segments})

    async def stats(request: Request) -> JSONResponse:
        resolver = state["resolver"]
        return JSONResponse(
            {
                "pid": os.getpid(),
                "samples": samples,
                "outcomes": outcomes,
                "metrics": resolver.metrics.snapshot(),
                "klaviyo_requests": dict(resolver.klaviyo.stats.requests),
                "klaviyo_outcomes": dict(resolver.klaviyo.stats.outcomes),
                "queued": resolver.queued,
            },
            headers={"Connection": "close"},
        )

    return Starlette(routes=[Route("/resolve", resolve), Route("/stats", stats)], lifespan=lifespan)


# --- the fake Klaviyo, counting calls per `_kx` and per profile ------------------------------

_KX_FILTER = re.compile(r'equals\(_kx,"(.*)"\)')
_SEGMENTS_PATH = re.compile(r"/api/profiles/([^/]+)/relationships/segments")


def counting(app: ASGIApp, per_kx: Counter[str], per_profile: Counter[str]) -> ASGIApp:
    async def counted(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            if path == "/api/profiles":
                query = parse_qs(scope["query_string"].decode())
                found = _KX_FILTER.fullmatch(query.get("filter", [""])[0])
                if found:
                    per_kx[found.group(1)] += 1
            elif match := _SEGMENTS_PATH.fullmatch(path):
                per_profile[match.group(1)] += 1
        await app(scope, receive, send)

    return counted


@contextmanager
def fake_klaviyo(app: ASGIApp) -> Iterator[str]:
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", access_log=False, lifespan="off", ws="none"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="fake-klaviyo", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)  # bounded wait for the server's started flag
    if not server.started:
        raise RuntimeError("the fake Klaviyo did not start")
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def workers(env: dict[str, str]) -> Iterator[str]:
    with socket_port() as port:
        command = [
            sys.executable, "-m", "uvicorn", "bench.resolver:create_worker_app", "--factory",
            "--host", "127.0.0.1", "--port", str(port), "--workers", "2",
            "--loop", "uvloop", "--http", "httptools", "--log-level", "warning", "--no-access-log",
        ]  # fmt: skip
        process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env})
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/stats", timeout=1).status_code == 200:
                    break
            time.sleep(0.05)  # bounded wait for the workers to listen
        else:
            raise RuntimeError("the workers did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def socket_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    yield port


# --- the load --------------------------------------------------------------------------------


class Connection:
    """A minimal keep-alive HTTP/1.1 client for GETs: a load generator must cost less than the
    server it measures (one httpx pool shared by 64+ requests spends milliseconds per request
    choosing connections, which measured the client instead of the resolver)."""

    def __init__(self, base: str) -> None:
        url = httpx.URL(base)
        self._host, self._port = url.host, url.port or 80
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def get(self, target: str) -> tuple[int, bytes]:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
            self._writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        assert self._reader is not None
        self._writer.write(f"GET {target} HTTP/1.1\r\nHost: {self._host}\r\n\r\n".encode())
        status = int((await self._reader.readline()).split()[1])
        length, close = 0, False
        while (line := await self._reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "connection" and value.strip().lower() == "close":
                close = True
        body = await self._reader.readexactly(length)
        if close:
            await self.aclose()
        return status, body

    async def aclose(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
            self._reader = self._writer = None


async def hit(conn: Connection, kx: str) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    status, body = await conn.get(f"/resolve?kx={quote(kx, safe='')}")
    elapsed_ms = (time.perf_counter() - started) * 1000
    if status != 200:
        raise RuntimeError(f"worker answered {status}: {body[:200]!r}")
    answer: dict[str, Any] = json.loads(body)
    return elapsed_ms, answer


async def hot_phase(base: str, kx: str) -> tuple[list[float], Counter[str]]:
    conns = [Connection(base) for _ in range(HOT_REQUESTS)]
    barrier = asyncio.Barrier(HOT_REQUESTS)

    async def first_request(conn: Connection) -> tuple[float, dict[str, Any]]:
        await conn.get("/stats")  # connect and warm up first, then all ask at once
        await barrier.wait()
        return await hit(conn, kx)

    results = await asyncio.gather(*(first_request(c) for c in conns))
    await asyncio.gather(*(c.aclose() for c in conns))
    return [ms for ms, _ in results], Counter(body["identity"] for _, body in results)


async def visitors_phase(base: str, kxs: list[str]) -> dict[str, Any]:
    rng = random.Random(5)
    order = [kxs[i % len(kxs)] for i in range(REQUESTS)]
    rng.shuffle(order)
    first: dict[str, str] = {}
    identities: Counter[str] = Counter()
    latencies: list[float] = []
    pending = iter(order)

    async def one_client() -> None:
        conn = Connection(base)
        for kx in pending:  # 64 of these share one iterator: each request is taken once
            is_first = kx not in first
            if is_first:
                first[kx] = "?"
            ms, body = await hit(conn, kx)
            latencies.append(ms)
            identities[body["identity"]] += 1
            if is_first:
                first[kx] = body["identity"]
        await conn.aclose()

    started = time.perf_counter()
    await asyncio.gather(*(one_client() for _ in range(IN_FLIGHT)))
    seconds = time.perf_counter() - started
    last: Counter[str] = Counter()
    conn = Connection(base)
    identified_at_end: set[str] = set()
    for kx in kxs:  # where every visitor stands at the end (from cache, or still pending)
        _, body = await hit(conn, kx)
        last[body["identity"]] += 1
        if body["identity"] == "identified":
            identified_at_end.add(kx)
    await conn.aclose()
    return {
        "latencies": latencies,
        "identities": identities,
        "first": Counter(first.values()),
        "seconds": seconds,
        "last": last,
        "known": [kx for kx in kxs if first.get(kx) == "identified" or kx in identified_at_end],
    }


async def hits_phase(base: str, kxs: list[str]) -> list[float]:
    """Requests for visitors already identified: what a returning visitor costs."""
    order = [kxs[i % len(kxs)] for i in range(HIT_REQUESTS)]
    random.Random(9).shuffle(order)
    latencies: list[float] = []
    pending = iter(order)

    async def one_client() -> None:
        conn = Connection(base)
        for kx in pending:
            ms, _ = await hit(conn, kx)
            latencies.append(ms)
        await conn.aclose()

    await asyncio.gather(*(one_client() for _ in range(IN_FLIGHT)))
    return latencies


async def worker_stats(base: str) -> list[dict[str, Any]]:
    seen: dict[int, dict[str, Any]] = {}
    for _ in range(200):  # a new connection lands on either worker: bounded retries
        _, raw = await Connection(base).get("/stats")  # the worker closes it
        body = json.loads(raw)
        seen[body["pid"]] = body
        if len(seen) == 2:
            break
    return list(seen.values())


# --- L1 memory -------------------------------------------------------------------------------


def l1_bytes_per_visitor(count: int = 100_000, segments: int = 20) -> tuple[float, float]:
    """Traced bytes per cached visitor, `_kx` strings included: (this L1, cachetools.TTLCache)."""
    import cachetools

    rng = random.Random(7)
    ids = [base64.b32encode(rng.randbytes(4)).decode().rstrip("=") for _ in range(segments)]
    sets = [rng.sample(ids, rng.randint(0, 4)) for _ in range(count)]

    def kx(n: int) -> str:
        return base64.b64encode(rng.randbytes(16)).decode() + "." + f"{n:06x}"

    now = 1_000.0
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        cache = L1Cache(count * 2, lambda: now)
        interner = Interner()
        for n, members in enumerate(sets):
            value = interner.membership("ACCT", 1, Kind.FULL, members, None, now + 86_400, now)
            cache.put(kx(n), value)
        ours = (tracemalloc.get_traced_memory()[0] - before) / count
        del cache, interner
        before = tracemalloc.get_traced_memory()[0]
        ttl: cachetools.TTLCache[tuple[str, int, str], frozenset[str]] = cachetools.TTLCache(
            count * 2, 86_400
        )
        shared: dict[frozenset[str], frozenset[str]] = {}
        for n, members in enumerate(sets):
            fs = frozenset(members)
            ttl[("ACCT", 1, kx(n))] = shared.setdefault(fs, fs)
        theirs = (tracemalloc.get_traced_memory()[0] - before) / count
    finally:
        tracemalloc.stop()
    return ours, theirs


# --- the run ---------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def spread(values: list[float], unit: str) -> str:
    return f"p50 {percentile(values, 0.5):8.2f} {unit}   p99 {percentile(values, 0.99):8.2f} {unit}   (n={len(values)})"


def main() -> None:
    from sandbox import DEMO_ACCOUNT_ID, DEMO_SEGMENTS, bulk_state, demo_kx, demo_segment_id
    from sandbox.sample_data import demo_profile_id

    started = time.monotonic()
    state = bulk_state(CLIENT_ID, CLIENT_SECRET, REDIRECT, members=VISITORS + 1)
    token = state.issue_tokens(CLIENT_ID, DEMO_ACCOUNT_ID, SCOPES).access_token
    emails = [f"bench-{i}@example.com" for i in range(VISITORS + 1)]
    kx_of = {email: demo_kx(email) for email in emails}
    kx_of_profile = {demo_profile_id(email): kx_of[email] for email in emails}
    hot_kx, visitor_kxs = kx_of[emails[0]], [kx_of[e] for e in emails[1:]]
    prefix = f"kxbench:{uuid.uuid4().hex[:8]}:"
    per_kx: Counter[str] = Counter()
    per_profile: Counter[str] = Counter()
    from sandbox import create_fake_klaviyo

    app = counting(
        create_fake_klaviyo(state, latency_s=LATENCY_S, enforce_rate_limits=True), per_kx, per_profile
    )
    try:
        with fake_klaviyo(app) as api_base:
            env = {
                "KXB_API_BASE": api_base,
                "KXB_TOKEN": token,
                "KXB_REDIS_URL": REDIS_URL,
                "KXB_PREFIX": prefix,
                "KXB_ACCOUNT": DEMO_ACCOUNT_ID,
                "KXB_TARGETED": ",".join(demo_segment_id(name) for name in DEMO_SEGMENTS),
            }
            with workers(env) as base:
                hot_ms, hot_identities = asyncio.run(hot_phase(base, hot_kx))
                hot_calls = (
                    per_kx[hot_kx],
                    sum(n for p, n in per_profile.items() if kx_of_profile.get(p) == hot_kx),
                )
                phase = asyncio.run(visitors_phase(base, visitor_kxs))
                phase["hits"] = asyncio.run(hits_phase(base, [hot_kx, *phase["known"]]))
                stats = asyncio.run(worker_stats(base))
            calls_429 = state.calls.count(status=429)
            calls_by_route = state.calls.counts()
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
    ours, ttlcache = l1_bytes_per_visitor()
    report(
        hot_ms, hot_identities, hot_calls, phase, stats, per_kx, per_profile, kx_of_profile,
        set(visitor_kxs) | {hot_kx}, calls_429, calls_by_route, ours, ttlcache, time.monotonic() - started,
    )  # fmt: skip


def report(
    hot_ms: list[float],
    hot_identities: Counter[str],
    hot_calls: tuple[int, int],
    phase: dict[str, Any],
    stats: list[dict[str, Any]],
    per_kx: Counter[str],
    per_profile: Counter[str],
    kx_of_profile: dict[str, str],
    requested: set[str],
    calls_429: int,
    calls_by_route: Counter[tuple[str, str]],
    ours: float,
    ttlcache: float,
    seconds: float,
) -> None:
    segments_per_kx: Counter[str] = Counter()
    for profile, n in per_profile.items():
        segments_per_kx[kx_of_profile.get(profile, profile)] += n

    def worker_ms(category: str) -> list[float]:
        return [v / 1000 for s in stats for v in s["samples"][category]]

    outcomes: Counter[str] = Counter()
    metrics: Counter[str] = Counter()
    client_outcomes: Counter[str] = Counter()
    for s in stats:
        outcomes.update(s["outcomes"])
        metrics.update(s["metrics"])
        client_outcomes.update(s["klaviyo_outcomes"])
    lines = [
        f"kx-edge resolver bench: 2 uvicorn workers (uvloop) + Redis, fake Klaviyo {LATENCY_S * 1000:.0f} ms "
        f"with real rate limits; {seconds:.0f} s in all",
        "",
        f"Phase 1: {HOT_REQUESTS} concurrent first requests for one new _kx",
        f"  answers: {dict(hot_identities)}",
        f"  Klaviyo calls for it: profile lookup {hot_calls[0]}, profile-segments {hot_calls[1]}",
        f"  end-to-end: {spread(hot_ms, 'ms')}",
        "",
        f"Phase 2: {REQUESTS:,} requests over {VISITORS:,} visitors, {IN_FLIGHT} in flight, {phase['seconds']:.1f} s",
        f"  first request of each visitor: {dict(phase['first'])}",
        f"  all answers: {dict(phase['identities'])}",
        f"  each visitor once more at the end: {dict(phase['last'])}",
        f"  end-to-end: {spread(phase['latencies'], 'ms')}",
        "",
        f"Phase 3: {HIT_REQUESTS:,} requests for the {len(phase['known']) + 1} visitors identified so far "
        f"(returning visitors), {IN_FLIGHT} in flight",
        f"  end-to-end: {spread(phase['hits'], 'ms')}",
        "",
        f"Klaviyo calls per distinct _kx ({len(requested)} requested):",
        f"  profile lookup   : total {sum(per_kx.values())}, _kx looked up {len(per_kx)}, "
        f"max per _kx {max(per_kx.values(), default=0)}",
        f"  profile-segments : total {sum(segments_per_kx.values())}, _kx resolved {len(segments_per_kx)}, "
        f"max per _kx {max(segments_per_kx.values(), default=0)}",
        f"  by route: { {f'{m} {r}': n for (m, r), n in sorted(calls_by_route.items())} }",
        f"  429s received: {calls_429} (workers saw {client_outcomes.get('429', 0)})",
        "",
        "Resolver latency inside the workers, around resolve():",
        f"  hit (L1/L2, no wait)      : {spread(worker_ms('hit'), 'ms')}",
        f"  miss, resolved (Klaviyo or waited on another request's resolution): "
        f"{spread(worker_ms('resolved'), 'ms')}",
        f"  miss, answered pending    : {spread(worker_ms('pending'), 'ms')}",
        f"  answers (identified by source, pending by reason): {dict(sorted(outcomes.items()))}",
        f"  resolver counters: { {k: metrics[k] for k in sorted(metrics)} }",
        f"  still queued at the end: {sum(s['queued'] for s in stats)}",
        "",
        f"L1 bytes per cached visitor (tracemalloc, 100k visitors over 20 segments, _kx included): "
        f"{ours:.0f} B  (cachetools.TTLCache with shared sets: {ttlcache:.0f} B)",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()

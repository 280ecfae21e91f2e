"""Assignment throughput with event triggers off and with two triggers on (issue 8's measurement).

Run from the repository root: `.venv/bin/python -m bench.assign_triggers [--duration 10]
[--rounds 1] [--identified 40] [--first-visitors 30000]`. Needs what `bench.assign` needs (wrk).

The scenario is `bench.assign`'s (its site of 10 live experiences, its visitors, the fake Klaviyo
on a real socket with real tokens, the cache warmed through `/v1/assign`, wrk with the same
options against one uvicorn worker with uvloop and httptools), served three ways, one at a time:

- `no events`: kx-edge as `create_app` builds it without the events component;
- `triggers off`: the component wired as app.py will wire it (observer, flusher, sender,
  routes), every trigger off: the observer's one set lookup per request;
- `2 triggers on`: entered_test and saw_personalization on, the connection granted events:write.

Two workloads per server: `return visits` (bench.assign's bodies, each with the sticky token of
the previous answer: tests are not entered again and each visitor's personalization is sent
once a day, so the steady state is planning and deduplicating every visit), and `first visits`
(every request a new visitor id without a token, 70% with a known `_kx`: every request enters
tests and sees personalizations, so events are enqueued, written and sent to the fake Klaviyo
all through the run: the worst case). Then, in this process, the observer's cost per call and
the flusher's per visit, without HTTP.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import sqlite3
import statistics
import string
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from starlette.applications import Starlette

from bench.assign import (
    ACCOUNT_ID,
    CLIENT_ID,
    CLIENT_SECRET,
    ORIGIN,
    ROOT,
    SCOPES,
    RunResult,
    Visitor,
    free_port,
    make_visitors,
    measure,
    sandbox,
    seed,
    served,
    warm_cache,
    wrk_script,
)
from bench.decisions import site_documents
from bench.servers import assign_app
from edge.app import create_app
from edge.connect.link import CALLBACK_PATH
from edge.events import EventsConfig, events_of, replace_events
from edge.events.component import sql_outbox
from edge.events.observer import EventsObserver, Flusher
from edge.events.switches import SwitchBook
from edge.events.triggers import Trigger
from edge.services import Services
from edge.settings import load_settings
from edge.settings.local_secrets import ensure_local_secrets
from edge.sites.keys import new_site
from edge.sites.runtime import SiteRuntime
from edge.store import SqlSiteStore
from edge.store.connections import SqlConnectionStore
from edge.store.sqlite_db import SqliteDatabase
from edge.store.switches import SqlSwitchStore
from edge.storefront.identity import VisitorIdentity
from edge.storefront.memo import MemoTables, StorefrontMemo
from oauth.connection import Connection, ConnectionStatus
from oauth.crypto import TokenCipher
from sandbox import running_fake_klaviyo
from targeting import UNIDENTIFIED, Identity, compile_site, decide, parse_experience

SERVERS = (("no events", "none"), ("triggers off", "off"), ("2 triggers on", "on"))
TWO_TRIGGERS = {Trigger.ENTERED_TEST: True, Trigger.SAW_PERSONALIZATION: True}
_VID = string.ascii_letters + string.digits + "-_"
FLUSH_BATCH = 70  # visits per flush at ~3,500 requests/s and the default 20 ms flush interval


# --- the server (uvicorn imports this in its own process) -----------------------------------------


def triggers_app() -> Starlette:
    """kx-edge from the environment; `KX_BENCH_EVENTS=none` leaves the events component out."""
    if os.environ.get("KX_BENCH_EVENTS", "none") == "none":
        return assign_app()
    config = os.environ.get("KX_EDGE_CONFIG")
    settings = ensure_local_secrets(
        load_settings(config_path=Path(config) if config else None).settings
    ).settings

    async def wire(svc: Services) -> None:  # what app.py's lifespan does, unless it does already
        events = events_of(svc) or await replace_events(svc, EventsConfig())
        await events.start()
        try:
            await asyncio.Event().wait()
        finally:  # the lifespan cancels on_ready first at shutdown
            await events.aclose()

    return create_app(settings, on_ready=wire)


# --- the scenario ---------------------------------------------------------------------------------


def first_visit_bodies(rng: random.Random, visitors: Sequence[Visitor], count: int) -> list[str]:
    """New visitor ids, no sticky token; the known `_kx`s of bench.assign's identified visitors."""
    known = [v.kx for v in visitors if v.kx]
    bodies = []
    for _ in range(count):
        payload = {"visitor_id": "".join(rng.choices(_VID, k=22))}
        if rng.random() < 0.7:
            payload["kx"] = rng.choice(known)
        payload["url"] = ORIGIN + "/products/trail-jacket"
        bodies.append(json.dumps(payload, separators=(",", ":")))
    return bodies


async def grant_events_and_switch(database: Path, site_id: str | None, on: bool) -> str:
    """Give the connection events:write; switch the two triggers; returns the site id."""
    db = SqliteDatabase(database)
    await db.migrate()
    try:
        if site_id is None:
            site_id = (await SqlSiteStore(db).list_sites())[0].id
            connections = SqlConnectionStore(db)
            conn = await connections.get(site_id)
            assert conn is not None
            await connections.update(replace(conn, scopes=(*SCOPES, "events:write")))
        await SwitchBook(SqlSwitchStore(db)).put(site_id, {t: on for t in TWO_TRIGGERS})
        return site_id
    finally:
        await db.close()


def discard_backlog(database: Path) -> int:
    """Events the last server left unsent: forgotten, so the next server measures only itself."""
    with sqlite3.connect(database) as conn:
        left = int(conn.execute("SELECT count(*) FROM event_outbox WHERE state = 'pending'").fetchone()[0])
        conn.execute("DELETE FROM event_outbox")
        conn.execute("DELETE FROM event_pending")
    return left


def outcomes(database: Path) -> dict[str, int]:
    with sqlite3.connect(database) as conn:
        counts = {
            row[0]: int(row[1]) for row in conn.execute("SELECT outcome, SUM(n) FROM event_counts GROUP BY 1")
        }
        counts["pending now"] = int(
            conn.execute("SELECT coalesce(sum(n), 0) FROM event_pending").fetchone()[0]
        )
    return counts


# --- in process: the observer and the flusher without HTTP -------------------------------------------


async def in_process(
    docs: Sequence[dict[str, Any]], visitors: Sequence[Visitor], tmp: Path
) -> dict[str, float]:
    db = SqliteDatabase(tmp / "in-process.sqlite3")
    await db.migrate()
    record = new_site("Bench shop", (ORIGIN,), TokenCipher(secrets.token_urlsafe(32)), 0).record
    await SqlSiteStore(db).create_site(record)
    experiences = {d["id"]: parse_experience(d) for d in docs}
    connection = Connection(
        site_id=record.id,
        status=ConnectionStatus.ACTIVE,
        account_id=ACCOUNT_ID,
        scopes=(*SCOPES, "events:write"),
    )
    compiled = compile_site(experiences.values())
    runtime = SiteRuntime(
        site=record, compiled=compiled, experiences=experiences, secret=b"", origins=frozenset({ORIGIN}),
        connection=connection, memo=StorefrontMemo(compiled, b"", record.id, MemoTables()),
    )  # fmt: skip
    switches = SwitchBook(SqlSwitchStore(db))
    outbox = sql_outbox(db)
    observer = EventsObserver(switches, buffer_max=10**7, flush_at=10**7)
    flusher = Flusher(observer, switches, outbox)
    rng = random.Random(3)
    calls = []
    for _ in range(20_000):
        v = rng.choice(visitors)
        vid = "".join(rng.choices(_VID, k=22))
        identity = Identity.identified(v.segments) if v.kx else UNIDENTIFIED
        calls.append(
            (vid, VisitorIdentity(identity, v.kx), decide(runtime.compiled, vid, identity, {}), v.url)
        )
    results: dict[str, float] = {}

    def observe_all() -> float:
        started = time.perf_counter()
        for vid, who, decision, url in calls:
            observer.observed(runtime, vid, who, decision, url)
        return (time.perf_counter() - started) / len(calls) * 1e6

    results["observed() per call, every trigger off"] = min(observe_all() for _ in range(5))
    await switches.put(record.id, TWO_TRIGGERS)
    best = float("inf")
    for _ in range(5):
        observer.buffer.clear()
        best = min(best, observe_all())
    results["observed() per call, 2 triggers on"] = best
    observer.buffer.clear()

    async def flush_in_batches() -> tuple[float, int]:
        """CPU seconds of this process (event loop and outbox thread) per visit, flushing
        `FLUSH_BATCH` visits at a time as the flusher does under load; events enqueued."""
        enqueued = 0
        started = time.process_time()
        for i in range(0, len(calls), FLUSH_BATCH):
            for vid, who, decision, url in calls[i : i + FLUSH_BATCH]:
                observer.observed(runtime, vid, who, decision, url)
            enqueued += (await flusher.flush()).enqueued
        return (time.process_time() - started) / len(calls) * 1e6, enqueued

    cpu, enqueued = await flush_in_batches()  # first visits: plan, payloads, SQLite writes
    results[f"flush CPU per first visit, batches of {FLUSH_BATCH} (incl. SQLite thread)"] = cpu
    results["events enqueued per first visit"] = enqueued / len(calls)
    cpu, _ = await flush_in_batches()  # the same visits again: deduplicated in memory
    results[f"flush CPU per repeated visit, batches of {FLUSH_BATCH}"] = cpu
    await outbox.aclose()
    await db.close()
    return results


# --- the run ----------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--identified", type=int, default=40)
    parser.add_argument(
        "--first-visitors", type=int, default=30_000, help="distinct bodies of the first-visit workload"
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="each server measured this many times, taking turns"
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    docs = site_documents(random.Random(20240611))
    visitors = make_visitors(random.Random(7), args.identified, round(args.identified * 3 / 7))
    first_bodies = first_visit_bodies(random.Random(11), visitors, args.first_visitors)
    runs: dict[tuple[str, str], list[RunResult]] = {}
    with tempfile.TemporaryDirectory(prefix="kx-bench-triggers-") as tmp_name:
        tmp = Path(tmp_name)
        port = free_port()
        public_url = f"http://127.0.0.1:{port}"
        state = sandbox(visitors, public_url + CALLBACK_PATH)
        tokens = state.issue_tokens(CLIENT_ID, ACCOUNT_ID, (*SCOPES, "events:write"))
        secret_key = secrets.token_urlsafe(32)
        database = tmp / "kx-edge.sqlite3"
        public_key = asyncio.run(seed(database, secret_key, docs, tokens))
        site_id = asyncio.run(grant_events_and_switch(database, None, False))
        target = f"/v1/assign?site={public_key}"
        log = tmp / "servers.log"
        first_script = tmp / "first.lua"
        first_script.write_text(wrk_script(target, first_bodies))
        return_script = tmp / "return.lua"
        events_sent: dict[str, int] = {}
        with running_fake_klaviyo(state) as fake:
            env = {k: v for k, v in os.environ.items() if not k.startswith(("KX_EDGE_", "KLAVIYO_"))}
            env.update(
                KX_EDGE_CONFIG=str(ROOT / "wrangler-like-config" / "kx-edge.toml"),
                KX_EDGE_DATA_DIR=str(tmp / "var"), KX_EDGE_DATABASE=str(database), KX_EDGE_PUBLIC_URL=public_url,
                KX_EDGE_ACCESS_LOG="false", KX_EDGE_LOG_LEVEL="warning", KX_EDGE_SECRET_KEY=secret_key,
                KX_EDGE_OPERATOR_TOKEN=secrets.token_urlsafe(24), KLAVIYO_CLIENT_ID=CLIENT_ID,
                KLAVIYO_CLIENT_SECRET=CLIENT_SECRET, KX_EDGE_KLAVIYO_API_BASE=fake,
                KX_EDGE_KLAVIYO_AUTHORIZE_URL=fake + "/oauth/authorize",
                KX_EDGE_KLAVIYO_TOKEN_URL=fake + "/oauth/token", KX_EDGE_KLAVIYO_REVOKE_URL=fake + "/oauth/revoke",
            )  # fmt: skip
            anonymous_body = next(v for v in visitors if not v.kx).body()
            left_unsent = 0
            for _ in range(args.rounds):
                for name, mode in SERVERS:
                    left_unsent += discard_backlog(database)
                    asyncio.run(grant_events_and_switch(database, site_id, mode == "on"))
                    state.limiter.reset()  # each server warms its own cache through Klaviyo
                    print(f"... {name}: warming the cache", file=sys.stderr, flush=True)
                    with served("bench.assign_triggers:triggers_app", {**env, "KX_BENCH_EVENTS": mode}, port,
                                log, (target, anonymous_body)) as pid:  # fmt: skip
                        try:
                            answers, _ = asyncio.run(warm_cache(public_url, target, visitors, timeout_s=120))
                        except Exception:
                            print(log.read_text()[-4000:], file=sys.stderr)
                            raise
                        bodies = [v.body(answers[v.visitor_id]["sticky"]) for v in visitors]
                        return_script.write_text(wrk_script(target, bodies))
                        for workload, script in (
                            ("return visits", return_script),
                            ("first visits", first_script),
                        ):
                            before = len(state.events())
                            result = measure(name, pid, public_url, script, args)
                            runs.setdefault((workload, name), []).append(result)
                            events_sent[f"{workload}, {name}"] = len(state.events()) - before
            in_proc = asyncio.run(in_process(docs, visitors, tmp))
            totals = outcomes(database)
            totals["left unsent when a server stopped (discarded)"] = left_unsent + discard_backlog(database)
            report(args, runs, events_sent, totals, in_proc, time.monotonic() - started)


def report(
    args: argparse.Namespace,
    runs: dict[tuple[str, str], list[RunResult]],
    events_sent: dict[str, int],
    outbox: dict[str, int],
    in_proc: dict[str, float],
    seconds: float,
) -> None:
    print(
        f"POST /v1/assign with event triggers (bench.assign's scenario): uvicorn, 1 worker, uvloop + httptools; "
        f"wrk -t{args.threads} -c{args.connections}, {args.warmup} s warm-up + {args.duration} s, "
        f"{args.rounds} round(s), servers taking turns; {os.cpu_count()} CPUs, load at end {os.getloadavg()[0]:.2f}"
    )
    print()
    print(
        f"{'workload':<14} {'server':<14} {'req/s':>8} {'p50':>8} {'p99':>8} {'µs CPU/req':>10} {'invalid':>7}"
    )
    for (workload, name), results in runs.items():
        rate = statistics.median(r.rate for r in results)
        cpu = statistics.median(r.cpu_us_per_request for r in results)
        p50 = statistics.median(r.p50_ms for r in results)
        p99 = statistics.median(r.p99_ms for r in results)
        bad = sum(1 for r in results if not r.valid)
        print(f"{workload:<14} {name:<14} {rate:>8,.0f} {p50:>5.2f} ms {p99:>5.2f} ms {cpu:>10.1f} {bad:>7}")
    print()
    for workload in ("return visits", "first visits"):
        off, on = runs[(workload, "triggers off")], runs[(workload, "2 triggers on")]
        ratio = statistics.median(r.rate for r in on) / statistics.median(r.rate for r in off)
        cpu = statistics.median(r.cpu_us_per_request for r in on) / statistics.median(
            r.cpu_us_per_request for r in off
        )
        verdict = "within 10%" if ratio >= 0.9 else "NOT within 10%"
        print(
            f"{workload}: 2 triggers on / off: throughput {ratio:.3f} ({verdict}), CPU per request {cpu:.3f}"
        )
    print(f"events received by the fake Klaviyo during each run: {events_sent}")
    print(f"event outcomes in the outbox's counters over the whole bench: {outbox}")
    print()
    print("in process, no HTTP (20,000 visitors of the same site):")
    for label, value in in_proc.items():
        print(f"  {label:<62} {value:8.2f}{'' if label.startswith('events') else ' µs'}")
    print(f"({seconds:.0f} s)")


if __name__ == "__main__":
    main()

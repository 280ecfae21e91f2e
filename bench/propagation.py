"""How fast a configuration change made on one node of a fleet reaches another node's storefront.

Run from the repository root: `.venv/bin/python -m bench.propagation [--changes 50] [--no-push]
[--timeout 10] [--spacing 0.5] [--seed 1] [--redis redis://127.0.0.1:6379/11]
[--postgres postgresql://postgres@127.0.0.1:5432/postgres]`.

Two `kx-edge serve` processes (one worker each, data directories of their own, access log off)
share a PostgreSQL database made for the run (dropped after) and a Redis key prefix of the run
(its keys deleted after). A site is created through node A's operator API with one live test,
`hero`. Then `--changes` times: a random pause of 0 to `--spacing` s (so the changes do not fall
in step with the version check's timer), a change on the writing node (in turn: pause `hero`,
start it, PUT it with `traffic_percent` 0, PUT it back to 100; each changes what the storefront
answers the bench's visitor, a shopper's user agent), and the other node's
`POST /v1/assign?site=<public key>` asked in a tight loop (one keep-alive connection, no sleep)
until its answer differs from the one before the change, bounded by `--timeout`; that answer must
be the writer's own after the change. The lag is from the writer's 2xx answer to that first
changed answer of the reader. Every other change goes the other way (B writes, A reads).

The first phase runs with the push on (LISTEN/NOTIFY, `config_push=true`, the default); with
`--no-push`, a second phase runs on a new pair of nodes with `config_push=false` and the default
version check every 0.5 s (the safety net). Printed per phase: the machine's load, N, p50, p90,
p99 and max of the observed lag in ms, changes that timed out, and each node's own
`kx_edge_config_propagation_seconds` histogram (count, sum, mean) from its `/metrics`, the lag the
nodes report themselves (pushed changes only: the version check does not measure it).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import redis
from prometheus_client.parser import text_string_to_metric_families

VISITOR = {"visitor_id": "bench-propagation-visitor"}
# A shopper's browser: a crawler's user agent (httpx's own) gets every control whatever changes.
SHOPPER_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
STARTUP_S = 60.0  # a loaded machine starts a node slowly
STOP_S = 15.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Node:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    client: httpx.Client

    def stop(self) -> None:
        self.client.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_S)


def start_node(name: str, root: Path, env: dict[str, str]) -> Node:
    directory = root / name
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = directory / "node.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "edge.cli.main", "serve", "--port", str(port), "--workers", "1"],
            cwd=directory,
            env=env | {"KX_EDGE_DATA_DIR": str(directory / "var")},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    client = httpx.Client(
        base_url=f"http://127.0.0.1:{port}", timeout=5.0, headers={"User-Agent": SHOPPER_UA}
    )
    node = Node(name, port, process, log, client)
    deadline = time.monotonic() + STARTUP_S
    while True:
        if process.poll() is not None:
            node.stop()
            raise RuntimeError(f"node {name} exited:\n{log.read_text(errors='replace')[-4000:]}")
        with contextlib.suppress(httpx.TransportError):
            if client.get("/metrics").status_code in (200, 401):
                return node
        if time.monotonic() > deadline:
            node.stop()
            raise RuntimeError(f"node {name} did not listen within {STARTUP_S} s")
        time.sleep(0.1)


def environ(database_url: str, redis_url: str, prefix: str, *, push: bool) -> tuple[dict[str, str], str]:
    """Every node's environment (the shared stores and secrets) and the operator token."""
    operator_token = "op_" + secrets.token_urlsafe(24)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KX_EDGE_", "KLAVIYO_"))}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (os.getcwd(), env.get("PYTHONPATH", "")) if p)
    env |= {
        "KX_EDGE_DATABASE_URL": database_url,
        "KX_EDGE_REDIS_URL": redis_url,
        "KX_EDGE_REDIS_PREFIX": prefix,
        "KX_EDGE_SECRET_KEY": secrets.token_urlsafe(32),
        "KX_EDGE_OPERATOR_TOKEN": operator_token,
        "KX_EDGE_ACCESS_LOG": "false",
        "KX_EDGE_LOG_FORMAT": "text",
        "KX_EDGE_LOG_LEVEL": "warning",
        "KX_EDGE_CONFIG_PUSH": str(push).lower(),
    }
    return env, operator_token


def signature(node: Node, public_key: str) -> str | None:
    """What the storefront answers the bench's visitor: the experiences and variations (None: no 200)."""
    response = node.client.post(f"/v1/assign?site={public_key}", json=VISITOR)
    if response.status_code != 200:
        return None
    body: dict[str, Any] = response.json()
    return json.dumps(sorted(body["experiences"], key=lambda e: str(e.get("id"))), sort_keys=True)


def wait_for(
    node: Node, public_key: str, timeout_s: float, *, equal: str | None = None, other_than: str | None = None
) -> tuple[float, str] | None:
    """When (perf_counter) `node` first answers `equal` (or anything but `other_than`) and what,
    asked in a tight loop; None past `timeout_s`."""
    deadline = time.perf_counter() + timeout_s
    while True:
        answer = signature(node, public_key)
        seen = time.perf_counter()
        if answer is not None and (answer == equal if equal is not None else answer != other_than):
            return seen, answer
        if seen > deadline:
            return None
        time.sleep(0)  # a yield, not a wait


def hero(traffic_percent: float) -> dict[str, Any]:
    return {
        "id": "hero", "type": "test", "name": "Hero", "status": "live",
        "targeting": {"mode": "custom"}, "traffic_percent": traffic_percent,
        "variations": [{"id": "control", "name": "A", "weight": 1, "is_control": True},
                       {"id": "b", "name": "B", "weight": 1, "is_control": False}],
    }  # fmt: skip


# The cycle of changes: each one changes what the storefront answers for the visitor.
CHANGES = ("pause", "start", "traffic 0", "traffic 100")


def change(node: Node, site: dict[str, str], key: dict[str, str], kind: str, etag: str) -> httpx.Response:
    path = f"/v1/sites/{site['id']}/experiences/hero"
    headers = key | {"If-Match": etag}
    if kind in ("pause", "start"):
        return node.client.post(f"{path}/{kind}", headers=headers)
    return node.client.put(path, json=hero(float(kind.split()[1])), headers=headers)


def histogram(node: Node, operator_token: str) -> tuple[float, float]:
    """(count, sum) of the node's `kx_edge_config_propagation_seconds`."""
    response = node.client.get("/metrics", headers={"Authorization": f"Bearer {operator_token}"})
    response.raise_for_status()
    count = total = 0.0
    for family in text_string_to_metric_families(response.text):
        if family.name != "kx_edge_config_propagation_seconds":
            continue
        for sample in family.samples:
            if sample.name.endswith("_count"):
                count += sample.value
            elif sample.name.endswith("_sum"):
                total += sample.value
    return count, total


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def run_phase(
    label: str,
    root: Path,
    database_url: str,
    redis_url: str,
    prefix: str,
    args: argparse.Namespace,
    push: bool,
) -> None:
    env, operator_token = environ(database_url, redis_url, prefix, push=push)
    nodes: list[Node] = []
    try:
        nodes.append(start_node("a", root / label, env))  # the first one migrates the schema
        nodes.append(start_node("b", root / label, env))
        a, b = nodes
        created = a.client.post(
            "/v1/sites",
            json={"name": f"Propagation {label}", "allowed_origins": []},
            headers={"Authorization": f"Bearer {operator_token}"},
        )
        assert created.status_code == 201, created.text
        site: dict[str, str] = created.json()
        pk = site["public_key"]
        key = {"Authorization": f"Bearer {site['api_key']}"}
        made = a.client.post(f"/v1/sites/{site['id']}/experiences", json=hero(100), headers=key)
        assert made.status_code == 201, made.text
        etag = made.headers["ETag"]
        expected = signature(a, pk)
        assert expected is not None
        assert wait_for(b, pk, 30.0, equal=expected) is not None, "node B never served the site"
        lags_ms: list[float] = []
        timeouts = 0
        before = {n.name: histogram(n, operator_token) for n in nodes}
        load_before = os.getloadavg()
        pauses = random.Random(args.seed)
        paused = 0.0
        started = time.monotonic()
        for i in range(args.changes):
            # A random pause first, so changes do not fall in step with the version check's timer.
            pause = pauses.uniform(0, args.spacing)
            paused += pause
            time.sleep(pause)
            writer, reader = (a, b) if i % 2 == 0 else (b, a)
            kind = CHANGES[i % len(CHANGES)]
            previous = expected
            response = change(writer, site, key, kind, etag)
            answered = time.perf_counter()
            assert response.is_success, f"{kind} on {writer.name}: {response.status_code} {response.text}"
            etag = response.headers["ETag"]
            seen = wait_for(reader, pk, args.timeout, other_than=previous)
            expected = signature(writer, pk)  # the writer applied its own change at once
            assert expected is not None and expected != previous, f"{kind} changed nothing for the visitor"
            if seen is None:
                timeouts += 1
                assert wait_for(reader, pk, 60.0, equal=expected) is not None, (
                    f"{reader.name} never saw {kind}"
                )
            else:
                assert seen[1] == expected, f"{reader.name} answered {seen[1]}, {writer.name} {expected}"
                lags_ms.append((seen[0] - answered) * 1000)
        elapsed = time.monotonic() - started
        after = {n.name: histogram(n, operator_token) for n in nodes}
        load_after = os.getloadavg()
        print(f"\n== {label}: config_push={str(push).lower()}, config_poll_interval_s=0.5 (default) ==")
        print(
            f"load average before {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}, "
            f"after {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f} ({os.cpu_count()} CPUs); "
            f"{args.changes} changes in {elapsed:.1f} s ({paused:.1f} s of it random pauses before changes), "
            "half A->B, half B->A"
        )
        if lags_ms:
            print(
                f"observed lag (writer's 2xx -> reader's first changed answer), ms: N={len(lags_ms)} "
                f"p50={percentile(lags_ms, 0.5):.1f} p90={percentile(lags_ms, 0.9):.1f} "
                f"p99={percentile(lags_ms, 0.99):.1f} max={max(lags_ms):.1f} "
                f"mean={statistics.fmean(lags_ms):.1f}"
            )
        print(f"timed out (> {args.timeout:g} s): {timeouts}")
        for n in nodes:
            count = after[n.name][0] - before[n.name][0]
            total = after[n.name][1] - before[n.name][1]
            mean = f"{total / count * 1000:.1f} ms" if count else "-"
            print(
                f"node {n.name} /metrics kx_edge_config_propagation_seconds during the run: "
                f"count={count:g} sum={total:.4f} s mean={mean} "
                f"(totals since start: count={after[n.name][0]:g} sum={after[n.name][1]:.4f} s)"
            )
    finally:
        for n in reversed(nodes):
            n.stop()


@contextlib.contextmanager
def stores(args: argparse.Namespace) -> Iterator[tuple[str, str]]:
    """A database and a Redis key prefix of the run, removed afterwards."""
    prefix = f"kxprop:{secrets.token_hex(4)}:"
    dbname = f"kx_prop_{secrets.token_hex(4)}"
    with psycopg.connect(args.postgres, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{dbname}"')
    try:
        yield args.postgres.rsplit("/", 1)[0] + f"/{dbname}", prefix
    finally:
        with psycopg.connect(args.postgres, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        client = redis.Redis.from_url(args.redis)
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--changes", type=int, default=50)
    parser.add_argument("--timeout", type=float, default=10.0, help="bound of each wait, seconds")
    parser.add_argument(
        "--spacing", type=float, default=0.5, help="before each change a random pause of 0 to this, seconds"
    )
    parser.add_argument("--seed", type=int, default=1, help="of the pauses")
    parser.add_argument("--no-push", action="store_true", help="a second phase with config_push=false")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/11")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="kx-bench-propagation-"))
    try:
        phases = [("push", True)] + ([("no-push", False)] if args.no_push else [])
        for label, push in phases:
            with stores(args) as (database_url, prefix):
                run_phase(label, root, database_url, args.redis, prefix, args, push)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

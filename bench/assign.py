"""`POST /v1/assign` under load, against a bare Starlette endpoint and a raw ASGI endpoint (issue 6).

Run from the repository root: `.venv/bin/python -m bench.assign [--duration 10] [--connections 32]
[--threads 2] [--profile] [--results on|off] [--site segments|mixed]` (`--results off`: kx-edge
with results counting off, to compare against the default run: results must stay within 5%;
`--site mixed`: bench/decisions.py's mixed site and visitors instead, see bench/assign_mixed.py).

The site has the 10 live experiences of bench/decisions.py (4 custom tests, 3 advanced tests, 3
personalizations; rule trees of 3-6 `klaviyo_segment` conditions over 20 segments), an allowed
origin and an active Klaviyo connection, all stored in a temp SQLite file. The cache is warm the
production way: a fake Klaviyo (sandbox/) on a real 127.0.0.1 socket holds the identified
visitors' profiles and segments, the connection carries real tokens it issued, and every
identified visitor's `_kx` is resolved once through `/v1/assign` by the real Resolver (at the
rate its Klaviyo budget allows) before anything is timed; its L1 counters are read around the
measured run. The visitors are 70% identified, 30% anonymous; every body is what the snippet
sends on a return visit (`visitor_id`, `kx` when identified, the `sticky` token of the previous
answer, `url`) as `text/plain` with the allowed `Origin`. Then the first-visit scenario (the
email-blast case) on the same servers: every request a new visitor (no token, a `visitor_id`
never seen before, generated per request by the wrk script) with the `_kx` of the identified
visitor in the most segments, whose identity is cached, as after a campaign where the same few
segments repeat. (A different `_kx` per request is not measured: each would be a Klaviyo
resolution within the account's rate limits, and the answer `pending`, which is the resolver's
bench, not this one.)

Four servers, one at a time, each one uvicorn worker process with the same options (uvloop, no
uvicorn access log): (i) kx-edge (`bench.servers:assign_app`, the settings a fresh install runs
with: kx-edge's access log on, `/v1/assign` in it as one summary line per 10 s, no Redis), on
the HTTP protocol `kx-edge serve` runs (`edge.web.one_write`: httptools, each response in one
write), (ii) a bare Starlette route returning a small `JSONResponse` after `await
request.body()`, (iii) a raw ASGI app that reads the body and sends fixed JSON, both on uvicorn's
stock httptools protocol, and (iv) that Starlette app again on kx-edge's protocol (like for like). wrk
drives each with the same bodies: a warm-up run, then the measured one. A run with any non-200
answer or socket error is invalid. Then the assign handler's cost without HTTP, in the server
process with its warm cache: the whole app, the handler alone and each of its steps.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import re
import resource
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx

from bench.assign_mixed import FIRST_VISIT_FIELDS, SITE_LINE, body_suffix, mixed_site, request_visit
from bench.decisions import SEGMENTS, site_documents
from bench.servers import SEQUENCE, InProcessSpec, in_process_baselines
from edge.connect.link import CALLBACK_PATH
from edge.sites.keys import new_site
from edge.store import SqlSiteStore
from edge.store.connections import SqlConnectionStore
from edge.store.sqlite_db import SqliteDatabase
from edge.web.one_write import OneWriteHttpToolsProtocol
from oauth.connection import Connection, ConnectionStatus
from oauth.crypto import TokenCipher
from sandbox import SandboxState, demo_kx, running_fake_klaviyo
from sandbox.oauth_records import TokenSet
from targeting import UNIDENTIFIED, Identity, compile_site, decide, parse_experience

ROOT = Path(__file__).resolve().parents[1]
ORIGIN = "https://shop.example.com"
ACCOUNT_ID = "BnchAc"
CLIENT_ID, CLIENT_SECRET = "kx-bench-client", "kx-bench-client-secret"
SCOPES = ("accounts:read", "profiles:read", "segments:read")
CONTENT_TYPE = "text/plain;charset=UTF-8"
# kx-edge's own HTTP protocol, as `kx-edge serve` runs it: uvicorn's httptools, one write per response.
KX_EDGE_HTTP = f"{OneWriteHttpToolsProtocol.__module__}:{OneWriteHttpToolsProtocol.__qualname__}"
# (name, app, uvicorn --http): kx-edge as it is served; the baselines as uvicorn serves them by
# default; and bare Starlette once more on kx-edge's protocol, to tell the app's share apart.
SERVERS = (
    ("kx-edge /v1/assign", "bench.servers:assign_app", KX_EDGE_HTTP),
    ("bare Starlette", "bench.servers:starlette_app", "httptools"),
    ("raw ASGI", "bench.servers:raw_app", "httptools"),
    ("Starlette, one write", "bench.servers:starlette_app", KX_EDGE_HTTP),
)
UVICORN_OPTIONS = (
    "--loop", "uvloop", "--lifespan", "on", "--no-access-log",
    "--no-server-header", "--log-level", "warning", "--timeout-graceful-shutdown", "2",
)  # fmt: skip
GOAL_VS_STARLETTE, GOAL_VS_RAW = 1.0, 0.5
_VID_ALPHABET = string.ascii_letters + string.digits + "-_"
_LINE_NUMBER = re.compile(r"\(([^():]+):\d+\)$")
_PAGES = ("/", "/collections/outerwear", "/products/trail-jacket", "/products/wool-socks", "/cart")


@dataclass(frozen=True, slots=True)
class Visitor:
    visitor_id: str
    kx: str | None
    segments: frozenset[str]
    url: str
    fields: dict[str, Any] = field(default_factory=dict)  # more body fields: the visit's (--site mixed)
    user_agent: str | None = None  # a User-Agent of its own, else BROWSER_UA

    @property
    def headers(self) -> dict[str, str]:
        return {"User-Agent": self.user_agent} if self.user_agent else {}

    @property
    def expected_identity(self) -> str:
        return "identified" if self.kx else "unidentified"

    def body(self, sticky: str | None = None) -> str:
        payload: dict[str, Any] = {"visitor_id": self.visitor_id}
        if self.kx:
            payload["kx"] = self.kx
        if sticky:
            payload["sticky"] = sticky
        payload["url"] = self.url
        payload.update(self.fields)
        return json.dumps(payload, separators=(",", ":"))


@dataclass(slots=True)
class RunResult:
    name: str
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    non200: int
    socket_errors: int
    load1: float
    server_cpu_s: float
    wrk_cpu_s: float
    machine_cpu_s: float
    response_bytes: float
    idle_cpu_share: float = 0.0  # of one core, with no load: the server's own background work

    @property
    def other_cpu_s(self) -> float:
        """CPU time the rest of the machine (other people's processes) spent during the run."""
        return max(0.0, self.machine_cpu_s - self.server_cpu_s - self.wrk_cpu_s)

    @property
    def cpu_us_per_request(self) -> float:
        return self.server_cpu_s / max(1, self.requests) * 1e6

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def valid(self) -> bool:
        return self.requests > 0 and self.non200 == 0 and self.socket_errors == 0


# --- the data: visitors, the fake Klaviyo's account, the SQLite file -------------------------


def make_visitors(rng: random.Random, identified: int, anonymous: int) -> list[Visitor]:
    people = [
        Visitor(
            "".join(rng.choices(_VID_ALPHABET, k=22)),
            demo_kx(f"assign-bench-{i}@example.com") if i < identified else None,
            frozenset(rng.sample(SEGMENTS, rng.randint(0, 8))) if i < identified else frozenset(),
            ORIGIN + rng.choice(_PAGES),
        )
        for i in range(identified + anonymous)
    ]
    rng.shuffle(people)
    return people


def sandbox(visitors: Sequence[Visitor], redirect_uri: str) -> SandboxState:
    """One Klaviyo account with the 20 segments and the identified visitors' profiles."""
    state = SandboxState()
    state.add_account("Bench Outfitters", account_id=ACCOUNT_ID)
    state.add_client(CLIENT_ID, CLIENT_SECRET, [redirect_uri], account_id=ACCOUNT_ID)
    for segment in sorted({*SEGMENTS, *(s for v in visitors for s in v.segments)}):
        state.add_segment(ACCOUNT_ID, f"Segment {segment}", segment_id=segment)
    for n, visitor in enumerate(v for v in visitors if v.kx):
        profile = state.add_profile(ACCOUNT_ID, kx=visitor.kx, email=f"assign-bench-{n}@example.com")
        for segment in sorted(visitor.segments):
            state.add_member(segment, profile.id)
    return state


async def seed(database: Path, secret_key: str, docs: Sequence[dict[str, Any]], tokens: TokenSet) -> str:
    """The site, its experiences and its active connection in the SQLite file; its public key."""
    db = SqliteDatabase(database)
    await db.migrate()
    store = SqlSiteStore(db)
    try:
        cipher = TokenCipher(secret_key)
        now = int(time.time())
        site = new_site("Bench shop", (ORIGIN,), cipher, now).record
        await store.create_site(site)
        for body in docs:
            experience = parse_experience(body)
            await store.create_experience(
                site.id, experience.id, type=experience.type.value, status=experience.status.value,
                body=experience.to_dict(), now=now,
            )  # fmt: skip
        await SqlConnectionStore(db).save(
            Connection(
                site_id=site.id,
                status=ConnectionStatus.ACTIVE,
                account_id=ACCOUNT_ID,
                account_name="Bench Outfitters",
                scopes=SCOPES,
                access_token_enc=cipher.encrypt(tokens.access_token),
                refresh_token_enc=cipher.encrypt(tokens.refresh_token),
                expires_at=now + tokens.expires_in,
                connected_at=now,
            )
        )
        return site.public_key
    finally:
        await db.close()


# --- servers and wrk ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def served(
    target: str, env: dict[str, str], port: int, log: Path, probe: tuple[str, str], http: str = KX_EDGE_HTTP
) -> Iterator[int]:
    """One uvicorn worker serving `target` with the `http` protocol until the block ends; yields its pid."""
    command = [sys.executable, "-m", "uvicorn", target, "--factory", "--host", "127.0.0.1",
               "--port", str(port), "--http", http, *UVICORN_OPTIONS]  # fmt: skip
    with log.open("ab") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        path, body = probe
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{target} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                answer = httpx.post(
                    f"http://127.0.0.1:{port}{path}", content=body, headers=_headers(), timeout=2
                )
                if answer.status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{target} did not answer 200 within 30 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.05)  # bounded by the deadline above
        yield process.pid
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _headers() -> dict[str, str]:
    # A browser's user agent: a library's own is on the crawler list (a bot gets the controls).
    return {"Content-Type": CONTENT_TYPE, "Origin": ORIGIN, "User-Agent": BROWSER_UA}


BROWSER_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"


# Sums every thread's non-200 count and prints one JSON line (read by `run_wrk`).
_DONE_LUA = r"""function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do bad = bad + (thread:get("non200") or 0) end
  local e = summary.errors
  io.write(string.format(
    'KXBENCH {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"non200":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, bad, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def wrk_script(path: str, bodies: Sequence[str], agents: Sequence[str | None] = ()) -> str:
    """Rotates through `bodies` (each thread from its own offset), counts every answer that is not
    a 200 in a response hook, and prints one JSON line from the `done` hook. `agents`: a
    User-Agent per body (None: BROWSER_UA)."""
    table = ",\n".join(f"[==[{body}]==]" for body in bodies)
    agent_table = ",\n".join(f"[==[{agent or BROWSER_UA}]==]" for agent in agents)
    return (
        f"""-- generated by bench/assign.py
local bodies = {{
{table}
}}
local agents = {{
{agent_table}
}}
local path = [==[{path}]==]
local headers = {{["Content-Type"] = "{CONTENT_TYPE}", ["Origin"] = "{ORIGIN}", ["User-Agent"] = "{BROWSER_UA}"}}
local prepared = {{}}
local index = 0
local threads = {{}}
non200 = 0

function setup(thread)
  thread:set("offset", #threads * 7)
  table.insert(threads, thread)
end

function init(args)
  for i, body in ipairs(bodies) do
    if agents[i] then headers["User-Agent"] = agents[i] end
    prepared[i] = wrk.format("POST", path, headers, body)
  end
  index = (offset or 0) % #prepared
end

function request()
  index = index % #prepared + 1
  return prepared[index]
end

function response(status, headers, body)
  if status ~= 200 then non200 = non200 + 1 end
end

"""
        + _DONE_LUA
    )


def first_visit_script(path: str, kx: str, fields: dict[str, Any] | None = None) -> str:
    """Every request a first visit: no token, a visitor id never seen before (thread and counter),
    and the same `_kx` (cached, as after a campaign whose few segments repeat); `fields`: the
    visit's body fields, the same in every request."""
    suffix = body_suffix(fields or {})
    return (
        f"""-- generated by bench/assign.py (first visits)
local path = [==[{path}]==]
local headers = {{["Content-Type"] = "{CONTENT_TYPE}", ["Origin"] = "{ORIGIN}", ["User-Agent"] = "{BROWSER_UA}"}}
local threads = {{}}
local counter = 0
non200 = 0

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function request()
  counter = counter + 1
  local body = '{{"visitor_id":"fv' .. tid .. 'n' .. counter .. '","kx":"{kx}","url":"{ORIGIN}/"' .. [==[{suffix}}}]==]
  return wrk.format("POST", path, headers, body)
end

function response(status, headers, body)
  if status ~= 200 then non200 = non200 + 1 end
end
"""
        + _DONE_LUA
    )


def run_wrk(url: str, script: Path, args: argparse.Namespace, seconds: int) -> dict[str, Any]:
    command = ["wrk", "--threads", str(args.threads), "--connections", str(args.connections),
               "--duration", f"{seconds}s", "--timeout", "5s", "--latency", "--script", str(script), url]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30, check=False)
    for line in done.stdout.splitlines():
        if line.startswith("KXBENCH "):
            found: dict[str, Any] = json.loads(line.removeprefix("KXBENCH "))
            return found
    raise RuntimeError(f"wrk printed no result (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> float:
    """Busy CPU seconds of the whole machine so far (all cores), from /proc/stat."""
    ticks = [int(n) for n in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    idle = ticks[3] + ticks[4]  # idle, iowait
    return (sum(ticks) - idle) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


IDLE_SECONDS = 3.0


def idle_cpu_share(pid: int, seconds: float = IDLE_SECONDS) -> float:
    """The server's CPU while nobody calls it: timers, pollers, background tasks."""
    before, started = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)  # measuring what happens in the meantime: nothing to wait for
    return (cpu_seconds(pid) - before) / (time.monotonic() - started)


def measure(name: str, pid: int, url: str, script: Path, args: argparse.Namespace) -> RunResult:
    idle = idle_cpu_share(pid)
    run_wrk(url, script, args, args.warmup)
    load1 = os.getloadavg()[0]
    server_before, wrk_before, machine_before = (
        cpu_seconds(pid),
        children_cpu_seconds(),
        machine_cpu_seconds(),
    )
    raw = run_wrk(url, script, args, args.duration)
    server_cpu, wrk_cpu = cpu_seconds(pid) - server_before, children_cpu_seconds() - wrk_before
    machine_cpu = machine_cpu_seconds() - machine_before
    requests = int(raw["requests"])
    return RunResult(
        name=name,
        requests=requests,
        seconds=raw["duration_us"] / 1e6,
        p50_ms=raw["p50"] / 1000,
        p90_ms=raw["p90"] / 1000,
        p99_ms=raw["p99"] / 1000,
        max_ms=raw["max"] / 1000,
        non200=max(int(raw["non200"]), int(raw["status"])),
        socket_errors=sum(int(raw[k]) for k in ("connect", "read", "write", "timeout")),
        load1=load1,
        server_cpu_s=server_cpu,
        wrk_cpu_s=wrk_cpu,
        machine_cpu_s=machine_cpu,
        response_bytes=raw["bytes"] / max(1, requests),
        idle_cpu_share=idle,
    )


def py_spy_binary() -> str:
    beside = Path(sys.executable).with_name("py-spy")
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if found is None:
        raise SystemExit("--py-spy: py-spy is not installed (.venv/bin/pip install py-spy)")
    return found


def sample_with_py_spy(
    pid: int, url: str, script: Path, args: argparse.Namespace, tmp: Path
) -> tuple[Counter[str], Counter[str], int]:
    """Samples the server through one more wrk run: (self samples, inclusive samples) per
    function, and the total of non-idle samples."""
    output = tmp / "py-spy.txt"
    command = [py_spy_binary(), "record", "--pid", str(pid), "--duration", str(args.duration),
               "--rate", "250", "--format", "raw", "--output", str(output)]  # fmt: skip
    sampler = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)  # let py-spy attach first
        run_wrk(url, script, args, args.duration)
    finally:
        sampler.wait(timeout=args.duration + 30)
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in output.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [_LINE_NUMBER.sub(r"(\1)", frame) for frame in stack.split(";")]
        samples = int(count)
        total += samples
        own[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    return own, inclusive, total


def print_py_spy(sampled: tuple[Counter[str], Counter[str], int], visits: str = "return") -> None:
    own, inclusive, total = sampled
    print()
    print(
        f"py-spy, the assign server under the same load, {visits} visits (one more run, {total:,} busy "
        "samples at 250 Hz):"
    )
    print("  self time (the function itself, C calls it makes included):")
    for frame, samples in own.most_common(20):
        print(f"    {samples / total:6.1%}  {frame}")
    print("  inclusive time (the function and what it calls), 2% and more, below the event loop's root:")
    ours = [(f, n) for f, n in inclusive.most_common() if 0.02 <= n / total < 0.99]
    for frame, samples in ours[:25]:
        print(f"    {samples / total:6.1%}  {frame}")


# --- warming the cache through the real path ---------------------------------------------------


async def warm_cache(
    base: str, target: str, visitors: Sequence[Visitor], timeout_s: float
) -> tuple[dict[str, dict[str, Any]], int]:
    """Each visitor's first visit (no sticky token), repeated every 0.5 s for those still pending
    until the resolver has their segments; returns each visitor's final answer and the polls."""
    answers: dict[str, dict[str, Any]] = {}
    waiting = list(visitors)
    polls = 0
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(base_url=base, headers=_headers(), timeout=5) as client:
        while waiting:
            replies = await asyncio.gather(
                *(client.post(target, content=v.body(), headers=v.headers) for v in waiting)
            )
            polls += len(waiting)
            still = []
            for visitor, reply in zip(waiting, replies, strict=True):
                if reply.status_code != 200:
                    raise RuntimeError(f"warm-up answer {reply.status_code}: {reply.text[:300]}")
                answer = reply.json()
                if answer["identity"] == visitor.expected_identity:
                    answers[visitor.visitor_id] = answer
                elif answer["identity"] == "pending":
                    still.append(visitor)
                else:
                    raise RuntimeError(f"visitor {visitor.visitor_id}: unexpected answer {answer}")
            waiting = still
            if waiting:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{len(waiting)} visitors still pending after {timeout_s:.0f} s")
                await asyncio.sleep(0.5)
    return answers, polls


def check_answers(
    base: str, target: str, visitors: Sequence[Visitor], bodies: Sequence[str], expected: dict[str, Any]
) -> int:
    """Every final body once more: 200, the right identity, no warning, and the same decisions
    as `targeting.decide` on the visitor's true segments and visit. Returns the decisions compared."""
    compared = 0
    with httpx.Client(base_url=base, headers=_headers(), timeout=5) as client:
        for visitor, body in zip(visitors, bodies, strict=True):
            reply = client.post(target, content=body, headers=visitor.headers)
            answer = reply.json()
            if (
                reply.status_code != 200
                or answer["identity"] != visitor.expected_identity
                or answer["warnings"]
            ):
                raise RuntimeError(f"check failed for {visitor.visitor_id}: {reply.status_code} {answer}")
            got = [(e["id"], e["entered"], e["variation_id"]) for e in answer["experiences"]]
            if got != expected[visitor.visitor_id]:
                raise RuntimeError(f"decisions differ for {visitor.visitor_id}: {got}")
            compared += len(got)
    return compared


def expected_decisions(docs: Sequence[dict[str, Any]], visitors: Sequence[Visitor]) -> dict[str, Any]:
    site = compile_site(parse_experience(doc) for doc in docs)
    expected = {}
    for visitor in visitors:
        identity = Identity.identified(visitor.segments) if visitor.kx else UNIDENTIFIED
        visit = request_visit(visitor.url, visitor.fields, visitor.user_agent)
        decided = decide(site, visitor.visitor_id, identity, {}, visit=visit).decisions
        expected[visitor.visitor_id] = [(d.experience_id, d.entered, d.variation_id) for d in decided]
    return expected


def sequence_label(us: float) -> str:
    return f"{'decode, identify and answer one after another for each request':<70} {us:6.1f} µs"


# --- the run -----------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=int, default=10, help="seconds of each measured wrk run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of the wrk warm-up run before each")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--identified",
        type=int,
        default=40,
        help="identified visitors (resolving each costs one call of Klaviyo's 3/s profile-segments tier)",
    )
    parser.add_argument("--iterations", type=int, default=5_000, help="in-process calls per timing")
    parser.add_argument(
        "--results",
        choices=("on", "off"),
        default="on",
        help="results counting in kx-edge (results_enabled): compare the two runs' figures",
    )
    parser.add_argument(
        "--profile", action="store_true", help="also print cProfile's top functions in-process"
    )
    parser.add_argument(
        "--py-spy",
        nargs="?",
        const="return",
        choices=("return", "first"),
        help="one more assign run (not in the table) sampled by py-spy (pip install py-spy; not a "
        "dependency): of return visits (the default) or of first visits (--py-spy first)",
    )
    parser.add_argument(
        "--site",
        choices=("segments", "mixed"),
        default="segments",
        help="bench/decisions.py's 10-experience segment site, or its mixed site with visit conditions",
    )
    parser.add_argument(
        "--kx-http",
        choices=("one-write", "httptools"),
        default="one-write",
        help="kx-edge's HTTP protocol: as `kx-edge serve` runs it (the default), or uvicorn's stock "
        "httptools protocol (to measure what the one-write protocol gives)",
    )
    args = parser.parse_args(argv)
    started = time.monotonic()

    rng = random.Random(20240611)
    docs = site_documents(rng)  # the same site as bench/decisions.py
    anonymous = round(args.identified * 3 / 7)
    visitors = make_visitors(random.Random(7), args.identified, anonymous)
    if args.site == "mixed":
        docs, people = mixed_site(args.identified, anonymous, ORIGIN)
        visitors = [Visitor(*person) for person in people]
    first_fields = FIRST_VISIT_FIELDS if args.site == "mixed" else {}
    expected = expected_decisions(docs, visitors)
    load_at_start = os.getloadavg()

    with tempfile.TemporaryDirectory(prefix="kx-bench-assign-") as tmp_name:
        tmp = Path(tmp_name)
        port = free_port()
        public_url = f"http://127.0.0.1:{port}"
        state = sandbox(visitors, public_url + CALLBACK_PATH)
        tokens = state.issue_tokens(CLIENT_ID, ACCOUNT_ID, SCOPES)
        secret_key = secrets.token_urlsafe(32)
        database = tmp / "kx-edge.sqlite3"
        public_key = asyncio.run(seed(database, secret_key, docs, tokens))
        target = f"/v1/assign?site={public_key}"
        log = tmp / "servers.log"
        results: list[RunResult] = []
        first_results: list[RunResult] = []  # the same servers, every request a first visit
        with running_fake_klaviyo(state) as fake:
            env = {k: v for k, v in os.environ.items() if not k.startswith(("KX_EDGE_", "KLAVIYO_"))}
            env.update(
                KX_EDGE_CONFIG=str(ROOT / "wrangler-like-config" / "kx-edge.toml"),
                KX_EDGE_DATA_DIR=str(tmp / "var"),
                KX_EDGE_DATABASE=str(database),
                KX_EDGE_PUBLIC_URL=public_url,
                KX_EDGE_SECRET_KEY=secret_key,
                KX_EDGE_OPERATOR_TOKEN=secrets.token_urlsafe(24),
                KLAVIYO_CLIENT_ID=CLIENT_ID,
                KLAVIYO_CLIENT_SECRET=CLIENT_SECRET,
                KX_EDGE_KLAVIYO_API_BASE=fake,
                KX_EDGE_KLAVIYO_AUTHORIZE_URL=fake + "/oauth/authorize",
                KX_EDGE_KLAVIYO_TOKEN_URL=fake + "/oauth/token",
                KX_EDGE_KLAVIYO_REVOKE_URL=fake + "/oauth/revoke",
                KX_EDGE_RESULTS_ENABLED="true" if args.results == "on" else "false",
            )
            print(f"results counting: {args.results}", flush=True)
            anonymous_body = next(v for v in visitors if not v.kx).body()

            # (i) kx-edge: warm the cache, check the answers, then load it.
            kx_http = SERVERS[0][2] if args.kx_http == "one-write" else "httptools"
            with served(SERVERS[0][1], env, port, log, (target, anonymous_body), kx_http) as pid:
                warm_started = time.monotonic()
                answers, polls = asyncio.run(warm_cache(public_url, target, visitors, timeout_s=90))
                warm_seconds = time.monotonic() - warm_started
                bodies = [v.body(answers[v.visitor_id]["sticky"]) for v in visitors]
                compared = check_answers(public_url, target, visitors, bodies, expected)
                klaviyo_calls = dict(sorted(state.calls.counts().items()))
                script = tmp / "assign.lua"
                script.write_text(wrk_script(target, bodies, [v.user_agent for v in visitors]))
                before = httpx.get(public_url + "/__bench/stats", timeout=5).json()["resolver"]
                results.append(measure(SERVERS[0][0], pid, public_url, script, args))
                after = httpx.get(public_url + "/__bench/stats", timeout=5).json()["resolver"]
                vip = max((v for v in visitors if v.kx), key=lambda v: ("VIP" in v.segments, len(v.segments)))
                first_script = tmp / "first.lua"
                first_script.write_text(first_visit_script(target, vip.kx or "", first_fields))
                first_before = httpx.get(public_url + "/__bench/stats", timeout=5).json()["resolver"]
                first_results.append(measure(SERVERS[0][0], pid, public_url, first_script, args))
                first_after = httpx.get(public_url + "/__bench/stats", timeout=5).json()["resolver"]
                first_gc = {
                    g: first_after.get(f"gc.gen{g}", 0) - first_before.get(f"gc.gen{g}", 0) for g in range(3)
                }
                sampled = (
                    sample_with_py_spy(
                        pid, public_url, first_script if args.py_spy == "first" else script, args, tmp
                    )
                    if args.py_spy
                    else None
                )
                spec = {
                    "path": "/v1/assign",
                    "query_string": f"site={public_key}",
                    "headers": list(_headers().items()),
                    "bodies": bodies,
                    "iterations": args.iterations,
                    "profile": args.profile,
                }
                in_process = httpx.post(public_url + "/__bench/inprocess", json=spec, timeout=300).json()
                # The same in-process timing for first visits: no token, a visitor id per body.
                first_bodies = [
                    json.dumps(
                        {"visitor_id": f"fvip{n:08d}", "kx": vip.kx, "url": ORIGIN + "/", **first_fields}
                    )
                    for n in range(args.iterations)
                ]
                first_spec = {**spec, "bodies": first_bodies}
                first_in_process = httpx.post(
                    public_url + "/__bench/inprocess", json=first_spec, timeout=300
                ).json()
                in_process["first_visit_app_us"] = first_in_process["app_us"]
                in_process["first_visit_handler_us"] = first_in_process["handler_us"]
                in_process["first_visit_steps_us"] = first_in_process["steps_us"]
                if "profile" in first_in_process:
                    in_process["first_visit_profile"] = first_in_process["profile"]
                in_process.update(
                    asyncio.run(in_process_baselines(InProcessSpec(**{**spec, "profile": False})))
                )

            # The baselines: the same requests, the same server options, one at a time.
            for name, app, http in SERVERS[1:]:
                with served(app, env, port, log, (target, anonymous_body), http) as pid:
                    results.append(measure(name, pid, public_url, script, args))
                    first_results.append(measure(name, pid, public_url, first_script, args))

        valid = report(
            args, results, visitors, in_process, load_at_start, warm_seconds, polls, klaviyo_calls,
            compared, before, after, time.monotonic() - started, first_results, first_gc,
        )  # fmt: skip
        if sampled is not None:
            print_py_spy(sampled, args.py_spy)
    if not valid:
        raise SystemExit(1)


def print_first_visits(results: Sequence[RunResult], collections: dict[int, int]) -> None:
    """The first-visit scenario: every request a new visitor (no token, a fresh visitor_id), the
    VIP's `_kx` (cached)."""
    assign, starlette, raw, starlette_one = results
    print()
    print("first visits (every request: no token, a visitor_id never seen before, the VIP's cached _kx):")
    gcs = ", ".join(f"gen{g} {n:,}" for g, n in sorted(collections.items()))
    print(f"garbage collections in the assign server during the measured first-visit run: {gcs}")
    print(
        f"{'server':<20} {'req/s':>9} {'p50':>9} {'p99':>9} {'max':>9} {'non-200':>8} {'µs CPU/req':>10} {'load1':>6}"
    )
    for r in results:
        print(
            f"{r.name:<20} {r.rate:>9,.0f} {r.p50_ms:>6.2f} ms {r.p99_ms:>6.2f} ms {r.max_ms:>6.1f} ms "
            f"{r.non200:>8} {r.cpu_us_per_request:>10.1f} {r.load1:>6.2f}"
        )
    ratio, p99_ratio = assign.rate / starlette.rate, assign.p99_ms / max(starlette.p99_ms, 0.001)
    print(
        f"first visits, assign / Starlette: {ratio:.2f}x (goal >= 1.0x: {'met' if ratio >= 1.0 else 'NOT met'}); "
        f"p99 {p99_ratio:.1f}x Starlette's (goal <= 2x: {'met' if p99_ratio <= 2 else 'NOT met'}); "
        f"assign / raw ASGI {assign.rate / raw.rate:.2f}x; by CPU per request assign / Starlette "
        f"{starlette.cpu_us_per_request / assign.cpu_us_per_request:.2f}x"
    )
    print(like_for_like(assign, starlette_one))


def like_for_like(assign: RunResult, starlette_one: RunResult) -> str:
    return (
        f"like for like (both on kx-edge's one-write protocol): assign / Starlette {assign.rate / starlette_one.rate:.2f}x, "
        f"by CPU per request {starlette_one.cpu_us_per_request / assign.cpu_us_per_request:.2f}x"
    )


def report(
    args: argparse.Namespace,
    results: Sequence[RunResult],
    visitors: Sequence[Visitor],
    in_process: dict[str, Any],
    load_at_start: tuple[float, float, float],
    warm_seconds: float,
    polls: int,
    klaviyo_calls: dict[tuple[str, str], int],
    compared: int,
    before: dict[str, int],
    after: dict[str, int],
    seconds: float,
    first_results: Sequence[RunResult] = (),
    first_gc: dict[int, int] | None = None,
) -> bool:
    """Prints the figures; False when a run is invalid (errors, or a cold cache)."""
    assign, starlette, raw, starlette_one = results
    identified = sum(1 for v in visitors if v.kx)
    hits = after.get("l1_hit", 0) - before.get("l1_hit", 0)
    misses = after.get("l1_miss", 0) - before.get("l1_miss", 0)
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    calls = ", ".join(f"{method} {route} x{n}" for (method, route), n in klaviyo_calls.items())
    print(
        f"kx-edge POST /v1/assign vs bare Starlette vs raw ASGI: uvicorn {version('uvicorn')} "
        f"(1 worker process, --loop uvloop, no uvicorn access log; --http httptools for the baselines, "
        f"{KX_EDGE_HTTP} for kx-edge as `kx-edge serve` runs it and for 'Starlette, one write'), "
        f"Starlette {version('starlette')}; kx-edge on {args.kx_http}"
    )
    print(
        f"load: wrk 4.1 -t{args.threads} -c{args.connections}, {args.warmup} s warm-up then {args.duration} s "
        "measured, per server, one server at a time, loopback"
    )
    print(
        f"machine: {os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}; "
        f"load average at start {load_at_start[0]:.2f} {load_at_start[1]:.2f} {load_at_start[2]:.2f}"
    )
    site_line = (
        "site: 10 live experiences (4 custom tests, 3 advanced tests, 3 personalizations), 3-6 segment "
        f"conditions per rule tree, {len(SEGMENTS)} segments"
    )
    print(
        f"{SITE_LINE if args.site == 'mixed' else site_line}; settings: a fresh install's (no Redis, "
        "kx-edge's access log on: /v1/assign as a summary line per 10 s)"
    )
    print(
        f"visitors: {len(visitors)} ({identified} identified in {'0-3 of 8' if args.site == 'mixed' else '0-8'} segments, {len(visitors) - identified} "
        "anonymous), each body a return visit (visitor_id, kx, sticky, url) as text/plain with Origin"
    )
    print(
        f"cache: warmed the production way: the real Resolver against the fake Klaviyo (sandbox/, "
        f"real tokens, rate limits on) in {warm_seconds:.1f} s, {polls} warm-up requests; "
        f"Klaviyo calls: {calls}"
    )
    print(
        f"checked before load: every answer 200, identity right, no warning, {compared} decisions "
        "identical to targeting.decide on the visitors' true segments (and visits)"
    )
    collections = ", ".join(
        f"gen{g} {after.get(f'gc.gen{g}', 0) - before.get(f'gc.gen{g}', 0):,}" for g in range(3)
    )
    print(
        f"during the measured assign run: resolver L1 hits {hits:,}, L1 misses {misses:,}; "
        f"garbage collections {collections}"
    )
    print()
    print(
        f"{'server':<20} {'req/s':>9} {'p50':>9} {'p90':>9} {'p99':>9} {'max':>9} {'non-200':>8} "
        f"{'sock err':>8} {'B/resp':>7} {'srv CPU':>8} {'µs CPU/req':>10} {'wrk CPU':>8} {'others':>7} {'load1':>6} {'idle':>6}"
    )
    for r in results:
        print(
            f"{r.name:<20} {r.rate:>9,.0f} {r.p50_ms:>6.2f} ms {r.p90_ms:>6.2f} ms {r.p99_ms:>6.2f} ms "
            f"{r.max_ms:>6.1f} ms {r.non200:>8} {r.socket_errors:>8} {r.response_bytes:>7.0f} "
            f"{r.server_cpu_s / r.seconds:>7.0%} {r.cpu_us_per_request:>10.1f} "
            f"{r.wrk_cpu_s / r.seconds:>7.0%} {r.other_cpu_s / r.seconds:>6.0%} {r.load1:>6.2f} {r.idle_cpu_share:>6.1%}"
        )
    vs_starlette, vs_raw = assign.rate / starlette.rate, assign.rate / raw.rate
    print()
    print(
        f"assign / Starlette: {vs_starlette:.2f}x (goal >= {GOAL_VS_STARLETTE:.1f}x: "
        f"{'met' if vs_starlette >= GOAL_VS_STARLETTE else 'NOT met'})   "
        f"assign / raw ASGI: {vs_raw:.2f}x (goal >= {GOAL_VS_RAW:.1f}x: "
        f"{'met' if vs_raw >= GOAL_VS_RAW else 'NOT met'})"
    )
    print(
        f"by server CPU per request (less sensitive to other load on the machine): assign / Starlette "
        f"{starlette.cpu_us_per_request / assign.cpu_us_per_request:.2f}x, assign / raw ASGI "
        f"{raw.cpu_us_per_request / assign.cpu_us_per_request:.2f}x"
    )
    print(like_for_like(assign, starlette_one))
    print(
        "(srv CPU, wrk CPU, others: share of one core used by the server, by wrk, and by the rest of the machine "
        "during the run; load1: the 1-minute load average before the run; idle: the server's CPU with no "
        f"load, over {IDLE_SECONDS:.0f} s before its warm-up: its own timers and background tasks)"
    )
    if first_results:
        print_first_visits(first_results, first_gc or {})
    invalid = [f"{r.name} (return visits)" for r in results if not r.valid]
    invalid += [f"{r.name} (first visits)" for r in first_results if not r.valid]
    if invalid:
        print(f"INVALID runs (non-200 answers or socket errors): {', '.join(invalid)}")
    if misses:
        print("WARNING: the assign run missed the L1 cache: it did not measure a warm cache")
    print()
    steps = dict(in_process["steps_us"])
    sequence = steps.pop(SEQUENCE)
    print(
        f"in-process, no HTTP (in the assign server process, warm L1, best of 5 x {args.iterations:,} calls "
        f"over the same bodies, taking turns): statuses {in_process['statuses']}"
    )
    rows = [
        ("whole app (Starlette's outer middleware + request context + fast path)", "app_us"),
        ("the whole app with the garbage collector off", "app_gc_off_us"),
        ("handler alone (edge.storefront.assign.assign)", "handler_us"),
        ("the handler alone with the garbage collector off", "handler_gc_off_us"),
        ("harness (a no-op ASGI app called the same way)", "harness_us"),
        ("for comparison, the bare Starlette app called the same way", "starlette_us"),
        ("for comparison, the raw ASGI app called the same way", "raw_us"),
    ]
    for label, key in rows:
        if key in in_process:
            print(f"  {label:<72} {in_process[key]:6.1f} µs")
    print(
        "  the handler's steps (its own functions; the sends are the harness's), each timed alone in a loop:"
    )
    for step, us in steps.items():
        print(f"    {step:<70} {us:6.1f} µs")
    print(f"    {'sum of the steps':<70} {sum(steps.values()):6.1f} µs")
    print(f"    {sequence_label(sequence)}")
    floor, per_assign = raw.cpu_us_per_request, assign.cpu_us_per_request
    print(
        f"  under load the assign server spends {per_assign:.0f} µs of CPU per request; raw ASGI's "
        f"{floor:.0f} µs is the HTTP server's floor (uvicorn, httptools, uvloop), which leaves "
        f"~{per_assign - floor:.0f} µs for kx-edge's app (in-process: {in_process['app_us']:.0f} µs)"
    )
    if "first_visit_app_us" in in_process:
        print(
            f"  first visits in-process (no token, a new visitor id per call, the VIP's cached _kx): "
            f"whole app {in_process['first_visit_app_us']:.1f} µs, handler {in_process['first_visit_handler_us']:.1f} µs"
        )
        for step, us in in_process["first_visit_steps_us"].items():
            print(f"    {step:<70} {us:6.1f} µs")
    if "profile" in in_process:
        print()
        print("cProfile of the whole app in-process (tottime order; cProfile inflates call-heavy code):")
        print(in_process["profile"])
    if "first_visit_profile" in in_process:
        print("cProfile of first visits in-process (tottime order):")
        print(in_process["first_visit_profile"])
    print(f"\ntotal {seconds:.0f} s")
    return not invalid and not misses


if __name__ == "__main__":
    main()

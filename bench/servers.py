"""The three apps `bench.assign` serves, one at a time, each as one uvicorn worker:

    python -m uvicorn bench.servers:assign_app --factory --loop uvloop --http httptools ...

- `assign_app`: kx-edge itself, built as `edge.asgi.create_app_from_environment` builds it
  (settings from the `KX_EDGE_*` environment, logging configured from them), plus two bench-only
  routes. `/v1/assign` is answered by `EdgeApp` before routing, so routes cost it
  nothing: `GET /__bench/stats` (the resolver's counters: L1 hits and misses; garbage collections) and
  `POST /__bench/inprocess` (times the app called directly, without HTTP, in this process and with
  its warm cache; see `in_process`).
- `starlette_app`: bare Starlette, one route: `await request.body()`, then a small `JSONResponse`.
- `raw_app`: raw ASGI: reads the body, sends a fixed small JSON response.

The Starlette and raw apps answer at `/v1/assign` too, so the same wrk script drives all three.
"""

from __future__ import annotations

import cProfile
import gc
import io
import os
import pstats
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from edge.app import create_app
from edge.asgi import settings_from_environment
from edge.resolver import Resolver
from edge.services import Services
from edge.storefront import assign as assign_module
from edge.storefront.assign import assign
from edge.storefront.identity import identify_cached
from edge.storefront.wire import decode_request

SEQUENCE = "decode, identify and answer in sequence, per request"
SMALL_JSON = {"status": "ok", "variation": "control"}
_RAW_BODY = msgspec.json.encode(SMALL_JSON)
_RAW_HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(_RAW_BODY)).encode())]


# --- (ii) bare Starlette ----------------------------------------------------------------------


async def _starlette_endpoint(request: Request) -> JSONResponse:
    await request.body()
    return JSONResponse(SMALL_JSON)


def starlette_app() -> Starlette:
    return Starlette(routes=[Route("/v1/assign", _starlette_endpoint, methods=["POST"])])


# --- (iii) raw ASGI ---------------------------------------------------------------------------


async def _raw(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": _RAW_HEADERS})
    await send({"type": "http.response.body", "body": _RAW_BODY})


def raw_app() -> ASGIApp:
    return _raw


# --- (i) kx-edge ------------------------------------------------------------------------------


def assign_app() -> Starlette:
    """`edge.asgi.create_app_from_environment` plus the bench routes (never the demo)."""
    settings = settings_from_environment()
    holder: dict[str, ASGIApp] = {}

    async def stats(request: Request) -> Response:
        svc: Services = request.state.services
        resolver = svc.resolver
        counters = resolver.metrics.snapshot() if isinstance(resolver, Resolver) else {}
        counters |= {f"gc.gen{generation}": s["collections"] for generation, s in enumerate(gc.get_stats())}
        return JSONResponse({"pid": os.getpid(), "resolver": counters})

    async def inprocess(request: Request) -> Response:
        spec = msgspec.json.decode(await request.body(), type=InProcessSpec)
        state = dict(request.scope["state"])
        return Response(
            msgspec.json.encode(await in_process(holder["app"], state, spec)), media_type="application/json"
        )

    app = create_app(
        settings,
        extra_routes=[
            Route("/__bench/stats", stats, methods=["GET"]),
            Route("/__bench/inprocess", inprocess, methods=["POST"]),
        ],
    )
    holder["app"] = app
    return app


# --- the in-process measurement ---------------------------------------------------------------


class InProcessSpec(msgspec.Struct):
    path: str
    query_string: str
    headers: list[tuple[str, str]]
    bodies: list[str]
    iterations: int = 5_000
    repeats: int = 5
    profile: bool = False


class _Sink:
    """A `send` that counts statuses: the cheapest stand-in for the server."""

    __slots__ = ("statuses",)

    def __init__(self) -> None:
        self.statuses: dict[int, int] = {}

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            status = message["status"]
            self.statuses[status] = self.statuses.get(status, 0) + 1


Prepared = tuple[dict[str, Any], Receive]


def _requests(spec: InProcessSpec, state: dict[str, Any]) -> list[Prepared]:
    """One (scope, receive) per body, shaped as uvicorn makes them; receive hands over the whole
    body at once, as httptools does for a small body."""
    headers = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in spec.headers]
    made: list[Prepared] = []
    for body in spec.bodies:
        raw = body.encode()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "server": ("127.0.0.1", 8000),
            "client": ("127.0.0.1", 50000),
            "scheme": "http",
            "method": "POST",
            "root_path": "",
            "path": spec.path,
            "raw_path": spec.path.encode(),
            "query_string": spec.query_string.encode(),
            "headers": [*headers, (b"content-length", str(len(raw)).encode())],
            "state": state,
        }
        message: Message = {"type": "http.request", "body": raw, "more_body": False}

        async def receive(message: Message = message) -> Message:
            return message

        made.append((scope, receive))
    return made


Call = Callable[[Scope, Receive, Send], Awaitable[None]]


async def _time_calls(
    apps: Sequence[Call],
    requests: Sequence[Prepared],
    spec: InProcessSpec,
    sink: _Sink,
    *,
    gc_off: bool = False,
) -> list[float]:
    """Best µs per call of each app over `spec.iterations` calls, each call with fresh copies of
    the scope and its state (uvicorn makes both per request). The apps take turns, repeat after
    repeat, so that other load on the machine hits them alike."""
    best = [float("inf")] * len(apps)
    count = len(requests)
    for _ in range(spec.repeats):
        for index, app in enumerate(apps):
            if gc_off:
                gc.disable()
            try:
                started = time.perf_counter()
                for i in range(spec.iterations):
                    scope, receive = requests[i % count]
                    scope = dict(scope)
                    scope["state"] = dict(scope["state"])
                    await app(scope, receive, sink)
                elapsed = time.perf_counter() - started
            finally:
                gc.enable()
            best[index] = min(best[index], elapsed / spec.iterations)
    return [seconds * 1e6 for seconds in best]


async def _noop(scope: Scope, receive: Receive, send: Send) -> None:
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": _RAW_HEADERS})
    await send({"type": "http.response.body", "body": _RAW_BODY})


async def _time_steps(svc: Services, spec: InProcessSpec) -> dict[str, float]:
    """µs per request of each step of `edge.storefront.assign._handle`, each timed alone over the
    same requests, in the handler's order, with the handler's own functions (the sends are the
    harness's). For attribution only: `handler_us` is the real handler."""
    requests = _requests(spec, {"services": svc})
    n = max(1, spec.iterations // len(requests)) * len(requests)
    count = len(requests)
    scopes = [scope for scope, _ in requests]
    bodies = [body.encode() for body in spec.bodies]
    runtime = svc.runtimes.by_query_string(scopes[0]["query_string"])
    assert runtime is not None, "the bench's site is in memory and asked for by ?site=<key>"
    decoded = [decode_request(body) for body in bodies]
    whos = [identify_cached(runtime, r.kx, svc.resolver) for r in decoded]
    assert all(who is not None for who in whos), "every visitor's identity is in L1"
    steps: dict[str, float] = {}

    def clock(name: str, started: float) -> None:
        steps[name] = min(steps.get(name, float("inf")), (time.perf_counter() - started) / n * 1e6)

    for _ in range(spec.repeats):
        started = time.perf_counter()
        for _ in range(n):
            svc.request_ids.new().encode()
        clock("request id", started)

        started = time.perf_counter()
        for i in range(n):
            assign_module.read_head(scopes[i % count]["headers"])
        clock("request headers (origin, content-length, request id)", started)

        started = time.perf_counter()
        for i in range(n):
            svc.runtimes.by_query_string(scopes[i % count]["query_string"])
        clock("site by public key", started)

        started = time.perf_counter()
        for i in range(n):
            decode_request(bodies[i % count])
        clock("decode body (msgspec)", started)

        started = time.perf_counter()
        for i in range(n):
            identify_cached(runtime, decoded[i % count].kx, svc.resolver)
        clock("identify (kx check + resolver L1 hit)", started)

        started = time.perf_counter()
        for i in range(n):
            k = i % count
            who = whos[k]
            assert who is not None
            headers = scopes[k]["headers"]
            assign_module.respond(
                svc, assign_module.inputs_from(runtime, headers, decoded[k], who, svc, body=bodies[k])
            )
        clock("answer (remembered answer, observers, body)", started)

        started = time.perf_counter()
        for i in range(n):
            k = i % count
            request = decode_request(bodies[k])
            who = identify_cached(runtime, request.kx, svc.resolver)
            assert who is not None
            assign_module.respond(
                svc,
                assign_module.inputs_from(runtime, scopes[k]["headers"], request, who, svc, body=bodies[k]),
            )
        clock(SEQUENCE, started)
    return steps


async def in_process(app: ASGIApp, state: dict[str, Any], spec: InProcessSpec) -> dict[str, Any]:
    """µs per `/v1/assign` with no HTTP server: the whole app (Starlette's outer middleware, the
    request-context middleware, the fast path), the handler alone, each step of the handler, and
    the harness itself (a no-op ASGI app called the same way)."""
    requests = _requests(spec, state)
    checked, sink = _Sink(), _Sink()
    once = msgspec.structs.replace(spec, repeats=1)
    await _time_calls([app, assign], requests, once, checked)  # warm-up, and the statuses reported
    app_us, handler_us, harness_us = await _time_calls([app, assign, _noop], requests, spec, sink)
    result: dict[str, Any] = {
        "app_us": app_us,
        "handler_us": handler_us,
        "harness_us": harness_us,
        "steps_us": await _time_steps(state["services"], spec),
        "statuses": checked.statuses,
    }
    if spec.profile:
        result["app_gc_off_us"], result["handler_gc_off_us"] = await _time_calls(
            [app, assign], requests, spec, sink, gc_off=True
        )
        profiler = cProfile.Profile()
        profiler.enable()
        await _time_calls([app], requests, once, sink)
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
        result["profile"] = out.getvalue()
    return result


async def in_process_baselines(spec: InProcessSpec) -> dict[str, float]:
    """The bare Starlette and raw ASGI apps called the same way (no lifespan state needed)."""
    requests = _requests(spec, {})
    sink = _Sink()
    apps: list[Call] = [starlette_app(), raw_app()]
    await _time_calls(apps, requests, msgspec.structs.replace(spec, repeats=1), sink)
    if set(sink.statuses) != {200}:
        raise RuntimeError(f"the baseline apps answered {sink.statuses}")
    starlette_us, raw_us = await _time_calls(apps, requests, spec, sink)
    return {"starlette_us": starlette_us, "raw_us": raw_us}

"""The storefront snippet, `GET /v1/snippet.js?site=<public_key>`.

The JavaScript lives in parts under `static/snippet/` (one concern each, `PARTS` in order, sharing
one function scope: `core.js` defines `hooks` the other parts plug into, `start.js` comes last
and makes the first call); they are joined, wrapped and minified (rjsmin) once per process.

Each site's body embeds what of the visit its live experiences read (`snippet_needs`: session
UTMs, landing page, referrer, new or returning, named cookies, link parameters; visit.js
collects exactly that), and its hiding plan: for every live experience, the pages and selectors its
variations touch and whether one redirects. A first-time visitor's snippet hides exactly those
elements (the whole page only where a redirect may leave) until the answer applies, so nothing
flickers before the visitor was ever decided. The body therefore depends on the site: its ETag
is the body's hash, it is cached briefly (`max-age=60`) and revalidated (304 while the plan is
unchanged); an unknown key gets the body with an empty plan. Compression is left to the app's
gzip middleware.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import msgspec
import rjsmin
from starlette.requests import Request
from starlette.responses import Response

from targeting import CompiledSite, VisitNeeds
from targeting.changes import VariationChanges
from targeting.visit import NO_VISIT_NEEDS

SOURCE_DIR: Final = Path(__file__).with_name("static") / "snippet"
PARTS: Final = (
    "core.js",
    "diagnostics.js",
    "changes.js",
    "preview.js",
    "visit.js",
    "track.js",
    "start.js",
)
BANNER: Final = "/*! kx-edge storefront snippet: A/B tests and personalization in one round trip. */"
MEDIA_TYPE: Final = "application/javascript; charset=utf-8"
CACHE_CONTROL: Final = "public, max-age=60, stale-while-revalidate=300"
PLAN_MARK: Final = "__KX_PLAN__"
NEEDS_MARK: Final = "__KX_NEEDS__"
MAX_SITE_BODIES: Final = 1024

# What visit.js reads (the page URL travels on every request anyway; device and country are
# read by the edge from the request's headers).
SNIPPET_NEEDS: Final = frozenset({"landing_url", "referrer", "utm", "visitor", "cookies", "links"})
# experience id -> one entry per variation with page changes: (pages, selectors, redirects)
HidingPlan = Mapping[str, Sequence[tuple[Sequence[str], Sequence[str], int]]]
_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True, slots=True)
class Snippet:
    """The served body and its strong ETag (quoted, as it goes on the wire)."""

    body: bytes
    etag: str


def source() -> str:
    """The parts, in order, inside one strict-mode function scope that receives the plan."""
    parts = "\n".join((SOURCE_DIR / name).read_text(encoding="utf-8") for name in PARTS)
    return (
        f'{BANNER}\n(() => {{\n"use strict";\nconst needs = {NEEDS_MARK};\nconst plan = {PLAN_MARK};\n'
        f"{parts}\n}})();\n"
    )


@functools.cache
def _thirds() -> tuple[bytes, bytes, bytes]:
    """The minified body around the needs and the plan (rjsmin keeps `/*!` banners)."""
    head, rest = rjsmin.jsmin(source(), keep_bang_comments=True).split(NEEDS_MARK)
    middle, tail = rest.split(PLAN_MARK)
    return head.encode("utf-8"), middle.encode("utf-8"), tail.encode("utf-8")


@functools.lru_cache(maxsize=MAX_SITE_BODIES)
def _assembled(plan_json: bytes, needs_json: bytes) -> Snippet:
    head, middle, tail = _thirds()
    body = head + needs_json + middle + plan_json + tail
    return Snippet(body=body, etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"')


def snippet_needs(needs: VisitNeeds) -> dict[str, object]:
    """What the snippet collects for the site's live experiences (visit.js): only the needed
    keys, so a site that targets only segments embeds `{}` and collects nothing more."""
    return {key: value for key, value in needs.to_dict().items() if value and key in SNIPPET_NEEDS}


def site_snippet(plan: HidingPlan, needs: VisitNeeds = NO_VISIT_NEEDS) -> Snippet:
    """The body for a site with this hiding plan and visit needs (one copy per distinct pair)."""
    return _assembled(_encode(plan), _encode(snippet_needs(needs)))


def load_snippet() -> Snippet:
    """The body with an empty plan: an unknown site, or one with no page changes live."""
    return site_snippet({})


@functools.lru_cache(maxsize=4096)
def _touched(changes: VariationChanges) -> tuple[str, ...]:
    return changes.touched_selectors


def hiding_plan(site: CompiledSite) -> dict[str, list[tuple[tuple[str, ...], tuple[str, ...], int]]]:
    """What each live experience's variations touch, for the snippet to hide on a first visit."""
    plan: dict[str, list[tuple[tuple[str, ...], tuple[str, ...], int]]] = {}
    for cx in site.experiences:
        entries = [
            (v.changes.pages, _touched(v.changes), int(v.changes.redirect is not None))
            for v in cx.experience.variations
            if v.changes is not None and (v.changes.redirect is not None or _touched(v.changes))
        ]
        if entries:
            plan[cx.id] = entries
    return plan


def etag_matches(if_none_match: str, etag: str) -> bool:
    """Whether an `If-None-Match` header names `etag` (weak comparison, RFC 9110 13.1.2)."""
    if if_none_match.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in if_none_match.split(","))


async def _for_request(request: Request) -> Snippet:
    services = getattr(request.state, "services", None)
    public_key = request.query_params.get("site", "")
    if services is None or not public_key or len(public_key) > 128:
        return load_snippet()
    runtime = services.runtimes.cached(public_key) or await services.runtimes.by_public_key(public_key)
    if runtime is None:
        return load_snippet()
    return site_snippet(hiding_plan(runtime.compiled), runtime.compiled.visit_needs)


async def snippet_response(request: Request) -> Response:
    """Serve the site's snippet, or 304 when the browser already holds this version."""
    snippet = await _for_request(request)
    headers = {
        "ETag": snippet.etag,
        "Cache-Control": CACHE_CONTROL,
        # Shops that isolate themselves (COEP: require-corp) may still load it.
        "Cross-Origin-Resource-Policy": "cross-origin",
        "X-Content-Type-Options": "nosniff",
    }
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None and etag_matches(if_none_match, snippet.etag):
        return Response(status_code=304, headers=headers)
    return Response(snippet.body, media_type=MEDIA_TYPE, headers=headers)

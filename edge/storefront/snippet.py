"""The storefront snippet, `GET /v1/snippet.js?site=<public_key>`.

The same bytes serve every site: the snippet reads its site key (and the API origin) from its own
`src`, so the body, and therefore the ETag, never depend on the query. The JavaScript lives in
parts under `static/snippet/` (one concern each, `PARTS` in order, sharing one function scope:
`core.js` defines `hooks` the other parts plug into, `start.js` comes last and makes the first
call); they are joined, wrapped and compacted once per process. Compression is left to the
app's gzip middleware.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

SOURCE_DIR = Path(__file__).with_name("static") / "snippet"
PARTS = ("core.js", "diagnostics.js", "start.js")
BANNER = "/*! kx-edge storefront snippet: A/B tests and personalization in one round trip. */"
MEDIA_TYPE = "application/javascript; charset=utf-8"
CACHE_CONTROL = "public, max-age=300"


@dataclass(frozen=True, slots=True)
class Snippet:
    """The served body and its strong ETag (quoted, as it goes on the wire)."""

    body: bytes
    etag: str


def minify(source: str) -> str:
    """Drop indentation, blank lines and whole-line `//` comments; keep every line break.

    Deliberately this small, so it cannot change what the code means: line breaks stay (automatic
    semicolon insertion sees the same program) and nothing inside a line is touched. It relies on
    the source's two rules, stated at its top: comments sit on their own lines, and no string or
    template literal spans two lines.
    """
    lines = (line.strip() for line in source.splitlines())
    return "\n".join(line for line in lines if line and not line.startswith("//")) + "\n"


def source() -> str:
    """The parts, in order, inside one strict-mode function scope."""
    parts = "\n".join((SOURCE_DIR / name).read_text(encoding="utf-8") for name in PARTS)
    return f'{BANNER}\n(() => {{\n"use strict";\n{parts}\n}})();\n'


@functools.cache
def load_snippet() -> Snippet:
    """The compacted snippet, read from disk on first use and kept for the process."""
    body = minify(source()).encode("utf-8")
    return Snippet(body=body, etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"')


def etag_matches(if_none_match: str, etag: str) -> bool:
    """Whether an `If-None-Match` header names `etag` (weak comparison, RFC 9110 13.1.2)."""
    if if_none_match.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in if_none_match.split(","))


async def snippet_response(request: Request) -> Response:
    """Serve the snippet, or 304 when the browser already holds this version."""
    snippet = load_snippet()
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

"""Two tiny apps for driving the snippet in a real browser.

- `AssignStub`: a scripted stand-in for kx-edge's `POST /v1/assign` (a test double; the real
  endpoint gets its own end-to-end test). It records every request it receives, preflights
  included, and answers from a script the test sets up. It also serves the real snippet, as
  kx-edge does, so the snippet finds the API origin from its own `src`.
- `Storefront`: a merchant's page that shows a control banner and, when the snippet puts
  `kx-free-shipping-banner` on `<html>`, the variant banner instead. It also serves the snippet,
  for pages that point `data-api` elsewhere.

Both are mutable from the test thread while uvicorn runs them in its own thread; a lock guards
what crosses over.
"""

from __future__ import annotations

import asyncio
import html
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from edge.storefront.snippet import snippet_response

SITE_KEY = "pk_test_snippet"


@dataclass(frozen=True)
class Answer:
    """One scripted reply: a status, a JSON-able value or raw bytes, and an optional delay."""

    body: Any = None
    status: int = 200
    delay: float = 0.0


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        return json.loads(self.body)


def experience(
    id: str,
    variation_id: str | None,
    *,
    status: str = "decided",
    is_control: bool = False,
    type: str = "personalization",
) -> dict[str, Any]:
    """One entry of the `experiences` list, as docs/DESIGN.md's storefront contract shapes it."""
    return {
        "id": id,
        "type": type,
        "status": status,
        "entered": variation_id is not None,
        "variation_id": variation_id,
        "is_control": is_control,
        "reason": "segment_match" if status == "decided" else "identity_pending",
    }


def assignment(
    *experiences: dict[str, Any],
    visitor_id: str = "v_server_1",
    identity: str = "identified",
    retry_after_ms: int | None = None,
    sticky: str = "st.1",
) -> Answer:
    """A 200 answer of `/v1/assign`."""
    return Answer(
        {
            "visitor_id": visitor_id,
            "identity": identity,
            "retry_after_ms": retry_after_ms,
            "warnings": [],
            "experiences": list(experiences),
            "sticky": sticky,
        }
    )


@dataclass
class AssignStub:
    allowed_origin: str = ""
    _answers: list[Answer] = field(default_factory=list)
    _requests: list[Recorded] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self, *answers: Answer) -> None:
        """Forget recorded requests; answer with `answers` in turn, the last one repeating."""
        with self._lock:
            self._answers = list(answers) or [assignment()]
            self._requests = []

    @property
    def requests(self) -> list[Recorded]:
        with self._lock:
            return list(self._requests)

    def assigns(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST"]

    def _next_answer(self) -> Answer:
        with self._lock:
            return self._answers.pop(0) if len(self._answers) > 1 else self._answers[0]

    async def _assign(self, request: Request) -> Response:
        body = await request.body()
        with self._lock:
            self._requests.append(
                Recorded(
                    method=request.method,
                    path=request.url.path,
                    query=request.url.query,
                    headers={k.decode("latin-1"): v.decode("latin-1") for k, v in request.headers.raw},
                    body=body,
                    at=time.monotonic(),
                )
            )
        cors = {"Access-Control-Allow-Origin": self.allowed_origin, "Vary": "Origin"}
        if request.method == "OPTIONS":
            cors["Access-Control-Allow-Methods"] = "POST"
            cors["Access-Control-Allow-Headers"] = "content-type"
            return Response(status_code=204, headers=cors)
        answer = self._next_answer()
        if answer.delay:
            await asyncio.sleep(answer.delay)
        content = answer.body if isinstance(answer.body, bytes) else json.dumps(answer.body)
        return Response(content, answer.status, headers=cors, media_type="application/json")

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/assign", self._assign, methods=["POST", "OPTIONS"]),
                Route("/v1/snippet.js", snippet_response),
            ]
        )


PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Stub shop</title>
<style>
body {{ font: 18px/1.5 system-ui, sans-serif; margin: 2rem; background: #fafafa; color: #222; }}
.banner {{ padding: 1rem 1.5rem; border-radius: 8px; margin: 1rem 0; }}
.control {{ background: #e3ecf7; }}
.variant {{ display: none; background: #ffd966; font-weight: bold; }}
html.kx-free-shipping-banner .variant {{ display: block; }}
html.kx-free-shipping-banner .control {{ display: none; }}
</style>
<script>
window.__events = [];
window.__seen = [];
window.__styles = [];
document.addEventListener("kxedge:decided", (e) => {{
  window.__events.push(e.detail);
  const root = document.documentElement;
  window.__seen.push({{ cls: root.className, opacity: getComputedStyle(root).opacity }});
}});
new MutationObserver((records) => records.forEach((r) => r.addedNodes.forEach((n) => {{
  if (n.nodeName === "STYLE") window.__styles.push(n.textContent);
}}))).observe(document.documentElement, {{ childList: true, subtree: true }});
</script>
<script src="{src}"{attrs} async></script>
</head>
<body>
<h1>Stub shop</h1>
<div class="banner control" id="control">Welcome! Shipping from $5.</div>
<div class="banner variant" id="variant">Free shipping for our VIPs</div>
<button id="buy" onclick="this.textContent = 'Added to cart'">Add to cart</button>
</body>
</html>
"""


@dataclass
class Storefront:
    """The merchant's page; `script_src` and `script_attrs` shape its snippet tag."""

    script_src: str = ""
    script_attrs: dict[str, str] = field(default_factory=dict)

    def configure(self, src: str, **attrs: str) -> None:
        """Set the snippet tag: `src`, plus attributes (`data_api="..."` -> `data-api="..."`)."""
        self.script_src = src
        self.script_attrs = {name.replace("_", "-"): value for name, value in attrs.items()}

    async def _page(self, request: Request) -> Response:
        attrs = "".join(
            f' {name}="{html.escape(value)}"' if value else f" {name}"
            for name, value in self.script_attrs.items()
        )
        return HTMLResponse(PAGE.format(src=html.escape(self.script_src), attrs=attrs))

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/snippet.js", snippet_response),
                Route("/", self._page),
                Route("/{rest:path}", self._page),
            ]
        )

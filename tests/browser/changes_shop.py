"""A real kx-edge and a shop around it, for driving a variation's `changes` in Chromium.

`ChangesShop` runs the real app (`create_app`) on one port and answers two hostnames: the shop's
pages on `http://localhost:PORT/shop/...` and the API on `http://127.0.0.1:PORT`, so every
request the snippet makes is cross-origin with the real CORS rules. Experiences go in through the
configuration API (validation, compile, the decision's fragment, the per-site snippet: all real).
`AssignGate` lets a test hold `/v1/assign` answers for a while (server-side latency, as a slow
network would add), and `Exposures` records every answered assignment, as the results part of
the service counts them.

Shop pages are streamed in chunks (`Page.chunks`) so the browser paints the page progressively,
and each page samples, on every animation frame, what it shows of `[data-watch]` elements
(`window.__frames`): rAF callbacks run after the DOM work of the frame and before its paint.
"""

from __future__ import annotations

import asyncio
import html
import json
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from edge.app import create_app
from edge.services import Services
from edge.sites.runtime import SiteRuntime
from edge.storefront.identity import VisitorIdentity
from targeting import SiteDecision
from tests.apps import make_settings
from tests.browser.live_server import live_server
from tests.waiting import free_port

SAMPLER = """<script>
window.__frames = [];
window.__decidedAt = null;
document.addEventListener("kxedge:decided", () => { if (window.__decidedAt === null) window.__decidedAt = performance.now(); });
(function sample() {
  const seen = {};
  for (const el of document.querySelectorAll("[data-watch]")) {
    const style = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    seen[el.dataset.watch] = {
      text: el.textContent.trim(),
      shown: style.opacity !== "0" && style.visibility !== "hidden" && style.display !== "none" && box.height > 0,
    };
  }
  window.__frames.push({ t: performance.now(), seen: seen });
  if (window.__frames.length < 2000) requestAnimationFrame(sample);
})();
</script>"""


@dataclass
class Exposures:
    """Every answered assignment: (visitor id, url, {experience: variation})."""

    seen: list[tuple[str, str | None, dict[str, str | None]]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def observed(
        self,
        runtime: SiteRuntime,
        visitor_id: str,
        who: VisitorIdentity,
        decision: SiteDecision,
        url: str | None,
    ) -> None:
        with self._lock:
            self.seen.append((visitor_id, url, {d.experience_id: d.variation_id for d in decision.decisions}))

    def all(self) -> list[tuple[str, str | None, dict[str, str | None]]]:
        with self._lock:
            return list(self.seen)


@dataclass
class AssignGate:
    """Holds each `/v1/assign` for `delay_s` before the app answers it (0: no wait)."""

    app: ASGIApp
    delay_s: float = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/v1/assign" and self.delay_s:
            await asyncio.sleep(self.delay_s)
        await self.app(scope, receive, send)


@dataclass
class ShopPage:
    """A shop page: its HTML body in chunks, sent `pause_s` apart."""

    chunks: list[str]
    pause_s: float = 0.0
    head: str = ""


@dataclass
class ChangesShop:
    port: int
    public_key: str
    site_id: str
    api_key: str
    exposures: Exposures
    gate: AssignGate
    pages: dict[str, ShopPage]
    snippet_attrs: dict[str, str] = field(default_factory=dict)

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def origin(self) -> str:
        return f"http://localhost:{self.port}"

    def url(self, path: str) -> str:
        return self.origin + path

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def create(self, body: dict[str, Any]) -> httpx.Response:
        return httpx.post(f"{self.api}/v1/sites/{self.site_id}/experiences", json=body, headers=self._auth())

    def put_live(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create (or replace) an experience and return the stored document."""
        found = httpx.get(
            f"{self.api}/v1/sites/{self.site_id}/experiences/{body['id']}", headers=self._auth()
        )
        if found.status_code == 200:
            answer = httpx.put(
                f"{self.api}/v1/sites/{self.site_id}/experiences/{body['id']}",
                json=body,
                headers=self._auth() | {"If-Match": found.headers["etag"]},
            )
        else:
            answer = self.create(body)
        assert answer.status_code in (200, 201), answer.text
        stored: dict[str, Any] = answer.json()
        return stored

    def delete_all(self) -> None:
        listed = httpx.get(f"{self.api}/v1/sites/{self.site_id}/experiences", headers=self._auth()).json()
        for experience in listed["experiences"]:
            item = f"{self.api}/v1/sites/{self.site_id}/experiences/{experience['id']}"
            version = f'"{experience["version"]}"'
            if experience["status"] == "live":
                paused = httpx.post(item + "/pause", headers=self._auth() | {"If-Match": version})
                version = paused.headers["etag"]
            httpx.delete(item, headers=self._auth() | {"If-Match": version})

    def preview_links(self, experience_id: str, path: str = "/shop/a") -> dict[str, str]:
        answer = httpx.post(
            f"{self.api}/v1/sites/{self.site_id}/experiences/{experience_id}/preview-links",
            json={"url": self.url(path)},
            headers=self._auth(),
        )
        assert answer.status_code == 200, answer.text
        return {link["variation_id"]: link["url"] for link in answer.json()["links"]}

    def tag(self) -> str:
        attrs = "".join(f' {name}="{html.escape(value)}"' for name, value in self.snippet_attrs.items())
        return f'<script src="{self.api}/v1/snippet.js?site={self.public_key}"{attrs}></script>'

    async def _page(self, request: Request) -> Response:
        page = self.pages.get(request.url.path)
        if page is None:
            return HTMLResponse("<!doctype html><title>none</title><p>No such page</p>", status_code=404)
        head = f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title>{SAMPLER}{self.tag()}{page.head}</head><body>'

        async def stream() -> AsyncIterator[bytes]:
            yield head.encode()
            for i, chunk in enumerate(page.chunks):
                if i and page.pause_s:
                    await asyncio.sleep(page.pause_s)
                # Padding past the parser's first buffer, so each chunk is parsed and painted.
                yield (chunk + "<!--" + " " * 2048 + "-->").encode()
            yield b"</body></html>"

        return StreamingResponse(stream(), media_type="text/html", headers={"Cache-Control": "no-store"})


def shop_routes(holder: dict[str, ChangesShop]) -> list[Route]:
    async def page(request: Request) -> Response:
        return await holder["shop"]._page(request)

    return [Route("/shop/{rest:path}", page, methods=["GET"])]


@contextmanager
def changes_shop(tmp_path: Path) -> Iterator[ChangesShop]:
    port = free_port()
    settings = make_settings(tmp_path, public_url=f"http://127.0.0.1:{port}")
    exposures = Exposures()
    holder: dict[str, ChangesShop] = {}

    async def ready(svc: Services) -> None:
        svc.assign_observers.append(exposures)

    app = create_app(settings, extra_routes=shop_routes(holder), on_ready=ready)
    gate = AssignGate(app)
    with live_server(gate, port=port, lifespan="on"):
        operator = {"Authorization": f"Bearer {settings.operator_token}"}
        created = httpx.post(
            f"http://127.0.0.1:{port}/v1/sites",
            json={"name": "Changes shop", "allowed_origins": [f"http://localhost:{port}"]},
            headers=operator,
        )
        assert created.status_code == 201, created.text
        site = created.json()
        shop = ChangesShop(port, site["public_key"], site["id"], site["api_key"], exposures, gate, {})
        holder["shop"] = shop
        yield shop


def frames(page: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = page.evaluate("() => window.__frames")
    return found


def to_json(value: Any) -> str:
    return json.dumps(value)

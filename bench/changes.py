"""`bench.changes`: the snippet's size and how long a variation's changes take to show.

    .venv/bin/python -m bench.changes [--visits 20] [--latency-ms 0]

Serves a real kx-edge and a shop page (the browser tests' harness, `tests/browser/changes_shop.py`)
on 127.0.0.1, with one live personalization whose variation sets the hero's text. Headless
Chromium (Debian's, `/usr/bin/chromium`) visits the page `--visits` times as a first-time visitor
(a fresh browser context: no cookies, no kept answer) and `--visits` times as a returning one,
and each visit records, from the navigation's start (`performance.timeOrigin`), when the hero
element first exists and when it first shows the variation's text (a MutationObserver started
before the snippet). `--latency-ms` holds each `/v1/assign` answer that long, as a distant server
would. Prints the snippet's bytes (raw and gzipped at level 6, as served) and, per kind of
visit, the median and 90th percentile of both times. Indicative only: the machine is shared.
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import tempfile
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

from edge.storefront.snippet import hiding_plan, site_snippet
from targeting import compile_site, parse_experience
from tests.browser.changes_shop import ChangesShop, ShopPage, changes_shop
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

VARIANT = "Gear that goes further"
EXPERIENCE: dict[str, Any] = {
    "id": "hero",
    "type": "personalization",
    "name": "Hero",
    "status": "live",
    "targeting": {"mode": "custom"},
    "variations": [
        {"id": "control", "name": "Control", "weight": 1, "is_control": True},
        {
            "id": "variant",
            "name": "Variant",
            "weight": 1,
            "changes": {"dom": [{"selector": "#hero", "action": "set_text", "value": VARIANT}]},
        },
    ],
}
WATCH = (
    "<script>window.__seen = {};"
    "new MutationObserver(() => { const el = document.getElementById('hero');"
    " if (el && !window.__seen.exists) window.__seen.exists = performance.now();"
    " if (el && el.textContent === '"
    + VARIANT
    + "' && !window.__seen.applied) window.__seen.applied = performance.now();"
    "}).observe(document.documentElement, {childList: true, subtree: true, characterData: true});</script>"
)


def _visit(context: Any, url: str) -> dict[str, float]:
    page = context.new_page()
    page.goto(url)
    page.wait_for_function("() => window.__seen && window.__seen.applied")
    seen: dict[str, float] = page.evaluate("() => window.__seen")
    page.close()
    return seen


def _summary(name: str, times: list[dict[str, float]]) -> str:
    def line(key: str) -> str:
        values = sorted(t[key] for t in times)
        p90 = values[min(len(values) - 1, int(len(values) * 0.9))]
        return f"{key} median {statistics.median(values):.1f} ms, p90 {p90:.1f} ms"

    return f"  {name:<18} {line('exists')}; {line('applied')}"


def run(visits: int, latency_ms: int) -> None:
    body = site_snippet(hiding_plan(compile_site([parse_experience(EXPERIENCE)]))).body
    print(f"snippet: {len(body)} bytes, {len(gzip.compress(body, compresslevel=6))} bytes gzipped")
    with tempfile.TemporaryDirectory() as tmp, changes_shop(Path(tmp)) as shop:
        _prepare(shop, latency_ms)
        url = shop.url("/shop/bench")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            first, returning = [], []
            for _ in range(visits):
                context = browser.new_context()
                first.append(_visit(context, url))
                returning.append(_visit(context, url))
                context.close()
            browser.close()
    print(
        f"navigation start -> hero exists / shows the variation ({visits} visits each, assign held {latency_ms} ms):"
    )
    print(_summary("first visit", first))
    print(_summary("returning visitor", returning))


def _prepare(shop: ChangesShop, latency_ms: int) -> None:
    shop.put_live(EXPERIENCE)
    shop.gate.delay_s = latency_ms / 1000
    shop.pages["/shop/bench"] = ShopPage(
        ['<h1 id="hero">Built for the outdoors</h1><p>Our jackets</p>'], head=WATCH
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--visits", type=int, default=20)
    parser.add_argument("--latency-ms", type=int, default=0)
    args = parser.parse_args()
    run(args.visits, args.latency_ms)


if __name__ == "__main__":
    main()

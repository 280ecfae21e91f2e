"""The demo storefront: a page that uses the snippet exactly as a shop would, and "visit as" links.

Each "visit as" link starts a new visitor (as a new device would: kx-edge's cookies cleared) and
arrives the way that visitor would: from a Klaviyo email (`?_kx=`), cookied by klaviyo.js
(`__kla_id`), or anonymously.
"""

from __future__ import annotations

import base64
import json
from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from sandbox import DEMO_PEOPLE, DemoPerson

SNIPPET_COOKIES = ("kx_vid", "kx_st", "kx_kx", "__kla_id")


def person(email_prefix: str) -> DemoPerson:
    return next(p for p in DEMO_PEOPLE if p.email.startswith(email_prefix))


VISITS: dict[str, tuple[str, DemoPerson | None, str]] = {
    # name: (label, who, how they arrive)
    "vip": ("visit as VIP (from a Klaviyo email)", person("ava."), "url"),
    "wholesale": ("visit as a Wholesale customer", person("chloe."), "url"),
    "lapsed-wholesale": ("visit as a lapsed Wholesale customer", person("daniel."), "url"),
    "cookied-vip": ("visit as a VIP cookied by Klaviyo (no email click)", person("kenji."), "cookie"),
    "anonymous": ("visit anonymously", None, "none"),
}


def kla_id_cookie(kx: str) -> str:
    """What klaviyo.js keeps in `__kla_id`: base64 JSON holding the exchange id."""
    return base64.b64encode(json.dumps({"$exchange_id": kx, "$referrer": {}}).encode()).decode()


async def visit(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in VISITS:
        return HTMLResponse("<p>Unknown visit. <a href='/'>Back</a></p>", status_code=404)
    _, who, how = VISITS[name]
    target = "/" if who is None or how != "url" else f"/?_kx={_quote(who.kx)}&utm_source=klaviyo"
    response = RedirectResponse(target, status_code=303)
    for cookie in SNIPPET_COOKIES:
        response.delete_cookie(cookie, path="/")
    if who is not None and how == "cookie":
        response.set_cookie("__kla_id", kla_id_cookie(who.kx), path="/", samesite="lax")
    return response


def _quote(kx: str) -> str:
    from urllib.parse import quote

    return quote(kx, safe="")


# The debug box shows each decision's reason code with these words beside it (a code the demo
# does not know yet is shown alone).
REASON_WORDS: dict[str, str] = {
    "sticky": "kept from an earlier visit",
    "everyone": "no targeting: everyone can enter",
    "rules_matched": "the targeting matched",
    "assigned": "an audience assigns this variation",
    "not_in_traffic": "matched, but outside the traffic share: sees the control",
    "holdout": "matched, but in the holdout: sees the control",
    "rules_not_matched": "the targeting did not match: sees the control",
    "unidentified": "Klaviyo does not know this visitor: sees the control",
    "pending": "still asking Klaviyo for the segments: the control for now",
    "excluded": "an audience excludes this visitor: sees the control",
    "deferred": "not decided yet: waits until Klaviyo knows the visitor's segments",
    "sticky_variation_removed": "the earlier variation was removed: decided afresh",
    "bot": "a bot: sees the control and is not counted",
    "exclusion_group": "in another test of the same exclusion group: sees the control",
    "preview": "forced by a preview link (this browser only)",
}
IDENTITY_WORDS: dict[str, str] = {
    "identified": "Klaviyo knows this visitor",
    "unidentified": "not known to Klaviyo (no _kx, or no profile has it)",
    "pending": "still asking Klaviyo",
}


def storefront_page(public_key: str) -> str:
    links = "".join(
        f'<li><a href="/demo/visit/{name}">{escape(label)}</a></li>' for name, (label, _, _) in VISITS.items()
    )
    # `<` escaped so no text can close the script element.
    words = json.dumps({"reasons": REASON_WORDS, "identity": IDENTITY_WORDS}).replace("<", "\\u003c")
    return (
        _PAGE.replace("{links}", links).replace("{public_key}", escape(public_key)).replace("{words}", words)
    )


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>Sandbox Outfitters · kx-edge demo</title>
<script src="/v1/snippet.js?site={public_key}"></script>
<style>
body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#1d2330;background:#fafaf7}
header,main,footer{max-width:56rem;margin:0 auto;padding:1rem 1.25rem}
.card{background:#fff;border:1px solid #e3e3dc;border-radius:.6rem;padding:1rem 1.25rem;margin:1rem 0}
table{border-collapse:collapse}td,th{padding:.2rem .8rem;border-bottom:1px solid #eee;text-align:left}
code,pre{font-size:.85rem}pre{background:#f1f1ec;padding:.75rem;border-radius:.4rem;overflow:auto}
</style></head>
<body>
<header><h1 id="hero">Built for the outdoors</h1>
<p>Sandbox Outfitters is a demo shop. kx-edge decides what each visitor sees from their Klaviyo segments.</p></header>
<main>
<section class="card" aria-labelledby="pricing-h"><h2 id="pricing-h">Trail jacket</h2>
<div id="price"><p id="list-price">$189.00</p></div>
</section>
<section class="card" aria-labelledby="try-h"><h2 id="try-h">Try it</h2><ul>{links}</ul>
<p>Each link starts a new visitor. A visitor from a Klaviyo email carries <code>_kx</code> in the URL;
a cookied one carries Klaviyo's <code>__kla_id</code> cookie.</p></section>
<section class="card" aria-labelledby="what-h"><h2 id="what-h">What kx-edge decided</h2>
<p>Identity: <strong id="identity">…</strong> <span id="identity-words"></span></p><pre id="decisions">waiting for the first answer…</pre></section>
</main>
<script type="application/json" id="kx-words">{words}</script>
<script>
var words = JSON.parse(document.getElementById("kx-words").textContent);
function said(code) { return words.reasons[code] ? words.reasons[code] + " (" + code + ")" : code; }
document.addEventListener("kxedge:decided", function (event) {
  var detail = event.detail;
  document.getElementById("identity").textContent = detail.identity || "unknown";
  document.getElementById("identity-words").textContent = words.identity[detail.identity] ? "(" + words.identity[detail.identity] + ")" : "";
  document.getElementById("decisions").textContent = detail.decisions.map(function (d) {
    return d.id + ": " + (d.variation_id || "-") + "  " + (d.status === "pending" ? "pending: " : "") + said(d.reason);
  }).join("\\n") || "no decisions (kx-edge did not answer: the page shows its defaults)";
});
</script>
</body></html>
"""


def storefront_routes(public_key: str) -> list[Route]:
    async def home(request: Request) -> Response:
        return HTMLResponse(storefront_page(public_key), headers={"Cache-Control": "no-store"})

    return [
        Route("/", home, methods=["GET"]),
        Route("/demo/visit/{name}", visit, methods=["GET"]),
    ]

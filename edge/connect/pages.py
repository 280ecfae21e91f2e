"""The small HTML pages a merchant sees at the end of "Sign in with Klaviyo"."""

from __future__ import annotations

from html import escape

from starlette.responses import HTMLResponse

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{title} · kx-edge</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#1d2330}}
.status{{display:inline-block;padding:.1rem .6rem;border-radius:1rem;font-weight:600}}
.active{{background:#dff5e3;color:#14532d}}.problem{{background:#fde2e1;color:#7f1d1d}}
.neutral{{background:#eef0f4}}a{{color:#2f4fd8}}</style></head>
<body><main><h1>{title}</h1>{body}<p><a href="{back}">Back to kx-edge</a></p></main></body></html>"""

OUTCOMES = {
    "connected": "Klaviyo is connected",
    "denied": "Klaviyo was not connected",
}


def page(title: str, body_html: str, *, status_code: int = 200, back: str = "/admin") -> HTMLResponse:
    return HTMLResponse(
        _PAGE.format(title=escape(title), body=body_html, back=escape(back)),
        status_code=status_code,
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


def status_badge(status: str) -> str:
    kind = {"active": "active", "disconnected": "neutral"}.get(status, "problem")
    label = {"active": "Active", "disconnected": "Disconnected", "needs_reauth": "Needs reconnecting"}.get(
        status, status.replace("_", " ").capitalize()
    )
    return f'<span class="status {kind}">{escape(label)}</span>'


def problem_page(title: str, message: str, next_step: str, *, status_code: int) -> HTMLResponse:
    return page(
        title,
        f"<p>{escape(message)}</p><p><strong>What to do:</strong> {escape(next_step)}</p>",
        status_code=status_code,
    )

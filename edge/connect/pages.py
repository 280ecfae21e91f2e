"""The pages a merchant's browser sees during "Sign in with Klaviyo", from Jinja templates.

Every answer of the browser-facing OAuth routes (pages and redirects) carries the same headers:
no caching, no referrer (the callback's URL holds a code and a state), no framing, and a
Content-Security-Policy that allows no script at all and forms only towards this service and
Klaviyo's authorize page (the start page's form ends in a redirect there, and browsers check
`form-action` on redirects too). They use the merchant page's stylesheet.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import jinja2
from starlette.responses import HTMLResponse, RedirectResponse

BACK: Final = "/admin"
STATUS_LABELS: Final = {
    "active": "Active",
    "disconnected": "Disconnected",
    "needs_reauth": "Needs reconnecting",
}

_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def security_headers(authorize_url: str) -> dict[str, str]:
    """The headers of every OAuth page and redirect; `authorize_url` is Klaviyo's consent page."""
    parts = urlsplit(authorize_url)
    klaviyo = (
        f" {parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else ""
    )
    return {
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
        "Content-Security-Policy": (
            "default-src 'none'; style-src 'self'; img-src 'self'; "
            f"form-action 'self'{klaviyo}; frame-ancestors 'none'; base-uri 'none'"
        ),
    }


def render(
    template: str, headers: dict[str, str], *, title: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    body = _environment.get_template(template).render(title=title, back=BACK, **context)
    return HTMLResponse(body, status_code=status_code, headers=headers)


def problem(
    headers: dict[str, str], title: str, message: str, next_step: str, *, status_code: int
) -> HTMLResponse:
    """A page that says what went wrong and what to do next (nothing of it comes unescaped)."""
    return render(
        "problem.html", headers, title=title, message=message, next_step=next_step, status_code=status_code
    )


def redirect(url: str, headers: dict[str, str]) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=headers)


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status.replace("_", " ").capitalize())

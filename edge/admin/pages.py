"""The merchant page's server-rendered pages: sign-in, integrations, experiences, editor, preview.

Pages read what they show from the same store and functions the configuration API answers from;
every change the page makes goes through the configuration API (its JavaScript calls it with the
session and the CSRF token), so validation, ETags and propagation live in one place.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote, urlsplit

import jinja2
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from edge.access import csrf
from edge.access.sessions import (
    IDLE_TIMEOUT_S,
    AdminSession,
    clear_session_cookie,
    current_session,
    session_id_of,
    session_store,
    set_session_cookie,
)
from edge.admin.limits import client_address, failed_sign_ins
from edge.config_api import results as results_api
from edge.connect.routes import wants_events_scope
from edge.services import Services, services
from edge.sites.keys import hash_api_key
from edge.store import SiteRecord
from oauth.connection import connection_status
from oauth.scopes import required_scopes

HOME: Final = "/admin/integrations"
_ORIGIN: Final = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?")
MAX_KEY_LENGTH: Final = 200
_HEADERS: Final = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
}


def _utc(epoch: float | None) -> str:
    return "" if epoch is None else time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(epoch))


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["utc"] = _utc
    return env


templates = Jinja2Templates(env=_environment())


@dataclass(frozen=True, slots=True)
class SignedIn:
    session: AdminSession
    site: SiteRecord


async def _signed_in(request: Request) -> SignedIn | Response:
    """The session and its site, or the redirect to sign-in (keeping where the merchant was going)."""
    session = await current_session(request)
    site = await services(request).store.get_site(session.site_id) if session else None
    if session is None or site is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/admin/sign-in?next={quote(target, safe='')}", status_code=303)
    return SignedIn(session, site)


def _render(
    request: Request, name: str, context: dict[str, Any], *, status_code: int = 200, signed: SignedIn | None
) -> Response:
    base: dict[str, Any] = {
        "site": signed.site if signed else None,
        "csrf_token": signed.session.csrf_token if signed else "",
        "idle_minutes": IDLE_TIMEOUT_S // 60,
        "demo": _demo(request),
    }
    return templates.TemplateResponse(
        request, name, base | context, status_code=status_code, headers=_HEADERS
    )


def _demo(request: Request) -> dict[str, Any] | None:
    """What the demo put on `app.state.demo_site` when this is `kx-edge serve --demo`: the demo
    site's keys and its sample people (the sandbox is local and in memory)."""
    found = getattr(request.app.state, "demo_site", None)
    return found if isinstance(found, dict) else None


def _is_demo_site(request: Request, site: SiteRecord) -> bool:
    demo = _demo(request)
    return demo is not None and demo.get("id") == site.id


def _safe_next(value: str | None) -> str:
    """Only a path of this page may follow sign-in (never another host)."""
    if not value or not value.startswith("/admin") or value.startswith("/admin/sign-"):
        return HOME
    parts = urlsplit(value)
    return HOME if parts.scheme or parts.netloc or "\\" in value else value


async def home(request: Request) -> Response:
    signed = await _signed_in(request)
    return signed if isinstance(signed, Response) else RedirectResponse(HOME, status_code=303)


async def sign_in_page(request: Request) -> Response:
    if await current_session(request) is not None:
        return RedirectResponse(_safe_next(request.query_params.get("next")), status_code=303)
    notice = "You are signed out." if request.query_params.get("signed_out") else ""
    return _sign_in_form(request, notice=notice)


def _sign_in_form(request: Request, *, error: str = "", notice: str = "", status_code: int = 200,
                  next_path: str | None = None, headers: dict[str, str] | None = None) -> Response:  # fmt: skip
    token = csrf.sign_in_token(request)
    response = _render(
        request,
        "sign_in.html",
        {
            "error": error,
            "notice": notice,
            "signin_token": token,
            "next": _safe_next(next_path or request.query_params.get("next")),
        },
        status_code=status_code,
        signed=None,
    )
    response.headers.update(headers or {})
    csrf.set_sign_in_cookie(request, response, token)
    return response


async def sign_in(request: Request) -> Response:
    async with request.form(max_files=0, max_fields=8, max_part_size=4096) as form:
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
    csrf.require_sign_in_token(request, fields.get(csrf.SIGN_IN_FIELD))
    svc = services(request)
    limiter, client, now = failed_sign_ins(request), client_address(request), svc.clock()
    next_path = fields.get("next")
    wait = limiter.retry_after(client, now)
    if wait is not None:
        return _sign_in_form(
            request,
            error=f"Too many wrong api keys from your address: sign-in is paused for {wait} s "
            f"(at most {limiter.limit} tries a minute).",
            status_code=429,
            next_path=next_path,
            headers={"Retry-After": str(wait)},
        )
    api_key = fields.get("api_key", "").strip()
    site = None
    if api_key and len(api_key) <= MAX_KEY_LENGTH:
        site = await svc.store.get_site_by_api_key_hash(hash_api_key(api_key))
    if site is None:
        limiter.failed(client, now)
        return _sign_in_form(
            request,
            error="That api key does not open any site here. Paste the site's api key (it starts with "
            "sk_ and was shown once, when the site was created).",
            status_code=401,
            next_path=next_path,
        )
    session_id, _ = await session_store(request).create(site.id)
    response = RedirectResponse(_safe_next(next_path), status_code=303)
    set_session_cookie(response, request, session_id)
    response.delete_cookie(csrf.SIGN_IN_COOKIE, path=csrf.SIGN_IN_PATH)
    return response


async def sign_in_endpoint(request: Request) -> Response:
    """One route for the form and its POST, so a wrong method's 405 names both."""
    return await (sign_in(request) if request.method == "POST" else sign_in_page(request))


async def sign_out(request: Request) -> Response:
    session = await current_session(request)
    session_id = session_id_of(request)
    if session is not None and session_id is not None:
        async with request.form(max_files=0, max_fields=4, max_part_size=1024) as form:
            token = form.get(csrf.FIELD)
        csrf.require_form_token(token if isinstance(token, str) else None, session)
        await session_store(request).delete(session_id)
    response = RedirectResponse("/admin/sign-in?signed_out=1", status_code=303)
    clear_session_cookie(response, request)
    return response


async def integrations(request: Request) -> Response:
    signed = await _signed_in(request)
    if isinstance(signed, Response):
        return signed
    svc = services(request)
    events = await wants_events_scope(svc, signed.site.id)
    view = connection_status(await svc.connections.get(signed.site.id), required_scopes(events=events))
    context = {
        "page": "integrations",
        "klaviyo": view,
        "klaviyo_configured": svc.klaviyo is not None,
        "connected_at": _utc(view["connected_at"]),
        "outcome": _connect_outcome(request, view["status"]),
    }
    return _render(request, "integrations.html", context, signed=signed)


# Klaviyo's OAuth error codes a merchant may meet on the way back (anything else shows as given).
_DECLINED: Final = {
    "access_denied": "permission was not granted",
    "invalid_scope": "Klaviyo did not accept the permissions kx-edge asked for",
}


def _connect_outcome(request: Request, status: str) -> dict[str, str] | None:
    """What "Sign in with Klaviyo" came back with (the callback's redirect says it in the query).

    "connected" is shown only when the stored status agrees, so a crafted link cannot claim a
    connection that is not there."""
    outcome = request.query_params.get("klaviyo")
    if outcome == "connected" and status == "active":
        return {"kind": "ok", "text": "Klaviyo is connected."}
    if outcome == "denied":
        error = request.query_params.get("error", "access_denied")[:100]
        meaning = _DECLINED.get(error, "Klaviyo did not complete the connection")
        return {"kind": "error", "text": f"Klaviyo was not connected: {meaning} ({error}). Your connection is "
                "unchanged; click Sign in with Klaviyo to try again."}  # fmt: skip
    return None


# What runs comes first: the list answers "what is running and how is it doing".
_STATUS_ORDER: Final = {"live": 0, "paused": 1, "draft": 2, "ended": 3}


async def experiences(request: Request) -> Response:
    signed = await _signed_in(request)
    if isinstance(signed, Response):
        return signed
    svc = services(request)
    records = await svc.store.list_experiences(signed.site.id)
    counted = {r.id: await first_visitors(svc, signed.site.id, r.id) for r in records}
    rows = [
        {
            "id": r.id,
            "name": str(r.body.get("name") or r.id),
            "type": r.type,
            "status": r.status,
            "traffic_percent": r.body.get("traffic_percent", 100),
            "mode": (r.body.get("targeting") or {}).get("mode", "custom"),
            "variations": len(r.body.get("variations") or ()),
            "updated_at": r.updated_at,
            "running_since": counted[r.id][0],
            "visitors": counted[r.id][1],
        }
        for r in sorted(records, key=lambda r: _STATUS_ORDER.get(r.status, 9))
    ]
    return _render(request, "experiences.html", {"page": "experiences", "rows": rows}, signed=signed)


async def first_visitors(svc: Services, site_id: str, experience_id: str) -> tuple[str, int]:
    """The first day a visitor entered the experience ("" before anyone did) and how many have."""
    cells = await results_api.results_reader(svc).result_cells(
        site_id, experience_id, first_day=None, last_day=None
    )
    first = min((cell.day for cell in cells if cell.visitors), default=None)
    return ("" if first is None else first.isoformat(), sum(cell.visitors for cell in cells))


async def editor(request: Request) -> Response:
    signed = await _signed_in(request)
    if isinstance(signed, Response):
        return signed
    experience_id = request.path_params.get("experience_id")
    if (
        experience_id is not None
        and await services(request).store.get_experience(signed.site.id, experience_id) is None
    ):
        return _render(request, "missing.html", {"page": "experiences", "experience_id": experience_id},
                       status_code=404, signed=signed)  # fmt: skip
    boot = {"site_id": signed.site.id, "experience_id": experience_id}
    context = {"page": "experiences", "experience_id": experience_id, "boot": boot}
    response = _render(request, "editor.html", context, signed=signed)
    # The live preview frames the merchant's own store (its allowed origins), nothing else.
    frames = " ".join(o for o in signed.site.allowed_origins if _ORIGIN.fullmatch(o))
    response.headers["Content-Security-Policy"] += f"; frame-src 'self' {frames}".rstrip()
    return response


async def preview(request: Request) -> Response:
    signed = await _signed_in(request)
    if isinstance(signed, Response):
        return signed
    demo = _demo(request)
    people = demo.get("people", []) if demo is not None and _is_demo_site(request, signed.site) else []
    boot = {"site_id": signed.site.id}
    return _render(
        request, "preview.html", {"page": "preview", "people": people, "boot": boot}, signed=signed
    )

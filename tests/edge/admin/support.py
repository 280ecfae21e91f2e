"""Building an app with the merchant page for tests, and signing in over plain HTTP."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.routing import BaseRoute

from edge.admin.routes import routes as admin_routes
from edge.app import create_app
from edge.events import build_events, events_of
from edge.events.component import EventsConfig
from edge.events.routes import routes as event_routes
from edge.routes import experiences, explain, segments
from edge.services import Services
from edge.settings import Settings

_META_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
_SIGN_IN_TOKEN = re.compile(r'name="signin_token" value="([^"]+)"')


def page_routes() -> list[BaseRoute]:
    """The configuration API the page sits on, the trigger endpoints and the page itself.

    Added as extra routes until app.py serves them all; a route that app.py already has is
    harmless here (the first match wins, and it is the same handler).
    """
    return [*experiences.routes, *segments.routes, *explain.routes, *event_routes, *admin_routes]


async def run_events(svc: Services) -> None:
    """The event triggers component for the app's lifetime (unless the app already runs one):
    built, registered, started; closed when the app stops and cancels this task."""
    if events_of(svc) is not None:
        return
    events = build_events(svc, EventsConfig(send=False))
    svc.assign_observers.append(events.observer)
    svc.events_scope_hooks.append(events.uses_events)
    await events.start()
    try:
        await asyncio.Event().wait()
    finally:
        await events.aclose()


def admin_app(
    settings: Settings,
    *,
    extra_routes: Sequence[BaseRoute] = (),
    on_ready: Callable[[Services], Coroutine[Any, Any, None]] | None = run_events,
    **kwargs: Any,
) -> Starlette:
    return create_app(settings, extra_routes=[*page_routes(), *extra_routes], on_ready=on_ready, **kwargs)


def csrf_of(html: str) -> str:
    found = _META_CSRF.search(html)
    assert found, "no csrf-token meta tag on the page"
    return found.group(1)


def sign_in_token_of(html: str) -> str:
    found = _SIGN_IN_TOKEN.search(html)
    assert found, "no sign-in token on the page"
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, api_key: str) -> str:
    """Sign in through the form as a browser would; returns the session's CSRF token."""
    form = await client.get("/admin/sign-in")
    assert form.status_code == 200, form.text
    response = await client.post(
        "/admin/sign-in", data={"api_key": api_key, "signin_token": sign_in_token_of(form.text)}
    )
    assert response.status_code == 303, response.text
    page = await client.get(response.headers["location"])
    assert page.status_code == 200, page.text
    return csrf_of(page.text)


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

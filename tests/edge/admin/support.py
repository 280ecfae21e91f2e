"""Building an app with the merchant page for tests, and signing in over plain HTTP."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.routing import BaseRoute

from edge.app import create_app
from edge.settings import Settings

_META_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
_SIGN_IN_TOKEN = re.compile(r'name="signin_token" value="([^"]+)"')


def admin_app(settings: Settings, *, extra_routes: Sequence[BaseRoute] = (), **kwargs: Any) -> Starlette:
    """The whole service (the page, the configuration API and the triggers it sits on)."""
    return create_app(settings, extra_routes=extra_routes, **kwargs)


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

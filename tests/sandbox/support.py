"""Helpers for the sandbox tests: a clock tests move by hand, PKCE pairs, an HTML form reader."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field
from html.parser import HTMLParser

from sandbox import s256

CLIENT_ID = "kx-edge-test"
CLIENT_SECRET = "test-secret-0123456789"
REDIRECT_URI = "http://127.0.0.1:8787/oauth/klaviyo/callback"
REVISION = "2026-10-15"
ALL_SCOPES = ("accounts:read", "profiles:read", "segments:read", "events:write")
T0 = 1_800_000_000.0  # a whole minute, so rate-limit windows start at T0


@dataclass
class FakeClock:
    now: float = T0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def pkce_pair() -> tuple[str, str]:
    """(verifier, S256 challenge)."""
    verifier = secrets.token_urlsafe(48)
    return verifier, s256(verifier)


def basic(client_id: str = CLIENT_ID, secret: str = CLIENT_SECRET) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


@dataclass
class Form:
    action: str = ""
    method: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    buttons: dict[str, list[str]] = field(default_factory=dict)
    selects: dict[str, list[str]] = field(default_factory=dict)


class FormReader(HTMLParser):
    """The first form of a page: its action, hidden fields, submit buttons and select options."""

    def __init__(self) -> None:
        super().__init__()
        self.form = Form()
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.form.action, self.form.method = a.get("action", ""), a.get("method", "")
        elif tag == "input" and a.get("type") == "hidden":
            self.form.fields[a["name"]] = a.get("value", "")
        elif tag == "button":
            self.form.buttons.setdefault(a["name"], []).append(a["value"])
        elif tag == "select":
            self._select = a["name"]
            self.form.selects[a["name"]] = []
        elif tag == "option" and self._select:
            self.form.selects[self._select].append(a["value"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None


def read_form(html: str) -> Form:
    reader = FormReader()
    reader.feed(html)
    return reader.form

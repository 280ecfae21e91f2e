"""The Klaviyo scopes kx-edge asks for, and which of them a connection lacks."""

from __future__ import annotations

from collections.abc import Iterable

BASE_SCOPES: tuple[str, ...] = ("accounts:read", "profiles:read", "segments:read")
EVENTS_SCOPE = "events:write"


def required_scopes(events: bool) -> tuple[str, ...]:
    """Targeting needs the base scopes; event triggers add `events:write`."""
    return (*BASE_SCOPES, EVENTS_SCOPE) if events else BASE_SCOPES


def parse_scope(text: str | None) -> tuple[str, ...]:
    """A space-separated `scope` value as a tuple, duplicates dropped, order kept."""
    return tuple(dict.fromkeys((text or "").split()))


def missing_scopes(granted: Iterable[str], required: Iterable[str]) -> tuple[str, ...]:
    """The required scopes that were not granted, in the order they are required."""
    have = set(granted)
    return tuple(scope for scope in dict.fromkeys(required) if scope not in have)

"""Which scopes kx-edge asks for, and which a connection lacks."""

from __future__ import annotations

from oauth.scopes import (
    BASE_SCOPES,
    EVENTS_SCOPE,
    missing_scopes,
    parse_scope,
    required_scopes,
)


def test_targeting_needs_the_base_scopes_and_events_add_events_write() -> None:
    assert BASE_SCOPES == ("accounts:read", "profiles:read", "segments:read")
    assert required_scopes(events=False) == BASE_SCOPES
    assert required_scopes(events=True) == (*BASE_SCOPES, EVENTS_SCOPE)
    assert EVENTS_SCOPE == "events:write"


def test_missing_scopes_keeps_the_required_order() -> None:
    granted = ("segments:read", "accounts:read")
    assert missing_scopes(granted, required_scopes(events=True)) == (
        "profiles:read",
        "events:write",
    )
    assert missing_scopes(BASE_SCOPES, BASE_SCOPES) == ()
    assert missing_scopes((), ("a", "a")) == ("a",)


def test_parse_scope_splits_on_whitespace_and_drops_duplicates() -> None:
    assert parse_scope("accounts:read  segments:read accounts:read") == (
        "accounts:read",
        "segments:read",
    )
    assert parse_scope(None) == ()
    assert parse_scope("") == ()

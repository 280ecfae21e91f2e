"""The values a fake Klaviyo account holds: accounts, profiles, segments and received events.

All frozen: the state replaces a record to change it, so a handler that took one keeps a
consistent view while a test thread edits the state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

Clock = Callable[[], float]
"""Wall-clock seconds since the epoch (`time.time` by default); tests inject their own."""


def iso(ts: float) -> str:
    """Klaviyo's timestamp format: ISO 8601 with an explicit UTC offset, whole seconds."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def parse_iso(text: str) -> float:
    """Seconds since the epoch of an ISO 8601 date-time; a naive value is taken as UTC."""
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


@dataclass(frozen=True, slots=True)
class StreetAddress:
    address1: str = "1 Sandbox Way"
    address2: str | None = None
    city: str = "Boston"
    region: str = "MA"
    country: str = "United States"
    zip: str = "02110"


@dataclass(frozen=True, slots=True)
class Account:
    """A Klaviyo account; `public_api_key` is the account id, as in Klaviyo."""

    id: str
    organization_name: str
    test_account: bool = False
    default_sender_name: str = "Sandbox Team"
    default_sender_email: str = "hello@sandbox.example"
    website_url: str = "https://sandbox.example"
    street_address: StreetAddress = field(default_factory=StreetAddress)
    industry: str | None = "Apparel & Accessories"
    timezone: str = "America/New_York"
    preferred_currency: str = "USD"
    locale: str = "en-US"


@dataclass(frozen=True, slots=True)
class Profile:
    id: str
    account_id: str
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone_number: str | None = None
    external_id: str | None = None
    kx: str | None = None
    """The `_kx` exchange id: filterable, never returned as an attribute (as in Klaviyo)."""
    created: float = 0.0
    updated: float = 0.0
    properties: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Segment:
    id: str
    account_id: str
    name: str
    is_active: bool = True
    is_starred: bool = False
    is_processing: bool = False
    created: float = 0.0
    updated: float = 0.0


@dataclass(frozen=True, slots=True)
class IncomingEvent:
    """One validated event from `POST /api/events` or a bulk job, before recording."""

    metric_name: str
    identifiers: Mapping[str, str]
    """The profile identifiers sent: any of `id`, `_kx`, `email`, `phone_number`, `external_id`."""
    profile_attributes: Mapping[str, Any]
    properties: Mapping[str, Any]
    time: float | None
    value: float | None
    unique_id: str | None
    backfill: bool
    body: Mapping[str, Any]
    bulk: bool = False


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    id: str
    account_id: str
    metric_name: str
    profile_id: str | None
    """None when the identifiers matched no profile and none could be created (a lone `_kx`)."""
    identifiers: Mapping[str, str]
    unique_id: str | None
    time: float
    value: float | None
    properties: Mapping[str, Any]
    backfill: bool
    body: Mapping[str, Any]
    received_at: float
    bulk: bool = False

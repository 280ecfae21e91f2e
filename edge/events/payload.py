"""Klaviyo event bodies (docs/KLAVIYO.md, "Events"): one event's attributes, and the two envelopes.

The outbox stores each event's `attributes` object as JSON; the sender wraps stored attributes
either in a `POST /api/events` body or, many at once, in a bulk job (one entry per event, each
with its own profile, so every event keeps its own profile properties).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import msgspec

from edge.events.triggers import METRIC_NAMES, PROFILE_PROPERTY, Trigger
from targeting import Decision, Experience

encode = msgspec.json.Encoder().encode


def iso_time(at: float) -> str:
    """Klaviyo's date-time form: ISO 8601 with an explicit UTC offset, milliseconds kept."""
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds")


class IsoTimes:
    """`iso_time` for a stream of nearby instants: the date-time of the current second is
    formatted once (visits flushed together mostly share it)."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def __call__(self, at: float) -> str:
        second = int(at)
        if second != self._second:
            self._second = second
            self._prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return f"{self._prefix}.{int((at - second) * 1000):03d}+00:00"


def experience_properties(
    decision: Decision, experience: Experience | None, site_name: str, url: str | None
) -> dict[str, Any]:
    """The documented properties (triggers.PROPERTIES) of an experience event."""
    variation_name = decision.variation_id or ""
    if experience is not None:
        for variation in experience.variations:
            if variation.id == decision.variation_id:
                variation_name = variation.name
                break
    properties: dict[str, Any] = {
        "Experience": experience.name if experience is not None else decision.experience_id,
        "Experience ID": decision.experience_id,
        "Variation": variation_name,
        "Variation ID": decision.variation_id,
        "Is Control": decision.is_control,
        "Site": site_name,
    }
    if url:
        properties["Page URL"] = url
    return properties


def profile_sync_properties(experiences: tuple[str, ...], site_name: str, url: str | None) -> dict[str, Any]:
    properties: dict[str, Any] = {"Experiences": list(experiences), "Site": site_name}
    if url:
        properties["Page URL"] = url
    return properties


def event_attributes(
    trigger: Trigger,
    *,
    unique_id: str,
    time: str,
    properties: dict[str, Any],
) -> dict[str, Any]:
    """One event's `attributes` but its profile (stored apart so envelopes are spliced, not
    re-encoded). `backfill` is never set, so the event starts flows."""
    return {
        "properties": properties,
        "time": time,
        "unique_id": unique_id,
        "metric": {"data": {"type": "metric", "attributes": {"name": METRIC_NAMES[trigger]}}},
    }


def event_profile(kx: str, experiences: tuple[str, ...] | None) -> dict[str, Any]:
    """The event's `profile`: identified by `_kx`; with profile_sync on, the property rides along."""
    attributes: dict[str, Any] = {"_kx": kx}
    if experiences is not None:
        attributes["properties"] = {PROFILE_PROPERTY: list(experiences)}
    return {"data": {"type": "profile", "attributes": attributes}}


def _with_profile(attributes: bytes, profile: bytes) -> bytes:
    # Both are JSON objects written by msgspec: `{...}` gains a last member.
    return attributes[:-1] + b',"profile":' + profile + b"}"


def single_body(attributes: bytes, profile: bytes) -> bytes:
    """A `POST /api/events` body around stored attributes and profile."""
    return b'{"data":{"type":"event","attributes":' + _with_profile(attributes, profile) + b"}}"


def bulk_body(events: list[tuple[bytes, bytes]]) -> bytes:
    """A `POST /api/event-bulk-create-jobs` body: one entry (profile + its event) per event."""
    entries = b",".join(
        b'{"type":"event-bulk-create","attributes":{"profile":' + profile
        + b',"events":{"data":[{"type":"event","attributes":' + attributes + b"}]}}}"
        for attributes, profile in events
    )  # fmt: skip
    return (
        b'{"data":{"type":"event-bulk-create-job","attributes":{"events-bulk-create":{"data":['
        + entries
        + b"]}}}}"
    )


def digest(*parts: str) -> str:
    """A short stable hash (kx and experience sets are kept hashed in the profile state)."""
    return hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=12).hexdigest()

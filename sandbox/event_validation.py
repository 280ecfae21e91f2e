"""Strict validation of `POST /api/events` and `POST /api/event-bulk-create-jobs` bodies, with
JSON:API `source.pointer`s, against the shapes of the spec's `EventCreateQueryV2` and
`EventsBulkCreateJob` (as the official SDK's models define them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sandbox.jsonapi import invalid
from sandbox.records import IncomingEvent, parse_iso

MAX_BULK_EVENTS = 1000
MAX_METRIC_NAME = 127  # "under 128 characters"
IDENTIFIERS = ("_kx", "email", "phone_number", "external_id")
_EVENT_KEYS = frozenset({"properties", "time", "value", "value_currency", "unique_id", "backfill", "metric"})
_PROFILE_KEYS = frozenset(
    {
        *IDENTIFIERS,
        "anonymous_id",
        "first_name",
        "last_name",
        "organization",
        "locale",
        "title",
        "image",
        "location",
        "properties",
    }
)
_YEAR_S = 366 * 86400
_EPOCH_1990 = 631152000.0


def _object(parent: Mapping[str, Any], key: str, pointer: str) -> Mapping[str, Any]:
    value = parent.get(key)
    if not isinstance(value, dict):
        raise invalid(f"'{key}' must be an object", pointer=pointer)
    return value


def _typed(resource: Mapping[str, Any], expected: str, pointer: str) -> Mapping[str, Any]:
    if resource.get("type") != expected:
        raise invalid(f"type must be '{expected}'", pointer=f"{pointer}/type")
    return _object(resource, "attributes", f"{pointer}/attributes")


def _optional(attrs: Mapping[str, Any], key: str, kinds: tuple[type, ...], pointer: str) -> Any:
    value = attrs.get(key)
    bad_bool = isinstance(value, bool) and bool not in kinds
    if value is not None and (bad_bool or not isinstance(value, kinds)):
        raise invalid(f"'{key}' has the wrong type", pointer=f"{pointer}/{key}")
    return value


def _unknown(attrs: Mapping[str, Any], allowed: frozenset[str], pointer: str) -> None:
    for key in attrs:
        if key not in allowed:
            raise invalid(f"'{key}' is not a valid field", pointer=f"{pointer}/{key}")


def parse_profile(profile: Mapping[str, Any], pointer: str) -> tuple[dict[str, str], Mapping[str, Any]]:
    """(identifiers, attributes) of an event's `profile` object; at least one identifier."""
    data = _object(profile, "data", f"{pointer}/data")
    attrs = _typed(data, "profile", f"{pointer}/data")
    where = f"{pointer}/data/attributes"
    _unknown(attrs, _PROFILE_KEYS, where)
    identifiers: dict[str, str] = {}
    for key in IDENTIFIERS:
        value = _optional(attrs, key, (str,), where)
        if value:
            identifiers[key] = value
    profile_id = _optional(data, "id", (str,), f"{pointer}/data")
    if profile_id:
        identifiers["id"] = profile_id
    _optional(attrs, "properties", (dict,), where)
    if not identifiers:
        detail = "The profile needs one of id, _kx, email, phone_number, external_id."
        raise invalid(detail, pointer=where)
    return identifiers, attrs


def _event(
    attrs: Mapping[str, Any],
    pointer: str,
    profile: tuple[dict[str, str], Mapping[str, Any]],
    body: Mapping[str, Any],
    *,
    now: float,
    backfill: bool,
    bulk: bool,
) -> IncomingEvent:
    properties = _object(attrs, "properties", f"{pointer}/properties")
    metric = _typed(
        _object(_object(attrs, "metric", f"{pointer}/metric"), "data", f"{pointer}/metric/data"),
        "metric",
        f"{pointer}/metric/data",
    )
    name = metric.get("name")
    if not isinstance(name, str) or not 0 < len(name) <= MAX_METRIC_NAME:
        detail = f"The metric name must be 1 to {MAX_METRIC_NAME} characters."
        raise invalid(detail, pointer=f"{pointer}/metric/data/attributes/name")
    when: float | None = None
    time_text = _optional(attrs, "time", (str,), pointer)
    if time_text is not None:
        try:
            when = parse_iso(time_text)
        except ValueError:
            raise invalid("'time' must be an ISO 8601 date-time", pointer=f"{pointer}/time") from None
        if not _EPOCH_1990 < when <= now + _YEAR_S:
            raise invalid("'time' must be after 1990, at most a year ahead", pointer=f"{pointer}/time")
    value = _optional(attrs, "value", (int, float), pointer)
    _optional(attrs, "value_currency", (str,), pointer)
    sent_backfill = _optional(attrs, "backfill", (bool,), pointer)
    return IncomingEvent(
        metric_name=name,
        identifiers=profile[0],
        profile_attributes=profile[1],
        properties=properties,
        time=when,
        value=None if value is None else float(value),
        unique_id=_optional(attrs, "unique_id", (str,), pointer),
        backfill=backfill if sent_backfill is None else sent_backfill,
        body=body,
        bulk=bulk,
    )


def parse_event(body: Any, *, now: float) -> IncomingEvent:
    """The event of a `POST /api/events` body, or a 400 naming the offending member."""
    if not isinstance(body, dict):
        raise invalid("The body must be a JSON object.", pointer="/")
    attrs = _typed(_object(body, "data", "/data"), "event", "/data")
    _unknown(attrs, _EVENT_KEYS | {"profile"}, "/data/attributes")
    profile = parse_profile(_object(attrs, "profile", "/data/attributes/profile"), "/data/attributes/profile")
    return _event(attrs, "/data/attributes", profile, body, now=now, backfill=False, bulk=False)


def parse_bulk(body: Any, *, now: float) -> list[IncomingEvent]:
    """The events of a bulk job: entries of one profile and its events, at most 1,000 events."""
    if not isinstance(body, dict):
        raise invalid("The body must be a JSON object.", pointer="/")
    job = _typed(_object(body, "data", "/data"), "event-bulk-create-job", "/data")
    base = "/data/attributes/events-bulk-create/data"
    entries = _object(job, "events-bulk-create", "/data/attributes/events-bulk-create").get("data")
    if not isinstance(entries, list) or not entries:
        raise invalid("'data' must be a non-empty list", pointer=base)
    events: list[IncomingEvent] = []
    for i, entry in enumerate(entries):
        where = f"{base}/{i}"
        if not isinstance(entry, dict):
            raise invalid("Each entry must be an object.", pointer=where)
        attrs = _typed(entry, "event-bulk-create", where)
        _unknown(attrs, frozenset({"profile", "events", "backfill"}), f"{where}/attributes")
        profile = parse_profile(
            _object(attrs, "profile", f"{where}/attributes/profile"), f"{where}/attributes/profile"
        )
        backfill = bool(_optional(attrs, "backfill", (bool,), f"{where}/attributes"))
        listed = _object(attrs, "events", f"{where}/attributes/events").get("data")
        if not isinstance(listed, list) or not listed:
            raise invalid("'data' must be a non-empty list", pointer=f"{where}/attributes/events/data")
        for j, item in enumerate(listed):
            at = f"{where}/attributes/events/data/{j}"
            if not isinstance(item, dict):
                raise invalid("Each event must be an object.", pointer=at)
            event_attrs = _typed(item, "event", at)
            _unknown(event_attrs, _EVENT_KEYS, f"{at}/attributes")
            event = _event(
                event_attrs, f"{at}/attributes", profile, item, now=now, backfill=backfill, bulk=True
            )
            events.append(event)
    if len(events) > MAX_BULK_EVENTS:
        raise invalid(f"At most {MAX_BULK_EVENTS} events per request.", pointer=base)
    return events

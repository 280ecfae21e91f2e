"""The triggers' API bodies as types: what `GET|PUT .../klaviyo/triggers` and
`GET .../klaviyo/triggers/status` read and answer, and what `/openapi.json` describes.

The keys of `TriggersView` and `TriggerHealthByName` are the `Trigger` values (a test checks).
"""

from __future__ import annotations

import msgspec

from oauth.connection import ConnectionStatus


class Switch(msgspec.Struct, forbid_unknown_fields=True):
    enabled: bool


class TriggersPut(msgspec.Struct, forbid_unknown_fields=True):
    """Any subset of the triggers; an unknown key is a 422, so a typo is never silently ignored."""

    entered_test: Switch | msgspec.UnsetType = msgspec.UNSET
    saw_personalization: Switch | msgspec.UnsetType = msgspec.UNSET
    profile_sync: Switch | msgspec.UnsetType = msgspec.UNSET


class PropertyDoc(msgspec.Struct):
    """A property merchants can use in Klaviyo (templates, segments), and what it holds."""

    name: str
    description: str


class TriggerView(msgspec.Struct):
    enabled: bool
    metric_name: str  # the Klaviyo metric a flow starts on
    when: str
    properties: list[PropertyDoc]  # the event's properties
    profile_properties: list[PropertyDoc] | msgspec.UnsetType = msgspec.UNSET  # profile_sync only


class TriggersView(msgspec.Struct):
    entered_test: TriggerView
    saw_personalization: TriggerView
    profile_sync: TriggerView
    missing_scopes: list[str]  # switched on, but the connection lacks what sending needs


class LastError(msgspec.Struct):
    message: str
    at: int | None  # epoch seconds


class TriggerHealth(msgspec.Struct):
    """One trigger over the last 24 hours (`pending`: now)."""

    enabled: bool
    metric_name: str
    last_sent_at: int | None
    sent: int
    failed: int
    pending: int
    skipped: int
    skipped_by_reason: dict[str, int]
    dropped: int
    last_error: LastError | None


class TriggerHealthByName(msgspec.Struct):
    entered_test: TriggerHealth
    saw_personalization: TriggerHealth
    profile_sync: TriggerHealth


class OutboxHealth(msgspec.Struct):
    backend: str  # sqlite | redis
    pending: int
    cap: int
    buffered: int  # visits in memory, not yet written
    dropped_from_memory: int
    sending: bool


class TriggersStatus(msgspec.Struct):
    window: str
    connection_status: ConnectionStatus
    events_scope_missing: bool
    missing_scopes: list[str]
    triggers: TriggerHealthByName
    problems: list[str]  # troubleshooting hints, most fundamental first
    outbox: OutboxHealth

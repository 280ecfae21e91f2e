"""Troubleshooting as an API: the triggers' switches, their health, and one visit's events.

`triggers_view` answers `GET|PUT .../klaviyo/triggers`, `status_view` answers
`GET .../klaviyo/triggers/status`, and `explain_events` tells the explain endpoint which events
a visit produces or why none, with the same planning the flusher uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from edge.events.component import Events, events_of
from edge.events.plan import SkipReason, Visit, plan_visit, unique_id, utc_day
from edge.events.triggers import METRIC_NAMES, Switches, Trigger, trigger_view
from edge.events.views import (
    LastError,
    OutboxHealth,
    TriggerHealth,
    TriggerHealthByName,
    TriggersStatus,
    TriggersView,
)
from edge.services import Services
from edge.sites.runtime import SiteRuntime
from edge.storefront.identity import VisitorIdentity
from oauth.connection import Connection, ConnectionStatus
from oauth.scopes import EVENTS_SCOPE
from targeting import Decision, SiteDecision


def lacks_events_scope(connection: Connection | None) -> bool:
    """Connected (in any state but disconnected) without events:write."""
    return (
        connection is not None
        and connection.status is not ConnectionStatus.DISCONNECTED
        and EVENTS_SCOPE not in connection.scopes
    )


def _missing_scopes(switches: Switches, connection: Connection | None) -> list[str]:
    return [EVENTS_SCOPE] if switches.any and lacks_events_scope(connection) else []


async def triggers_view(events: Events, site_id: str) -> TriggersView:
    switches = await events.switches.read(site_id)
    connection = await events.connections(site_id)
    views = {t.value: trigger_view(t, switches.on(t)) for t in Trigger}
    return TriggersView(**views, missing_scopes=_missing_scopes(switches, connection))


async def status_view(events: Events, site_id: str) -> TriggersStatus:
    now = events.clock()
    switches = await events.switches.read(site_id)
    connection = await events.connections(site_id)
    stats = await events.outbox.stats(site_id, now)
    triggers: dict[str, TriggerHealth] = {}
    for trigger in Trigger:
        s = stats.triggers[trigger]
        skipped = {k.removeprefix("skipped:"): n for k, n in s.counts.items() if k.startswith("skipped:")}
        last_error = None
        if s.last_error is not None:
            last_error = LastError(s.last_error, None if s.last_error_at is None else int(s.last_error_at))
        triggers[trigger.value] = TriggerHealth(
            enabled=switches.on(trigger),
            metric_name=METRIC_NAMES[trigger],
            last_sent_at=None if s.last_sent_at is None else int(s.last_sent_at),
            sent=s.counts.get("sent", 0),
            failed=s.counts.get("failed", 0),
            pending=s.pending,
            skipped=sum(skipped.values()),
            skipped_by_reason=skipped,
            dropped=s.counts.get("dropped", 0),
            last_error=last_error,
        )
    return TriggersStatus(
        window="last 24 hours (pending: now)",
        connection_status=connection.status if connection else ConnectionStatus.DISCONNECTED,
        events_scope_missing=lacks_events_scope(connection),
        missing_scopes=_missing_scopes(switches, connection),
        triggers=TriggerHealthByName(**triggers),
        problems=_problems(switches, connection, triggers),
        outbox=OutboxHealth(
            backend=events.outbox.backend,
            pending=stats.size,
            cap=events.outbox.cap,
            buffered=len(events.observer.buffer),
            dropped_from_memory=events.observer.overflow,
            sending=events.sender is not None,
        ),
    )


def _problems(
    switches: Switches, connection: Connection | None, triggers: dict[str, TriggerHealth]
) -> list[str]:
    """Joy-style troubleshooting hints, most fundamental first."""
    if not switches.any:
        return ["Every trigger is off: switch one on with PUT /v1/sites/{site_id}/klaviyo/triggers."]
    problems: list[str] = []
    if connection is None or connection.status is ConnectionStatus.DISCONNECTED:
        problems.append("Klaviyo is not connected: connect it, granting events:write, to send events.")
    elif connection.status is not ConnectionStatus.ACTIVE:
        problems.append(f"The Klaviyo connection is {connection.status.value}: reconnect Klaviyo.")
    if lacks_events_scope(connection):
        problems.append("The Klaviyo connection lacks events:write: reconnect Klaviyo to grant it.")
    for name, t in triggers.items():
        if t.enabled and t.skipped_by_reason.get(SkipReason.NO_KX.value):
            problems.append(
                f"{name}: some visitors had no _kx, so Klaviyo could not tell who they were; turn on "
                "email-to-website tracking in Klaviyo so links carry _kx."
            )
        if t.enabled and t.failed:
            problems.append(f"{name}: {t.failed} events failed in the last 24 h; see last_error.")
    problems.append(
        "Events start Klaviyo flows only when a flow uses the metric as its trigger and is live; "
        "check the flow in Klaviyo too."
    )
    return problems


async def explain_events(
    svc: Services,
    site_id: str,
    runtime: SiteRuntime,
    visitor_id: str,
    who: VisitorIdentity,
    decision: SiteDecision | Sequence[Decision],
) -> list[dict[str, Any]]:
    """Which events this visit would produce, or why none, one item per (trigger, experience):
    `{"trigger", "metric_name", "experience_id", "sends", "reason", "unique_id"?}`. `reason` is
    "sends" or a `SkipReason` ("trigger_off", "no_kx", "scope_missing", "not_connected",
    "already_sent_today", "not_first_entry", "not_entered"). Nothing is enqueued. `decision`
    may be the visit's `SiteDecision` or its decisions (`[t.decision for t in explain(...)]`)."""
    events = events_of(svc)
    if events is None:
        return [{"trigger": None, "sends": False, "reason": "event_triggers_unavailable"}]
    now = events.clock()
    if not isinstance(decision, SiteDecision):
        decision = SiteDecision(tuple(decision), {})
    switches = await events.switches.read(site_id)
    plan = plan_visit(Visit(runtime, visitor_id, who.kx, decision, None, now), switches, explain=True)
    day = utc_day(now)
    uids = [unique_id(site_id, visitor_id, c.decision.experience_id, c.trigger, day) for c in plan.candidates]
    seen = await events.outbox.seen(uids, day)
    items: list[dict[str, Any]] = []
    for c, uid in zip(plan.candidates, uids, strict=True):
        already = uid in seen
        items.append(
            {
                "trigger": c.trigger.value,
                "metric_name": METRIC_NAMES[c.trigger],
                "experience_id": c.decision.experience_id,
                "sends": not already,
                "reason": SkipReason.ALREADY_SENT_TODAY.value if already else "sends",
                "unique_id": uid,
            }
        )
    for skip in plan.skips:
        items.append(
            {
                "trigger": skip.trigger.value,
                "metric_name": METRIC_NAMES[skip.trigger],
                "experience_id": skip.experience_id or None,
                "sends": False,
                "reason": skip.reason.value,
            }
        )
    if plan.experiences is not None:
        carried = any(i["sends"] for i in items)
        items.append(
            {
                "trigger": Trigger.PROFILE_SYNC.value,
                "metric_name": METRIC_NAMES[Trigger.PROFILE_SYNC],
                "experience_id": None,
                "sends": carried,
                "reason": "carried_by_event" if carried else "sends_if_changed",
                "experiences": list(plan.experiences),
            }
        )
    return items

"""Which events one answered assignment would produce, and why the others would not.

Pure: no clock, no store. The flusher plans every buffered visit with it, and `explain` answers
merchants' "why did no event arrive?" with the same function, so both always agree.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple

from edge.events.triggers import Switches, Trigger
from edge.sites.runtime import SiteRuntime
from oauth.connection import ConnectionStatus
from oauth.scopes import EVENTS_SCOPE
from targeting import Decision, ExperienceType, SiteDecision

DAY_S = 86_400


class SkipReason(StrEnum):
    """Why an event was not produced. The first four are counted in the trigger status."""

    NO_KX = "no_kx"  # the visitor has no valid `_kx`: Klaviyo cannot tell who it is
    NOT_CONNECTED = "not_connected"  # the site has no active Klaviyo connection
    SCOPE_MISSING = "scope_missing"  # the connection was not granted events:write
    DROPPED = "dropped"  # the outbox (or the in-memory buffer) was full: oldest dropped
    TRIGGER_OFF = "trigger_off"
    NOT_ENTERED = "not_entered"  # test not entered, or personalization not shown
    NOT_FIRST_ENTRY = "not_first_entry"  # the visitor entered this test on an earlier visit
    ALREADY_SENT_TODAY = "already_sent_today"  # same visitor, experience and trigger today
    UNCHANGED = "unchanged"  # profile_sync: the experiences are those last sent


class Visit(NamedTuple):
    """What the observer keeps of an answered assignment (a tuple: appending must be cheap)."""

    runtime: SiteRuntime
    visitor_id: str
    kx: str | None
    decision: SiteDecision
    url: str | None
    at: float


@dataclass(frozen=True, slots=True)
class Candidate:
    trigger: Trigger
    decision: Decision


@dataclass(frozen=True, slots=True)
class Skip:
    trigger: Trigger
    experience_id: str  # "" for profile_sync
    reason: SkipReason


@dataclass(slots=True)
class Plan:
    candidates: list[Candidate] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)
    # The visitor's experiences, when profile_sync is on and the event can be sent.
    experiences: tuple[str, ...] | None = None


def utc_day(at: float) -> int:
    return int(at // DAY_S)


def unique_id(site_id: str, visitor_id: str, experience_id: str, trigger: Trigger, day: int) -> str:
    """The event's `unique_id`: Klaviyo keeps one event per profile, metric and unique_id, so a
    retried, re-sent or re-enqueued event is counted once."""
    key = "\x1f".join((site_id, visitor_id, experience_id, trigger.value, str(day)))
    return hashlib.blake2b(key.encode("utf-8"), digest_size=16).hexdigest()


def current_experiences(decision: SiteDecision) -> tuple[str, ...]:
    """`kx_edge_experiences`: "<experience id>:<variation id>" of every experience the visitor
    is in (entered tests, control included; personalizations shown), sorted."""
    return tuple(
        sorted(
            f"{d.experience_id}:{d.variation_id}" for d in decision.decisions if d.entered and d.variation_id
        )
    )


def gate(runtime: SiteRuntime, kx: str | None) -> SkipReason | None:
    """Why no event of this visit can be sent at all, or None."""
    conn = runtime.connection
    if conn is None or conn.status is not ConnectionStatus.ACTIVE:
        return SkipReason.NOT_CONNECTED
    if EVENTS_SCOPE not in conn.scopes:
        return SkipReason.SCOPE_MISSING
    if kx is None:
        return SkipReason.NO_KX
    return None


def plan_visit(visit: Visit, switches: Switches, *, explain: bool = False) -> Plan:
    """The events `visit` produces under `switches`. Skips that are not worth counting (trigger
    off, not entered, not a first entry) are listed only when `explain` is set.

    Runs for every buffered visit, so it is written for speed: no hashing (unique ids are
    computed only for events not already enqueued), no enum lookups in the loop."""
    plan = Plan()
    on_test, on_perso = switches.entered_test, switches.saw_personalization
    blocked = gate(visit.runtime, visit.kx)
    for d in visit.decision.decisions:
        if d.type is _TEST:
            trigger = _ENTERED
            if not on_test or not d.entered or not d.first_assignment:
                if explain:
                    reason = (
                        SkipReason.TRIGGER_OFF if not on_test
                        else SkipReason.NOT_ENTERED if not d.entered
                        else SkipReason.NOT_FIRST_ENTRY
                    )  # fmt: skip
                    plan.skips.append(Skip(trigger, d.experience_id, reason))
                continue
        else:
            trigger = _SAW
            if not on_perso or not d.entered:
                if explain:
                    reason = SkipReason.TRIGGER_OFF if not on_perso else SkipReason.NOT_ENTERED
                    plan.skips.append(Skip(trigger, d.experience_id, reason))
                continue
        if blocked is not None:
            plan.skips.append(Skip(trigger, d.experience_id, blocked))
        else:
            plan.candidates.append(Candidate(trigger, d))
    if switches.profile_sync:
        if blocked is not None:
            plan.skips.append(Skip(Trigger.PROFILE_SYNC, "", blocked))
        else:
            plan.experiences = current_experiences(visit.decision)
    elif explain:
        plan.skips.append(Skip(Trigger.PROFILE_SYNC, "", SkipReason.TRIGGER_OFF))
    return plan


_TEST = ExperienceType.TEST
_ENTERED, _SAW = Trigger.ENTERED_TEST, Trigger.SAW_PERSONALIZATION

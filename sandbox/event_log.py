"""Received events: matched to a profile, deduplicated per (profile, metric, unique_id), kept whole.

The spec says an event without `unique_id` is deduplicated on its time to the second (one event
per profile, metric and second); `dedupe_by_second` switches that off.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Sequence

from sandbox.directory import Directory
from sandbox.records import Clock, IncomingEvent, Profile, RecordedEvent

_LOOKUP_ORDER = ("_kx", "email", "phone_number", "external_id")
_CREATING_IDENTIFIERS = ("email", "phone_number", "external_id")
_PROFILE_FIELDS = ("first_name", "last_name")

DedupeKey = tuple[str, str, str, str]


class DuplicateInBatch(ValueError):
    """A bulk job repeats a (profile, metric, unique_id): the spec rejects the whole job."""


class EventLog:
    def __init__(self, directory: Directory, clock: Clock) -> None:
        self._directory = directory
        self._clock = clock
        self._lock = threading.RLock()
        self._events: list[RecordedEvent] = []
        self._seen: set[DedupeKey] = set()
        self.dedupe_by_second = True

    def record(self, account_id: str, event: IncomingEvent) -> RecordedEvent | None:
        """Record an event; None when it duplicates one already recorded (still a 202)."""
        with self._lock:
            profile = self._resolve(account_id, event)
            key = self._key(account_id, profile, event)
            if key is not None and key in self._seen:
                return None
            if key is not None:
                self._seen.add(key)
            now = self._clock()
            recorded = RecordedEvent(
                id=secrets.token_hex(13),
                account_id=account_id,
                metric_name=event.metric_name,
                profile_id=profile.id if profile else None,
                identifiers=event.identifiers,
                unique_id=event.unique_id,
                time=event.time if event.time is not None else now,
                value=event.value,
                properties=event.properties,
                backfill=event.backfill,
                body=event.body,
                received_at=now,
                bulk=event.bulk,
            )
            self._events.append(recorded)
            return recorded

    def record_batch(self, account_id: str, events: Sequence[IncomingEvent]) -> list[RecordedEvent | None]:
        """Record a bulk job's events; all or none when the job repeats a unique_id."""
        with self._lock:
            keys = [self._key(account_id, self._peek(account_id, e), e) for e in events]
            present = [k for k in keys if k is not None]
            if len(set(present)) != len(present):
                raise DuplicateInBatch("unique_id repeated for the same profile and metric")
            return [self.record(account_id, event) for event in events]

    def events(self, *, account_id: str | None = None, metric_name: str | None = None) -> list[RecordedEvent]:
        with self._lock:
            return [
                e
                for e in self._events
                if (account_id is None or e.account_id == account_id)
                and (metric_name is None or e.metric_name == metric_name)
            ]

    def clear(self) -> None:
        with self._lock:
            self._events.clear()
            self._seen.clear()

    def _key(self, account_id: str, profile: Profile | None, event: IncomingEvent) -> DedupeKey | None:
        who = profile.id if profile else "|".join(sorted(f"{k}={v}" for k, v in event.identifiers.items()))
        if event.unique_id is not None:
            return (account_id, who, event.metric_name, "id:" + event.unique_id)
        if not self.dedupe_by_second:
            return None
        when = event.time if event.time is not None else self._clock()
        return (account_id, who, event.metric_name, f"second:{int(when)}")

    def _peek(self, account_id: str, event: IncomingEvent) -> Profile | None:
        """The profile an event names, without creating one."""
        by_id = event.identifiers.get("id")
        if by_id is not None:
            profile = self._directory.profile(by_id)
            return profile if profile and profile.account_id == account_id else None
        for name in _LOOKUP_ORDER:
            value = event.identifiers.get(name)
            found = self._directory.profile_by(account_id, name, value) if value else None
            if found is not None:
                return found
        return None

    def _resolve(self, account_id: str, event: IncomingEvent) -> Profile | None:
        """The named profile, created when new and identifiable; updated with sent properties."""
        profile = self._peek(account_id, event)
        sent = {k: v for k, v in event.profile_attributes.items() if k in _PROFILE_FIELDS}
        if profile is None:
            if "id" in event.identifiers or not any(n in event.identifiers for n in _CREATING_IDENTIFIERS):
                return None
            ids = event.identifiers
            return self._directory.add_profile(
                account_id,
                kx=ids.get("_kx"),
                email=ids.get("email"),
                phone_number=ids.get("phone_number"),
                external_id=ids.get("external_id"),
                properties=dict(event.profile_attributes.get("properties") or {}),
                **sent,
            )
        properties = event.profile_attributes.get("properties")
        if properties or sent:
            merged = {**profile.properties, **(properties or {})}
            profile = self._directory.update_profile(profile.id, properties=merged, **sent)
        return profile

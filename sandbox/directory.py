"""Accounts, profiles, segments and segment membership, with the indexes the fake's reads need.

Thread-safe: the fake answers on the server's thread while a test edits the data on its own.
"""

from __future__ import annotations

import dataclasses
import secrets
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from sandbox.records import Account, Clock, Profile, Segment

_ULID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_SHORT_ALPHABET = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def new_profile_id() -> str:
    """A 26-character id shaped like Klaviyo's profile ids (ULIDs)."""
    return "01" + "".join(secrets.choice(_ULID_ALPHABET) for _ in range(24))


def new_short_id() -> str:
    """A 6-character id shaped like Klaviyo's account and segment ids."""
    return "".join(secrets.choice(_SHORT_ALPHABET) for _ in range(6))


class UnknownRecord(KeyError):
    """An account, profile or segment id that the state does not hold."""


class Directory:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._lock = threading.RLock()
        self._accounts: dict[str, Account] = {}
        self._profiles: dict[str, Profile] = {}
        self._index: dict[tuple[str, str, str], str] = {}  # (account, field, value) -> profile
        self._segments: dict[str, Segment] = {}
        self._members: dict[str, dict[str, float]] = {}
        self._member_order: dict[str, list[tuple[float, str]]] = {}  # cache, by joined_at
        self._profile_order: dict[str, list[str]] = {}  # cache, profile ids by account

    # accounts
    def add_account(
        self, organization_name: str, *, account_id: str | None = None, **details: Any
    ) -> Account:
        account = Account(account_id or new_short_id(), organization_name, **details)
        with self._lock:
            self._accounts[account.id] = account
        return account

    def account(self, account_id: str) -> Account | None:
        return self._accounts.get(account_id)

    def accounts(self) -> list[Account]:
        with self._lock:
            return list(self._accounts.values())

    # profiles
    def add_profile(
        self,
        account_id: str,
        *,
        profile_id: str | None = None,
        kx: str | None = None,
        email: str | None = None,
        **attributes: Any,
    ) -> Profile:
        """Add (or replace, by id) a profile; `attributes` are `Profile` fields."""
        if account_id not in self._accounts:
            raise UnknownRecord(account_id)
        now = self.clock()
        attributes.setdefault("created", now)
        attributes.setdefault("updated", attributes["created"])
        profile = Profile(profile_id or new_profile_id(), account_id, email=email, kx=kx, **attributes)
        with self._lock:
            if profile.id in self._profiles:
                self._unindex(self._profiles[profile.id])
            self._profiles[profile.id] = profile
            self._reindex(profile)
            self._profile_order.pop(account_id, None)
        return profile

    def add_profiles(self, profiles: Iterable[Profile]) -> None:
        """Add many ready-made profiles at once (the fast path for benchmark data)."""
        with self._lock:
            for profile in profiles:
                if profile.account_id not in self._accounts:
                    raise UnknownRecord(profile.account_id)
                if profile.id in self._profiles:
                    self._unindex(self._profiles[profile.id])
                self._profiles[profile.id] = profile
                self._reindex(profile)
                self._profile_order.pop(profile.account_id, None)

    def update_profile(self, profile_id: str, **changes: Any) -> Profile:
        with self._lock:
            old = self._profiles.get(profile_id)
            if old is None:
                raise UnknownRecord(profile_id)
            new = dataclasses.replace(old, updated=self.clock(), **changes)
            self._unindex(old)
            self._profiles[profile_id] = new
            self._reindex(new)
            return new

    def remove_profile(self, profile_id: str) -> None:
        """Forget a profile and its segment memberships."""
        with self._lock:
            profile = self._profiles.pop(profile_id, None)
            if profile is None:
                raise UnknownRecord(profile_id)
            self._unindex(profile)
            self._profile_order.pop(profile.account_id, None)
            for segment_id, members in self._members.items():
                if members.pop(profile_id, None) is not None:
                    self._member_order.pop(segment_id, None)

    def profile(self, profile_id: str) -> Profile | None:
        return self._profiles.get(profile_id)

    def profile_by(self, account_id: str, field: str, value: str) -> Profile | None:
        """The account's profile whose `_kx`, `email`, `phone_number` or `external_id` is value."""
        profile_id = self._index.get((account_id, field, value))
        return self._profiles.get(profile_id) if profile_id else None

    def profile_ids(self, account_id: str) -> list[str]:
        """The account's profile ids, sorted (the order of `GET /api/profiles`)."""
        with self._lock:
            order = self._profile_order.get(account_id)
            if order is None:
                order = sorted(p.id for p in self._profiles.values() if p.account_id == account_id)
                self._profile_order[account_id] = order
            return order

    def _index_keys(self, profile: Profile) -> Iterable[tuple[str, str, str]]:
        for name, value in (
            ("_kx", profile.kx),
            ("email", profile.email),
            ("phone_number", profile.phone_number),
            ("external_id", profile.external_id),
        ):
            if value:
                yield (profile.account_id, name, value)

    def _reindex(self, profile: Profile) -> None:
        for key in self._index_keys(profile):
            self._index[key] = profile.id

    def _unindex(self, profile: Profile) -> None:
        for key in self._index_keys(profile):
            if self._index.get(key) == profile.id:
                del self._index[key]

    # segments
    def add_segment(
        self, account_id: str, name: str, *, segment_id: str | None = None, **flags: Any
    ) -> Segment:
        """Add a segment; `flags` are `Segment` fields (is_active, is_starred, created, ...)."""
        if account_id not in self._accounts:
            raise UnknownRecord(account_id)
        flags.setdefault("created", self.clock())
        flags.setdefault("updated", flags["created"])
        segment = Segment(segment_id or new_short_id(), account_id, name, **flags)
        with self._lock:
            self._segments[segment.id] = segment
            self._members.setdefault(segment.id, {})
        return segment

    def update_segment(self, segment_id: str, **changes: Any) -> Segment:
        with self._lock:
            old = self._segment_or_raise(segment_id)
            self._segments[segment_id] = new = dataclasses.replace(old, **changes)
            return new

    def remove_segment(self, segment_id: str) -> None:
        with self._lock:
            self._segment_or_raise(segment_id)
            del self._segments[segment_id]
            self._members.pop(segment_id, None)
            self._member_order.pop(segment_id, None)

    def segment(self, segment_id: str) -> Segment | None:
        return self._segments.get(segment_id)

    def segments(self, account_id: str) -> list[Segment]:
        """The account's segments sorted by id (the order of `GET /api/segments`)."""
        with self._lock:
            found = [s for s in self._segments.values() if s.account_id == account_id]
        return sorted(found, key=lambda s: s.id)

    def _segment_or_raise(self, segment_id: str) -> Segment:
        segment = self._segments.get(segment_id)
        if segment is None:
            raise UnknownRecord(segment_id)
        return segment

    # membership
    def add_member(self, segment_id: str, profile_id: str, joined_at: float | None = None) -> None:
        self.add_members(segment_id, {profile_id: self.clock() if joined_at is None else joined_at})

    def add_members(self, segment_id: str, joined: Mapping[str, float]) -> None:
        """Add many members at once: profile id -> joined_group_at (epoch seconds)."""
        with self._lock:
            segment = self._segment_or_raise(segment_id)
            for profile_id in joined:
                profile = self._profiles.get(profile_id)
                if profile is None or profile.account_id != segment.account_id:
                    raise UnknownRecord(profile_id)
            self._members[segment_id].update(joined)
            self._member_order.pop(segment_id, None)

    def remove_member(self, segment_id: str, profile_id: str) -> None:
        with self._lock:
            self._segment_or_raise(segment_id)
            self._members[segment_id].pop(profile_id, None)
            self._member_order.pop(segment_id, None)

    def joined_at(self, segment_id: str, profile_id: str) -> float | None:
        return self._members.get(segment_id, {}).get(profile_id)

    def member_order(self, segment_id: str) -> list[tuple[float, str]]:
        """(joined_group_at, profile id) of every member, oldest first; cached until a change."""
        with self._lock:
            order = self._member_order.get(segment_id)
            if order is None:
                members = self._members.get(segment_id, {})
                order = sorted((joined, pid) for pid, joined in members.items())
                self._member_order[segment_id] = order
            return order

    def segments_of(self, profile_id: str) -> list[Segment]:
        """The segments a profile belongs to, sorted by segment id."""
        with self._lock:
            ids = [sid for sid, members in self._members.items() if profile_id in members]
            return sorted((self._segments[sid] for sid in ids), key=lambda s: s.id)

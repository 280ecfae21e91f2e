"""Seed data: the demo account for `kx-edge serve --demo`, and bulk members for benchmarks.

Everything is derived from fixed seeds, so ids and `_kx` values are the same on every run.
"""

from __future__ import annotations

import base64
import hashlib
import time
from dataclasses import dataclass

from sandbox.records import Clock, Profile, parse_iso
from sandbox.state import SandboxState

DEMO_ACCOUNT_NAME = "Sandbox Outfitters"
DEMO_SEGMENTS = ("VIP", "Wholesale", "Lapsed", "Newsletter")
STARRED = frozenset({"VIP", "Wholesale"})
_CREATED = parse_iso("2025-06-01T09:00:00+00:00")
_JOINED = parse_iso("2025-11-03T14:30:00+00:00")
_DAY = 86400.0
_ALNUM_ONLY = str.maketrans("+/", "xZ")
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


@dataclass(frozen=True, slots=True)
class DemoPerson:
    first_name: str
    last_name: str
    email: str
    segments: tuple[str, ...]

    @property
    def kx(self) -> str:
        return demo_kx(self.email)

    @property
    def profile_id(self) -> str:
        return demo_profile_id(self.email)


DEMO_PEOPLE: tuple[DemoPerson, ...] = (
    DemoPerson("Ava", "Martinez", "ava.martinez@example.com", ("VIP",)),
    DemoPerson("Ben", "Okafor", "ben.okafor@example.com", ("VIP", "Newsletter")),
    DemoPerson("Chloe", "Nguyen", "chloe.nguyen@example.com", ("Wholesale",)),
    DemoPerson("Daniel", "Kim", "daniel.kim@example.com", ("Wholesale", "Lapsed")),
    DemoPerson("Emma", "Rossi", "emma.rossi@example.com", ("Lapsed",)),
    DemoPerson("Farah", "Haddad", "farah.haddad@example.com", ("Newsletter",)),
    DemoPerson("George", "Li", "george.li@example.com", ()),
    DemoPerson("Hannah", "Schmidt", "hannah.schmidt@example.com", ("VIP", "Wholesale")),
    DemoPerson("Isaac", "Cohen", "isaac.cohen@example.com", ("Lapsed", "Newsletter")),
    DemoPerson("Julia", "Santos", "julia.santos@example.com", ()),
    DemoPerson("Kenji", "Watanabe", "kenji.watanabe@example.com", ("VIP",)),
    DemoPerson("Lena", "Petrova", "lena.petrova@example.com", ("Newsletter",)),
)
"""The demo's shoppers: VIPs, a wholesale buyer, one both Wholesale and Lapsed, subscribers in
no segment at all (George, Julia), ..."""


def _digest(seed: str) -> bytes:
    return hashlib.sha256(seed.encode()).digest()


def demo_kx(seed: str) -> str:
    """A `_kx` in Klaviyo's shape (base64 text ending `==`, a dot, a short suffix)."""
    digest = _digest("kx:" + seed)
    suffix = base64.b64encode(digest[16:22]).decode("ascii").translate(_ALNUM_ONLY)[:6]
    return base64.b64encode(digest[:16]).decode("ascii") + "." + suffix


def demo_profile_id(seed: str) -> str:
    """A 26-character profile id shaped like Klaviyo's (a ULID)."""
    return "01" + _digest("profile:" + seed)[:12].hex().upper()  # hex digits are Crockford's too


def demo_short_id(seed: str) -> str:
    """A 6-character id shaped like Klaviyo's account and segment ids."""
    return "".join(_ALNUM[b % len(_ALNUM)] for b in _digest("short:" + seed)[:6])


DEMO_ACCOUNT_ID = demo_short_id("account:" + DEMO_ACCOUNT_NAME)


def demo_segment_id(name: str) -> str:
    return demo_short_id("segment:" + name)


def demo_state(
    client_id: str, client_secret: str, redirect_uri: str, *, clock: Clock = time.time
) -> SandboxState:
    """One account ("Sandbox Outfitters") with VIP, Wholesale (both starred), Lapsed and
    Newsletter segments and the `DEMO_PEOPLE`, and the OAuth app `client_id` connected to it."""
    state = SandboxState(clock=clock)
    state.add_account(DEMO_ACCOUNT_NAME, account_id=DEMO_ACCOUNT_ID)
    state.add_client(client_id, client_secret, [redirect_uri], account_id=DEMO_ACCOUNT_ID)
    for i, name in enumerate(DEMO_SEGMENTS):
        created = _CREATED - (30 - i) * _DAY
        state.add_segment(
            DEMO_ACCOUNT_ID,
            name,
            segment_id=demo_segment_id(name),
            is_starred=name in STARRED,
            created=created,
            updated=created + _DAY,
        )
    for i, person in enumerate(DEMO_PEOPLE):
        profile = state.add_profile(
            DEMO_ACCOUNT_ID,
            profile_id=person.profile_id,
            kx=person.kx,
            email=person.email,
            first_name=person.first_name,
            last_name=person.last_name,
            created=_CREATED + i * _DAY,
            properties={"Favorite Category": ("Outerwear", "Footwear", "Bags")[i % 3]},
        )
        for j, segment in enumerate(person.segments):
            joined = _JOINED + i * _DAY + j * 3600
            state.add_member(demo_segment_id(segment), profile.id, joined)
    return state


def bulk_state(
    client_id: str,
    client_secret: str,
    redirect_uri: str,
    *,
    members: int = 20_000,
    clock: Clock = time.time,
) -> SandboxState:
    """The demo state plus `members` more profiles spread round-robin over the four segments,
    one minute of `joined_group_at` apart (`bench-<i>@example.com`, `_kx` `demo_kx(email)`)."""
    state = demo_state(client_id, client_secret, redirect_uri, clock=clock)
    segment_ids = [demo_segment_id(n) for n in DEMO_SEGMENTS]
    joined: dict[str, dict[str, float]] = {segment_id: {} for segment_id in segment_ids}
    profiles = []
    for i in range(members):
        email = f"bench-{i}@example.com"
        profile_id = demo_profile_id(email)
        profiles.append(
            Profile(
                profile_id,
                DEMO_ACCOUNT_ID,
                email=email,
                kx=demo_kx(email),
                created=_CREATED,
                updated=_CREATED,
            )
        )
        joined[segment_ids[i % len(segment_ids)]][profile_id] = _JOINED + i * 60.0
    state.add_profiles(profiles)
    for segment_id, batch in joined.items():
        state.add_members(segment_id, batch)
    return state

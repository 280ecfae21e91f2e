"""The demo account and the bulk benchmark state."""

from __future__ import annotations

import re

from sandbox import (
    DEMO_ACCOUNT_ID,
    DEMO_PEOPLE,
    DEMO_SEGMENTS,
    bulk_state,
    demo_kx,
    demo_segment_id,
    demo_state,
)
from tests.sandbox.support import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI

KX_SHAPE = re.compile(r"^[A-Za-z0-9+/]{22}==\.[A-Za-z0-9]{6}$")


def test_should_seed_one_account_four_segments_and_a_dozen_people() -> None:
    state = demo_state(CLIENT_ID, CLIENT_SECRET, REDIRECT_URI)
    [account] = state.accounts()
    assert (account.id, account.organization_name) == (DEMO_ACCOUNT_ID, "Sandbox Outfitters")
    segments = {s.name: s for s in state.segments(DEMO_ACCOUNT_ID)}
    assert sorted(segments) == sorted(DEMO_SEGMENTS)
    assert {n for n, s in segments.items() if s.is_starred} == {"VIP", "Wholesale"}
    assert len(state.profile_ids(DEMO_ACCOUNT_ID)) == len(DEMO_PEOPLE) >= 12
    memberships = {p.email: {s.name for s in state.segments_of(p.profile_id)} for p in DEMO_PEOPLE}
    assert {"VIP"} in memberships.values()
    assert {"Wholesale"} in memberships.values()
    assert {"Wholesale", "Lapsed"} in memberships.values()
    assert set() in memberships.values()
    assert state.default_account_for(CLIENT_ID) == DEMO_ACCOUNT_ID


def test_should_derive_realistic_kx_values_deterministically() -> None:
    kxs = [p.kx for p in DEMO_PEOPLE]
    assert all(KX_SHAPE.match(kx) for kx in kxs), kxs
    assert len(set(kxs)) == len(kxs)
    assert demo_kx("ava.martinez@example.com") == DEMO_PEOPLE[0].kx
    again = demo_state("other", "secret", "http://x/cb")
    assert again.profile_by(DEMO_ACCOUNT_ID, "_kx", kxs[0]) is not None
    assert demo_segment_id("VIP") in {s.id for s in again.segments(DEMO_ACCOUNT_ID)}


def test_should_build_twenty_thousand_members_across_the_segments() -> None:
    state = bulk_state(CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, members=20_000)
    sizes = [len(state.member_order(demo_segment_id(n))) for n in DEMO_SEGMENTS]
    assert sum(sizes) >= 20_000
    assert min(sizes) >= 5_000
    found = state.profile_by(DEMO_ACCOUNT_ID, "_kx", demo_kx("bench-19999@example.com"))
    assert found is not None

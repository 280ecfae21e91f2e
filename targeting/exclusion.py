"""Exclusion groups: a visitor enters at most one live test of a group (mutually exclusive tests).

Tests sharing an `exclusion_group` split the group's hash space like GrowthBook namespaces:

- the group hash is GrowthBook's namespace hash, `n = hash_v1("__" + group, visitor_id)`
  (`(fnv1a32(visitor_id + "__" + group) % 1000) / 1000`, the `inNamespace` of every GrowthBook
  SDK), so one visitor has one `n` per group whatever the tests;
- the group's live tests, ordered by experience id (so neither the site's order nor edits to
  other fields move anyone), own consecutive ranges of [0, 1) proportional to their
  `exclusion_weight`: test i owns `[c_i, c_i + w_i / W)` with `c_i = (w_0 + ... + w_(i-1)) / W`;
  in GrowthBook terms each test has the namespace `[group, c_i, c_i + w_i / W]`;
- the visitor is given one test of the group, before any targeting (as Intelligems does): the
  test of the group the visitor's sticky token says they entered (a live, paused or draft test,
  the first by id if several), else the live test whose range holds `n`.

The given test is decided as usual; every other test of the group gives the control (reason
`exclusion_group`). decide.py says what sticks. Ranges change when a test of the group starts
or ends, which is why an entered visitor is kept by their sticky entry rather than by `n`. A
test's own sticky entry is honoured before the group is looked at, so a visitor who entered two
tests before they were put in one group keeps both; from then on no one enters a second one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from targeting.bucketing import FNV_OFFSET, Units, code_units, fnv1a32_update
from targeting.model import Experience, ExperienceStatus, ExperienceType
from targeting.sticky import StickyEntry, StickyOutcome

SEED_PREFIX: Final = "__"
_CLAIMING: Final = frozenset({ExperienceStatus.LIVE, ExperienceStatus.PAUSED, ExperienceStatus.DRAFT})


class OwnerCause(StrEnum):
    STICKY_ENTRY = "sticky_entry"  # the visitor's token says they entered this test of the group
    HASH = "hash"  # the group hash fell in this test's range


@dataclass(frozen=True, slots=True)
class GroupRange:
    experience_id: str
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class CompiledGroup:
    name: str
    seed: str  # "__" + name
    seed_units: Units
    ranges: tuple[GroupRange, ...]  # the live tests, by id
    members: tuple[str, ...]  # every live, paused or draft test of the group, by id


@dataclass(frozen=True, slots=True)
class GroupOwner:
    """The test of a group a visitor is given, and why (`n` is the visitor's group hash)."""

    experience_id: str | None  # None only if the group has no live test
    cause: OwnerCause
    n: float


def group_hash(group: CompiledGroup, visitor_units: Units) -> float:
    """`hash_v1(group.seed, visitor_id)`, from the visitor id's code units."""
    state = fnv1a32_update(fnv1a32_update(FNV_OFFSET, visitor_units), group.seed_units)
    return (state % 1000) / 1000


def compile_groups(experiences: Iterable[Experience]) -> Mapping[str, CompiledGroup]:
    """Every group that has a live, paused or draft test."""
    members: dict[str, list[Experience]] = {}
    for experience in experiences:
        if (
            experience.exclusion_group is not None
            and experience.type is ExperienceType.TEST
            and experience.status in _CLAIMING
        ):
            members.setdefault(experience.exclusion_group, []).append(experience)
    groups = {}
    for name, tests in members.items():
        tests.sort(key=lambda experience: experience.id)
        live = [t for t in tests if t.status is ExperienceStatus.LIVE]
        total = sum(t.exclusion_weight for t in live)
        ranges = []
        cumulative = 0.0
        for index, test in enumerate(live):
            low = cumulative / total
            cumulative += test.exclusion_weight
            high = 1.0 if index == len(live) - 1 else cumulative / total
            ranges.append(GroupRange(test.id, low, high))
        seed = SEED_PREFIX + name
        groups[name] = CompiledGroup(name, seed, code_units(seed), tuple(ranges), tuple(t.id for t in tests))
    return MappingProxyType(groups)


def group_owner(group: CompiledGroup, visitor_units: Units, sticky: Mapping[str, StickyEntry]) -> GroupOwner:
    n = group_hash(group, visitor_units)
    if sticky:
        entered = StickyOutcome.ENTERED
        for member in group.members:
            entry = sticky.get(member)
            if entry is not None and entry.outcome is entered:
                return GroupOwner(member, OwnerCause.STICKY_ENTRY, n)
    for bucket in group.ranges:
        if bucket.low <= n < bucket.high:
            return GroupOwner(bucket.experience_id, OwnerCause.HASH, n)
    return GroupOwner(None, OwnerCause.HASH, n)

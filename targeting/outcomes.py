"""Every outcome an experience can produce, built once when the site is compiled.

An outcome is a `Decision` and the sticky entry the browser carries next (`None`: nothing sticks).
Decisions are immutable, so `decide` hands out these shared objects instead of allocating. The
whole mapping, for tests (T) and personalizations (P):

    path                                shown    entered  reason             first  sticks
    sticky entry "entered v" (T)        v        yes      sticky             no     entered v
    sticky default control/excluded (T) control  no       sticky             no     the same entry
    rules matched, n in v's range       v        yes      rules_matched      yes    T: entered v
      ... and the rules have no condition        yes      everyone           yes    T: entered v
    advanced `assign v` (T)             v        yes      assigned           yes    entered v
    n outside every range (T)           control  no       not_in_traffic     no     -
    n in the holdout (P)                control  no       holdout            no     -
    rules false, identified             control  no       rules_not_matched  T      T: default control
    rules false, unidentified           control  no       unidentified       T      T: default control
    rules unknown, identity pending     control  no       pending            T      T: default control
                                                  (P: status `pending`, every other row `decided`)
    advanced `exclude` (T)              control  no       excluded           yes    excluded
    another test of its group given (T) control  no       exclusion_group    yes    excluded
    advanced defer / no match / pending none     no       deferred           no     -
    a known crawler's request (T, P)    control  no       bot                no     (token unchanged)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TypeAlias

from targeting.decision import Decision, DecisionStatus, Reason
from targeting.model import Experience, ExperienceType, Variation
from targeting.sticky import DEFAULT_CONTROL, EXCLUDED, MAX_AUDIENCES, StickyEntry

Outcome: TypeAlias = tuple[Decision, StickyEntry | None]
DrawRow: TypeAlias = tuple[float, float, Variation, Outcome]  # [low, high): the variation, its outcome


@dataclass(frozen=True, slots=True)
class Draw:
    """An outcome still waiting on the visitor's hash: the hash continues from `state` (the
    seed's FNV state), and the first row whose `[low, high)` holds it gives its outcome; `miss`
    when none does (outside traffic, or the holdout). Built once per experience (per `random`
    audience of an advanced test), so choosing costs the hash and a scan of the rows."""

    state: int
    rows: tuple[DrawRow, ...]
    miss: Outcome


def build_draw(
    state: int, ranges: Iterable[tuple[float, float, Variation]], table: Mapping[str, Outcome], miss: Outcome
) -> Draw:
    """The draw over `ranges` whose variation `v` gives `table[v.id]`."""
    return Draw(state, tuple((low, high, v, table[v.id]) for low, high, v in ranges), miss)


def admitted_by(outcome: Outcome, audience: int) -> Outcome:
    """`outcome` with its entry naming the audience that admitted the visitor (results' cohort)."""
    entry = outcome[1]
    if entry is None or entry.variation_id is None or audience >= MAX_AUDIENCES:
        return outcome
    return outcome[0], StickyEntry.entered(entry.variation_id, None, audience)


@dataclass(frozen=True, slots=True)
class Outcomes:
    sticky_entered: Mapping[str, Outcome]  # by variation id
    sticky_default_control: Outcome
    sticky_excluded: Outcome
    matched: Mapping[str, Outcome]
    everyone: Mapping[str, Outcome]
    assigned: Mapping[str, Outcome]
    not_in_traffic: Outcome
    holdout: Outcome
    not_matched: Outcome
    unidentified: Outcome
    pending: Outcome
    excluded: Outcome
    deferred: Outcome
    exclusion_group: Outcome
    bot: Outcome


def build_outcomes(experience: Experience) -> Outcomes:
    test = experience.type is ExperienceType.TEST
    control = experience.control
    entries = {v.id: StickyEntry.entered(v.id) for v in experience.variations}
    default = DEFAULT_CONTROL if test else None

    def make(
        reason: Reason,
        variation: Variation | None,
        entered: bool,
        first: bool,
        status: DecisionStatus = DecisionStatus.DECIDED,
    ) -> Decision:
        if variation is None:
            return Decision(experience.id, experience.type, status, entered, None, False, reason, first)
        return Decision(
            experience.id, experience.type, status, entered, variation.id, variation.is_control,
            reason, first, variation.changes,
        )  # fmt: skip

    def per_variation(reason: Reason, first: bool, sticks: bool) -> Mapping[str, Outcome]:
        return MappingProxyType(
            {
                v.id: (make(reason, v, True, first), entries[v.id] if sticks else None)
                for v in experience.variations
            }
        )

    sticky_control = make(Reason.STICKY, control, False, False)
    pending_status = DecisionStatus.DECIDED if test else DecisionStatus.PENDING
    return Outcomes(
        sticky_entered=per_variation(Reason.STICKY, False, True),
        sticky_default_control=(sticky_control, DEFAULT_CONTROL),
        sticky_excluded=(sticky_control, EXCLUDED),
        matched=per_variation(Reason.RULES_MATCHED, True, test),
        everyone=per_variation(Reason.EVERYONE, True, test),
        assigned=per_variation(Reason.ASSIGNED, True, True),
        not_in_traffic=(make(Reason.NOT_IN_TRAFFIC, control, False, False), None),
        holdout=(make(Reason.HOLDOUT, control, False, False), None),
        not_matched=(make(Reason.RULES_NOT_MATCHED, control, False, test), default),
        unidentified=(make(Reason.UNIDENTIFIED, control, False, test), default),
        pending=(make(Reason.PENDING, control, False, test, pending_status), default),
        excluded=(make(Reason.EXCLUDED, control, False, True), EXCLUDED),
        deferred=(make(Reason.DEFERRED, None, False, False), None),
        exclusion_group=(make(Reason.EXCLUSION_GROUP, control, False, True), EXCLUDED),
        bot=(make(Reason.BOT, control, False, False), None),
    )

"""The result of deciding one visitor: a `Decision` per live experience, with its reason.

Mapping onto the storefront answer (`Decision.to_dict`):

- `variation_id` is the variation the visitor is shown: the control's id whenever the control
  is shown (not entered, holdout, excluded, pending personalization), and `None` only when an
  `advanced` test defers (nothing assigned yet; the page stays as it is);
- `entered` says whether the visitor is in the experiment (a test's population, or a
  personalization's audience outside the holdout); an entered visitor may be in the control;
- `is_control` says whether `variation_id` is the control;
- `status` is `pending` only for a personalization whose rules wait on a pending identity. A
  `custom` test gives the control at once and sticks it, and an `advanced` test defers, so both
  are `decided`;
- `first_assignment`: for a test, this decision created a new sticky entry (entered, default
  control or excluded; fire "entered a test" when it is true and `entered` is true; a visitor
  who lost their token is assigned again, deterministically). For a personalization, the
  visitor was shown a personalized variation (`entered`), the candidate "saw" event; nothing
  is remembered between visits, so the edge dedupes if it must.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import msgspec

from targeting.changes import VariationChanges
from targeting.model import ExperienceType
from targeting.sticky import StickyEntry


class DecisionStatus(StrEnum):
    DECIDED = "decided"
    PENDING = "pending"


class Reason(StrEnum):
    """Why a decision came out as it did. Codes are stable: the storefront and analysts see them."""

    STICKY = "sticky"  # an earlier sticky assignment (any outcome) was honoured
    EVERYONE = "everyone"  # no conditions; the hash put the visitor in a variation
    RULES_MATCHED = "rules_matched"  # rules (or a `random` audience) matched; hash chose
    ASSIGNED = "assigned"  # an `assign` audience matched: fixed variation, entered
    NOT_IN_TRAFFIC = "not_in_traffic"  # test: matched but the hash fell outside traffic
    HOLDOUT = "holdout"  # personalization: matched but in the traffic holdout
    RULES_NOT_MATCHED = "rules_not_matched"  # identified (or known) visitor, rules false
    UNIDENTIFIED = "unidentified"  # rules false because the visitor is unidentified
    PENDING = "pending"  # rules unknown while the identity is pending
    EXCLUDED = "excluded"  # an `exclude` audience matched: control, never enters
    DEFERRED = "deferred"  # advanced: defer action, no audience matched, or pending
    STICKY_VARIATION_REMOVED = "sticky_variation_removed"  # sticky variation gone: afresh
    EXCLUSION_GROUP = "exclusion_group"  # the visitor was given another test of its exclusion group
    BOT = "bot"  # the request's user agent is a known crawler: the control, never entered


class Decision(msgspec.Struct, frozen=True, gc=False, omit_defaults=True):
    experience_id: str
    type: ExperienceType
    status: DecisionStatus
    entered: bool
    variation_id: str | None
    is_control: bool
    reason: Reason
    first_assignment: bool
    changes: VariationChanges | None = None  # the shown variation's, for the snippet to apply

    def to_dict(self) -> dict[str, Any]:
        """The storefront JSON element (`first_assignment` stays server-side); `changes` only
        when the shown variation has some."""
        data = {
            "id": self.experience_id,
            "type": str(self.type),
            "status": str(self.status),
            "entered": self.entered,
            "variation_id": self.variation_id,
            "is_control": self.is_control,
            "reason": str(self.reason),
        }
        if self.changes is not None:
            data["changes"] = self.changes.to_dict()
        return data


class SiteDecision(msgspec.Struct, frozen=True):
    """One decision per live experience (site order) and the sticky entries to carry next.

    `counted`: the experiences this decision counts the visitor in for the first time (results'
    exposures): a test they enter now, a personalization they match for the first time (shown a
    variation, or the holdout's control). Their cohort is in `sticky[experience_id]`."""

    decisions: tuple[Decision, ...]
    sticky: dict[str, StickyEntry]
    counted: tuple[str, ...] = ()

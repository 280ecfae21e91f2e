"""What an edit to a running test means for visitors who already entered, said as warnings.

Editing variations, weights, traffic or targeting of a live (or paused) test is allowed and never
moves a visitor who entered: their assignment travels in their sticky token. The warnings say
what does change, so the merchant is not surprised:

    code                 when                                     what it means
    variation_removed    a variation is gone                      visitors who entered it are decided afresh
    variation_added      a new variation                          only first-time deciders can land in it
    weights_changed      a kept variation's weight changed        entered visitors keep theirs; new split for the rest
    control_changed      another variation is the control        default-control visitors now see the new control
    traffic_changed      traffic_percent changed                  entered visitors stay; applies to first-time deciders
    targeting_changed    rules or audiences changed               existing assignments stay; applies to first-time deciders
    seed_changed         the bucketing seed changed               visitors without a token are bucketed anew

Personalizations remember nothing between visits (every visit is decided afresh), and a draft
never had visitors, so neither gets these warnings.
"""

from __future__ import annotations

from edge.config_api.documents import ApiWarning
from targeting import Experience, ExperienceStatus, ExperienceType

_RAN = (ExperienceStatus.LIVE, ExperienceStatus.PAUSED)


def running_test_warnings(
    before: Experience, after: Experience, status_before: ExperienceStatus
) -> list[ApiWarning]:
    """The warnings for replacing `before` (stored with `status_before`) by `after`."""
    if before.type is not ExperienceType.TEST or status_before not in _RAN:
        return []
    warnings: list[ApiWarning] = []
    old = {v.id: v for v in before.variations}
    new = {v.id: v for v in after.variations}
    for removed in (vid for vid in old if vid not in new):
        warnings.append(
            ApiWarning(
                "variation_removed",
                f"Variation {removed} was removed: visitors who entered {removed} are decided afresh on "
                "their next visit.",
            )
        )
    for added in (vid for vid in new if vid not in old):
        warnings.append(
            ApiWarning(
                "variation_added",
                f"Variation {added} is new: visitors who already entered keep their variation, so only "
                f"visitors deciding for the first time can land in {added}.",
            )
        )
    if any(old[vid].weight != new[vid].weight for vid in old.keys() & new.keys()):
        warnings.append(
            ApiWarning(
                "weights_changed",
                "Weights changed: visitors who already entered keep their variation; the new split "
                "applies to visitors deciding for the first time (also returning visitors on a new device).",
            )
        )
    if before.control.id != after.control.id:
        warnings.append(
            ApiWarning(
                "control_changed",
                f"The control is now {after.control.id} (was {before.control.id}): visitors who were given "
                f"the default control now see {after.control.id}.",
            )
        )
    if before.traffic_percent != after.traffic_percent:
        warnings.append(
            ApiWarning(
                "traffic_changed",
                f"Traffic changed from {before.traffic_percent:g}% to {after.traffic_percent:g}%: visitors "
                "who already entered stay in their variation; the new percentage applies to visitors "
                "deciding for the first time.",
            )
        )
    if before.targeting != after.targeting:
        warnings.append(
            ApiWarning(
                "targeting_changed",
                "Targeting changed: visitors already assigned (entered, given the default control, or "
                "excluded) keep their assignment; the new targeting applies to visitors deciding for "
                "the first time.",
            )
        )
    if before.bucketing_seed != after.bucketing_seed:
        warnings.append(
            ApiWarning(
                "seed_changed",
                "The bucketing seed changed: visitors without a sticky token (new device, cleared "
                "cookies) are bucketed anew, and analysts recomputing assignments need the new seed.",
            )
        )
    return warnings

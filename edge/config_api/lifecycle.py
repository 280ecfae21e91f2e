"""The experience lifecycle: which status changes are allowed, and what stays fixed.

    from \\ to   draft   live   paused   ended
    (new)         yes     yes    -        -        create as draft, or live to start at once
    draft         =       yes    -        yes      ending a draft archives it unrun
    live          -       =      yes      yes
    paused        -       yes    =        yes
    ended         -       -      -        -        final: no edit, no transition

`=` is an edit that keeps the status. Going back to draft is never possible: once visitors may
have entered, the experience has a history. Any change to an ended experience answers 409
`experience_ended`; a forbidden transition 409 `invalid_transition` with `from`, `to` and the
allowed targets; changing `type` 409 `type_immutable`. Deleting is refused only while live
(409 `experience_live`): pause or end it first, so visitors are never cut off by accident.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from edge.web.errors import Conflict
from targeting import ExperienceStatus, ExperienceType

DRAFT, LIVE, PAUSED, ENDED = (
    ExperienceStatus.DRAFT,
    ExperienceStatus.LIVE,
    ExperienceStatus.PAUSED,
    ExperienceStatus.ENDED,
)
INITIAL: Final = (DRAFT, LIVE)
TRANSITIONS: Final[Mapping[ExperienceStatus, tuple[ExperienceStatus, ...]]] = MappingProxyType(
    {
        DRAFT: (LIVE, ENDED),
        LIVE: (PAUSED, ENDED),
        PAUSED: (LIVE, ENDED),
        ENDED: (),
    }
)
# The convenience actions and the status each one moves to.
ACTIONS: Final[Mapping[str, ExperienceStatus]] = MappingProxyType(
    {"start": LIVE, "pause": PAUSED, "end": ENDED}
)


def _names(statuses: tuple[ExperienceStatus, ...]) -> str:
    return ", ".join(str(s) for s in statuses) or "nothing"


def check_initial(status: ExperienceStatus) -> None:
    if status not in INITIAL:
        raise Conflict(
            f"A new experience starts as draft (or live, to start it at once), not {status}.",
            code="invalid_transition",
            details={"from": None, "to": str(status), "allowed": [str(s) for s in INITIAL]},
        )


def check_change(
    experience_id: str,
    current: ExperienceStatus,
    new: ExperienceStatus,
    current_type: ExperienceType,
    new_type: ExperienceType,
) -> None:
    """Refuse (409) an edit of an ended experience, a type change, or a forbidden transition."""
    check_not_ended(experience_id, current)
    if new_type is not current_type:
        raise Conflict(
            f"Experience {experience_id} is a {current_type}; the type cannot change after creation. "
            f"Create a new {new_type} instead.",
            code="type_immutable",
            details={"type": str(current_type), "requested": str(new_type)},
        )
    if new is not current:
        check_transition(experience_id, current, new)


def check_action(experience_id: str, current: ExperienceStatus, target: ExperienceStatus) -> None:
    """For start / pause / end, where asking for the current status is refused too (the button
    the merchant pressed would do nothing)."""
    check_not_ended(experience_id, current)
    check_transition(experience_id, current, target)


def check_not_ended(experience_id: str, current: ExperienceStatus) -> None:
    if current is ENDED:
        raise Conflict(
            f"Experience {experience_id} has ended, and ended experiences are final. "
            "Create a new experience (you may copy this one) to run it again.",
            code="experience_ended",
            details={"status": str(current)},
        )


def check_transition(experience_id: str, current: ExperienceStatus, new: ExperienceStatus) -> None:
    allowed = TRANSITIONS[current]
    if new in allowed:
        return
    already = f"is already {current}" if new is current else f"cannot go from {current} to {new}"
    raise Conflict(
        f"Experience {experience_id} {already}; from {current} it can go to {_names(allowed)}.",
        code="invalid_transition",
        details={"from": str(current), "to": str(new), "allowed": [str(s) for s in allowed]},
    )


def check_delete(experience_id: str, current: ExperienceStatus) -> None:
    if current is LIVE:
        raise Conflict(
            f"Experience {experience_id} is live: pause or end it before deleting it, so visitors "
            "are not cut off by accident.",
            code="experience_live",
            details={"status": str(current)},
        )

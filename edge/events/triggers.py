"""The three triggers a site can switch on, their fixed metric names and documented properties.

These names are a contract with merchants: Klaviyo flows start on the metric name and templates
read the properties (`{{ event|lookup:'Variation' }}`), so none of them may change once released.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from edge.events.views import PropertyDoc, TriggerView


class Trigger(StrEnum):
    ENTERED_TEST = "entered_test"
    SAW_PERSONALIZATION = "saw_personalization"
    PROFILE_SYNC = "profile_sync"


METRIC_NAMES: dict[Trigger, str] = {
    Trigger.ENTERED_TEST: "kx-edge: Entered Test",
    Trigger.SAW_PERSONALIZATION: "kx-edge: Saw Personalization",
    # Sent only when profile_sync is on, no other event of the visit carries the profile
    # property, and the visitor's set of experiences changed since the last one we sent.
    Trigger.PROFILE_SYNC: "kx-edge: Experiences Updated",
}

PROFILE_PROPERTY = "kx_edge_experiences"

_EXPERIENCE_PROPERTIES: tuple[tuple[str, str], ...] = (
    ("Experience", "The experience's name, as set in kx-edge."),
    ("Experience ID", "The experience's id: stable when the experience is renamed."),
    ("Variation", "The name of the variation the visitor was shown."),
    ("Variation ID", "The variation's id: stable when the variation is renamed."),
    ("Is Control", "true when the variation shown is the experience's control (original page)."),
    ("Site", "The name of the kx-edge site the visit was on."),
    ("Page URL", "The page the visitor was on when it happened (absent when the snippet sent none)."),
)
_PROFILE_SYNC_PROPERTIES: tuple[tuple[str, str], ...] = (
    ("Experiences", f"The visitor's experiences now, as in the {PROFILE_PROPERTY} profile property."),
    ("Site", "The name of the kx-edge site the visit was on."),
    ("Page URL", "The page the visitor was on when it happened (absent when the snippet sent none)."),
)
PROPERTIES: dict[Trigger, tuple[tuple[str, str], ...]] = {
    Trigger.ENTERED_TEST: _EXPERIENCE_PROPERTIES,
    Trigger.SAW_PERSONALIZATION: _EXPERIENCE_PROPERTIES,
    Trigger.PROFILE_SYNC: _PROFILE_SYNC_PROPERTIES,
}
PROFILE_PROPERTY_HELP = (
    f"{PROFILE_PROPERTY}: the experiences the visitor is in now, a list of "
    '"<experience id>:<variation id>" strings (for example "free-shipping:banner"). Build a '
    f'segment with "Properties about someone: {PROFILE_PROPERTY} contains free-shipping:banner". '
    "Entered tests count in either group (control included); personalizations count when shown. "
    "Set on every event kx-edge sends while profile_sync is on."
)
_WHEN: dict[Trigger, str] = {
    Trigger.ENTERED_TEST: "The first time a visitor enters a test (control or not).",
    Trigger.SAW_PERSONALIZATION: (
        "The first time a visitor is shown a personalization, at most once per visitor, "
        "personalization and UTC day."
    ),
    Trigger.PROFILE_SYNC: (
        f"Sets the {PROFILE_PROPERTY} profile property; a '{METRIC_NAMES[Trigger.PROFILE_SYNC]}' "
        "event carries it when the visitor's experiences changed and no other event did."
    ),
}


@dataclass(frozen=True, slots=True)
class Switches:
    """One site's switches; every trigger is off until the merchant turns it on."""

    entered_test: bool = False
    saw_personalization: bool = False
    profile_sync: bool = False

    @property
    def any(self) -> bool:
        return self.entered_test or self.saw_personalization or self.profile_sync

    def on(self, trigger: Trigger) -> bool:
        return bool(getattr(self, trigger.value))

    def enabled(self) -> list[Trigger]:
        return [t for t in Trigger if self.on(t)]


OFF = Switches()


def trigger_view(trigger: Trigger, enabled: bool) -> TriggerView:
    """One trigger as `GET .../klaviyo/triggers` shows it."""
    view = TriggerView(
        enabled=enabled,
        metric_name=METRIC_NAMES[trigger],
        when=_WHEN[trigger],
        properties=[PropertyDoc(n, d) for n, d in PROPERTIES[trigger]],
    )
    if trigger is Trigger.PROFILE_SYNC:
        view.profile_properties = [PropertyDoc(PROFILE_PROPERTY, PROFILE_PROPERTY_HELP)]
    return view

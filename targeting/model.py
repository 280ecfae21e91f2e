"""Experiences as immutable values, and their canonical JSON form.

An experience is built by `parse_experience` (validation.py), which guarantees the invariants the
rest of the package relies on: safe ids, at least two variations with unique ids, exactly one
control, finite positive weights, `assign` audiences naming an existing variation,
personalizations using `custom` targeting (targeting modes are a test concept), and only tests
in an exclusion group (`exclusion_group`, with its share `exclusion_weight` > 0, see
exclusion.py), and only personalizations with a `mode` other than permanent.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, TypeAlias

import msgspec

from targeting.attributes import KLAVIYO_SEGMENT
from targeting.changes import VariationChanges
from targeting.rules import MATCH_EVERYONE, RuleNode, iter_conditions, rule_to_dict


class ExperienceType(StrEnum):
    TEST = "test"
    PERSONALIZATION = "personalization"


class ExperienceStatus(StrEnum):
    DRAFT = "draft"
    LIVE = "live"
    PAUSED = "paused"
    ENDED = "ended"


class TargetingMode(StrEnum):
    CUSTOM = "custom"
    ADVANCED = "advanced"


class PersonalizationMode(StrEnum):
    """How a personalization's holdout draw and entry work (docs/audiences.md "Modes").

    `permanent`: one draw for the personalization's life; `temporary`: a fresh draw every
    `evaluate_every_days`; `link`: only visitors who arrived with `?link_param=link_value` enter,
    for as long as it is live (the snippet keeps the parameter). Rules are evaluated on every
    visit in every mode."""

    PERMANENT = "permanent"
    TEMPORARY = "temporary"
    LINK = "link"


class AudienceAction(StrEnum):
    RANDOM = "random"
    ASSIGN = "assign"
    EXCLUDE = "exclude"
    DEFER = "defer"


class Variation(msgspec.Struct, frozen=True):
    id: str
    name: str
    weight: float
    is_control: bool = False
    changes: VariationChanges | None = None  # what it does on the page (changes.py)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "weight": self.weight,
            "is_control": self.is_control,
        }
        if self.changes is not None:
            data["changes"] = self.changes.to_dict()
        return data


class Audience(msgspec.Struct, frozen=True):
    rules: RuleNode
    action: AudienceAction
    variation_id: str | None = None


class CustomTargeting(msgspec.Struct, frozen=True):
    rules: RuleNode = MATCH_EVERYONE

    @property
    def mode(self) -> TargetingMode:
        return TargetingMode.CUSTOM


class AdvancedTargeting(msgspec.Struct, frozen=True):
    audiences: tuple[Audience, ...]

    @property
    def mode(self) -> TargetingMode:
        return TargetingMode.ADVANCED


Targeting: TypeAlias = CustomTargeting | AdvancedTargeting


class Experience(msgspec.Struct, frozen=True):
    id: str
    type: ExperienceType
    name: str
    status: ExperienceStatus
    targeting: Targeting
    variations: tuple[Variation, ...]
    traffic_percent: float = 100
    seed: str | None = None
    version: int | None = None
    exclusion_group: str | None = None
    exclusion_weight: float = 1
    mode: PersonalizationMode = PersonalizationMode.PERMANENT  # personalizations only
    evaluate_every_days: int | None = None  # temporary only
    link_param: str | None = None  # link only
    link_value: str | None = None  # link only

    @property
    def bucketing_seed(self) -> str:
        """The hash seed: `seed`, or the experience id when no seed is set."""
        return self.seed or self.id

    @property
    def control(self) -> Variation:
        return next(v for v in self.variations if v.is_control)

    @property
    def rule_trees(self) -> tuple[RuleNode, ...]:
        if isinstance(self.targeting, CustomTargeting):
            return (self.targeting.rules,)
        return tuple(audience.rules for audience in self.targeting.audiences)

    @property
    def referenced_segments(self) -> frozenset[str]:
        """Every Klaviyo segment id any of this experience's conditions mentions."""
        return frozenset(
            condition.value
            for tree in self.rule_trees
            for condition in iter_conditions(tree)
            if condition.attribute == KLAVIYO_SEGMENT
        )

    def to_dict(self) -> dict[str, Any]:
        """The canonical JSON form; `parse_experience(e.to_dict()) == e`."""
        targeting: dict[str, Any]
        if isinstance(self.targeting, CustomTargeting):
            targeting = {"mode": "custom", "rules": rule_to_dict(self.targeting.rules)}
        else:
            audiences = []
            for audience in self.targeting.audiences:
                item: dict[str, Any] = {
                    "rules": rule_to_dict(audience.rules),
                    "action": str(audience.action),
                }
                if audience.variation_id is not None:
                    item["variation_id"] = audience.variation_id
                audiences.append(item)
            targeting = {"mode": "advanced", "audiences": audiences}
        data: dict[str, Any] = {
            "id": self.id,
            "type": str(self.type),
            "name": self.name,
            "status": str(self.status),
            "targeting": targeting,
            "traffic_percent": self.traffic_percent,
            "variations": [v.to_dict() for v in self.variations],
        }
        if self.seed is not None:
            data["seed"] = self.seed
        if self.version is not None:
            data["version"] = self.version
        if self.exclusion_group is not None:
            data["exclusion_group"] = self.exclusion_group
            data["exclusion_weight"] = self.exclusion_weight
        if self.mode is not PersonalizationMode.PERMANENT:
            data["mode"] = str(self.mode)
        if self.evaluate_every_days is not None:
            data["evaluate_every_days"] = self.evaluate_every_days
        if self.link_param is not None:
            data["link_param"] = self.link_param
            data["link_value"] = self.link_value
        return data

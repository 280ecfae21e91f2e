"""The experience document as msgspec types: what the OpenAPI document shows and responses are built from.

Validation stays `targeting.parse_experience`'s (it reports every problem with its path); these
types mirror what it accepts so the published schema is the real contract: the same required
fields, defaults, ranges, id charset and `additionalProperties: false` everywhere. Rules it checks
that a JSON schema cannot say (exactly one control, unique variation ids, an `assign` audience
naming an existing variation, personalizations using custom targeting, rule-tree budgets) are
written in the descriptions. `ExperienceView` is what every experience response carries, built by
`experience_view` through `msgspec.convert`, so an answer that strays from its schema fails here
rather than at a client.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from edge.config_api.change_documents import CHANGE_TYPES, Changes
from edge.store import ExperienceRecord
from targeting import AudienceAction, ExperienceStatus, ExperienceType
from targeting.model import PersonalizationMode
from targeting.validation import (
    MAX_AUDIENCES,
    MAX_EVALUATE_EVERY_DAYS,
    MAX_LINK_VALUE,
    MAX_NAME,
    MAX_SEED,
    MAX_VARIATIONS,
    MAX_WEIGHT,
)

REF_TEMPLATE = "#/components/schemas/{name}"
SAFE_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"

SafeId = Annotated[str, Meta(pattern=SAFE_ID_PATTERN, description="1-64 characters from A-Z a-z 0-9 _ . : -")]
Name = Annotated[
    str, Meta(min_length=1, max_length=MAX_NAME, description="Shown to merchants; must not be blank.")
]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF_TEMPLATE.format(name=name)}


# A rule node is a condition, {"all": [...]}, {"any": [...]} or {} (matches everyone). msgspec
# cannot express an untagged union of objects, so the node's schema points at the four shapes.
RuleNode = Annotated[
    dict[str, Any],
    Meta(
        description='A condition, {"all": [nodes]}, {"any": [nodes]}, or {} (matches everyone). '
        "At most 16 levels, 256 nodes and 100 conditions per experience.",
        extra_json_schema={
            "anyOf": [_ref("RuleCondition"), _ref("RuleAll"), _ref("RuleAny"), _ref("RuleEveryone")]
        },
    ),
]


class RuleCondition(Struct, forbid_unknown_fields=True):
    """`klaviyo_segment equals S`: the visitor is in segment S (`not_equals`: is not);
    unidentified visitors match neither operator. Visit attributes (docs/audiences.md): `url`,
    `landing_url`, `utm_source` ... `utm_term`, `query_param:NAME`, `traffic_source`, `device`,
    `visitor`, `country`, `cookie:NAME`; an absent visit value matches no condition. An
    unknown attribute or an operator it does not take is a 422 naming it; `exists` takes no
    value."""

    attribute: Annotated[
        str, Meta(min_length=1, max_length=200, description="klaviyo_segment or a visit attribute.")
    ]
    operator: Literal["equals", "not_equals", "contains", "starts_with", "matches", "exists"]
    value: Annotated[
        str, Meta(max_length=1024, description="A segment id, or the visit value to compare.")
    ] = ""


class RuleAll(Struct, forbid_unknown_fields=True):
    """True when every child is true ("+AND"); `{"all": []}` matches everyone."""

    all: list[RuleNode]


class RuleAny(Struct, forbid_unknown_fields=True):
    """True when one child is true ("+OR"); `{"any": []}` matches no one."""

    any: list[RuleNode]


class RuleEveryone(Struct, forbid_unknown_fields=True):
    """`{}`: matches everyone."""


class Variation(Struct, forbid_unknown_fields=True):
    id: SafeId
    name: Name
    weight: Annotated[float, Meta(gt=0, le=MAX_WEIGHT, description="Relative; normalised to sum 1.")]
    is_control: bool = False
    changes: (
        Annotated[Changes | None, Meta(description="What this variation does on the page.")] | UnsetType
    ) = UNSET


class CustomTargeting(Struct, forbid_unknown_fields=True, tag_field="mode", tag="custom"):
    """One rule tree; a missing or null `rules` matches everyone."""

    rules: RuleNode | None = None


class Audience(Struct, forbid_unknown_fields=True, kw_only=True):
    rules: RuleNode | None = None
    action: AudienceAction
    variation_id: Annotated[
        SafeId | None,
        Meta(description="Required when action is assign (an existing variation); else absent."),
    ] = None


class AdvancedTargeting(Struct, forbid_unknown_fields=True, tag_field="mode", tag="advanced"):
    """Tests only: ordered audiences, the first whose rules match decides."""

    audiences: Annotated[list[Audience], Meta(max_length=MAX_AUDIENCES)]


Targeting = CustomTargeting | AdvancedTargeting
Variations = Annotated[
    list[Variation],
    Meta(
        min_length=2,
        max_length=MAX_VARIATIONS,
        description="Unique ids; exactly one has is_control true.",
    ),
]
TrafficPercent = Annotated[float, Meta(ge=0, le=100)]
Seed = Annotated[str, Meta(min_length=1, max_length=MAX_SEED)]


class ExperienceDocument(Struct, forbid_unknown_fields=True):
    """An experience as clients send it (POST, PUT). `id` may be left out: POST generates one,
    PUT takes the URL's. `version` is accepted and ignored: `If-Match` guards edits."""

    type: ExperienceType
    name: Name
    variations: Variations
    # Left out: everyone (the same as {"mode": "custom", "rules": null}).
    targeting: Targeting = msgspec.field(default_factory=CustomTargeting)
    id: SafeId | UnsetType = UNSET
    status: ExperienceStatus = ExperienceStatus.DRAFT
    traffic_percent: TrafficPercent = 100
    seed: Annotated[Seed | None, Meta(description="Bucketing seed; defaults to the id.")] = None
    version: Annotated[int, Meta(ge=0)] | None = None
    exclusion_group: Annotated[
        SafeId | None,
        Meta(description="Tests only: a visitor enters at most one live test of the group."),
    ] = None
    exclusion_weight: Annotated[
        float, Meta(gt=0, le=MAX_WEIGHT, description="This test's share of its group (with exclusion_group).")
    ] = 1
    mode: Annotated[
        PersonalizationMode,
        Meta(description="Personalizations only: permanent, temporary (evaluate_every_days) or link."),
    ] = PersonalizationMode.PERMANENT
    evaluate_every_days: Annotated[int, Meta(ge=1, le=MAX_EVALUATE_EVERY_DAYS)] | None = None
    link_param: Annotated[
        str | None, Meta(description="mode link: the URL parameter that enters the visitor.")
    ] = None
    link_value: Annotated[str, Meta(min_length=1, max_length=MAX_LINK_VALUE)] | None = None


class ApiWarning(Struct):
    """Something the merchant should know about a write that succeeded."""

    code: str
    message: str


class ExperienceView(Struct):
    """An experience as the API answers it: the document, its version (also the ETag), times,
    and `warnings` about the write just made (empty on reads)."""

    id: str
    type: ExperienceType
    name: str
    status: ExperienceStatus
    targeting: Targeting
    traffic_percent: float
    variations: list[Variation]
    version: int
    created_at: int
    updated_at: int
    seed: str | None = None
    exclusion_group: str | UnsetType = UNSET  # these four only when the document has them
    exclusion_weight: float | UnsetType = UNSET
    mode: PersonalizationMode | UnsetType = UNSET
    evaluate_every_days: int | UnsetType = UNSET
    link_param: str | UnsetType = UNSET
    link_value: str | UnsetType = UNSET
    warnings: list[ApiWarning] = []


class ExperienceList(Struct):
    experiences: list[ExperienceView]


def experience_view(record: ExperienceRecord, warnings: list[ApiWarning] | None = None) -> ExperienceView:
    """The response body for a stored experience."""
    data = {
        **record.body,
        "version": record.version,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "warnings": [],
    }
    view = msgspec.convert(data, ExperienceView)
    if warnings:
        view.warnings = list(warnings)
    return view


EXPERIENCE_TYPES: tuple[type[Any], ...] = (
    *CHANGE_TYPES,
    ExperienceDocument,
    ExperienceView,
    ExperienceList,
    RuleCondition,
    RuleAll,
    RuleAny,
    RuleEveryone,
)

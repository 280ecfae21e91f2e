"""kx-edge's pure targeting engine: experiences, rule trees, bucketing, decisions, sticky tokens.

Pure: it imports only the standard library, msgspec and RE2 (google-re2, for URL patterns),
does no I/O and never reads a clock (time comes in as unix seconds). The edge validates
documents with `parse_experience`, compiles a site's experiences with `compile_site` when they
change (`CompiledSite.visit_needs` says what of the visit to collect), and per request builds
the `Visit` once with `Visit.from_request_fields` and calls `decide` (or `explain`) with the
visitor's `Identity`, the entries `decode_sticky` recovered from the token and that visit, then
answers with `encode_sticky` of `SiteDecision.sticky`.
"""

from targeting.attributes import ATTRIBUTES, KLAVIYO_SEGMENT, Attribute, AttributeFamily, Registry
from targeting.bucketing import bucket_ranges, choose_variation, fnv1a32, hash_v1, hash_v2
from targeting.channels import Ga4Channel, TrafficSource, classify, ga4_channel
from targeting.compiled import CompiledExperience, CompiledSite, compile_site
from targeting.decide import (
    DeferCause,
    DrawPlan,
    Step,
    StickyVerdict,
    decide,
    decide_bot,
    draw_plan,
    targeted_steps,
)
from targeting.decision import Decision, DecisionStatus, Reason, SiteDecision
from targeting.errors import CompileError, Problem, TargetingError, ValidationError
from targeting.exclusion import OwnerCause
from targeting.explain import (
    AudienceTrace,
    BucketTrace,
    ExclusionTrace,
    ExperienceTrace,
    GroupRangeTrace,
    RangeTrace,
    RuleTrace,
    explain,
)
from targeting.identity import (
    PENDING,
    UNIDENTIFIED,
    Identity,
    IdentityKind,
    Truth,
    VisitorContext,
)
from targeting.model import (
    AdvancedTargeting,
    Audience,
    AudienceAction,
    CustomTargeting,
    Experience,
    ExperienceStatus,
    ExperienceType,
    TargetingMode,
    Variation,
)
from targeting.rules import AllOf, AnyOf, Condition, ConditionResult, RuleNode, TruthValue
from targeting.sticky import (
    DEFAULT_CONTROL,
    EXCLUDED,
    StickyEntry,
    StickyOutcome,
    StickySigner,
    decode_sticky,
    encode_sticky,
    pack_entries,
    read_sticky,
    token_is_current,
)
from targeting.validation import parse_experience
from targeting.visit import EMPTY_VISIT, Device, Visit, VisitNeeds, VisitorKind

__all__ = [
    "ATTRIBUTES",
    "DEFAULT_CONTROL",
    "EMPTY_VISIT",
    "EXCLUDED",
    "KLAVIYO_SEGMENT",
    "PENDING",
    "UNIDENTIFIED",
    "AdvancedTargeting",
    "AllOf",
    "AnyOf",
    "Attribute",
    "AttributeFamily",
    "Audience",
    "AudienceAction",
    "AudienceTrace",
    "BucketTrace",
    "CompileError",
    "CompiledExperience",
    "CompiledSite",
    "Condition",
    "ConditionResult",
    "CustomTargeting",
    "Decision",
    "DecisionStatus",
    "DeferCause",
    "Device",
    "DrawPlan",
    "ExclusionTrace",
    "Experience",
    "ExperienceStatus",
    "ExperienceTrace",
    "ExperienceType",
    "Ga4Channel",
    "GroupRangeTrace",
    "Identity",
    "IdentityKind",
    "OwnerCause",
    "Problem",
    "RangeTrace",
    "Reason",
    "Registry",
    "RuleNode",
    "RuleTrace",
    "SiteDecision",
    "Step",
    "StickyEntry",
    "StickyOutcome",
    "StickySigner",
    "StickyVerdict",
    "TargetingError",
    "TargetingMode",
    "TrafficSource",
    "Truth",
    "TruthValue",
    "ValidationError",
    "Variation",
    "Visit",
    "VisitNeeds",
    "VisitorContext",
    "VisitorKind",
    "bucket_ranges",
    "choose_variation",
    "classify",
    "compile_site",
    "decide",
    "decide_bot",
    "decode_sticky",
    "draw_plan",
    "encode_sticky",
    "explain",
    "fnv1a32",
    "ga4_channel",
    "hash_v1",
    "hash_v2",
    "pack_entries",
    "parse_experience",
    "read_sticky",
    "targeted_steps",
    "token_is_current",
]

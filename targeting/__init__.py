"""kx-edge's pure targeting engine: experiences, rule trees, bucketing, decisions, sticky tokens.

Pure: it imports only the standard library and msgspec, does no I/O and never reads a clock
(time comes in as unix seconds). The edge validates documents with `parse_experience`, compiles
a site's experiences with `compile_site` when they change, and per request calls `decide` (or
`explain`) with the visitor's `Identity` and the entries `decode_sticky` recovered from the
token, then answers with `encode_sticky` of `SiteDecision.sticky`.
"""

from targeting.attributes import ATTRIBUTES, KLAVIYO_SEGMENT, Attribute
from targeting.bucketing import bucket_ranges, choose_variation, fnv1a32, hash_v1, hash_v2
from targeting.compiled import CompiledExperience, CompiledSite, compile_site
from targeting.decide import DeferCause, StickyVerdict, decide
from targeting.decision import Decision, DecisionStatus, Reason, SiteDecision
from targeting.errors import CompileError, Problem, TargetingError, ValidationError
from targeting.explain import (
    AudienceTrace,
    BucketTrace,
    ExperienceTrace,
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
    decode_sticky,
    encode_sticky,
    read_sticky,
    token_is_current,
)
from targeting.validation import parse_experience

__all__ = [
    "ATTRIBUTES",
    "DEFAULT_CONTROL",
    "EXCLUDED",
    "KLAVIYO_SEGMENT",
    "PENDING",
    "UNIDENTIFIED",
    "AdvancedTargeting",
    "AllOf",
    "AnyOf",
    "Attribute",
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
    "Experience",
    "ExperienceStatus",
    "ExperienceTrace",
    "ExperienceType",
    "Identity",
    "IdentityKind",
    "Problem",
    "RangeTrace",
    "Reason",
    "RuleNode",
    "RuleTrace",
    "SiteDecision",
    "StickyEntry",
    "StickyOutcome",
    "StickyVerdict",
    "TargetingError",
    "TargetingMode",
    "Truth",
    "TruthValue",
    "ValidationError",
    "Variation",
    "VisitorContext",
    "bucket_ranges",
    "choose_variation",
    "compile_site",
    "decide",
    "decode_sticky",
    "encode_sticky",
    "explain",
    "fnv1a32",
    "hash_v1",
    "hash_v2",
    "parse_experience",
    "read_sticky",
    "token_is_current",
]

"""The registry of condition attributes: how each one is validated and compiled.

A condition is `{"attribute": A, "operator": O, "value": V}`. Everything specific to `A` lives in
its registry entry (registry.py), never in the evaluator core in `rules.py`: `klaviyo_segment`
here, the visit's attributes (url, landing_url, UTMs, query_param:NAME, traffic_source, device,
visitor, country, cookie:NAME) in visit_attributes.py. `ATTRIBUTES` holds them all.

`klaviyo_segment` semantics:

- identified visitor: `equals S` is true when the visitor is in segment S, `not_equals S` when it
  is not;
- unidentified visitor: both operators are false, so `not_equals` never lets an anonymous visitor
  into a segment-targeted experience ("unidentified visitors never match a segment condition");
- pending identity: both operators are unknown (`None`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from types import MappingProxyType
from typing import Final

from targeting.identity import IdentityKind, Predicate, Truth, VisitorContext
from targeting.registry import Attribute, AttributeFamily, Registry
from targeting.visit_attributes import VISIT_ATTRIBUTES

__all__ = ["ATTRIBUTES", "KLAVIYO_SEGMENT", "SAFE_ID", "Attribute", "AttributeFamily", "Registry"]

SAFE_ID: Final = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
KLAVIYO_SEGMENT: Final = "klaviyo_segment"


def _check_segment_id(value: object) -> str | None:
    if not isinstance(value, str):
        return "must be a segment id (a string)"
    if not SAFE_ID.fullmatch(value):
        return "must be a segment id of 1-64 characters from A-Z a-z 0-9 _ . : -"
    return None


def _compile_segment(operator: str, segment: str) -> Predicate:
    identified = IdentityKind.IDENTIFIED
    pending = IdentityKind.PENDING
    if operator == "equals":

        def in_segment(ctx: VisitorContext) -> Truth:
            identity = ctx.identity
            if identity.kind is identified:
                return segment in identity.segments
            return None if identity.kind is pending else False

        return in_segment

    def not_in_segment(ctx: VisitorContext) -> Truth:
        identity = ctx.identity
        if identity.kind is identified:
            return segment not in identity.segments
        return None if identity.kind is pending else False

    return not_in_segment


def _compile_segment_group(all_of: bool, conditions: Sequence[tuple[str, str]]) -> Predicate:
    """`all`: in every `equals` segment and in no `not_equals` one; `any`: in one or out of one."""
    inside = frozenset(value for operator, value in conditions if operator == "equals")
    outside = frozenset(value for operator, value in conditions if operator != "equals")
    identified = IdentityKind.IDENTIFIED
    pending = IdentityKind.PENDING
    if all_of:

        def in_all(ctx: VisitorContext) -> Truth:
            identity = ctx.identity
            if identity.kind is identified:
                segments = identity.segments
                return inside <= segments and outside.isdisjoint(segments)
            return None if identity.kind is pending else False

        return in_all

    def in_any(ctx: VisitorContext) -> Truth:
        identity = ctx.identity
        if identity.kind is identified:
            segments = identity.segments
            return not inside.isdisjoint(segments) or not outside <= segments
        return None if identity.kind is pending else False

    return in_any


SEGMENT: Final = Attribute(
    name=KLAVIYO_SEGMENT,
    operators=frozenset({"equals", "not_equals"}),
    needs_identity=True,
    check_value=_check_segment_id,
    compile=_compile_segment,
    compile_group=_compile_segment_group,
)

ATTRIBUTES: Final[Registry] = MappingProxyType(
    {
        KLAVIYO_SEGMENT: SEGMENT,
        **{
            entry.key if isinstance(entry, AttributeFamily) else entry.name: entry
            for entry in VISIT_ATTRIBUTES
        },
    }
)

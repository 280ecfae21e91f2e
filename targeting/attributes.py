"""The registry of condition attributes: how each one is validated and compiled.

A condition is `{"attribute": A, "operator": O, "value": V}`. Everything specific to `A` lives in
its `Attribute` entry, so adding URL, UTM, device, country or new-vs-returning conditions is one
new entry here (reading `VisitorContext.attributes`), never a change to the evaluator core in
`rules.py`.

`klaviyo_segment` semantics:

- identified visitor: `equals S` is true when the visitor is in segment S, `not_equals S` when it
  is not;
- unidentified visitor: both operators are false, so `not_equals` never lets an anonymous visitor
  into a segment-targeted experience ("unidentified visitors never match a segment condition");
- pending identity: both operators are unknown (`None`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Final

import msgspec

from targeting.identity import IdentityKind, Predicate, Truth, VisitorContext

SAFE_ID: Final = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
KLAVIYO_SEGMENT: Final = "klaviyo_segment"


class Attribute(msgspec.Struct, frozen=True):
    """One attribute conditions can test.

    `check_value` returns a problem message for a bad value (or None); `compile` turns a valid
    (operator, value) pair into a predicate; `needs_identity` says whether the visitor's Klaviyo
    identity must be resolved to evaluate it. `compile_group`, optional, turns several sibling
    conditions of this attribute under one `all` (first argument True) or `any` node into a single
    predicate with the same three-valued result, e.g. one frozenset comparison.
    """

    name: str
    operators: frozenset[str]
    needs_identity: bool
    check_value: Callable[[object], str | None]
    compile: Callable[[str, str], Predicate]
    compile_group: Callable[[bool, Sequence[tuple[str, str]]], Predicate] | None = None


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


ATTRIBUTES: Final[Mapping[str, Attribute]] = MappingProxyType(
    {
        KLAVIYO_SEGMENT: Attribute(
            name=KLAVIYO_SEGMENT,
            operators=frozenset({"equals", "not_equals"}),
            needs_identity=True,
            check_value=_check_segment_id,
            compile=_compile_segment,
            compile_group=_compile_segment_group,
        ),
    }
)

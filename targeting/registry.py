"""What an attribute is, and how a condition's attribute name finds its entry in a registry.

A registry maps names to `Attribute`s, and `PREFIX:NAME` keys to `AttributeFamily`s: the
attributes that take a parameter in their name (`cookie:NAME`, `query_param:NAME`). `resolve`
finds the entry of a name such as `cookie:consent`: an exact `Attribute`, else the family of its
prefix, which checks the parameter and binds an `Attribute` for it. Everything specific to an
attribute lives in its entry, so the evaluator (rules.py) never changes for a new one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Final, TypeAlias

import msgspec

from targeting.identity import Predicate
from targeting.visit import NO_VISIT_NEEDS, VisitNeeds

FAMILY_SUFFIX: Final = ":NAME"


class Attribute(msgspec.Struct, frozen=True):
    """One attribute conditions can test.

    `check_value` returns a problem message for a bad value (or None), and `check_condition`,
    when set, one for a value that is bad with this operator (a glob for `matches`, a URL for
    `equals`); operators in `valueless` take no value (`exists`: the condition has no `value`,
    kept as ""). `compile` turns a valid (operator, value) pair into a predicate;
    `needs_identity` says whether the visitor's Klaviyo identity must be resolved to evaluate it,
    `visit_needs` what of the visit it reads. `compile_group`, optional, turns several sibling
    conditions of this attribute under one `all` (first argument True) or `any` node into a
    single predicate with the same three-valued result, e.g. one frozenset comparison.
    """

    name: str
    operators: frozenset[str]
    needs_identity: bool
    check_value: Callable[[object], str | None]
    compile: Callable[[str, str], Predicate]
    compile_group: Callable[[bool, Sequence[tuple[str, str]]], Predicate] | None = None
    check_condition: Callable[[str, object], str | None] | None = None
    valueless: frozenset[str] = frozenset()
    visit_needs: VisitNeeds = NO_VISIT_NEEDS


class AttributeFamily(msgspec.Struct, frozen=True):
    """Attributes named `prefix:NAME`; registered under the key `prefix:NAME` itself.

    `check_parameter` returns a problem message for a bad NAME (or None); `bind` makes the
    attribute of one valid NAME."""

    prefix: str
    check_parameter: Callable[[str], str | None]
    bind: Callable[[str], Attribute]

    @property
    def key(self) -> str:
        return self.prefix + FAMILY_SUFFIX


Registry: TypeAlias = Mapping[str, Attribute | AttributeFamily]


def resolve(registry: Registry, name: str) -> Attribute | str:
    """The attribute `name` names, or a problem message saying why there is none."""
    entry = registry.get(name)
    if isinstance(entry, Attribute):
        return entry
    prefix, colon, parameter = name.partition(":")
    family = registry.get(prefix + FAMILY_SUFFIX) if colon else None
    if isinstance(family, AttributeFamily):
        problem = family.check_parameter(parameter)
        return family.bind(parameter) if problem is None else problem
    shown = f" {name!r}" if len(name) <= 64 else ""
    return f"unknown attribute{shown} (known: {', '.join(sorted(registry))})"


def lookup(registry: Registry, name: str) -> Attribute:
    """The attribute of a name that validation accepted (a KeyError otherwise)."""
    found = resolve(registry, name)
    if isinstance(found, str):
        raise KeyError(name)
    return found

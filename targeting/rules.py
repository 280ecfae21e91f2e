"""Rule trees: their model, parsing with paths, a compiled fast evaluator, and a tracing one.

A tree is `{"all": [...]}`, `{"any": [...]}` or a condition (see `attributes.py`). A missing
tree, `{}` and `{"all": []}` match everyone; `{"any": []}` matches no one. A condition whose
operator takes no value (`exists`) has no `value` key; it is kept as `value` "".

Evaluation is three-valued (Kleene): `all` is false if any child is false, else unknown if any
child is unknown, else true; `any` is true if any child is true, else unknown if any child is
unknown, else false. So `any` with one true branch is true even while other branches wait for a
pending identity.

`compile_rule` turns a tree into nested closures once (nested groups of the same kind are
flattened, single-child groups collapse, sibling segment conditions become one frozenset
comparison), so a request never walks JSON; `trace_rule` evaluates every condition, for
`explain`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from enum import StrEnum
from typing import Final, TypeAlias

import msgspec

from targeting.attributes import ATTRIBUTES
from targeting.errors import Problem
from targeting.identity import Predicate, Truth, VisitorContext
from targeting.registry import Attribute, Registry, lookup, resolve

MAX_DEPTH: Final = 16
MAX_CONDITIONS: Final = 100
MAX_NODES: Final = 256
_CONDITION_KEYS: Final = ("attribute", "operator", "value")


class Condition(msgspec.Struct, frozen=True):
    attribute: str
    operator: str
    value: str  # "" for an operator that takes no value


class AllOf(msgspec.Struct, frozen=True):
    children: tuple[RuleNode, ...] = ()


class AnyOf(msgspec.Struct, frozen=True):
    children: tuple[RuleNode, ...] = ()


RuleNode: TypeAlias = Condition | AllOf | AnyOf
MATCH_EVERYONE: Final = AllOf()


class TruthValue(StrEnum):
    TRUE = "true"
    FALSE = "false"
    UNKNOWN = "unknown"

    @classmethod
    def of(cls, truth: Truth) -> TruthValue:
        return cls.UNKNOWN if truth is None else cls.TRUE if truth else cls.FALSE


class ConditionResult(msgspec.Struct, frozen=True):
    """One condition's outcome in a trace; `path` locates it in the experience document."""

    path: str
    attribute: str
    operator: str
    value: str
    result: TruthValue


class _Budget:
    """Counts nodes and conditions across one experience, so one problem reports abuse."""

    __slots__ = ("conditions", "nodes", "reported")

    def __init__(self) -> None:
        self.nodes = 0
        self.conditions = 0
        self.reported = False


class RuleParser:
    """Parses the rule trees of one experience, appending every problem to `problems`."""

    def __init__(self, problems: list[Problem], attributes: Registry = ATTRIBUTES) -> None:
        self._problems = problems
        self._attributes = attributes
        self._budget = _Budget()

    def parse(self, data: object, path: str) -> RuleNode | None:
        if data is None:
            return MATCH_EVERYONE
        return self._node(data, path, 1)

    def _problem(self, path: str, message: str) -> None:
        self._problems.append(Problem(path, message))

    def _node(self, data: object, path: str, depth: int) -> RuleNode | None:
        if not isinstance(data, Mapping):
            self._problem(path, "must be a rule object")
            return None
        budget = self._budget
        budget.nodes += 1
        if budget.nodes > MAX_NODES and not budget.reported:
            budget.reported = True
            self._problem(path, f"too many rule nodes (at most {MAX_NODES} per experience)")
        if depth > MAX_DEPTH:
            self._problem(path, f"rules nest deeper than {MAX_DEPTH} levels")
            return None
        if not data:
            return MATCH_EVERYONE
        groups = [key for key in ("all", "any") if key in data]
        if not groups:
            return self._condition(data, path)
        if len(groups) > 1:
            self._problem(path, 'a rule node is {"all": [...]}, {"any": [...]} or a condition')
            return None
        key = groups[0]
        extra = [k for k in data if k != key]
        for k in extra:
            self._problem(f"{path}.{k}", "unknown field")
        items = data[key]
        if not isinstance(items, list):
            self._problem(f"{path}.{key}", "must be a list of rule nodes")
            return None
        children = [self._node(item, f"{path}.{key}[{i}]", depth + 1) for i, item in enumerate(items)]
        if extra or any(child is None for child in children):
            return None
        kept = tuple(child for child in children if child is not None)
        return AllOf(kept) if key == "all" else AnyOf(kept)

    def _condition(self, data: Mapping[object, object], path: str) -> Condition | None:
        ok = True
        for k in data:
            if k not in _CONDITION_KEYS:
                self._problem(f"{path}.{k}", "unknown field")
                ok = False
        budget = self._budget
        budget.conditions += 1
        if budget.conditions > MAX_CONDITIONS and not budget.reported:
            budget.reported = True
            self._problem(path, f"too many conditions (at most {MAX_CONDITIONS} per experience)")
        name, operator, value = data.get("attribute"), data.get("operator"), data.get("value")
        attribute = resolve(self._attributes, name) if isinstance(name, str) else None
        valueless = (
            isinstance(attribute, Attribute) and isinstance(operator, str) and operator in attribute.valueless
        )
        for k in _CONDITION_KEYS:
            # Whether `value` is required depends on the attribute: without one, it is not judged.
            if k not in data and not (k == "value" and (valueless or not isinstance(attribute, Attribute))):
                self._problem(f"{path}.{k}", "required")
                ok = False
        if not isinstance(attribute, Attribute):
            if "attribute" in data:
                self._problem(f"{path}.attribute", attribute or "must be an attribute name (a string)")
            return None
        known_operator = isinstance(operator, str) and operator in attribute.operators
        if "operator" in data and not known_operator:
            allowed = ", ".join(sorted(attribute.operators))
            shown = f"{operator!r} is not an operator of {attribute.name}: " if _short_text(operator) else ""
            self._problem(f"{path}.operator", f"{shown}must be one of {allowed}")
            ok = False
        if valueless:
            if "value" in data:
                self._problem(f"{path}.value", f"{operator} takes no value: leave value out")
                ok = False
            value = ""
        elif "value" in data:
            message = attribute.check_value(value)
            if message is None and known_operator and attribute.check_condition is not None:
                assert isinstance(operator, str)
                message = attribute.check_condition(operator, value)
            if message is not None:
                self._problem(f"{path}.value", message)
                ok = False
        if not ok or not isinstance(operator, str) or not isinstance(value, str):
            return None
        return Condition(attribute.name, operator, value)


def _short_text(value: object) -> bool:
    return isinstance(value, str) and len(value) <= 64


def rule_to_dict(node: RuleNode) -> dict[str, object]:
    """The canonical JSON form (`{}` and a missing tree are written `{"all": []}`)."""
    if isinstance(node, Condition):
        written: dict[str, object] = {"attribute": node.attribute, "operator": node.operator}
        return {**written, "value": node.value} if node.value else written
    key = "all" if isinstance(node, AllOf) else "any"
    return {key: [rule_to_dict(child) for child in node.children]}


def iter_conditions(node: RuleNode) -> Iterator[Condition]:
    if isinstance(node, Condition):
        yield node
    else:
        for child in node.children:
            yield from iter_conditions(child)


def _always_true(ctx: VisitorContext) -> Truth:
    return True


def _always_false(ctx: VisitorContext) -> Truth:
    return False


def _all_of(predicates: tuple[Predicate, ...]) -> Predicate:
    def all_of(ctx: VisitorContext) -> Truth:
        result: Truth = True
        for predicate in predicates:
            truth = predicate(ctx)
            if truth is False:
                return False
            if truth is None:
                result = None
        return result

    return all_of


def _any_of(predicates: tuple[Predicate, ...]) -> Predicate:
    def any_of(ctx: VisitorContext) -> Truth:
        result: Truth = False
        for predicate in predicates:
            truth = predicate(ctx)
            if truth is True:
                return True
            if truth is None:
                result = None
        return result

    return any_of


def _flatten(node: AllOf | AnyOf) -> Iterator[RuleNode]:
    for child in node.children:
        if type(child) is type(node):
            assert not isinstance(child, Condition)
            yield from _flatten(child)
        else:
            yield child


def compile_rule(node: RuleNode, attributes: Registry = ATTRIBUTES) -> Predicate:
    """Compile a (validated) tree into one predicate over a `VisitorContext`.

    Nested groups of the same kind are flattened; sibling conditions of an attribute that offers
    `compile_group` become one predicate (placed first: they are the cheapest).
    """
    if isinstance(node, Condition):
        return lookup(attributes, node.attribute).compile(node.operator, node.value)
    all_of = isinstance(node, AllOf)
    grouped: dict[str, list[tuple[str, str]]] = {}
    predicates: list[Predicate] = []
    for child in _flatten(node):
        if isinstance(child, Condition) and lookup(attributes, child.attribute).compile_group is not None:
            grouped.setdefault(child.attribute, []).append((child.operator, child.value))
        else:
            predicates.append(compile_rule(child, attributes))
    for name, conditions in reversed(grouped.items()):
        attribute = lookup(attributes, name)
        if len(conditions) == 1:
            predicates.insert(0, attribute.compile(*conditions[0]))
        else:
            assert attribute.compile_group is not None
            predicates.insert(0, attribute.compile_group(all_of, conditions))
    if len(predicates) == 1:
        return predicates[0]
    if all_of:
        return _all_of(tuple(predicates)) if predicates else _always_true
    return _any_of(tuple(predicates)) if predicates else _always_false


def trace_rule(
    node: RuleNode,
    ctx: VisitorContext,
    path: str,
    attributes: Registry = ATTRIBUTES,
) -> tuple[Truth, tuple[ConditionResult, ...]]:
    """Evaluate every condition (no short-circuit) and report each with its path."""
    results: list[ConditionResult] = []

    def walk(node: RuleNode, path: str) -> Truth:
        if isinstance(node, Condition):
            truth = lookup(attributes, node.attribute).compile(node.operator, node.value)(ctx)
            results.append(
                ConditionResult(path, node.attribute, node.operator, node.value, TruthValue.of(truth))
            )
            return truth
        key = "all" if isinstance(node, AllOf) else "any"
        truths = [walk(child, f"{path}.{key}[{i}]") for i, child in enumerate(node.children)]
        decisive, neutral = (False, True) if key == "all" else (True, False)
        if decisive in truths:
            return decisive
        return None if None in truths else neutral

    truth = walk(node, path)
    return truth, tuple(results)

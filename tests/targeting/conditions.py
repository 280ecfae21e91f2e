"""Evaluating one condition document against a visit, for the visit-attribute golden tables."""

from __future__ import annotations

from typing import Any

from targeting import PENDING, Identity, Problem, Truth, Visit, VisitorContext
from targeting.rules import RuleParser, compile_rule, trace_rule


def cond(attribute: str, operator: str, value: str | None = None) -> dict[str, str]:
    """A condition document; `value` None leaves it out (for `exists`)."""
    data = {"attribute": attribute, "operator": operator}
    return data if value is None else {**data, "value": value}


def evaluate(condition: dict[str, Any], visit: Visit, identity: Identity = PENDING) -> Truth:
    """The compiled and the traced result, which must agree. The default identity is pending:
    visit conditions must not wait on it."""
    problems: list[Problem] = []
    node = RuleParser(problems).parse(condition, "rules")
    assert problems == [] and node is not None, problems
    ctx = VisitorContext(identity, visit)
    compiled = compile_rule(node)(ctx)
    traced, _ = trace_rule(node, ctx, "rules")
    assert compiled is traced
    return compiled

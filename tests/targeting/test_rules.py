"""Rule trees: three-valued evaluation, compiled once, traced with paths, open to new attributes."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from targeting import (
    ATTRIBUTES,
    EMPTY_VISIT,
    PENDING,
    UNIDENTIFIED,
    Attribute,
    Identity,
    Problem,
    Truth,
    TruthValue,
    Visit,
    VisitorContext,
)
from targeting.rules import RuleNode, RuleParser, compile_rule, rule_to_dict, trace_rule
from tests.targeting.factories import not_seg, seg

VIP = Identity.identified({"vip"})
EU_VIP = Identity.identified({"vip", "eu"})
NOBODY = Identity.identified(())


def parse(data: Any, attributes: Any = ATTRIBUTES) -> RuleNode:
    problems: list[Problem] = []
    node = RuleParser(problems, attributes).parse(data, "rules")
    assert problems == [] and node is not None
    return node


def evaluate(data: Any, identity: Identity, visit: Visit = EMPTY_VISIT) -> Truth:
    ctx = VisitorContext(identity, visit)
    return compile_rule(parse(data))(ctx)


GOLDEN: list[tuple[str, Any, Identity, Truth]] = [
    ("missing rules match everyone", None, UNIDENTIFIED, True),
    ("missing rules match a pending visitor", None, PENDING, True),
    ("{} matches everyone", {}, UNIDENTIFIED, True),
    ("all[] matches everyone", {"all": []}, NOBODY, True),
    ("any[] matches no one", {"any": []}, VIP, False),
    ("any[] matches no one, pending or not", {"any": []}, PENDING, False),
    ("equals: member", seg("vip"), VIP, True),
    ("equals: identified non-member", seg("vip"), NOBODY, False),
    ("equals: unidentified", seg("vip"), UNIDENTIFIED, False),
    ("equals: pending is unknown", seg("vip"), PENDING, None),
    ("not_equals: member", not_seg("vip"), VIP, False),
    ("not_equals: identified non-member", not_seg("vip"), NOBODY, True),
    ("not_equals: unidentified never matches", not_seg("vip"), UNIDENTIFIED, False),
    ("not_equals: pending is unknown", not_seg("vip"), PENDING, None),
    ("all: both", {"all": [seg("vip"), seg("eu")]}, EU_VIP, True),
    ("all: one missing", {"all": [seg("vip"), seg("eu")]}, VIP, False),
    ("all: pending", {"all": [seg("vip"), seg("eu")]}, PENDING, None),
    ("any: one", {"any": [seg("vip"), seg("eu")]}, VIP, True),
    ("any: none", {"any": [seg("vip"), seg("eu")]}, NOBODY, False),
    ("any: pending", {"any": [seg("vip"), seg("eu")]}, PENDING, None),
    ("and-not", {"all": [seg("vip"), not_seg("eu")]}, VIP, True),
    ("and-not excluded", {"all": [seg("vip"), not_seg("eu")]}, EU_VIP, False),
    ("or of and", {"any": [{"all": [seg("vip"), seg("eu")]}, not_seg("vip")]}, NOBODY, True),
    ("or of and, both", {"any": [{"all": [seg("vip"), seg("eu")]}, not_seg("vip")]}, EU_VIP, True),
    ("or of and, neither", {"any": [{"all": [seg("vip"), seg("eu")]}, not_seg("vip")]}, VIP, False),
    (
        "or of and, anonymous",
        {"any": [{"all": [seg("vip"), seg("eu")]}, not_seg("vip")]},
        UNIDENTIFIED,
        False,
    ),
    ("any with an always-true branch, pending", {"any": [{"all": []}, seg("vip")]}, PENDING, True),
    ("any with an always-false branch, pending", {"any": [{"any": []}, seg("vip")]}, PENDING, None),
    ("all with an always-false branch, pending", {"all": [{"any": []}, seg("vip")]}, PENDING, False),
    ("all with an always-true branch, pending", {"all": [{}, seg("vip")]}, PENDING, None),
    ("nested all flattens", {"all": [{"all": [seg("vip"), {"all": [seg("eu")]}]}]}, EU_VIP, True),
    ("nested all flattens, false", {"all": [{"all": [seg("vip"), {"all": [seg("eu")]}]}]}, VIP, False),
    ("all: contradiction is false", {"all": [seg("vip"), not_seg("vip")]}, VIP, False),
    ("all: contradiction is false for a non-member", {"all": [seg("vip"), not_seg("vip")]}, NOBODY, False),
    ("any: tautology is true", {"any": [seg("vip"), not_seg("vip")]}, NOBODY, True),
    ("any of not_equals: in both", {"any": [not_seg("vip"), not_seg("eu")]}, EU_VIP, False),
    ("any of not_equals: in one", {"any": [not_seg("vip"), not_seg("eu")]}, VIP, True),
    ("all of not_equals: in neither", {"all": [not_seg("vip"), not_seg("eu")]}, NOBODY, True),
    ("all of not_equals: unidentified", {"all": [not_seg("vip"), not_seg("eu")]}, UNIDENTIFIED, False),
    ("any of equals: unidentified", {"any": [seg("vip"), seg("eu")]}, UNIDENTIFIED, False),
    ("nested any flattens", {"any": [{"any": [seg("x"), {"any": [seg("eu")]}]}]}, EU_VIP, True),
]


@pytest.mark.parametrize(("case", "rules", "identity", "expected"), GOLDEN, ids=[g[0] for g in GOLDEN])
def test_rule_golden_vectors(case: str, rules: Any, identity: Identity, expected: Truth) -> None:
    assert evaluate(rules, identity) is expected


@pytest.mark.parametrize(("case", "rules", "identity", "expected"), GOLDEN, ids=[g[0] for g in GOLDEN])
def test_trace_agrees_with_the_compiled_rule(
    case: str, rules: Any, identity: Identity, expected: Truth
) -> None:
    truth, _ = trace_rule(parse(rules), VisitorContext(identity), "rules")
    assert truth is expected


def test_trace_reports_every_condition_with_its_path() -> None:
    node = parse({"any": [{"all": [seg("vip"), seg("eu")]}, not_seg("vip")]})
    truth, conditions = trace_rule(node, VisitorContext(VIP), "targeting.rules")
    assert truth is False
    assert [(c.path, c.value, c.operator, c.result) for c in conditions] == [
        ("targeting.rules.any[0].all[0]", "vip", "equals", TruthValue.TRUE),
        ("targeting.rules.any[0].all[1]", "eu", "equals", TruthValue.FALSE),
        ("targeting.rules.any[1]", "vip", "not_equals", TruthValue.FALSE),
    ]


def test_trace_reports_unknown_conditions_while_pending() -> None:
    truth, conditions = trace_rule(parse(seg("vip")), VisitorContext(PENDING), "r")
    assert truth is None
    assert conditions[0].result is TruthValue.UNKNOWN


def test_missing_rules_and_empty_object_are_written_as_all_empty() -> None:
    assert rule_to_dict(parse(None)) == {"all": []}
    assert rule_to_dict(parse({})) == {"all": []}
    assert rule_to_dict(parse({"any": []})) == {"any": []}


def _flag_attribute() -> Attribute:
    """A visit attribute reading a cookie: proves new attributes need no core change."""

    def check(value: object) -> str | None:
        return None if isinstance(value, str) else "must be a string"

    def compile_flag(operator: str, value: str) -> Any:
        def flag(ctx: VisitorContext) -> Truth:
            actual = ctx.visit.cookies.get("flag")
            return (actual == value) if operator == "equals" else (actual is not None and actual != value)

        return flag

    return Attribute("flag", frozenset({"equals", "not_equals"}), False, check, compile_flag)


def _flag(value: str) -> Visit:
    return Visit.from_request_fields(cookies={"flag": value})


def test_new_attributes_plug_in_through_the_registry() -> None:
    registry = {**ATTRIBUTES, "flag": _flag_attribute()}
    node = parse({"attribute": "flag", "operator": "equals", "value": "on"}, registry)
    assert compile_rule(node, registry)(VisitorContext(UNIDENTIFIED, _flag("on"))) is True
    assert compile_rule(node, registry)(VisitorContext(UNIDENTIFIED, _flag("off"))) is False


def test_any_with_a_true_branch_is_true_while_another_branch_is_unknown() -> None:
    registry = {**ATTRIBUTES, "flag": _flag_attribute()}
    flag_on = {"attribute": "flag", "operator": "equals", "value": "on"}
    anyof = parse({"any": [seg("vip"), flag_on]}, registry)
    allof = parse({"all": [seg("vip"), flag_on]}, registry)
    on, off = VisitorContext(PENDING, _flag("on")), VisitorContext(PENDING, _flag("off"))
    assert compile_rule(anyof, registry)(on) is True
    assert compile_rule(anyof, registry)(off) is None
    assert compile_rule(allof, registry)(off) is False
    assert compile_rule(allof, registry)(on) is None


def test_unknown_attribute_is_rejected_without_the_registry_entry() -> None:
    problems: list[Problem] = []
    RuleParser(problems).parse({"attribute": "flag", "operator": "equals", "value": "on"}, "rules")
    assert [p.path for p in problems] == ["rules.attribute"]


# An independent oracle: Kleene logic is min/max over False < unknown < True.
_RANK = {False: 0, None: 1, True: 2}


def _oracle(node: Any, identity: Identity) -> Truth:
    if "all" in node or "any" in node or not node:
        children = [_oracle(c, identity) for c in node.get("all", node.get("any", []))]
        pick = min if "any" not in node else max
        default = "any" not in node
        return pick(children, key=_RANK.__getitem__, default=default)
    if identity.kind == "pending":
        return None
    if identity.kind == "unidentified":
        return False
    inside = node["value"] in identity.segments
    return inside if node["operator"] == "equals" else not inside


segments = st.sampled_from(["a", "b", "c"])
conditions = st.builds(lambda s, eq: seg(s) if eq else not_seg(s), segments, st.booleans())
trees = st.recursive(
    conditions | st.just({}),
    lambda kids: st.builds(
        lambda k, items: {k: items}, st.sampled_from(["all", "any"]), st.lists(kids, max_size=4)
    ),
    max_leaves=12,
)
identities = st.one_of(
    st.just(PENDING),
    st.just(UNIDENTIFIED),
    st.frozensets(segments).map(Identity.identified),
)


@settings(max_examples=300)
@given(tree=trees, identity=identities)
def test_compiled_and_traced_rules_agree_with_kleene_logic(tree: Any, identity: Identity) -> None:
    node = parse(tree)
    ctx = VisitorContext(identity)
    expected = _oracle(tree, identity)
    assert compile_rule(node)(ctx) is expected
    assert trace_rule(node, ctx, "r")[0] is expected

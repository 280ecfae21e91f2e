"""parse_experience: valid documents round-trip; invalid ones list every problem with its path."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from targeting import (
    AdvancedTargeting,
    AudienceAction,
    ExperienceStatus,
    ExperienceType,
    ValidationError,
    parse_experience,
)
from tests.targeting.factories import doc, not_seg, seg


def problems_of(data: Any) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as caught:
        parse_experience(data)
    return [(p.path, p.message) for p in caught.value.problems]


def paths_of(data: Any) -> list[str]:
    return [path for path, _ in problems_of(data)]


def test_a_missing_targeting_means_everyone() -> None:
    for kind in ("test", "personalization"):
        data = doc(type=kind)
        del data["targeting"]
        exp = parse_experience(data)
        explicit = parse_experience(doc(type=kind) | {"targeting": {"mode": "custom", "rules": None}})
        assert exp.targeting == explicit.targeting
        assert exp.to_dict()["targeting"] == {"mode": "custom", "rules": {"all": []}}


def test_minimal_document_gets_the_documented_defaults() -> None:
    data = doc()
    del data["status"], data["traffic_percent"]
    for variation in data["variations"][1:]:
        del variation["is_control"]
    data["targeting"] = {"mode": "custom"}
    exp = parse_experience(data)
    assert exp.status is ExperienceStatus.DRAFT
    assert exp.traffic_percent == 100
    assert exp.bucketing_seed == "exp"
    assert exp.control.id == "control"
    assert exp.to_dict()["targeting"] == {"mode": "custom", "rules": {"all": []}}


VALID_DOCS = [
    doc(),
    doc(rules={"any": [seg("vip"), {"all": [not_seg("eu"), seg("us")]}]}, seed="s-1", version=3),
    doc(type="personalization", variation_ids=("ctl", "p1", "p2"), weights=(1, 2.5, 3), traffic_percent=12.5),
    doc(
        audiences=[
            {"rules": seg("vip"), "action": "assign", "variation_id": "b"},
            {"rules": seg("staff"), "action": "exclude"},
            {"action": "random"},
            {"rules": {"any": []}, "action": "defer"},
        ],
        status="paused",
        traffic_percent=0,
    ),
]


@pytest.mark.parametrize("data", VALID_DOCS)
def test_to_dict_round_trips(data: dict[str, Any]) -> None:
    exp = parse_experience(data)
    assert parse_experience(exp.to_dict()) == exp
    assert parse_experience(copy.deepcopy(exp.to_dict())).to_dict() == exp.to_dict()


@pytest.mark.parametrize("data", VALID_DOCS)
def test_to_dict_keeps_every_field_given(data: dict[str, Any]) -> None:
    written = parse_experience(data).to_dict()
    for key, value in data.items():
        if key != "targeting":
            assert written[key] == value


def test_advanced_targeting_is_parsed_in_order() -> None:
    exp = parse_experience(VALID_DOCS[3])
    assert isinstance(exp.targeting, AdvancedTargeting)
    assert [a.action for a in exp.targeting.audiences] == [
        AudienceAction.ASSIGN,
        AudienceAction.EXCLUDE,
        AudienceAction.RANDOM,
        AudienceAction.DEFER,
    ]
    assert exp.targeting.audiences[0].variation_id == "b"


def test_referenced_segments_cover_every_tree() -> None:
    assert parse_experience(VALID_DOCS[1]).referenced_segments == {"vip", "eu", "us"}
    assert parse_experience(VALID_DOCS[3]).referenced_segments == {"vip", "staff"}
    assert parse_experience(VALID_DOCS[0]).referenced_segments == frozenset()


def test_every_problem_is_listed_with_its_path() -> None:
    data = {
        "id": "has space",
        "type": "quiz",
        "name": "",
        "status": "running",
        "traffic_percent": 101,
        "seed": "",
        "version": -1,
        "colour": "red",
        "targeting": {
            "mode": "advanced",
            "audiences": [
                {"rules": seg("vip"), "action": "random"},
                {"rules": seg("vip"), "action": "assign", "variation_id": "nope"},
                {
                    "rules": {"all": [{"attribute": "klaviyo_segment", "operator": "is", "value": ""}]},
                    "action": "x",
                },
            ],
        },
        "variations": [
            {"id": "a", "name": "A", "weight": 0, "is_control": True},
            {"id": "a", "name": "B", "weight": 1, "is_control": True, "extra": 1},
        ],
    }
    assert paths_of(data) == [
        "colour",
        "id",
        "type",
        "name",
        "status",
        "traffic_percent",
        "seed",
        "version",
        "variations[0].weight",
        "variations[1].extra",
        "variations[1].id",
        "variations",
        "targeting.audiences[1].variation_id",
        "targeting.audiences[2].rules.all[0].operator",
        "targeting.audiences[2].rules.all[0].value",
        "targeting.audiences[2].action",
    ]


def test_the_error_has_a_stable_code_and_json_details() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_experience(doc(exp_id=""))
    assert caught.value.code == "invalid_experience"
    assert caught.value.details() == [
        {"path": "id", "message": "must be 1-64 characters from A-Z a-z 0-9 _ . : -"}
    ]


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A mutation that sets a dotted path (with [i] indexes) in a document."""

    def mutate(data: dict[str, Any]) -> None:
        keys = path.replace("[", ".").replace("]", "").split(".")
        target: Any = data
        for key in keys[:-1]:
            target = target[int(key)] if key.isdigit() else target[key]
        last = keys[-1]
        target[int(last) if last.isdigit() else last] = value

    return mutate


def _delete(path: str) -> Callable[[dict[str, Any]], None]:
    def mutate(data: dict[str, Any]) -> None:
        head, _, last = path.rpartition(".")
        target: Any = data
        for key in head.split(".") if head else []:
            target = target[key]
        del target[last]

    return mutate


ADVANCED = doc(audiences=[{"rules": seg("vip"), "action": "random"}])

FIELD_PROBLEMS: list[tuple[str, dict[str, Any], Callable[[dict[str, Any]], None], str, str]] = [
    ("id missing", doc(), _delete("id"), "id", "required"),
    ("id empty", doc(), _set("id", ""), "id", "1-64 characters"),
    ("id unsafe", doc(), _set("id", "a/b"), "id", "1-64 characters"),
    ("id too long", doc(), _set("id", "x" * 65), "id", "1-64 characters"),
    ("id not a string", doc(), _set("id", 7), "id", "1-64 characters"),
    ("type unknown", doc(), _set("type", "banner"), "type", "test, personalization"),
    ("name blank", doc(), _set("name", "   "), "name", "non-empty"),
    ("name too long", doc(), _set("name", "n" * 201), "name", "at most 200"),
    ("status unknown", doc(), _set("status", "on"), "status", "draft, live, paused, ended"),
    ("status unhashable", doc(), _set("status", ["live"]), "status", "one of"),
    ("traffic too high", doc(), _set("traffic_percent", 100.5), "traffic_percent", "0 to 100"),
    ("traffic negative", doc(), _set("traffic_percent", -1), "traffic_percent", "0 to 100"),
    ("traffic a string", doc(), _set("traffic_percent", "50"), "traffic_percent", "0 to 100"),
    ("traffic a boolean", doc(), _set("traffic_percent", True), "traffic_percent", "0 to 100"),
    ("traffic NaN", doc(), _set("traffic_percent", float("nan")), "traffic_percent", "0 to 100"),
    ("seed empty", doc(), _set("seed", ""), "seed", "non-empty"),
    ("seed not a string", doc(), _set("seed", 5), "seed", "non-empty"),
    ("version negative", doc(), _set("version", -1), "version", ">= 0"),
    ("version a float", doc(), _set("version", 1.5), "version", ">= 0"),
    ("version a boolean", doc(), _set("version", True), "version", ">= 0"),
    ("unknown top-level field", doc(), _set("colour", 1), "colour", "unknown field"),
    ("variations missing", doc(), _delete("variations"), "variations", "required"),
    ("variations not a list", doc(), _set("variations", {}), "variations", "2 to 32"),
    ("one variation", doc(variation_ids=("only",)), lambda d: None, "variations", "2 to 32"),
    (
        "33 variations",
        doc(variation_ids=tuple(f"v{i}" for i in range(33))),
        lambda d: None,
        "variations",
        "2 to 32",
    ),
    ("variation not an object", doc(), _set("variations[1]", "b"), "variations[1]", "variation object"),
    ("variation id unsafe", doc(), _set("variations[1].id", "b b"), "variations[1].id", "1-64"),
    ("variation name null", doc(), _set("variations[1].name", None), "variations[1].name", "non-empty"),
    ("weight zero", doc(), _set("variations[1].weight", 0), "variations[1].weight", "> 0"),
    ("weight negative", doc(), _set("variations[1].weight", -2), "variations[1].weight", "> 0"),
    ("weight infinite", doc(), _set("variations[1].weight", float("inf")), "variations[1].weight", "> 0"),
    ("weight NaN", doc(), _set("variations[1].weight", float("nan")), "variations[1].weight", "> 0"),
    ("weight a string", doc(), _set("variations[1].weight", "1"), "variations[1].weight", "> 0"),
    ("weight a boolean", doc(), _set("variations[1].weight", True), "variations[1].weight", "> 0"),
    ("weight huge", doc(), _set("variations[1].weight", 10**400), "variations[1].weight", "at most"),
    (
        "is_control not a boolean",
        doc(),
        _set("variations[1].is_control", 1),
        "variations[1].is_control",
        "true or false",
    ),
    (
        "unknown variation field",
        doc(),
        _set("variations[0].colour", "red"),
        "variations[0].colour",
        "unknown field",
    ),
    (
        "duplicate variation ids",
        doc(variation_ids=("a", "b", "a")),
        lambda d: None,
        "variations[2].id",
        "duplicate",
    ),
    ("no control", doc(), _set("variations[0].is_control", False), "variations", "found: none"),
    ("two controls", doc(), _set("variations[1].is_control", True), "variations", "found: control, b"),
    ("targeting not an object", doc(), _set("targeting", "all"), "targeting", "must be an object"),
    ("mode unknown", doc(), _set("targeting.mode", "smart"), "targeting.mode", "custom, advanced"),
    (
        "audiences in custom mode",
        doc(),
        _set("targeting.audiences", []),
        "targeting.audiences",
        "unknown field",
    ),
    ("rules in advanced mode", ADVANCED, _set("targeting.rules", {}), "targeting.rules", "unknown field"),
    ("audiences not a list", ADVANCED, _set("targeting.audiences", {}), "targeting.audiences", "list"),
    (
        "audience not an object",
        ADVANCED,
        _set("targeting.audiences[0]", 1),
        "targeting.audiences[0]",
        "audience object",
    ),
    (
        "action missing",
        ADVANCED,
        _set("targeting.audiences[0].action", None),
        "targeting.audiences[0].action",
        "random, assign, exclude, defer",
    ),
    (
        "assign without variation",
        ADVANCED,
        _set("targeting.audiences[0].action", "assign"),
        "targeting.audiences[0].variation_id",
        "required",
    ),
    (
        "variation_id with random",
        ADVANCED,
        _set("targeting.audiences[0].variation_id", "b"),
        "targeting.audiences[0].variation_id",
        "only allowed",
    ),
    (
        "unknown audience field",
        ADVANCED,
        _set("targeting.audiences[0].weight", 1),
        "targeting.audiences[0].weight",
        "unknown field",
    ),
    (
        "advanced personalization",
        doc(type="personalization", audiences=[{"action": "random"}]),
        lambda d: None,
        "targeting.mode",
        "custom targeting",
    ),
    ("rule not an object", doc(rules=[seg("vip")]), lambda d: None, "targeting.rules", "rule object"),
    (
        "both all and any",
        doc(rules={"all": [], "any": []}),
        lambda d: None,
        "targeting.rules",
        "a rule node is",
    ),
    ("all not a list", doc(rules={"all": seg("vip")}), lambda d: None, "targeting.rules.all", "list"),
    (
        "extra key beside all",
        doc(rules={"all": [], "note": "x"}),
        lambda d: None,
        "targeting.rules.note",
        "unknown field",
    ),
    (
        "condition missing value",
        doc(rules={"attribute": "klaviyo_segment", "operator": "equals"}),
        lambda d: None,
        "targeting.rules.value",
        "required",
    ),
    (
        "unknown attribute",
        doc(rules={"any": [{"attribute": "shoe_size", "operator": "equals", "value": "42"}]}),
        lambda d: None,
        "targeting.rules.any[0].attribute",
        "unknown attribute 'shoe_size'",
    ),
    (
        "unknown operator",
        doc(rules={"attribute": "klaviyo_segment", "operator": "in", "value": "X"}),
        lambda d: None,
        "targeting.rules.operator",
        "equals, not_equals",
    ),
    ("empty segment id", doc(rules=seg("")), lambda d: None, "targeting.rules.value", "segment id"),
    (
        "segment id not a string",
        doc(rules={"attribute": "klaviyo_segment", "operator": "equals", "value": ["X"]}),
        lambda d: None,
        "targeting.rules.value",
        "segment id",
    ),
    (
        "unknown condition field",
        doc(rules={**seg("X"), "negate": True}),
        lambda d: None,
        "targeting.rules.negate",
        "unknown field",
    ),
]


@pytest.mark.parametrize(
    ("case", "data", "mutate", "path", "message"), FIELD_PROBLEMS, ids=[f[0] for f in FIELD_PROBLEMS]
)
def test_each_invalid_field_is_reported_at_its_path(
    case: str, data: dict[str, Any], mutate: Callable[[dict[str, Any]], None], path: str, message: str
) -> None:
    data = copy.deepcopy(data)
    mutate(data)
    found = problems_of(data)
    assert any(p == path and message in m for p, m in found), found


def test_a_non_object_document_is_one_problem() -> None:
    assert problems_of([]) == [("", "an experience must be a JSON object")]


def _nested(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = seg("vip")
    for _ in range(depth):
        node = {"all": [node]}
    return node


def test_rules_may_nest_up_to_the_depth_limit() -> None:
    parse_experience(doc(rules=_nested(15)))


def test_rules_nesting_past_the_depth_limit_is_rejected() -> None:
    assert paths_of(doc(rules=_nested(16))) == ["targeting.rules" + ".all[0]" * 16]


def test_too_many_conditions_is_one_problem() -> None:
    many = {"any": [seg(f"s{i}") for i in range(101)]}
    assert problems_of(doc(rules=many)) == [
        ("targeting.rules.any[100]", "too many conditions (at most 100 per experience)")
    ]
    parse_experience(doc(rules={"any": [seg(f"s{i}") for i in range(100)]}))


def test_too_many_rule_nodes_is_one_problem() -> None:
    assert paths_of(doc(rules={"all": [{} for _ in range(300)]})) == ["targeting.rules.all[255]"]


def test_the_problem_list_is_bounded() -> None:
    data = doc()
    data.update({f"junk{i}": i for i in range(500)})
    found = problems_of(data)
    assert len(found) == 101
    assert found[-1] == ("", "and 400 more problems")


def test_parsed_values_use_the_enums() -> None:
    exp = parse_experience(doc(type="personalization", status="ended"))
    assert exp.type is ExperienceType.PERSONALIZATION
    assert exp.status is ExperienceStatus.ENDED

"""parse_experience for visit conditions and exclusion groups: every mistake at its 422 path."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from targeting import ValidationError, parse_experience
from targeting.url_match import MAX_REGEX, MAX_URL_VALUE
from targeting.visit_attributes import MAX_TEXT_VALUE
from tests.targeting.conditions import cond
from tests.targeting.factories import doc, seg


def problems_of(data: Any) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as caught:
        parse_experience(data)
    return [(p.path, p.message) for p in caught.value.problems]


def nested(condition: dict[str, Any]) -> dict[str, Any]:
    """The condition as the second audience's second rule, so paths are checked deep down."""
    return doc(
        audiences=[
            {"rules": seg("staff"), "action": "exclude"},
            {"rules": {"any": [seg("vip"), condition]}, "action": "random"},
        ]
    )


AT = "targeting.audiences[1].rules.any[1]"

MISTAKES: list[tuple[str, dict[str, Any], str, str]] = [
    # (case, condition, path suffix, message fragment)
    ("unknown attribute", cond("browser", "equals", "x"), "attribute", "unknown attribute 'browser'"),
    ("unknown family", cond("header:x", "equals", "x"), "attribute", "known: cookie:NAME"),
    (
        "attribute not a string",
        {"attribute": 3, "operator": "equals", "value": "x"},
        "attribute",
        "attribute name",
    ),
    ("empty cookie name", cond("cookie:", "exists"), "attribute", "cookie name"),
    ("cookie name with a space", cond("cookie:my cookie", "exists"), "attribute", "cookie name"),
    ("cookie name too long", cond("cookie:" + "c" * 65, "exists"), "attribute", "1-64"),
    ("cookie name with a separator", cond("cookie:a;b", "exists"), "attribute", "cookie name"),
    ("empty query parameter name", cond("query_param:", "exists"), "attribute", "query parameter name"),
    ("query parameter name with =", cond("query_param:a=b", "exists"), "attribute", "query parameter name"),
    ("url not_equals", cond("url", "not_equals", "/a"), "operator", "contains, equals, matches, starts_with"),
    ("landing_url regex operator", cond("landing_url", "regex", "/a"), "operator", "must be one of"),
    ("utm in", cond("utm_source", "in", "x"), "operator", "contains, equals, exists, not_equals"),
    ("traffic_source contains", cond("traffic_source", "contains", "paid"), "operator", "equals, not_equals"),
    ("device contains", cond("device", "contains", "mob"), "operator", "equals, not_equals"),
    ("visitor not_equals", cond("visitor", "not_equals", "new"), "operator", "must be one of equals"),
    ("country exists", cond("country", "exists"), "operator", "equals, not_equals"),
    ("cookie not_equals", cond("cookie:plan", "not_equals", "pro"), "operator", "equals, exists"),
    (
        "operator not a string",
        {"attribute": "device", "operator": ["equals"], "value": "mobile"},
        "operator",
        "must be one of",
    ),
    ("exists with a value", cond("utm_source", "exists", "x"), "value", "exists takes no value"),
    ("cookie exists with a value", cond("cookie:plan", "exists", "pro"), "value", "takes no value"),
    ("equals without a value", cond("cookie:plan", "equals"), "value", "required"),
    ("url without a value", cond("url", "contains"), "value", "required"),
    ("url empty", cond("url", "equals", ""), "value", "non-empty"),
    ("url too long", cond("url", "contains", "x" * (MAX_URL_VALUE + 1)), "value", f"at most {MAX_URL_VALUE}"),
    (
        "url neither path nor URL",
        cond("url", "equals", "shop.example/sale"),
        "value",
        'path starting with "/"',
    ),
    (
        "url starts_with host only",
        cond("url", "starts_with", "www.shop.example"),
        "value",
        "http:// or https://",
    ),
    ("url other scheme", cond("url", "equals", "ftp://shop.example/a"), "value", "http:// or https://"),
    ("url with a query", cond("url", "equals", "/a?b=c"), "value", "query and fragment"),
    ("url contains a fragment", cond("url", "contains", "#top"), "value", "query and fragment"),
    ("regex backreference", cond("url", "matches", r"re:(a)\1"), "value", "RE2"),
    ("regex look-ahead", cond("url", "matches", "re:^/(?=p)"), "value", "RE2"),
    ("regex unbalanced", cond("landing_url", "matches", "re:(/a"), "value", "missing )"),
    ("regex empty", cond("url", "matches", "re:"), "value", f"1-{MAX_REGEX}"),
    ("regex too long", cond("url", "matches", "re:" + "a" * (MAX_REGEX + 1)), "value", f"1-{MAX_REGEX}"),
    ("regex too big for RE2's memory", cond("url", "matches", r"re:\pL{1000}"), "value", "pattern too large"),
    (
        "url value not a string",
        {"attribute": "url", "operator": "equals", "value": 5},
        "value",
        "non-empty string",
    ),
    ("utm empty", cond("utm_campaign", "equals", ""), "value", "non-empty"),
    ("utm blank", cond("utm_campaign", "equals", "   "), "value", "non-empty"),
    (
        "utm too long",
        cond("utm_term", "contains", "t" * (MAX_TEXT_VALUE + 1)),
        "value",
        f"at most {MAX_TEXT_VALUE}",
    ),
    ("utm control character", cond("utm_source", "equals", "a\nb"), "value", "control characters"),
    (
        "utm not a string",
        {"attribute": "utm_source", "operator": "equals", "value": True},
        "value",
        "non-empty string",
    ),
    ("query parameter value empty", cond("query_param:ref", "equals", ""), "value", "non-empty"),
    ("traffic_source display name", cond("traffic_source", "equals", "Paid Social"), "value", "paid_social"),
    (
        "traffic_source unknown",
        cond("traffic_source", "not_equals", "display"),
        "value",
        "must be one of direct",
    ),
    ("device unknown", cond("device", "equals", "phone"), "value", "mobile, tablet, desktop"),
    ("device upper case", cond("device", "equals", "Mobile"), "value", "mobile, tablet, desktop"),
    ("visitor unknown", cond("visitor", "equals", "old"), "value", "new, returning"),
    ("country three letters", cond("country", "equals", "USA"), "value", "two-letter"),
    ("country with a digit", cond("country", "not_equals", "T1"), "value", "two-letter"),
    ("cookie value empty", cond("cookie:plan", "equals", ""), "value", "non-empty"),
    ("cookie value too long", cond("cookie:plan", "equals", "v" * 1025), "value", "at most 1024"),
]


@pytest.mark.parametrize(("case", "condition", "suffix", "message"), MISTAKES, ids=[m[0] for m in MISTAKES])
def test_each_visit_condition_mistake_is_reported_at_its_path(
    case: str, condition: dict[str, Any], suffix: str, message: str
) -> None:
    found = problems_of(nested(condition))
    assert any(path == f"{AT}.{suffix}" and message in text for path, text in found), found


def test_an_unknown_attribute_is_one_problem_even_without_a_value() -> None:
    assert problems_of(doc(rules=cond("browser", "exists"))) == [
        ("targeting.rules.attribute", problems_of(doc(rules=cond("browser", "equals", "x")))[0][1])
    ]


VALID = [
    cond("url", "equals", "/"),
    cond("url", "equals", "https://shop.example"),
    cond("url", "starts_with", "/collections/sale"),
    cond("url", "contains", "sale"),
    cond("url", "matches", "/products/*"),
    cond("url", "matches", "re:^/products/(hat|scarf)-[0-9]+$"),
    cond("landing_url", "matches", "https://shop.example/*?"),
    cond("utm_source", "equals", "Klaviyo"),
    cond("utm_medium", "not_equals", "cpc"),
    cond("utm_campaign", "contains", "summer"),
    cond("utm_content", "exists"),
    cond("utm_term", "equals", "boots"),
    cond("query_param:variant", "equals", "blue"),
    cond("query_param:filter.v.option.color", "exists"),
    cond("traffic_source", "equals", "paid_social"),
    cond("device", "not_equals", "desktop"),
    cond("visitor", "equals", "returning"),
    cond("country", "equals", "us"),
    cond("cookie:consent", "exists"),
    cond("cookie:_ga", "equals", "GA1.1.123"),
]


@pytest.mark.parametrize("condition", VALID, ids=lambda c: f"{c['attribute']} {c['operator']}")
def test_valid_visit_conditions_round_trip_as_written(condition: dict[str, str]) -> None:
    data = doc(rules={"all": [seg("vip"), condition]})
    experience = parse_experience(data)
    written = experience.to_dict()
    assert written["targeting"]["rules"]["all"][1] == condition  # `exists` stays without a value
    assert parse_experience(copy.deepcopy(written)) == experience


def test_exclusion_fields_round_trip() -> None:
    experience = parse_experience(doc(exclusion_group="homepage", exclusion_weight=2.5))
    assert (experience.exclusion_group, experience.exclusion_weight) == ("homepage", 2.5)
    written = experience.to_dict()
    assert (written["exclusion_group"], written["exclusion_weight"]) == ("homepage", 2.5)
    assert parse_experience(written) == experience
    defaulted = parse_experience(doc(exclusion_group="homepage"))
    assert defaulted.exclusion_weight == 1 and defaulted.to_dict()["exclusion_weight"] == 1
    assert "exclusion_group" not in parse_experience(doc()).to_dict()


@pytest.mark.parametrize(
    ("extra", "path", "message"),
    [
        ({"exclusion_group": "g", "type": "personalization"}, "exclusion_group", "only tests"),
        ({"exclusion_group": ""}, "exclusion_group", "1-64 characters"),
        ({"exclusion_group": "a b"}, "exclusion_group", "1-64 characters"),
        ({"exclusion_group": 7}, "exclusion_group", "1-64 characters"),
        ({"exclusion_group": "g", "exclusion_weight": 0}, "exclusion_weight", "> 0"),
        ({"exclusion_group": "g", "exclusion_weight": -1}, "exclusion_weight", "> 0"),
        ({"exclusion_group": "g", "exclusion_weight": True}, "exclusion_weight", "> 0"),
        ({"exclusion_group": "g", "exclusion_weight": "1"}, "exclusion_weight", "> 0"),
        ({"exclusion_group": "g", "exclusion_weight": 10**7}, "exclusion_weight", "at most"),
        ({"exclusion_weight": 2}, "exclusion_weight", "only allowed with an exclusion_group"),
    ],
)
def test_exclusion_field_mistakes(extra: dict[str, Any], path: str, message: str) -> None:
    found = problems_of(doc(**extra))
    assert any(p == path and message in m for p, m in found), found

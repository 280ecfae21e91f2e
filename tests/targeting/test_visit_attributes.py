"""Visit attributes, one golden table each: what matches, and that absent values never match."""

from __future__ import annotations

from typing import Any

import pytest

from targeting import ATTRIBUTES, EMPTY_VISIT, UNIDENTIFIED, Identity, Truth, Visit
from targeting.registry import lookup
from tests.targeting.conditions import cond, evaluate

V = Visit.from_request_fields
Row = tuple[str, dict[str, str], Visit, Truth]

UTM = V(utm={"utm_source": "Klaviyo", "utm_medium": "Email", "utm_campaign": "Summer-Sale-2024"})
UTM_TABLE: list[Row] = [
    ("equals, any case", cond("utm_source", "equals", "klaviyo"), UTM, True),
    ("equals, value case folded too", cond("utm_source", "equals", "KLAVIYO"), UTM, True),
    ("equals trims the value", cond("utm_medium", "equals", " email "), UTM, True),
    ("equals other", cond("utm_source", "equals", "google"), UTM, False),
    ("not_equals other", cond("utm_source", "not_equals", "google"), UTM, True),
    ("not_equals same", cond("utm_source", "not_equals", "Klaviyo"), UTM, False),
    ("contains", cond("utm_campaign", "contains", "SUMMER"), UTM, True),
    ("contains not", cond("utm_campaign", "contains", "winter"), UTM, False),
    ("exists", cond("utm_campaign", "exists"), UTM, True),
    ("absent: exists", cond("utm_term", "exists"), UTM, False),
    ("absent: equals", cond("utm_content", "equals", "hero"), UTM, False),
    ("absent: not_equals never matches", cond("utm_content", "not_equals", "hero"), UTM, False),
    ("absent: contains", cond("utm_term", "contains", "a"), UTM, False),
    (
        "page URL fallback",
        cond("utm_term", "equals", "boots"),
        V(url="https://s.example/?utm_term=Boots"),
        True,
    ),
    ("empty visit: not_equals", cond("utm_source", "not_equals", "x"), EMPTY_VISIT, False),
]

QUERY = V(url="https://s.example/p?variant=Blue&ref=&coupon=SAVE10")
QUERY_TABLE: list[Row] = [
    ("equals, exact", cond("query_param:variant", "equals", "Blue"), QUERY, True),
    ("equals is case-sensitive", cond("query_param:variant", "equals", "blue"), QUERY, False),
    ("not_equals", cond("query_param:variant", "not_equals", "Red"), QUERY, True),
    ("contains", cond("query_param:coupon", "contains", "SAVE"), QUERY, True),
    ("exists with a value", cond("query_param:coupon", "exists"), QUERY, True),
    ("exists with an empty value", cond("query_param:ref", "exists"), QUERY, True),
    ("names are case-sensitive", cond("query_param:Variant", "exists"), QUERY, False),
    ("absent: not_equals never matches", cond("query_param:size", "not_equals", "L"), QUERY, False),
    ("absent: exists", cond("query_param:size", "exists"), QUERY, False),
    ("no URL: exists", cond("query_param:variant", "exists"), EMPTY_VISIT, False),
]

PAID_SOCIAL = V(utm={"utm_source": "facebook", "utm_medium": "paid"})
DISPLAY = V(utm={"utm_source": "partner", "utm_medium": "display"})
SOURCE_TABLE: list[Row] = [
    ("equals", cond("traffic_source", "equals", "paid_social"), PAID_SOCIAL, True),
    ("equals other", cond("traffic_source", "equals", "email"), PAID_SOCIAL, False),
    ("not_equals other", cond("traffic_source", "not_equals", "email"), PAID_SOCIAL, True),
    ("not_equals same", cond("traffic_source", "not_equals", "paid_social"), PAID_SOCIAL, False),
    ("direct", cond("traffic_source", "equals", "direct"), V(referrer=""), True),
    (
        "organic search",
        cond("traffic_source", "equals", "organic_search"),
        V(referrer="https://duckduckgo.com/"),
        True,
    ),
    ("unknown channel: equals", cond("traffic_source", "equals", "paid_search"), DISPLAY, False),
    (
        "unknown channel: not_equals never matches",
        cond("traffic_source", "not_equals", "email"),
        DISPLAY,
        False,
    ),
    (
        "not collected: not_equals never matches",
        cond("traffic_source", "not_equals", "direct"),
        EMPTY_VISIT,
        False,
    ),
    ("not collected: equals direct", cond("traffic_source", "equals", "direct"), EMPTY_VISIT, False),
]

MOBILE = V(device="mobile", visitor="new", country="fr")
EDGE_TABLE: list[Row] = [
    ("device equals", cond("device", "equals", "mobile"), MOBILE, True),
    ("device equals other", cond("device", "equals", "desktop"), MOBILE, False),
    ("device not_equals", cond("device", "not_equals", "tablet"), MOBILE, True),
    ("device absent: not_equals never matches", cond("device", "not_equals", "tablet"), EMPTY_VISIT, False),
    ("visitor new", cond("visitor", "equals", "new"), MOBILE, True),
    ("visitor returning", cond("visitor", "equals", "returning"), MOBILE, False),
    ("visitor absent", cond("visitor", "equals", "new"), EMPTY_VISIT, False),
    ("country equals", cond("country", "equals", "FR"), MOBILE, True),
    ("country value any case", cond("country", "equals", "fr"), MOBILE, True),
    ("country not_equals", cond("country", "not_equals", "US"), MOBILE, True),
    ("country not_equals same", cond("country", "not_equals", "Fr"), MOBILE, False),
    ("country unknown: equals", cond("country", "equals", "US"), V(country="XX"), False),
    (
        "country unknown: not_equals never matches",
        cond("country", "not_equals", "US"),
        V(country="XX"),
        False,
    ),
]

COOKIES = V(cookies={"consent": "granted", "plan": "Pro"})
COOKIE_TABLE: list[Row] = [
    ("equals", cond("cookie:plan", "equals", "Pro"), COOKIES, True),
    ("equals is exact", cond("cookie:plan", "equals", "pro"), COOKIES, False),
    ("exists", cond("cookie:consent", "exists"), COOKIES, True),
    ("absent: exists", cond("cookie:beta", "exists"), COOKIES, False),
    ("absent: equals", cond("cookie:beta", "equals", "1"), COOKIES, False),
    ("names are exact", cond("cookie:Plan", "exists"), COOKIES, False),
]

TABLES = UTM_TABLE + QUERY_TABLE + SOURCE_TABLE + EDGE_TABLE + COOKIE_TABLE


@pytest.mark.parametrize(("case", "condition", "visit", "expected"), TABLES, ids=[r[0] for r in TABLES])
def test_golden_table(case: str, condition: dict[str, str], visit: Visit, expected: Truth) -> None:
    assert evaluate(condition, visit) is expected


EVERY_CONDITION = [
    cond("url", "equals", "/"),
    cond("url", "contains", "a"),
    cond("url", "starts_with", "/"),
    cond("url", "matches", "*"),
    cond("url", "matches", "re:.*"),
    cond("landing_url", "matches", "*"),
    *(
        cond(f"utm_{k}", op, "x")
        for k in ("source", "medium", "campaign", "content", "term")
        for op in ("equals", "not_equals", "contains")
    ),
    cond("utm_source", "exists"),
    cond("query_param:q", "equals", "x"),
    cond("query_param:q", "not_equals", "x"),
    cond("query_param:q", "contains", "x"),
    cond("query_param:q", "exists"),
    *(cond("traffic_source", op, "direct") for op in ("equals", "not_equals")),
    *(cond("device", op, "mobile") for op in ("equals", "not_equals")),
    cond("visitor", "equals", "new"),
    *(cond("country", op, "US") for op in ("equals", "not_equals")),
    cond("cookie:c", "equals", "x"),
    cond("cookie:c", "exists"),
]


@pytest.mark.parametrize("condition", EVERY_CONDITION, ids=lambda c: f"{c['attribute']} {c['operator']}")
def test_nothing_known_matches_no_visit_condition(condition: dict[str, Any]) -> None:
    assert evaluate(condition, EMPTY_VISIT) is False


@pytest.mark.parametrize("identity", [UNIDENTIFIED, Identity.identified({"vip"})])
@pytest.mark.parametrize("case", TABLES[:6], ids=lambda r: r[0])
def test_the_identity_never_changes_a_visit_condition(identity: Identity, case: Row) -> None:
    _, condition, visit, expected = case
    assert evaluate(condition, visit, identity) is expected


def test_visit_attributes_never_need_the_identity() -> None:
    names = ["url", "landing_url", "utm_source", "query_param:x", "traffic_source", "device", "visitor"]
    names += ["country", "cookie:x"]
    assert not any(lookup(ATTRIBUTES, name).needs_identity for name in names)
    assert lookup(ATTRIBUTES, "klaviyo_segment").needs_identity


def test_family_names_bind_their_parameter() -> None:
    attribute = lookup(ATTRIBUTES, "cookie:consent")
    assert attribute.name == "cookie:consent" and attribute.visit_needs.cookies == {"consent"}
    param = lookup(ATTRIBUTES, "query_param:ref")
    assert param.visit_needs.query_params == {"ref"} and param.visit_needs.url

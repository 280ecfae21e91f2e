"""url and landing_url: path or whole URL, equals / starts_with / contains / glob / RE2, bounds."""

from __future__ import annotations

import pytest

from targeting import EMPTY_VISIT, Truth, Visit
from targeting.url_match import MAX_REGEX, MAX_URL_VALUE
from tests.targeting.conditions import cond, evaluate

PAGE = Visit.from_request_fields(
    url="https://Shop.Example/collections/Summer-Sale/%C3%A9t%C3%A9?utm_source=x&page=2#reviews",
    landing_url="https://shop.example/products/hat-12?ref=ig",
)

TABLE: list[tuple[str, str, str, str, Truth]] = [
    # (case, attribute, operator, value, expected)
    ("path equals", "url", "equals", "/collections/Summer-Sale/été", True),
    ("path equals, value percent-encoded", "url", "equals", "/collections/Summer-Sale/%C3%A9t%C3%A9", True),
    ("path is case-sensitive", "url", "equals", "/collections/summer-sale/été", False),
    ("path equals ignores the query", "landing_url", "equals", "/products/hat-12", True),
    ("path equals is not a prefix", "url", "equals", "/collections", False),
    ("whole URL equals", "url", "equals", "https://shop.example/collections/Summer-Sale/été", True),
    (
        "whole URL host is case-insensitive",
        "url",
        "equals",
        "https://SHOP.example/collections/Summer-Sale/été",
        True,
    ),
    ("whole URL scheme matters", "url", "equals", "http://shop.example/collections/Summer-Sale/été", False),
    ("bare origin is the home page", "url", "equals", "https://shop.example", False),
    ("path starts_with", "url", "starts_with", "/collections/", True),
    ("path starts_with, other path", "url", "starts_with", "/products/", False),
    ("whole URL starts_with", "url", "starts_with", "https://shop.example/collections", True),
    ("whole URL starts_with another host", "url", "starts_with", "https://other.example/", False),
    ("contains, on the whole URL", "url", "contains", "shop.example/coll", True),
    ("contains, on the path", "url", "contains", "/Summer-", True),
    ("contains never sees the query", "url", "contains", "utm_source", False),
    ("glob on the path", "url", "matches", "/collections/*", True),
    ("glob * spans slashes", "url", "matches", "/*/été", True),
    ("glob must match the whole path", "url", "matches", "/collections", False),
    ("glob ? is one character", "landing_url", "matches", "/products/hat-1?", True),
    ("glob ? is exactly one", "landing_url", "matches", "/products/hat-?", False),
    ("glob on the whole URL", "url", "matches", "https://shop.example/collections/*-Sale/*", True),
    ("glob whole URL, host any case", "url", "matches", "https://SHOP.EXAMPLE/*", True),
    ("glob literal characters", "landing_url", "matches", "/products/hat-12.html", False),
    ("regex on the path", "landing_url", "matches", "re:^/products/(hat|scarf)-[0-9]+$", True),
    ("regex is searched, not anchored", "landing_url", "matches", "re:/hat", True),
    ("regex on the whole URL", "url", "matches", r"re:^https://shop\.example/.*sale", False),
    ("regex inline flags", "url", "matches", r"re:(?i)^https://shop\.example/.*sale", True),
    ("regex anchored path mismatch", "url", "matches", "re:^/products/", False),
]


@pytest.mark.parametrize(
    ("case", "attribute", "operator", "value", "expected"), TABLE, ids=[t[0] for t in TABLE]
)
def test_url_conditions(case: str, attribute: str, operator: str, value: str, expected: Truth) -> None:
    assert evaluate(cond(attribute, operator, value), PAGE) is expected


@pytest.mark.parametrize(
    ("value", "url", "expected"),
    [
        ("https://shop.example", "https://shop.example/", True),
        ("https://shop.example", "https://shop.example/a", False),
        ("https://shop.example/", "https://shop.example", True),
        ("/", "https://shop.example", True),
    ],
)
def test_the_home_page_has_path_slash(value: str, url: str, expected: bool) -> None:
    assert evaluate(cond("url", "equals", value), Visit.from_request_fields(url=url)) is expected


@pytest.mark.parametrize("operator", ["equals", "starts_with", "contains", "matches"])
@pytest.mark.parametrize("attribute", ["url", "landing_url"])
def test_a_missing_url_matches_nothing(attribute: str, operator: str) -> None:
    value = "*" if operator == "matches" else "/"
    assert evaluate(cond(attribute, operator, value), EMPTY_VISIT) is False
    only_page = Visit.from_request_fields(url="https://s.example/")
    assert evaluate(cond("landing_url", operator, value), only_page) is False


@pytest.mark.timeout(10)
def test_a_catastrophic_regex_completes_at_once() -> None:
    """`(a+)+$` against "aaa...a!" backtracks exponentially in Python's `re` (2**n paths for n
    letters: at 3000 letters, never); RE2 runs it in linear time. The timeout only bounds a hang."""
    visit = Visit.from_request_fields(url="https://s.example/" + "a" * 3000 + "!")
    assert evaluate(cond("url", "matches", "re:(a+)+$"), visit) is False
    assert evaluate(cond("url", "matches", "re:^/(a|aa)+$"), visit) is False
    assert evaluate(cond("url", "matches", "re:^/(a|aa)+!$"), visit) is True


@pytest.mark.timeout(10)
def test_a_glob_with_many_stars_completes_at_once() -> None:
    """A backtracking glob matcher takes time exponential in the stars on a near miss."""
    visit = Visit.from_request_fields(url="https://s.example/" + "a" * 3000)
    assert evaluate(cond("url", "matches", "/" + "*a" * 30 + "*b"), visit) is False
    assert evaluate(cond("url", "matches", "/" + "*a" * 30 + "*"), visit) is True


def test_values_up_to_the_length_limits_are_accepted() -> None:
    longest_path = "/" + "p" * (MAX_URL_VALUE - 1)
    assert evaluate(cond("url", "starts_with", longest_path), PAGE) is False
    longest_regex = "re:" + "a?" * (MAX_REGEX // 2)
    assert evaluate(cond("url", "matches", longest_regex), PAGE) is True

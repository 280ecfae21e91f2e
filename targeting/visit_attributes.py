"""The visit's condition attributes: url, landing_url, UTMs, query parameters, traffic source,
device, new or returning visitor, country and cookies.

Each reads only the `Visit` (visit.py), never the identity, so none needs the Klaviyo identity
(a site whose experiences use only these never resolves `_kx`) and none is ever unknown: a
pending identity cannot hold them up. An absent or unknown visit value matches no condition,
`not_equals` included ("an unidentified visitor fails every segment condition", for visits).

    attribute            operators                               value, comparison
    url, landing_url     equals starts_with contains matches     path or whole URL, glob or RE2
                                                                 (url_match.py)
    utm_source, utm_medium, utm_campaign, utm_content, utm_term
                         equals not_equals contains exists       case-insensitive (both sides
                                                                 case-folded, trimmed)
    query_param:NAME     equals not_equals contains exists       the page URL's parameter NAME,
                                                                 exact (case-sensitive)
    traffic_source       equals not_equals                       direct email sms organic_search
                                                                 paid_search organic_social
                                                                 paid_social referral
                                                                 (GA4's channels, channels.py)
    device               equals not_equals                       mobile tablet desktop
    visitor              equals                                  new returning
    country              equals not_equals                       ISO 3166-1 alpha-2, any case,
                                                                 compared upper-case
    cookie:NAME          equals exists                           exact

`exists` takes no value: `{"attribute": "cookie:consent", "operator": "exists"}`. UTM and
query parameter values are 1-`MAX_TEXT_VALUE` characters without control characters, cookie
values 1-`MAX_COOKIE_VALUE`. NAME is 1-64 characters: for query parameters from A-Z a-z 0-9 and
`_ . - ~ [ ]`; for cookies, RFC 6265's cookie-name token.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import StrEnum
from operator import attrgetter
from typing import Final

from targeting.channels import TrafficSource
from targeting.identity import Predicate, Truth, VisitorContext
from targeting.registry import Attribute, AttributeFamily
from targeting.url_match import URL_OPERATORS, check_url_condition, check_url_value, url_matcher
from targeting.urls import PageUrl
from targeting.visit import COOKIE_NAME, MAX_COOKIE_VALUE, UTM_KEYS, Device, Visit, VisitNeeds, VisitorKind

MAX_TEXT_VALUE: Final = 256
TEXT_OPERATORS: Final = frozenset({"equals", "not_equals", "contains", "exists"})
EXISTS: Final = frozenset({"exists"})
QUERY_PARAM_NAME: Final = re.compile(r"[A-Za-z0-9_.~\[\]-]{1,64}")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")
_TWO_LETTERS: Final = re.compile(r"[A-Za-z]{2}")

Reader = Callable[[Visit], str | None]


def _check_text(value: object) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return "must be a non-empty string"
    if len(value) > MAX_TEXT_VALUE:
        return f"must be at most {MAX_TEXT_VALUE} characters"
    if _CONTROL.search(value):
        return "must not contain control characters"
    return None


def _text_predicate(read: Reader, operator: str, wanted: str) -> Predicate:
    """A comparison of one visit string; an absent string (None) matches nothing."""
    if operator == "equals":

        def equals(ctx: VisitorContext) -> Truth:
            return read(ctx.visit) == wanted

        return equals
    if operator == "not_equals":

        def not_equals(ctx: VisitorContext) -> Truth:
            actual = read(ctx.visit)
            return actual is not None and actual != wanted

        return not_equals
    if operator == "contains":

        def contains(ctx: VisitorContext) -> Truth:
            actual = read(ctx.visit)
            return actual is not None and wanted in actual

        return contains

    def exists(ctx: VisitorContext) -> Truth:
        return read(ctx.visit) is not None

    return exists


def _utm(key: str) -> Attribute:
    read: Reader = attrgetter(key)

    def compile_utm(operator: str, value: str) -> Predicate:
        return _text_predicate(read, operator, value.strip().casefold())

    return Attribute(
        key,
        TEXT_OPERATORS,
        False,
        _check_text,
        compile_utm,
        valueless=EXISTS,
        visit_needs=VisitNeeds(utm=True, url=True),
    )


def _url(name: str) -> Attribute:
    page_of: Callable[[Visit], PageUrl | None] = attrgetter(name)

    def compile_url(operator: str, value: str) -> Predicate:
        on_path, test = url_matcher(operator, value)
        if on_path:

            def path_matches(ctx: VisitorContext) -> Truth:
                page = page_of(ctx.visit)
                return page is not None and test(page.path)

            return path_matches

        def url_matches(ctx: VisitorContext) -> Truth:
            page = page_of(ctx.visit)
            return page is not None and test(page.whole)

        return url_matches

    needs = VisitNeeds(url=True) if name == "url" else VisitNeeds(landing_url=True)
    return Attribute(
        name,
        URL_OPERATORS,
        False,
        check_url_value,
        compile_url,
        check_condition=check_url_condition,
        visit_needs=needs,
    )


def _choice(
    name: str, enum: type[StrEnum], operators: frozenset[str], needs: VisitNeeds, read: Reader
) -> Attribute:
    """An attribute whose value is one of an enum's values, compared exactly."""
    values = frozenset(str(member) for member in enum)
    allowed = ", ".join(str(member) for member in enum)

    def check(value: object) -> str | None:
        return None if isinstance(value, str) and value in values else f"must be one of {allowed}"

    def compile_choice(operator: str, value: str) -> Predicate:
        return _text_predicate(read, operator, enum(value))

    return Attribute(name, operators, False, check, compile_choice, visit_needs=needs)


def _check_country(value: object) -> str | None:
    if isinstance(value, str) and _TWO_LETTERS.fullmatch(value):
        return None
    return "must be a two-letter ISO 3166-1 country code such as US"


def _compile_country(operator: str, value: str) -> Predicate:
    return _text_predicate(attrgetter("country"), operator, value.upper())


def check_query_param_name(name: str) -> str | None:
    if QUERY_PARAM_NAME.fullmatch(name):
        return None
    return "a query parameter name must be 1-64 characters from A-Z a-z 0-9 _ . - ~ [ ]"


def _query_param(name: str) -> Attribute:
    def read(visit: Visit) -> str | None:
        return visit.query.get(name)

    def compile_param(operator: str, value: str) -> Predicate:
        return _text_predicate(read, operator, value)

    return Attribute(
        f"query_param:{name}",
        TEXT_OPERATORS,
        False,
        _check_text,
        compile_param,
        valueless=EXISTS,
        visit_needs=VisitNeeds(url=True, query_params=frozenset({name})),
    )


def _check_cookie_name(name: str) -> str | None:
    if COOKIE_NAME.fullmatch(name):
        return None
    return "a cookie name must be 1-64 characters from A-Z a-z 0-9 and ! # $ % & ' * + - . ^ _ ` | ~"


def _check_cookie_value(value: object) -> str | None:
    if not isinstance(value, str) or not value:
        return "must be a non-empty string"
    if len(value) > MAX_COOKIE_VALUE:
        return f"must be at most {MAX_COOKIE_VALUE} characters"
    return None


def _cookie(name: str) -> Attribute:
    def read(visit: Visit) -> str | None:
        return visit.cookies.get(name)

    def compile_cookie(operator: str, value: str) -> Predicate:
        return _text_predicate(read, operator, value)

    return Attribute(
        f"cookie:{name}",
        frozenset({"equals", "exists"}),
        False,
        _check_cookie_value,
        compile_cookie,
        valueless=EXISTS,
        visit_needs=VisitNeeds(cookies=frozenset({name})),
    )


EQUALITY: Final = frozenset({"equals", "not_equals"})

VISIT_ATTRIBUTES: Final[tuple[Attribute | AttributeFamily, ...]] = (
    _url("url"),
    _url("landing_url"),
    *(_utm(key) for key in UTM_KEYS),
    AttributeFamily("query_param", check_query_param_name, _query_param),
    _choice(
        "traffic_source",
        TrafficSource,
        EQUALITY,
        VisitNeeds(url=True, landing_url=True, referrer=True, utm=True),
        attrgetter("traffic_source"),
    ),
    _choice("device", Device, EQUALITY, VisitNeeds(device=True), attrgetter("device")),
    _choice("visitor", VisitorKind, frozenset({"equals"}), VisitNeeds(visitor=True), attrgetter("visitor")),
    Attribute(
        "country",
        EQUALITY,
        False,
        _check_country,
        _compile_country,
        visit_needs=VisitNeeds(country=True),
    ),
    AttributeFamily("cookie", _check_cookie_name, _cookie),
)

"""Visit.from_request_fields equals the implementation before its speed-ups (kept here as the
reference: urllib's URL properties, generator UTMs, `enum(value)`, every query parsed), on
generated request fields."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from targeting.channels import TRAFFIC_SOURCE_OF, ga4_channel
from targeting.urls import NO_PARAMS, parse_query
from targeting.visit import (
    GOOGLE_CLICK_IDS,
    MAX_UTM_VALUE,
    UTM_KEYS,
    Device,
    Visit,
    VisitorKind,
    _bare,
    _cookies,
    _country,
    _links,
    _utm_value,
)
from tests.targeting.test_urls import _reference_parse_page_url, _reference_referrer_host

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _reference_utm_value(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value or len(value) > MAX_UTM_VALUE or _CONTROL.search(value):
        return None
    return value.casefold()


def _reference_utms(utm: object, page_query: Mapping[str, str]) -> tuple[str | None, ...]:
    given = utm if isinstance(utm, Mapping) else NO_PARAMS
    values = tuple(_reference_utm_value(given.get(key)) for key in UTM_KEYS)
    if any(value is not None for value in values):
        return values
    return tuple(_reference_utm_value(page_query.get(key)) for key in UTM_KEYS)


def _reference_member(enum: Any, value: object) -> Any:
    if not isinstance(value, str):
        return None
    try:
        return enum(value)
    except ValueError:
        return None


def _reference_visit(
    url: Any, landing_url: Any, referrer: Any, utm: Any, cookies: Any, device: Any, visitor: Any, country: Any
) -> Visit:
    page = _reference_parse_page_url(url)
    landing = _reference_parse_page_url(landing_url)
    query = parse_query(page[1].query) if page else NO_PARAMS
    landing_query = parse_query(landing[1].query) if landing else query
    source, medium, campaign, content, term = _reference_utms(utm, query)
    referrer_known = isinstance(referrer, str)
    host = _reference_referrer_host(referrer) if referrer_known else None
    own = {_bare(page[0].host) if page else None, _bare(landing[0].host) if landing else None}
    external = host if host is not None and _bare(host) not in own else None
    click_id = any(landing_query.get(key) for key in GOOGLE_CLICK_IDS)
    channel = None
    if source or medium or click_id or referrer_known:
        channel = ga4_channel(source, medium, campaign, external, google_click_id=click_id)
    return Visit(
        url=page[0] if page else None,
        landing_url=landing[0] if landing else None,
        query=query,
        utm_source=source,
        utm_medium=medium,
        utm_campaign=campaign,
        utm_content=content,
        utm_term=term,
        referrer_host=host,
        device=_reference_member(Device, device),
        visitor=_reference_member(VisitorKind, visitor),
        country=_country(country),
        cookies=_cookies(cookies),
        channel=channel,
        traffic_source=TRAFFIC_SOURCE_OF[channel] if channel is not None else None,
        links=_links(None),
    )


_UTM_TEXT = st.one_of(
    st.none(),
    st.sampled_from(
        ["facebook", " Email ", "paid_social", "CPC", "summer-sale", "", " ", "\u00c9t\u00e9", "ß"]
    ),
    st.text(alphabet="aZ _-\t\x00\x1f\x7f\x85\u00a0\u2028\u00e9\u0130", max_size=8),
    st.integers(),
)
_UTM_MAP = st.one_of(
    st.none(), st.dictionaries(st.sampled_from([*UTM_KEYS, "utm_id"]), _UTM_TEXT, max_size=6)
)
_QUERY = st.lists(
    st.tuples(
        st.sampled_from([*UTM_KEYS, *GOOGLE_CLICK_IDS, "x", "utm%5Fsource"]),
        st.sampled_from(["", "Facebook", "a+b", "%45mail", "1", "%00"]),
    ),
    max_size=5,
).map(lambda pairs: "&".join(f"{k}={v}" for k, v in pairs))
_PAGE = st.one_of(
    st.none(),
    st.integers(),
    st.builds(
        lambda host, path, query: f"https://{host}{path}" + (f"?{query}" if query else ""),
        st.sampled_from(
            ["shop.example.com", "WWW.Shop.Example.com", "shop.example.com:8443", "[::1]", "x@y"]
        ),
        st.sampled_from(["", "/", "/a%20b"]),
        _QUERY,
    ),
    st.text(max_size=20),
)
_REFERRER = st.one_of(
    st.none(),
    st.sampled_from(["", "https://m.facebook.com/", "https://www.google.de/", "https://shop.example.com/x"]),
    st.sampled_from(
        ["android-app://com.google.android.gm/", "https://WWW.SHOP.EXAMPLE.COM./", "http://[::1]:80"]
    ),
    st.text(max_size=12),
)
_WORDS = st.one_of(
    st.none(), st.integers(), st.sampled_from(["desktop", "mobile", "tablet", "new", "returning", "X"])
)


@settings(max_examples=1500, deadline=None)
@given(_PAGE, _PAGE, _REFERRER, _UTM_MAP, _WORDS, _WORDS, st.sampled_from([None, "de", "XX", "x"]))
@example(
    "https://shop.example.com/",
    "https://shop.example.com/",
    "https://m.facebook.com/",
    {"utm_source": "facebook", "utm_medium": "paid_social", "utm_campaign": "summer-sale"},
    "desktop",
    "new",
    None,
)
def test_visits_equal_the_reference(
    url: Any, landing_url: Any, referrer: Any, utm: Any, device: Any, visitor: Any, country: Any
) -> None:
    cookies = {"consent": "granted"}
    fields = {"url": url, "landing_url": landing_url, "referrer": referrer, "utm": utm}
    visit = Visit.from_request_fields(
        **fields, cookies=cookies, device=device, visitor=visitor, country=country
    )
    assert visit == _reference_visit(url, landing_url, referrer, utm, cookies, device, visitor, country)


@settings(max_examples=3000, deadline=None)
@given(st.one_of(_UTM_TEXT, st.text(max_size=16), st.just("a" * MAX_UTM_VALUE + " "), st.just("a" * 513)))
def test_utm_values_equal_the_reference(value: object) -> None:
    assert _utm_value(value) == _reference_utm_value(value)

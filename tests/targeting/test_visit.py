"""Visit.from_request_fields: parsed once, bounded, never raising; unknown stays unknown."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from targeting import EMPTY_VISIT, Device, Ga4Channel, TrafficSource, Visit, VisitorKind
from targeting.urls import MAX_PARAM_VALUE, MAX_QUERY_PARAMS, MAX_URL_CHARS
from targeting.visit import MAX_COOKIE_VALUE, MAX_COOKIES, MAX_UTM_VALUE


def test_the_page_url_is_split_into_whole_path_and_host() -> None:
    visit = Visit.from_request_fields(url="HTTPS://Shop.Example.COM:443/Collections/Sale?x=1#top")
    assert visit.url is not None
    assert visit.url.whole == "https://shop.example.com/Collections/Sale"
    assert visit.url.path == "/Collections/Sale"
    assert visit.url.host == "shop.example.com"


@pytest.mark.parametrize(
    ("url", "whole", "path"),
    [
        ("https://shop.example", "https://shop.example/", "/"),
        ("http://shop.example:80/a", "http://shop.example/a", "/a"),
        ("https://shop.example:8443/a", "https://shop.example:8443/a", "/a"),
        ("https://user:secret@shop.example/a", "https://shop.example/a", "/a"),
        ("https://shop.example/%C3%A9t%C3%A9", "https://shop.example/été", "/été"),
        ("https://shop.example./a", "https://shop.example/a", "/a"),
        ("  https://shop.example/a  ", "https://shop.example/a", "/a"),
    ],
)
def test_urls_are_normalised(url: str, whole: str, path: str) -> None:
    page = Visit.from_request_fields(url=url).url
    assert page is not None and (page.whole, page.path) == (whole, path)


@pytest.mark.parametrize(
    "url",
    [
        "",
        "/relative/path",
        "ftp://shop.example/a",
        "javascript:alert(1)",
        "https://",
        "https://shop.example:99999/a",
        "https://shop.example/" + "a" * MAX_URL_CHARS,
        42,
        ["https://shop.example/"],
    ],
)
def test_anything_but_a_bounded_http_url_is_no_url(url: Any) -> None:
    visit = Visit.from_request_fields(url=url, landing_url=url)
    assert visit.url is None and visit.landing_url is None and visit.query == {}


def test_query_parameters_keep_the_first_value_and_decode_like_the_browser() -> None:
    visit = Visit.from_request_fields(
        url="https://s.example/?q=red+shoes&ref=a&ref=b&empty=&flag&%C3%A9=%C3%A9"
    )
    assert dict(visit.query) == {"q": "red shoes", "ref": "a", "empty": "", "flag": "", "é": "é"}


def test_query_parameters_are_bounded_and_never_cut() -> None:
    many = "&".join(f"p{i}=v" for i in range(MAX_QUERY_PARAMS + 10))
    visit = Visit.from_request_fields(url=f"https://s.example/?{many}")
    assert (
        len(visit.query) == MAX_QUERY_PARAMS
        and "p0" in visit.query
        and f"p{MAX_QUERY_PARAMS}" not in visit.query
    )
    long_value = "x" * (MAX_PARAM_VALUE + 1)
    visit = Visit.from_request_fields(url=f"https://s.example/?long={long_value}&short=ok")
    assert dict(visit.query) == {"short": "ok"}


def test_utms_come_from_the_session_and_are_case_folded() -> None:
    visit = Visit.from_request_fields(
        url="https://s.example/?utm_source=page",
        utm={"utm_source": " Klaviyo ", "utm_medium": "EMAIL", "utm_campaign": "Summer-Sale"},
    )
    assert (visit.utm_source, visit.utm_medium, visit.utm_campaign) == ("klaviyo", "email", "summer-sale")
    assert visit.utm_content is None and visit.utm_term is None


def test_utms_fall_back_to_the_page_url_when_the_session_has_none() -> None:
    page = "https://s.example/?utm_source=Google&utm_medium=CPC&utm_term=boots"
    for session in (None, {}, {"other": "x"}, {"utm_source": ""}):
        visit = Visit.from_request_fields(url=page, utm=session)
        assert (visit.utm_source, visit.utm_medium, visit.utm_term) == ("google", "cpc", "boots")


@pytest.mark.parametrize("value", ["", "   ", "x" * (MAX_UTM_VALUE + 1), "a\nb", "a\x00b", 7, None])
def test_bad_utm_values_are_dropped(value: Any) -> None:
    visit = Visit.from_request_fields(utm={"utm_source": value, "utm_medium": "email"})
    assert visit.utm_source is None and visit.utm_medium == "email"


def test_cookies_are_kept_within_bounds() -> None:
    cookies: dict[Any, Any] = {
        "consent": "yes",
        "bad name": "x",
        "long": "x" * (MAX_COOKIE_VALUE + 1),
        "n": 5,
        7: "x",
        "a" * 65: "x",
    }
    assert dict(Visit.from_request_fields(cookies=cookies).cookies) == {"consent": "yes"}
    many = {f"c{i}": "v" for i in range(MAX_COOKIES + 5)}
    assert len(Visit.from_request_fields(cookies=many).cookies) == MAX_COOKIES
    assert Visit.from_request_fields(cookies="consent=yes").cookies == {}  # type: ignore[arg-type]
    noise = {**{f"bad name {i}": "x" for i in range(4 * MAX_COOKIES)}, "consent": "yes"}
    assert Visit.from_request_fields(cookies=noise).cookies == {}  # only so many are looked at


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"device": "mobile"}, {"device": Device.MOBILE}),
        ({"device": "Mobile"}, {"device": None}),
        ({"device": "phone"}, {"device": None}),
        ({"visitor": "returning"}, {"visitor": VisitorKind.RETURNING}),
        ({"visitor": "old"}, {"visitor": None}),
        ({"country": "fr"}, {"country": "FR"}),
        ({"country": " us "}, {"country": "US"}),
        ({"country": "XX"}, {"country": None}),
        ({"country": "T1"}, {"country": None}),
        ({"country": "USA"}, {"country": None}),
        ({"country": 1}, {"country": None}),
    ],
)
def test_edge_derived_fields_are_validated(fields: dict[str, Any], expected: dict[str, Any]) -> None:
    visit = Visit.from_request_fields(**fields)
    assert {key: getattr(visit, key) for key in expected} == expected


def test_the_referrer_is_kept_as_its_host() -> None:
    visit = Visit.from_request_fields(referrer="https://WWW.Google.co.uk/search?q=boots")
    assert visit.referrer_host == "www.google.co.uk"
    assert visit.traffic_source is TrafficSource.ORGANIC_SEARCH


def test_traffic_source_is_unknown_when_nothing_about_the_source_was_collected() -> None:
    assert EMPTY_VISIT.traffic_source is None and EMPTY_VISIT.channel is None
    assert Visit.from_request_fields(url="https://s.example/", device="mobile").traffic_source is None


def test_an_empty_referrer_means_direct() -> None:
    visit = Visit.from_request_fields(url="https://s.example/", referrer="")
    assert (visit.channel, visit.traffic_source) == (Ga4Channel.DIRECT, TrafficSource.DIRECT)


def test_a_referrer_from_the_store_itself_is_no_referrer() -> None:
    own = Visit.from_request_fields(url="https://shop.example/b", referrer="https://www.shop.example/a")
    landing = Visit.from_request_fields(
        url="https://checkout.example/",
        landing_url="https://shop.example/",
        referrer="https://shop.example/x",
    )
    assert own.traffic_source is TrafficSource.DIRECT and landing.traffic_source is TrafficSource.DIRECT


def test_utms_need_no_referrer_to_classify() -> None:
    visit = Visit.from_request_fields(utm={"utm_source": "facebook", "utm_medium": "paid"})
    assert visit.traffic_source is TrafficSource.PAID_SOCIAL


@pytest.mark.parametrize("click_id", ["gclid", "gbraid", "wbraid"])
def test_a_google_ads_click_id_on_the_landing_page_is_paid_search(click_id: str) -> None:
    visit = Visit.from_request_fields(
        url="https://s.example/p",
        landing_url=f"https://s.example/?{click_id}=Cj0KCQ",
        referrer="https://www.google.com/",
    )
    assert visit.traffic_source is TrafficSource.PAID_SEARCH


def test_a_display_click_has_no_traffic_source_among_the_eight() -> None:
    visit = Visit.from_request_fields(utm={"utm_source": "partner", "utm_medium": "display"}, referrer="")
    assert (visit.channel, visit.traffic_source) == (Ga4Channel.DISPLAY, None)


def test_the_visit_is_frozen_and_its_dict_is_json_ready_without_cookie_values() -> None:
    visit = Visit.from_request_fields(
        url="https://s.example/a?utm_source=x",
        cookies={"session": "secret-value"},
        device="tablet",
        referrer="",
    )
    with pytest.raises(AttributeError):
        visit.device = Device.MOBILE  # type: ignore[misc]
    data = msgspec.json.decode(msgspec.json.encode(visit.to_dict()))
    assert data["url"] == "https://s.example/a" and data["device"] == "tablet"
    assert data["utm"] == {"utm_source": "x"} and data["cookies"] == ["session"]
    assert data["channel"] == "Unassigned" and data["traffic_source"] is None
    assert "secret-value" not in msgspec.json.encode(visit.to_dict()).decode()

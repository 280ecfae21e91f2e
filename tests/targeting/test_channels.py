"""Traffic source: GA4's default channel group rules, case by case, and the mapping to the eight."""

from __future__ import annotations

import pytest

from targeting import Ga4Channel, TrafficSource, classify, ga4_channel
from targeting.channels import TRAFFIC_SOURCE_OF, search_engine
from targeting.source_categories import SHOPPING_SITES, SOCIAL_SITES, SourceCategory, category_of

G = Ga4Channel

# (utm_source, utm_medium, utm_campaign, referrer host, google click id, GA4 channel), each from
# GA4's published rules: the expected channel is read off the rule table, not computed.
CASES: list[tuple[str, str | None, str | None, str | None, str | None, bool, Ga4Channel]] = [
    ("no utm, no referrer", None, None, None, None, False, G.DIRECT),
    ("utm_source (direct) / (none)", "(direct)", "(none)", None, None, False, G.DIRECT),
    ("google / cpc", "google", "cpc", None, None, False, G.PAID_SEARCH),
    ("bing / ppc", "bing", "ppc", None, None, False, G.PAID_SEARCH),
    ("Google / CPC, any case", "Google", "CPC", None, None, False, G.PAID_SEARCH),
    ("yahoo / paidsearch (paid.*)", "yahoo", "paidsearch", None, None, False, G.PAID_SEARCH),
    ("google / retargeting", "google", "retargeting", None, None, False, G.PAID_SEARCH),
    ("gclid, no utm", None, None, None, None, True, G.PAID_SEARCH),
    ("gclid with a referrer from google", None, None, None, "www.google.com", True, G.PAID_SEARCH),
    ("facebook / paid_social", "facebook", "paid_social", None, None, False, G.PAID_SOCIAL),
    ("ig / cpc", "ig", "cpc", None, None, False, G.PAID_SOCIAL),
    ("tiktok / cpm: paid before display", "tiktok", "cpm", None, None, False, G.PAID_SOCIAL),
    ("youtube / cpv", "youtube", "cpv", None, None, False, G.PAID_VIDEO),
    ("amazon / cpc", "amazon", "cpc", None, None, False, G.PAID_SHOPPING),
    ("shop campaign, paid medium", "facebook", "cpc", "summer-shopping", None, False, G.PAID_SHOPPING),
    ("cross-network campaign", "google", "cpc", "pmax-cross-network", None, False, G.CROSS_NETWORK),
    ("newsletter / display", "newsletter", "display", None, None, False, G.DISPLAY),
    ("partner / banner", "partner", "banner", None, None, False, G.DISPLAY),
    ("newsletter / cpc: paid other", "newsletter", "cpc", None, None, False, G.PAID_OTHER),
    ("etsy / referral", "etsy", "referral", None, None, False, G.ORGANIC_SHOPPING),
    ("shop campaign, email medium", "klaviyo", "email", "shop-now", None, False, G.ORGANIC_SHOPPING),
    ("workshop campaign is no shop campaign", "klaviyo", "email", "workshop", None, False, G.EMAIL),
    ("facebook / social", "facebook", "social", None, None, False, G.ORGANIC_SOCIAL),
    ("anything / social-media", "partner", "social-media", None, None, False, G.ORGANIC_SOCIAL),
    ("anything / sm", "partner", "sm", None, None, False, G.ORGANIC_SOCIAL),
    ("facebook without a medium", "facebook", None, None, None, False, G.ORGANIC_SOCIAL),
    ("facebook / email: social site first", "facebook", "email", None, None, False, G.ORGANIC_SOCIAL),
    ("referrer m.facebook.com", None, None, None, "m.facebook.com", False, G.ORGANIC_SOCIAL),
    ("referrer l.instagram.com", None, None, None, "l.instagram.com", False, G.ORGANIC_SOCIAL),
    ("referrer www.facebook.com", None, None, None, "www.facebook.com", False, G.ORGANIC_SOCIAL),
    ("referrer t.co", None, None, None, "t.co", False, G.ORGANIC_SOCIAL),
    ("referrer www.youtube.com", None, None, None, "www.youtube.com", False, G.ORGANIC_VIDEO),
    ("anything / video", "partner", "video", None, None, False, G.ORGANIC_VIDEO),
    ("google / organic", "google", "organic", None, None, False, G.ORGANIC_SEARCH),
    ("unknown engine / organic", "myengine", "organic", None, None, False, G.ORGANIC_SEARCH),
    ("referrer www.google.com", None, None, None, "www.google.com", False, G.ORGANIC_SEARCH),
    ("referrer www.google.co.uk", None, None, None, "www.google.co.uk", False, G.ORGANIC_SEARCH),
    ("referrer google.de", None, None, None, "google.de", False, G.ORGANIC_SEARCH),
    ("referrer duckduckgo.com", None, None, None, "duckduckgo.com", False, G.ORGANIC_SEARCH),
    ("referrer www.bing.com", None, None, None, "www.bing.com", False, G.ORGANIC_SEARCH),
    (
        "referrer search.yahoo.com subdomain listed",
        None,
        None,
        None,
        "uk.search.yahoo.com",
        False,
        G.ORGANIC_SEARCH,
    ),
    ("referrer docs.google.com is a referral", None, None, None, "docs.google.com", False, G.REFERRAL),
    ("referrer blog.example.org", None, None, None, "blog.example.org", False, G.REFERRAL),
    ("android app referrer", None, None, None, "com.google.android.gm", False, G.REFERRAL),
    ("partner / referral", "partner", "referral", None, None, False, G.REFERRAL),
    ("partner / app", "partner", "app", None, None, False, G.REFERRAL),
    ("email / referral: referral before email", "email", "referral", None, None, False, G.REFERRAL),
    ("klaviyo / email", "klaviyo", "email", None, None, False, G.EMAIL),
    ("Klaviyo / Email, any case", "Klaviyo", "Email", None, None, False, G.EMAIL),
    ("newsletter / e-mail", "newsletter", "e-mail", None, None, False, G.EMAIL),
    ("e_mail source", "e_mail", "newsletter", None, None, False, G.EMAIL),
    ("utm beats the referrer", "klaviyo", "email", None, "m.facebook.com", False, G.EMAIL),
    ("partner / affiliate", "partner", "affiliate", None, None, False, G.AFFILIATES),
    ("spotify / audio", "spotify", "audio", None, None, False, G.AUDIO),
    ("attentive / sms", "attentive", "sms", None, None, False, G.SMS),
    ("sms source", "sms", "text", None, None, False, G.SMS),
    ("klaviyo / push", "klaviyo", "push", None, None, False, G.MOBILE_PUSH_NOTIFICATIONS),
    (
        "app / mobile-notification",
        "app",
        "mobile-notification",
        None,
        None,
        False,
        G.MOBILE_PUSH_NOTIFICATIONS,
    ),
    ("firebase source", "firebase", "inapp", None, None, False, G.MOBILE_PUSH_NOTIFICATIONS),
    ("newsletter / newsletter", "newsletter", "newsletter", None, None, False, G.UNASSIGNED),
    ("utm_medium only", None, "flyer", None, None, False, G.UNASSIGNED),
]


@pytest.mark.parametrize(
    ("case", "source", "medium", "campaign", "referrer", "click_id", "expected"),
    CASES,
    ids=[c[0] for c in CASES],
)
def test_ga4_channel_follows_the_published_rules(
    case: str,
    source: str | None,
    medium: str | None,
    campaign: str | None,
    referrer: str | None,
    click_id: bool,
    expected: Ga4Channel,
) -> None:
    assert ga4_channel(source, medium, campaign, referrer, google_click_id=click_id) is expected


def test_the_table_covers_every_ga4_channel() -> None:
    assert {c[-1] for c in CASES} == set(Ga4Channel)
    assert len(CASES) >= 30


MAPPING = [
    (G.DIRECT, TrafficSource.DIRECT),
    (G.EMAIL, TrafficSource.EMAIL),
    (G.SMS, TrafficSource.SMS),
    (G.ORGANIC_SEARCH, TrafficSource.ORGANIC_SEARCH),
    (G.PAID_SEARCH, TrafficSource.PAID_SEARCH),
    (G.ORGANIC_SOCIAL, TrafficSource.ORGANIC_SOCIAL),
    (G.PAID_SOCIAL, TrafficSource.PAID_SOCIAL),
    (G.REFERRAL, TrafficSource.REFERRAL),
    (G.CROSS_NETWORK, TrafficSource.PAID_SEARCH),
    (G.PAID_SHOPPING, TrafficSource.PAID_SEARCH),
    (G.PAID_VIDEO, TrafficSource.PAID_SOCIAL),
    (G.ORGANIC_VIDEO, TrafficSource.ORGANIC_SOCIAL),
    (G.ORGANIC_SHOPPING, TrafficSource.REFERRAL),
    (G.AFFILIATES, TrafficSource.REFERRAL),
    (G.DISPLAY, None),
    (G.PAID_OTHER, None),
    (G.AUDIO, None),
    (G.MOBILE_PUSH_NOTIFICATIONS, None),
    (G.UNASSIGNED, None),
]


@pytest.mark.parametrize(("channel", "source"), MAPPING, ids=[str(m[0]) for m in MAPPING])
def test_each_ga4_channel_maps_to_the_documented_traffic_source(
    channel: Ga4Channel, source: TrafficSource | None
) -> None:
    assert TRAFFIC_SOURCE_OF[channel] is source


def test_the_mapping_is_total() -> None:
    assert set(TRAFFIC_SOURCE_OF) == set(Ga4Channel) == {m[0] for m in MAPPING}


@pytest.mark.parametrize(
    ("case", "source", "medium", "campaign", "referrer", "click_id", "expected"),
    CASES,
    ids=[c[0] for c in CASES],
)
def test_classify_is_the_channel_then_the_mapping(
    case: str,
    source: str | None,
    medium: str | None,
    campaign: str | None,
    referrer: str | None,
    click_id: bool,
    expected: Ga4Channel,
) -> None:
    assert (
        classify(source, medium, campaign, referrer, google_click_id=click_id) is TRAFFIC_SOURCE_OF[expected]
    )


@pytest.mark.parametrize(
    ("host", "name"),
    [
        ("google.com", "google.com"),
        ("google.fr", "google"),
        ("google.com.au", "google"),
        ("yandex.ru", "yandex.ru"),
        ("ecosia.org", "ecosia.org"),
        ("images.google.fr", None),
        ("localhost", None),
        ("example.com", None),
    ],
)
def test_search_engines_are_named_by_list_or_registrable_name(host: str, name: str | None) -> None:
    assert search_engine(host) == name


def test_source_categories_hold_googles_table() -> None:
    assert category_of("facebook") is SourceCategory.SOCIAL
    assert category_of("google") is SourceCategory.SEARCH
    assert category_of("etsy.com") is SourceCategory.SHOPPING
    assert category_of("vimeo") is SourceCategory.VIDEO
    assert category_of("example.com") is None
    assert "google shopping" in SHOPPING_SITES and "lnkd.in" in SOCIAL_SITES

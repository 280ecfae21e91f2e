"""Traffic source: GA4's default channel group, mapped onto the eight channels merchants target.

Step 1, the session's source and medium, as GA4 derives them (lower-cased: every comparison
below is case-insensitive):

    utm_source or utm_medium given     source = utm_source, medium = utm_medium ("(not set)"
                                       for the missing one); campaign = utm_campaign
    else a Google Ads click id         source "google", medium "cpc" (gclid, gbraid, wbraid:
                                       auto-tagging; manual UTMs win over it here)
    else a referrer from another site  a search engine (below): source = its name, medium
                                       "organic"; any other host: source = the host without
                                       "www.", medium "referral"
    else                               source "(direct)", medium "(none)"

A referrer host is a search engine when it (without "www.") is in Google's search list, or when
it is exactly a registrable domain whose name is (google.de, google.co.uk, duckduckgo.com):
`docs.google.com` stays a referral, as in GA4. A referrer from the store itself is no referrer.

Step 2, GA4's channel rules for manual traffic, in GA4's evaluation order; the first that holds
wins. "paid" is GA4's medium regex `^(.*cp.*|ppc|retargeting|paid.*)$`, "shop campaign" its
campaign regex `^(.*(([^a-df-z]|^)shop|shopping).*)$`; the site lists are Google's source
categories (source_categories.py), matched exactly:

    GA4 channel                 rule                                                  targeting value
    Direct                      source "(direct)" and medium "(not set)" or "(none)"  direct
    Cross-network               campaign contains "cross-network"                     paid_search
    Paid Shopping               (shopping site or shop campaign) and paid             paid_search
    Paid Search                 search site and paid                                  paid_search
    Paid Social                 social site and paid                                  paid_social
    Paid Video                  video site and paid                                   paid_social
    Display                     medium display, banner, expandable, interstitial, cpm  (unknown)
    Paid Other                  paid                                                  (unknown)
    Organic Shopping            shopping site or shop campaign                        referral
    Organic Social              social site, or medium social, social-network,        organic_social
                                social-media, sm, "social network", "social media"
    Organic Video               video site, or medium contains "video"                organic_social
    Organic Search              search site, or medium "organic"                      organic_search
    Referral                    medium referral, app or link                          referral
    Email                       source or medium email, e-mail, e_mail, "e mail"      email
    Affiliates                  medium affiliate                                      referral
    Audio                       medium audio                                          (unknown)
    SMS                         source or medium sms                                  sms
    Mobile Push Notifications   medium ends with "push" or contains "mobile" or       (unknown)
                                "notification", or source "firebase"
    Unassigned                  none of the above                                     (unknown)

Step 3, the mapping (the last column): each GA4 channel goes to the nearest of the eight:
Cross-network (Performance Max and the like) and Paid Shopping are ads on Google's and
marketplaces' results pages, so `paid_search`; Paid Video (YouTube ads) is `paid_social`, as
Organic Video is `organic_social`; Organic Shopping and Affiliates are links on another site,
`referral`. Display, Paid Other, Audio, Mobile Push Notifications and Unassigned have no near
equivalent: the traffic source is unknown, so no `traffic_source` condition matches such a
visit, `not_equals` included. The regexes are implemented by the equivalent string tests (the
visit drops UTM values holding control characters, so no newline can tell them apart).
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Final

from targeting.source_categories import SEARCH_SITES, SourceCategory, category_of


class Ga4Channel(StrEnum):
    DIRECT = "Direct"
    CROSS_NETWORK = "Cross-network"
    PAID_SHOPPING = "Paid Shopping"
    PAID_SEARCH = "Paid Search"
    PAID_SOCIAL = "Paid Social"
    PAID_VIDEO = "Paid Video"
    DISPLAY = "Display"
    PAID_OTHER = "Paid Other"
    ORGANIC_SHOPPING = "Organic Shopping"
    ORGANIC_SOCIAL = "Organic Social"
    ORGANIC_VIDEO = "Organic Video"
    ORGANIC_SEARCH = "Organic Search"
    REFERRAL = "Referral"
    EMAIL = "Email"
    AFFILIATES = "Affiliates"
    AUDIO = "Audio"
    SMS = "SMS"
    MOBILE_PUSH_NOTIFICATIONS = "Mobile Push Notifications"
    UNASSIGNED = "Unassigned"


class TrafficSource(StrEnum):
    """The values of `traffic_source` conditions."""

    DIRECT = "direct"
    EMAIL = "email"
    SMS = "sms"
    ORGANIC_SEARCH = "organic_search"
    PAID_SEARCH = "paid_search"
    ORGANIC_SOCIAL = "organic_social"
    PAID_SOCIAL = "paid_social"
    REFERRAL = "referral"


TRAFFIC_SOURCE_OF: Final[dict[Ga4Channel, TrafficSource | None]] = {
    Ga4Channel.DIRECT: TrafficSource.DIRECT,
    Ga4Channel.CROSS_NETWORK: TrafficSource.PAID_SEARCH,
    Ga4Channel.PAID_SHOPPING: TrafficSource.PAID_SEARCH,
    Ga4Channel.PAID_SEARCH: TrafficSource.PAID_SEARCH,
    Ga4Channel.PAID_SOCIAL: TrafficSource.PAID_SOCIAL,
    Ga4Channel.PAID_VIDEO: TrafficSource.PAID_SOCIAL,
    Ga4Channel.DISPLAY: None,
    Ga4Channel.PAID_OTHER: None,
    Ga4Channel.ORGANIC_SHOPPING: TrafficSource.REFERRAL,
    Ga4Channel.ORGANIC_SOCIAL: TrafficSource.ORGANIC_SOCIAL,
    Ga4Channel.ORGANIC_VIDEO: TrafficSource.ORGANIC_SOCIAL,
    Ga4Channel.ORGANIC_SEARCH: TrafficSource.ORGANIC_SEARCH,
    Ga4Channel.REFERRAL: TrafficSource.REFERRAL,
    Ga4Channel.EMAIL: TrafficSource.EMAIL,
    Ga4Channel.AFFILIATES: TrafficSource.REFERRAL,
    Ga4Channel.AUDIO: None,
    Ga4Channel.SMS: TrafficSource.SMS,
    Ga4Channel.MOBILE_PUSH_NOTIFICATIONS: None,
    Ga4Channel.UNASSIGNED: None,
}

NOT_SET: Final = "(not set)"
_DIRECT_MEDIUMS: Final = frozenset({NOT_SET, "(none)"})
_DISPLAY_MEDIUMS: Final = frozenset({"display", "banner", "expandable", "interstitial", "cpm"})
_SOCIAL_MEDIUMS: Final = frozenset(
    {"social", "social-network", "social-media", "sm", "social network", "social media"}
)
_REFERRAL_MEDIUMS: Final = frozenset({"referral", "app", "link"})
_EMAILS: Final = frozenset({"email", "e-mail", "e_mail", "e mail"})
# GA4's `^(.*(([^a-df-z]|^)shop|shopping).*)$`, searched: the same on text without newlines.
_SHOP_CAMPAIGN: Final = re.compile(r"(?:[^a-df-z]|^)shop|shopping")
# Second-level labels under which a name is registered one level deeper (google.co.uk).
_SECOND_LEVELS: Final = frozenset({"co", "com", "net", "org", "ne", "or", "ac", "gov", "edu"})


def _paid(medium: str) -> bool:
    """GA4's `^(.*cp.*|ppc|retargeting|paid.*)$`."""
    return "cp" in medium or medium in ("ppc", "retargeting") or medium.startswith("paid")


def channel_of(source: str, medium: str, campaign: str) -> Ga4Channel:
    """GA4's default channel group of a (lower-case) source, medium and campaign (step 2)."""
    category = category_of(source)
    paid = _paid(medium)
    shopping = category is SourceCategory.SHOPPING or _SHOP_CAMPAIGN.search(campaign) is not None
    if source == "(direct)" and medium in _DIRECT_MEDIUMS:
        return Ga4Channel.DIRECT
    if "cross-network" in campaign:
        return Ga4Channel.CROSS_NETWORK
    if paid:
        if shopping:
            return Ga4Channel.PAID_SHOPPING
        if category is SourceCategory.SEARCH:
            return Ga4Channel.PAID_SEARCH
        if category is SourceCategory.SOCIAL:
            return Ga4Channel.PAID_SOCIAL
        if category is SourceCategory.VIDEO:
            return Ga4Channel.PAID_VIDEO
    if medium in _DISPLAY_MEDIUMS:
        return Ga4Channel.DISPLAY
    if paid:
        return Ga4Channel.PAID_OTHER
    if shopping:
        return Ga4Channel.ORGANIC_SHOPPING
    if category is SourceCategory.SOCIAL or medium in _SOCIAL_MEDIUMS:
        return Ga4Channel.ORGANIC_SOCIAL
    if category is SourceCategory.VIDEO or "video" in medium:
        return Ga4Channel.ORGANIC_VIDEO
    if category is SourceCategory.SEARCH or medium == "organic":
        return Ga4Channel.ORGANIC_SEARCH
    if medium in _REFERRAL_MEDIUMS:
        return Ga4Channel.REFERRAL
    if source in _EMAILS or medium in _EMAILS:
        return Ga4Channel.EMAIL
    if medium == "affiliate":
        return Ga4Channel.AFFILIATES
    if medium == "audio":
        return Ga4Channel.AUDIO
    if source == "sms" or medium == "sms":
        return Ga4Channel.SMS
    if medium.endswith("push") or "mobile" in medium or "notification" in medium or source == "firebase":
        return Ga4Channel.MOBILE_PUSH_NOTIFICATIONS
    return Ga4Channel.UNASSIGNED


def search_engine(host: str) -> str | None:
    """The source name GA4 gives a referring search engine (`host` lower-case, without `www.`)."""
    if host in SEARCH_SITES:
        return host
    labels = host.split(".")
    depth = 3 if len(labels) >= 3 and labels[-2] in _SECOND_LEVELS else 2
    if len(labels) != depth:
        return None  # a subdomain (docs.google.com) or a bare name
    name = labels[0]
    return name if name in SEARCH_SITES else None


def source_medium(
    utm_source: str | None, utm_medium: str | None, referrer_host: str | None, google_click_id: bool
) -> tuple[str, str]:
    """The session's source and medium (step 1); `referrer_host` None or "" means no referrer."""
    if utm_source or utm_medium:
        return utm_source or NOT_SET, utm_medium or NOT_SET
    if google_click_id:
        return "google", "cpc"
    if referrer_host:
        host = referrer_host.removeprefix("www.")
        engine = search_engine(host)
        return (engine, "organic") if engine is not None else (host, "referral")
    return "(direct)", "(none)"


def ga4_channel(
    utm_source: str | None,
    utm_medium: str | None,
    utm_campaign: str | None,
    referrer_host: str | None,
    *,
    google_click_id: bool = False,
) -> Ga4Channel:
    """GA4's default channel group of a session (steps 1 and 2); inputs are lower-cased here."""
    source, medium = source_medium(
        utm_source.lower() if utm_source else None,
        utm_medium.lower() if utm_medium else None,
        referrer_host.lower() if referrer_host else None,
        google_click_id,
    )
    return channel_of(source, medium, utm_campaign.lower() if utm_campaign else NOT_SET)


def classify(
    utm_source: str | None,
    utm_medium: str | None,
    utm_campaign: str | None,
    referrer_host: str | None,
    *,
    google_click_id: bool = False,
) -> TrafficSource | None:
    """The session's traffic source (the whole table above), None when it is unknown."""
    channel = ga4_channel(
        utm_source, utm_medium, utm_campaign, referrer_host, google_click_id=google_click_id
    )
    return TRAFFIC_SOURCE_OF[channel]

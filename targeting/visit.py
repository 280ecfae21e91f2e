"""The visit: what a page view tells about itself, parsed once per request into a typed value.

The edge builds one `Visit` per request with `Visit.from_request_fields(...)` from what the
snippet sent (page URL, landing URL, referrer, the session's UTMs, the cookies experiences name)
and what the edge derives itself (device from the User-Agent, new or returning visitor, country
from the CDN header), and passes it to `decide`/`explain`. Everything is parsed here, once: URL
parts (urls.py), query parameters, UTMs, the referrer's host and the session's traffic source
(channels.py), so conditions only compare.

Inputs, all optional and all bounded; a value of the wrong type, malformed or over its bound is
dropped (unknown), never cut, and an unknown value matches no condition, `not_equals` included:

- `url`, `landing_url`: http(s) URLs (urls.py). Query parameters are read from `url`.
- `referrer`: the referrer of the session's first page (`document.referrer` kept for the
  session, like the UTMs); `""` means there was none, `None` that it was not collected. A
  referrer from the page's or the landing page's own host counts as none.
- `utm`: the session's UTMs (`utm_source` ... `utm_term`); when it holds none, the page URL's
  `utm_*` parameters are used. UTM values are trimmed and case-folded (`Email` == `email`);
  empty values, values over `MAX_UTM_VALUE` characters or holding control characters are dropped.
- `cookies`: first-party cookies by name; at most `MAX_COOKIES` kept (of the first
  4 x `MAX_COOKIES` given), names of the cookie-name token charset up to 64 characters, values
  up to `MAX_COOKIE_VALUE` characters, compared exactly.
- `links`: link-based personalizations' parameters the visitor arrived with, kept by the
  snippet (at most `MAX_LINKS`, names as query parameter names, values up to `MAX_LINK_VALUE`).
- `device`: mobile, tablet or desktop; `visitor`: new or returning (returning: the visitor id
  predates this session); `country`: ISO 3166-1 alpha-2 (any case; `XX`, Cloudflare's
  "unknown", is unknown).

`traffic_source` is computed once here from the UTMs, a Google Ads click id (`gclid`, `gbraid`
or `wbraid` on the landing URL, else the page URL) and the referrer; it is unknown when none of
them was collected, or when GA4's channel has no equivalent among the eight (channels.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final, TypeVar

import msgspec

from targeting.channels import TRAFFIC_SOURCE_OF, Ga4Channel, TrafficSource, ga4_channel
from targeting.urls import NO_PARAMS, PageUrl, parse_page_url, parse_query, referrer_host

UTM_KEYS: Final = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")
GOOGLE_CLICK_IDS: Final = ("gclid", "gbraid", "wbraid")
MAX_UTM_VALUE: Final = 512
MAX_COOKIES: Final = 32
MAX_COOKIE_NAME: Final = 64
MAX_COOKIE_VALUE: Final = 1024
MAX_LINKS: Final = 8
MAX_LINK_VALUE: Final = 256
_LINK_NAME: Final = re.compile(r"[A-Za-z0-9_.~\[\]-]{1,64}")
# RFC 6265's cookie-name token: letters, digits and !#$%&'*+-.^_`|~
COOKIE_NAME: Final = re.compile(r"[A-Za-z0-9!#$%&'*+\-.^_`|~]{1,64}")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")
_COUNTRY: Final = re.compile(r"[A-Z]{2}")
_UNKNOWN_COUNTRY: Final = "XX"
_NO_UTMS: Final[tuple[str | None, ...]] = (None,) * len(UTM_KEYS)


_E = TypeVar("_E", bound=StrEnum)


class Device(StrEnum):
    MOBILE = "mobile"
    TABLET = "tablet"
    DESKTOP = "desktop"


class VisitorKind(StrEnum):
    NEW = "new"
    RETURNING = "returning"


def _utm_value(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value or len(value) > MAX_UTM_VALUE:
        return None
    # An ASCII text holds no control character exactly when it is printable (0x20-0x7e); only
    # other texts need the search (the test checks both against `_CONTROL` alone).
    if not value.isprintable() if value.isascii() else _CONTROL.search(value):
        return None
    return value.casefold()


def _utms(utm: object, page_query: Mapping[str, str]) -> tuple[str | None, ...]:
    """The session's UTMs, else the page URL's. A loop over the keys rather than generators, and
    no page-URL look-ups when there is no query: measured on bench.assign's mixed-site first
    visit (three session UTMs), 1.70 -> 1.04 µs; the whole `from_request_fields` there, 11.4 ->
    7.6 µs with urls.py's one-pass host and port."""
    if isinstance(utm, Mapping):
        values = tuple([_utm_value(utm.get(key)) for key in UTM_KEYS])
        if values != _NO_UTMS:
            return values
    if not page_query:
        return _NO_UTMS
    return tuple([_utm_value(page_query.get(key)) for key in UTM_KEYS])


def _cookies(cookies: object) -> Mapping[str, str]:
    if not isinstance(cookies, Mapping):
        return NO_PARAMS
    kept: dict[str, str] = {}
    for seen, (name, value) in enumerate(cookies.items()):
        if len(kept) == MAX_COOKIES or seen == 4 * MAX_COOKIES:
            break  # the snippet sends only the cookies experiences name: the rest is noise
        if (
            isinstance(name, str)
            and COOKIE_NAME.fullmatch(name)
            and isinstance(value, str)
            and len(value) <= MAX_COOKIE_VALUE
        ):
            kept[name] = value
    return MappingProxyType(kept) if kept else NO_PARAMS


def _links(links: object) -> Mapping[str, str]:
    if not isinstance(links, Mapping):
        return NO_PARAMS
    kept: dict[str, str] = {}
    for seen, (name, value) in enumerate(links.items()):
        if len(kept) == MAX_LINKS or seen == 4 * MAX_LINKS:
            break
        if (
            isinstance(name, str)
            and _LINK_NAME.fullmatch(name)
            and isinstance(value, str)
            and 0 < len(value) <= MAX_LINK_VALUE
        ):
            kept[name] = value
    return MappingProxyType(kept) if kept else NO_PARAMS


def _member(enum: type[_E], value: object) -> _E | None:
    if not isinstance(value, str):
        return None
    member = enum._value2member_map_.get(value)  # what `enum(value)` looks up first
    if member is not None:
        return member  # type: ignore[return-value]
    try:
        return enum(value)
    except ValueError:
        return None


def _country(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    code = value.strip().upper()
    return code if _COUNTRY.fullmatch(code) and code != _UNKNOWN_COUNTRY else None


def _bare(host: str | None) -> str | None:
    return host.removeprefix("www.") if host else None


class Visit(msgspec.Struct, frozen=True, gc=False):
    """One page view, parsed; build it with `from_request_fields`. `EMPTY_VISIT` knows nothing."""

    url: PageUrl | None = None
    landing_url: PageUrl | None = None
    query: Mapping[str, str] = NO_PARAMS  # the page URL's parameters
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    utm_content: str | None = None
    utm_term: str | None = None
    referrer_host: str | None = None
    device: Device | None = None
    visitor: VisitorKind | None = None
    country: str | None = None
    cookies: Mapping[str, str] = NO_PARAMS
    channel: Ga4Channel | None = None  # GA4's default channel group of the session
    traffic_source: TrafficSource | None = None
    links: Mapping[str, str] = NO_PARAMS  # link parameters the visitor arrived with (kept)

    @classmethod
    def from_request_fields(
        cls,
        *,
        url: str | None = None,
        landing_url: str | None = None,
        referrer: str | None = None,
        utm: Mapping[str, str] | None = None,
        cookies: Mapping[str, str] | None = None,
        device: str | None = None,
        visitor: str | None = None,
        country: str | None = None,
        links: Mapping[str, str] | None = None,
    ) -> Visit:
        """Parse one request's visit fields (see the module docstring); never raises."""
        page = parse_page_url(url)
        landing = parse_page_url(landing_url)
        page_query = page[1].query if page else ""
        query = parse_query(page_query) if page_query else NO_PARAMS
        if landing is None or landing[1].query == page_query:
            landing_query = query  # the same query string (often both empty): parsed once
        else:
            landing_query = parse_query(landing[1].query)
        source, medium, campaign, content, term = _utms(utm, query)
        referrer_known = isinstance(referrer, str)
        host = referrer_host(referrer) if referrer_known else None
        external = None
        if host is not None:
            bare = _bare(host)
            own = (_bare(page[0].host) if page else None, _bare(landing[0].host) if landing else None)
            external = host if bare not in own else None
        click_id = bool(landing_query) and any(landing_query.get(key) for key in GOOGLE_CLICK_IDS)
        channel = None
        if source or medium or click_id or referrer_known:
            channel = ga4_channel(source, medium, campaign, external, google_click_id=click_id)
        return cls(
            url=page[0] if page else None,
            landing_url=landing[0] if landing else None,
            query=query,
            utm_source=source,
            utm_medium=medium,
            utm_campaign=campaign,
            utm_content=content,
            utm_term=term,
            referrer_host=host,
            device=_member(Device, device),
            visitor=_member(VisitorKind, visitor),
            country=_country(country),
            cookies=_cookies(cookies),
            channel=channel,
            traffic_source=TRAFFIC_SOURCE_OF[channel] if channel is not None else None,
            links=_links(links),
        )

    def key(self, needs: VisitNeeds) -> tuple[object, ...]:
        """What conditions with these `needs` can read of this visit, as a hashable value: on a
        site whose `visit_needs` is `needs`, two visits with the same key decide alike, so an
        answer can be remembered by it (what the site does not read is left out)."""
        utm = (self.utm_source, self.utm_medium, self.utm_campaign, self.utm_content, self.utm_term)
        return (
            self.url.whole if needs.url and self.url else None,
            self.landing_url.whole if needs.landing_url and self.landing_url else None,
            utm if needs.utm else None,
            self.traffic_source if needs.referrer else None,
            self.device if needs.device else None,
            self.visitor if needs.visitor else None,
            self.country if needs.country else None,
            tuple(self.query.get(name) for name in sorted(needs.query_params)),
            tuple(self.cookies.get(name) for name in sorted(needs.cookies)),
            tuple(self.links.get(name) for name in sorted(needs.links)),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready builtins for `explain` (cookie values are left out: they may be secrets)."""
        data: dict[str, Any] = {
            "url": self.url.whole if self.url else None,
            "landing_url": self.landing_url.whole if self.landing_url else None,
            "query": dict(self.query),
            "utm": {key: getattr(self, key) for key in UTM_KEYS if getattr(self, key) is not None},
            "referrer_host": self.referrer_host,
            "device": self.device,
            "visitor": self.visitor,
            "country": self.country,
            "cookies": sorted(self.cookies),
            "channel": self.channel,
            "traffic_source": self.traffic_source,
            "links": dict(self.links),
        }
        builtins: dict[str, Any] = msgspec.to_builtins(data)
        return builtins


EMPTY_VISIT: Final = Visit()


class VisitNeeds(msgspec.Struct, frozen=True):
    """What the live experiences' conditions read, so the edge collects (and the snippet sends)
    only that: e.g. no User-Agent parsing unless `device` is needed. Query parameters are read
    from the page URL, so `url` is true whenever `query_params` is not empty."""

    url: bool = False
    landing_url: bool = False
    referrer: bool = False
    utm: bool = False
    device: bool = False
    visitor: bool = False
    country: bool = False
    query_params: frozenset[str] = frozenset()
    cookies: frozenset[str] = frozenset()
    links: frozenset[str] = frozenset()  # link-based personalizations' parameters

    @property
    def any(self) -> bool:
        return self != NO_VISIT_NEEDS

    def union(self, other: VisitNeeds) -> VisitNeeds:
        return VisitNeeds(
            url=self.url or other.url,
            landing_url=self.landing_url or other.landing_url,
            referrer=self.referrer or other.referrer,
            utm=self.utm or other.utm,
            device=self.device or other.device,
            visitor=self.visitor or other.visitor,
            country=self.country or other.country,
            query_params=self.query_params | other.query_params,
            cookies=self.cookies | other.cookies,
            links=self.links | other.links,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, names sorted: what to tell the snippet to collect."""
        data: dict[str, Any] = msgspec.to_builtins(self)
        data["query_params"] = sorted(self.query_params)
        data["cookies"] = sorted(self.cookies)
        data["links"] = sorted(self.links)
        return data


NO_VISIT_NEEDS: Final = VisitNeeds()

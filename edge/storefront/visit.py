"""The visit of one `/v1/assign` (or `explain`) request: what the snippet sent plus what the edge
derives from the request itself (device from `User-Agent`, country from the CDN header).

Only what the site's live experiences read (`CompiledSite.visit_needs`) is built: a site that
targets only Klaviyo segments gets `EMPTY_VISIT` and pays one attribute check per request.

Device: `ua-parser` (with its Rust accelerator, `ua-parser-rs`) names the OS and the device
family; `device_class` turns that into mobile / tablet / desktop. The User-Agent is client
data, so one longer than `MAX_USER_AGENT` is not parsed (unknown), and `DeviceCache` remembers
only the small verdict per distinct User-Agent in a bounded map, so a repeat costs a dict lookup.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from typing import Final

from ua_parser import BestAvailableResolver, Parser, load_builtins

from edge.bounded import BoundedMap
from edge.storefront.wire import AssignRequest, VisitFields
from targeting import EMPTY_VISIT, Device, Visit, VisitNeeds

MAX_USER_AGENT: Final = 512
MAX_DEVICE_CACHE: Final = 10_000  # distinct User-Agents, the whole process (~1.2 MB at the bound)
_MOBILE_OS: Final = frozenset(
    {"iOS", "Android", "Windows Phone", "BlackBerry OS", "Symbian OS", "KaiOS", "Firefox OS"}
)
_DESKTOP_OS: Final = frozenset(
    {"Windows", "Mac OS X", "macOS", "Linux", "Ubuntu", "Chrome OS", "Fedora", "FreeBSD", "Debian"}
)
_TABLET_FAMILIES: Final = ("iPad", "Kindle", "Tablet", "Galaxy Tab", "Nexus 7", "Nexus 9", "Nexus 10")
_UNPARSED: Final = "unknown"


@functools.cache
def _parser() -> Parser:
    return Parser(BestAvailableResolver(load_builtins()))


def device_class(user_agent: str) -> Device | None:
    """Mobile, tablet or desktop for a User-Agent; None for crawlers and what cannot be told."""
    parser = _parser()
    device = parser.parse_device(user_agent)
    family = device.family if device is not None else "Other"
    if family == "Spider":
        return None
    if any(word in family for word in _TABLET_FAMILIES):
        return Device.TABLET
    os = parser.parse_os(user_agent)
    os_family = os.family if os is not None else "Other"
    if os_family == "Android":
        # Android tablets leave "Mobile" out of their User-Agent (Google's guidance to browsers).
        return Device.MOBILE if "Mobile" in user_agent else Device.TABLET
    if os_family in _MOBILE_OS or family in {"iPhone", "iPod"}:
        return Device.MOBILE
    if os_family in _DESKTOP_OS or family == "Mac":
        return Device.DESKTOP
    return None


class DeviceCache:
    """`device_class` per distinct User-Agent, bounded; one longer than `MAX_USER_AGENT` is
    unknown and never remembered."""

    __slots__ = ("_verdicts",)

    def __init__(self, max_entries: int = MAX_DEVICE_CACHE) -> None:
        self._verdicts: BoundedMap[str, str] = BoundedMap(max_entries)

    def __len__(self) -> int:
        return len(self._verdicts)

    def device(self, user_agent: str | None) -> str | None:
        if not user_agent or len(user_agent) > MAX_USER_AGENT:
            return None
        verdict = self._verdicts.get(user_agent)
        if verdict is None:
            found = device_class(user_agent)
            verdict = _UNPARSED if found is None else found.value
            self._verdicts.put(user_agent, verdict)
        return None if verdict == _UNPARSED else verdict


def header(headers: Sequence[tuple[bytes, bytes]], name: bytes) -> str | None:
    """The first value of header `name` (lower-case), decoded as latin-1."""
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None


def visit_digest(body: bytes, user_agent: str | None, country: str | None) -> bytes:
    """BLAKE2b-128 of everything a storefront request's visit is built from: the body (its
    fields, and the visitor id that says whether the visitor is new) and the headers
    the visit reads (None: not read). Equal digests, equal visits (for one process'
    settings), so a remembered visit signature can stand for building the visit again
    (`StorefrontMemo.answer`); the digest says nothing of what the client sent. Measured on
    bench.assign --site mixed's 1.5 kB bodies: ~1.5 µs, against ~20 µs to build the visit
    and work out its signature."""
    digest = hashlib.blake2b(len(body).to_bytes(4, "big"), digest_size=16)
    digest.update(body)
    for value in (user_agent, country):
        if value is None:
            digest.update(b"\x00")
        else:
            raw = value.encode("latin-1")
            digest.update(b"\x01" + len(raw).to_bytes(4, "big") + raw)
    return digest.digest()


def build_visit(
    needs: VisitNeeds,
    fields: VisitFields,
    *,
    url: str | None,
    user_agent: str | None,
    country: str | None,
    devices: DeviceCache,
    new_visitor: bool,
) -> Visit:
    """The `Visit` for what `needs` asks, from the body's visit `fields` and the request.

    `visitor` is the snippet's verdict (`new` / `returning`); a request that brought no visitor
    id (or one that was replaced) is a new visitor whatever it says."""
    if not needs.any:
        return EMPTY_VISIT
    utm = fields.utm if needs.utm and isinstance(fields.utm, dict) else None
    return Visit.from_request_fields(
        url=url if needs.url or needs.utm or needs.referrer else None,
        landing_url=fields.landing_url if needs.landing_url or needs.referrer else None,
        referrer=fields.referrer if needs.referrer else None,
        utm=utm,
        cookies=fields.cookies if needs.cookies else None,
        device=devices.device(user_agent) if needs.device else None,
        visitor=("new" if new_visitor else fields.visitor) if needs.visitor else None,
        country=country if needs.country else None,
        links=fields.links if needs.links else None,
    )


def request_visit(
    needs: VisitNeeds,
    request: AssignRequest,
    headers: Sequence[tuple[bytes, bytes]],
    *,
    url: str | None,
    country_header: bytes,
    devices: DeviceCache,
    new_visitor: bool,
) -> Visit:
    """`build_visit` for a storefront request: headers are read only when `needs` asks."""
    if not needs.any:
        return EMPTY_VISIT
    return build_visit(
        needs,
        request,
        url=url,
        user_agent=header(headers, b"user-agent") if needs.device else None,
        country=header(headers, country_header) if needs.country else None,
        devices=devices,
        new_visitor=new_visitor,
    )

"""`bench.assign --site mixed`: bench/decisions.py's mixed site (segment and visit conditions)
and its visitors, in the shapes bench/assign.py uses (issue 19).

The people are `mixed_visitors`'; their request fields become what the snippet sends in a
`/v1/assign` body (`url`, `landing_url`, `referrer`, `utm`, `cookies`, `visitor`: see
edge/storefront/wire.py), on the bench's allowed origin instead of `https://shop.example`. The
device is not a body field: kx-edge reads it from the `User-Agent` header
(edge/storefront/visit.py), so each person's device becomes a browser's User-Agent of that
class. The first `identified` people keep their `_kx` and segments; the others are anonymous,
like bench.assign's 30%. Kept apart from bench/assign.py, which imports nothing from here at
module level but this module's names, and this module imports nothing from it.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from typing import Any, NamedTuple

from bench.decisions import mixed_site_documents, mixed_visitors
from edge.storefront.visit import device_class
from sandbox import demo_kx
from targeting import EMPTY_VISIT, Visit

SITE_SEED = 20240612  # bench.decisions' mixed site
_SNIPPET_FIELDS = ("landing_url", "referrer", "utm", "cookies", "visitor")
_DECISIONS_HOST = "https://shop.example"
USER_AGENTS: dict[str, str] = {
    "desktop": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0 Safari/537.36",
    "mobile": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "tablet": "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
}
# The first-visit scenario's visit (its User-Agent is bench.assign's desktop browser): a
# summer-sale campaign from Facebook's paid social, a new visitor with the consent cookie.
FIRST_VISIT_FIELDS: dict[str, Any] = {
    "landing_url": "https://shop.example.com/",
    "referrer": "https://m.facebook.com/",
    "utm": {"utm_source": "facebook", "utm_medium": "paid_social", "utm_campaign": "summer-sale"},
    "cookies": {"consent": "granted"},
    "visitor": "new",
}
SITE_LINE = (
    "site: bench.decisions' mixed site, 6 live experiences (5 tests, 1 personalization) mixing "
    "klaviyo_segment and visit conditions (utm_campaign, traffic_source, device, visitor, cookie, url, "
    "landing_url), two tests in an exclusion group; return-visit bodies carry each visitor's landing_url, "
    "referrer, utm, cookies and visitor, and a User-Agent of its device; first visits carry utm_campaign "
    "summer-sale from Facebook paid social, visitor new, the consent cookie, a desktop User-Agent"
)


class MixedPerson(NamedTuple):
    """bench.assign's `Visitor` fields, in its order."""

    visitor_id: str
    kx: str | None
    segments: frozenset[str]
    url: str
    fields: dict[str, Any]
    user_agent: str | None


def mixed_site(
    identified: int, anonymous: int, origin: str
) -> tuple[list[dict[str, Any]], list[MixedPerson]]:
    """The mixed site's documents and its people, the first `identified` of them identified."""
    rng = random.Random(SITE_SEED)
    docs = mixed_site_documents(rng)
    people = []
    for n, (vid, identity, fields, _, _) in enumerate(mixed_visitors(rng, identified + anonymous)):
        known = n < identified
        body = {key: fields[key] for key in _SNIPPET_FIELDS}
        body["landing_url"] = body["landing_url"].replace(_DECISIONS_HOST, origin, 1)
        people.append(
            MixedPerson(
                vid,
                demo_kx(f"assign-bench-{n}@example.com") if known else None,
                identity.segments if known else frozenset(),
                fields["url"].replace(_DECISIONS_HOST, origin, 1),
                body,
                USER_AGENTS[fields["device"]],
            )
        )
    random.Random(7).shuffle(people)
    return docs, people


def request_visit(url: str, fields: Mapping[str, Any], user_agent: str | None) -> Visit:
    """The visit kx-edge builds from such a body and User-Agent (EMPTY_VISIT without either)."""
    if not fields and user_agent is None:
        return EMPTY_VISIT
    device = device_class(user_agent) if user_agent else None
    return Visit.from_request_fields(
        url=url, device=device.value if device else None, **{k: fields.get(k) for k in _SNIPPET_FIELDS}
    )


def body_suffix(fields: Mapping[str, Any]) -> str:
    """`fields` as the tail of a JSON object (`,"k":v,...`), to append inside a body's braces."""
    return "," + json.dumps(fields, separators=(",", ":"))[1:-1] if fields else ""

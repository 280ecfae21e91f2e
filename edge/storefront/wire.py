"""The storefront's request and response bodies, decoded and encoded by msgspec."""

from __future__ import annotations

import re
import secrets

import msgspec
from msgspec import UNSET, UnsetType

from edge.config_api.change_documents import Changes
from edge.web.http import JsonDecoder

# Any id a merchant already has (`12345678`, `cust-4242`, a Shopify customer id): GrowthBook
# buckets any string, and this charset needs no escaping in JSON, headers or logs.
VISITOR_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,128}$"
_VISITOR_ID = re.compile(VISITOR_ID_PATTERN)
MAX_URL_CHARS = 2048


class VisitFields(msgspec.Struct, kw_only=True):
    """What the snippet collects about the visit, for the site's live experiences only
    (docs/audiences.md). Every field is optional; a value over its bound or malformed is dropped
    by `targeting.Visit.from_request_fields` (unknown, which matches no condition), never cut.

    `landing_url`, `referrer`: the session's first page and its referrer (`""`: none), kept by
    the snippet in sessionStorage; `utm`: the session's `utm_*` parameters; `cookies`: the
    first-party cookies conditions name; `visitor`: `new` or `returning` (the snippet's verdict:
    returning when the visitor id cookie predates this session); `links`: link-based
    personalizations' parameters the visitor arrived with (`{"kx_offer": "spring"}`), kept by
    the snippet in localStorage for as long as they are asked for."""

    landing_url: str | None = None
    referrer: str | None = None
    utm: dict[str, str] | None = None
    cookies: dict[str, str] | None = None
    visitor: str | None = None
    links: dict[str, str] | None = None


class AssignRequest(VisitFields, kw_only=True):
    """Unknown fields are ignored (not rejected) so newer snippets keep working against us."""

    visitor_id: str | None = None
    kx: str | None = None
    sticky: str | None = None
    url: str | None = None


class ExperienceOut(msgspec.Struct):
    id: str
    type: str
    status: str
    entered: bool
    variation_id: str | None
    is_control: bool
    reason: str
    changes: Changes | UnsetType = UNSET  # the shown variation's, when it has any


class AssignResponse(msgspec.Struct):
    visitor_id: str
    identity: str
    retry_after_ms: int | None
    warnings: list[str]
    experiences: list[ExperienceOut]
    sticky: str


class PreviewAnswer(msgspec.Struct):
    """`GET /v1/preview`: the element the snippet applies over the normal answer."""

    experience: ExperienceOut


decode_request = JsonDecoder(AssignRequest)
response_encoder = msgspec.json.Encoder()


def valid_visitor_id(value: str | None) -> bool:
    """1-128 characters of `[A-Za-z0-9_.:-]`; anything else is replaced (`visitor_id_replaced`)."""
    return value is not None and _VISITOR_ID.fullmatch(value) is not None


def new_visitor_id() -> str:
    """For a new visitor: 128 random bits, URL-safe (22 characters)."""
    return secrets.token_urlsafe(16)

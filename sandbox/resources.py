"""Records rendered as the JSON:API resources of Klaviyo's OpenAPI spec (what the SDK parses)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from starlette.requests import Request

from sandbox.jsonapi import absolute, self_link, with_cursor
from sandbox.querying import encode_cursor
from sandbox.records import Account, Profile, Segment, iso

PROFILE_ATTRIBUTES = (
    "email",
    "phone_number",
    "external_id",
    "first_name",
    "last_name",
    "organization",
    "locale",
    "title",
    "image",
    "created",
    "updated",
    "last_event_date",
    "location",
    "properties",
    "subscriptions",
    "predictive_analytics",
)
MEMBER_ATTRIBUTES = (*PROFILE_ATTRIBUTES, "joined_group_at")
SEGMENT_ATTRIBUTES = (
    "name",
    "definition",
    "created",
    "updated",
    "is_active",
    "is_processing",
    "is_starred",
)
_LOCATION_KEYS = (
    "address1",
    "address2",
    "city",
    "country",
    "latitude",
    "longitude",
    "region",
    "zip",
    "timezone",
    "ip",
)

Resource = dict[str, Any]


def _sparse(attributes: Mapping[str, Any], fields: frozenset[str] | None) -> dict[str, Any]:
    return dict(attributes) if fields is None else {k: v for k, v in attributes.items() if k in fields}


def _relationship(request: Request, base: str, name: str) -> dict[str, Any]:
    return {
        "links": {
            "self": absolute(request, f"{base}relationships/{name}/"),
            "related": absolute(request, f"{base}{name}/"),
        }
    }


def account_resource(request: Request, account: Account) -> Resource:
    address = account.street_address
    return {
        "type": "account",
        "id": account.id,
        "attributes": {
            "test_account": account.test_account,
            "contact_information": {
                "default_sender_name": account.default_sender_name,
                "default_sender_email": account.default_sender_email,
                "website_url": account.website_url,
                "organization_name": account.organization_name,
                "street_address": {
                    "address1": address.address1,
                    "address2": address.address2,
                    "city": address.city,
                    "region": address.region,
                    "country": address.country,
                    "zip": address.zip,
                },
            },
            "industry": account.industry,
            "timezone": account.timezone,
            "preferred_currency": account.preferred_currency,
            "public_api_key": account.id,
            "locale": account.locale,
        },
        "links": {"self": absolute(request, f"/api/accounts/{account.id}/")},
    }


def profile_resource(
    request: Request,
    profile: Profile,
    fields: frozenset[str] | None = None,
    *,
    joined_group_at: float | None = None,
) -> Resource:
    """A profile; with `joined_group_at` it is a segment member (the members endpoint)."""
    attributes: dict[str, Any] = {
        "email": profile.email,
        "phone_number": profile.phone_number,
        "external_id": profile.external_id,
        "first_name": profile.first_name,
        "last_name": profile.last_name,
        "organization": None,
        "locale": None,
        "title": None,
        "image": None,
        "created": iso(profile.created),
        "updated": iso(profile.updated),
        "last_event_date": None,
        "location": dict.fromkeys(_LOCATION_KEYS),
        "properties": dict(profile.properties),
    }
    if joined_group_at is not None:
        attributes["joined_group_at"] = iso(joined_group_at)
    base = f"/api/profiles/{profile.id}/"
    return {
        "type": "profile",
        "id": profile.id,
        "attributes": _sparse(attributes, fields),
        "relationships": {
            "lists": _relationship(request, base, "lists"),
            "segments": _relationship(request, base, "segments"),
        },
        "links": {"self": absolute(request, base)},
    }


def segment_resource(request: Request, segment: Segment, fields: frozenset[str] | None = None) -> Resource:
    attributes = {
        "name": segment.name,
        "created": iso(segment.created),
        "updated": iso(segment.updated),
        "is_active": segment.is_active,
        "is_processing": segment.is_processing,
        "is_starred": segment.is_starred,
    }
    base = f"/api/segments/{segment.id}/"
    return {
        "type": "segment",
        "id": segment.id,
        "attributes": _sparse(attributes, fields),
        "relationships": {
            "profiles": _relationship(request, base, "profiles"),
            "tags": _relationship(request, base, "tags"),
        },
        "links": {"self": absolute(request, base)},
    }


def identifier(kind: str, record_id: str) -> Resource:
    return {"type": kind, "id": record_id}


def collection(
    request: Request,
    data: Iterable[Resource],
    *,
    next_key: str | None = None,
    included: list[Resource] | None = None,
) -> dict[str, Any]:
    """A collection document; `next_key` (the last key of this page) makes `links.next`."""
    links = {"self": self_link(request)}
    if next_key is not None:
        links["next"] = with_cursor(request, encode_cursor(next_key))
    body: dict[str, Any] = {"data": list(data), "links": links}
    if included is not None:
        body["included"] = included
    return body

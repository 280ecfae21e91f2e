"""The JSON:API shapes we read, decoded with msgspec. Unknown fields are ignored."""

from __future__ import annotations

import msgspec


class Links(msgspec.Struct, frozen=True):
    next: str | None = None


class ResourceId(msgspec.Struct, frozen=True):
    type: str
    id: str


class IdPage(msgspec.Struct, frozen=True):
    """A collection or relationship answer read for its ids only."""

    data: list[ResourceId]
    links: Links | None = None


class MemberPage(msgspec.Struct, frozen=True):
    """One page of a segment's member profile ids, and the link to the next page (None: last)."""

    profile_ids: list[str]
    next_url: str | None = None


class SegmentAttributes(msgspec.Struct, frozen=True):
    name: str = ""
    is_active: bool = True
    is_starred: bool = False
    is_processing: bool = False
    created: str | None = None
    updated: str | None = None


class SegmentResource(msgspec.Struct, frozen=True):
    id: str
    attributes: SegmentAttributes = SegmentAttributes()


class SegmentPage(msgspec.Struct, frozen=True):
    data: list[SegmentResource]
    links: Links | None = None


class ContactInformation(msgspec.Struct, frozen=True):
    organization_name: str = ""


class AccountAttributes(msgspec.Struct, frozen=True):
    contact_information: ContactInformation = ContactInformation()
    test_account: bool = False


class AccountResource(msgspec.Struct, frozen=True):
    id: str
    attributes: AccountAttributes = AccountAttributes()


class AccountPage(msgspec.Struct, frozen=True):
    data: list[AccountResource]


class KlaviyoAccount(msgspec.Struct, frozen=True):
    """The connected account, as the connect flow and the config API need it."""

    id: str
    organization_name: str
    test_account: bool = False


class KlaviyoSegment(msgspec.Struct, frozen=True):
    """One segment of the account, as the merchant UI lists it."""

    id: str
    name: str
    is_active: bool
    is_starred: bool

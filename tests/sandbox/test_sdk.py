"""Klaviyo's official Python SDK against the fake over TLS: every answer must parse into the
SDK's models (generated from Klaviyo's OpenAPI spec). Where they disagree, the fake is wrong."""

from __future__ import annotations

import importlib
import json
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from klaviyo_api import KlaviyoAPI
from openapi_client import rest
from openapi_client.exceptions import NotFoundException

from sandbox import (
    DEMO_ACCOUNT_ID,
    DEMO_PEOPLE,
    SandboxState,
    demo_segment_id,
    demo_state,
    serve_fake_klaviyo,
)
from sandbox.records import Profile
from tests.sandbox.support import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, basic, pkce_pair, read_form

# openapi_client ships types but does not re-export its models: read them untyped.
models: Any = importlib.import_module("openapi_client.models")

SCOPES = "accounts:read profiles:read segments:read events:write"
AVA, DANIEL = DEMO_PEOPLE[0], DEMO_PEOPLE[3]
VIP = demo_segment_id("VIP")


def oauth_access_token(base_url: str, ca_file: Path) -> str:
    """Connect through the fake's consent page and token endpoint, over TLS."""
    verifier, challenge = pkce_pair()
    params = {
        "response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI,
        "scope": SCOPES, "state": "s", "code_challenge_method": "S256", "code_challenge": challenge,
    }  # fmt: skip
    verify = ssl.create_default_context(cafile=str(ca_file))
    with httpx.Client(base_url=base_url, verify=verify) as http:
        form = read_form(http.get("/oauth/authorize", params=params).text)
        allowed = http.post(form.action, data={**form.fields, "decision": "allow"})
        code = parse_qs(urlsplit(allowed.headers["location"]).query)["code"][0]
        data = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier,
                "redirect_uri": REDIRECT_URI}  # fmt: skip
        tokens = http.post("/oauth/token", data=data, headers={"Authorization": basic()}).json()
    token: str = tokens["access_token"]
    return token


@pytest.fixture(scope="module")
def sandbox() -> Iterator[tuple[SandboxState, KlaviyoAPI]]:
    state = demo_state(CLIENT_ID, CLIENT_SECRET, REDIRECT_URI)
    for i in range(15):  # two pages of segments
        state.add_segment(DEMO_ACCOUNT_ID, f"Extra {i:02d}")
    extra = [state.add_profile(DEMO_ACCOUNT_ID, email=f"m{i}@example.com") for i in range(150)]
    state.add_members(VIP, {p.id: 1_760_000_000.0 + i for i, p in enumerate(extra)})
    with serve_fake_klaviyo(state, tls=True) as server:
        assert server.ca_file is not None
        token = oauth_access_token(server.base_url, server.ca_file)
        sdk = KlaviyoAPI(api_key=None, access_token=token, test_host=server.base_url, max_retries=1)
        # The SDK builds its urllib3 pool at construction: trust the fake's CA, then rebuild it.
        sdk.configuration.ssl_ca_cert = str(server.ca_file)
        sdk.api_client.rest_client = rest.RESTClientObject(sdk.configuration)
        yield state, sdk
        sdk.api_client.rest_client.pool_manager.clear()  # let the server shut down at once


def test_sdk_parses_accounts(sandbox: tuple[SandboxState, KlaviyoAPI]) -> None:
    _, sdk = sandbox
    answer = sdk.Accounts.get_accounts()
    assert isinstance(answer, models.GetAccountResponseCollection)
    [account] = answer.data
    assert account.id == DEMO_ACCOUNT_ID
    assert account.attributes.contact_information.organization_name == "Sandbox Outfitters"
    assert account.attributes.contact_information.street_address.city


def test_sdk_parses_profiles_found_by_kx(sandbox: tuple[SandboxState, KlaviyoAPI]) -> None:
    _, sdk = sandbox
    found = sdk.Profiles.get_profiles(filter=f"equals(_kx,{json.dumps(AVA.kx)})")
    assert isinstance(found, models.GetProfileResponsePluralConversationsCollectionCompoundDocument)
    assert [p.id for p in found.data] == [AVA.profile_id]
    assert found.data[0].attributes.email == AVA.email
    sparse: Any = sdk.Profiles.get_profiles(
        filter=f"equals(_kx,{json.dumps(AVA.kx)})", fields_profile=["id"], page_size=1
    )  # with sparse fields the SDK answers plain dicts
    assert [p["id"] for p in sparse["data"]] == [AVA.profile_id]
    none = sdk.Profiles.get_profiles(filter='equals(_kx,"QUJD==.none00")')
    assert none.data == []


def test_sdk_parses_a_profiles_segments(sandbox: tuple[SandboxState, KlaviyoAPI]) -> None:
    _, sdk = sandbox
    ids = sdk.Profiles.get_segment_ids_for_profile(DANIEL.profile_id)
    assert isinstance(ids, models.GetProfileSegmentsRelationshipsResponseCollection)
    expected = {demo_segment_id("Wholesale"), demo_segment_id("Lapsed")}
    assert {s.id for s in ids.data} == expected
    full = sdk.Profiles.get_segments_for_profile(DANIEL.profile_id)
    assert isinstance(full, models.GetSegmentResponseCollection)
    assert {s.attributes.name for s in full.data} == {"Wholesale", "Lapsed"}
    one = sdk.Profiles.get_profile(DANIEL.profile_id, include=["segments"])
    assert isinstance(one, models.GetProfileResponsePluralConversationsCompoundDocument)
    assert {s.id for s in one.data.relationships.segments.data} == expected


def test_sdk_follows_segment_pages(sandbox: tuple[SandboxState, KlaviyoAPI]) -> None:
    state, sdk = sandbox
    names: list[str] = []
    cursor: str | None = None
    while True:
        page = sdk.Segments.get_segments(page_cursor=cursor)  # the SDK takes links.next whole
        assert isinstance(page, models.GetSegmentListResponseCollectionCompoundDocument)
        names += [s.attributes.name for s in page.data]
        cursor = page.links.next
        if not cursor:
            break
    assert len(names) == len(state.segments(DEMO_ACCOUNT_ID)) == 19
    starred = sdk.Segments.get_segments(filter="equals(is_starred,true)")
    assert sorted(s.attributes.name for s in starred.data) == ["VIP", "Wholesale"]


def test_sdk_parses_segment_members(sandbox: tuple[SandboxState, KlaviyoAPI]) -> None:
    state, sdk = sandbox
    ids: list[str] = []
    cursor: str | None = None
    while True:
        page = sdk.Segments.get_profile_ids_for_segment(VIP, page_size=100, page_cursor=cursor)
        assert isinstance(page, models.GetSegmentProfilesRelationshipsResponseCollection)
        ids += [m.id for m in page.data]
        cursor = page.links.next
        if not cursor:
            break
    assert ids == [pid for _, pid in state.member_order(VIP)]
    members = sdk.Segments.get_profiles_for_segment(VIP, sort="-joined_group_at", page_size=5)
    assert isinstance(members, models.GetSegmentMemberResponseCollection)
    joined = [m.attributes.joined_group_at for m in members.data]
    assert joined == sorted(joined, reverse=True)
    one = sdk.Segments.get_profiles_for_segment(VIP, filter=f"equals(_kx,{json.dumps(AVA.kx)})")
    assert [m.id for m in one.data] == [AVA.profile_id]


def test_sdk_sends_events_the_fake_accepts(sandbox: tuple[SandboxState, KlaviyoAPI]) -> None:
    state, sdk = sandbox
    body = {"data": {"type": "event", "attributes": {
        "properties": {"Experience": "exp-1", "Variation": "B"}, "unique_id": "sdk-1",
        "metric": {"data": {"type": "metric", "attributes": {"name": "Entered Test"}}},
        "profile": {"data": {"type": "profile", "attributes": {
            "_kx": AVA.kx, "properties": {"kx_last_variation": "B"}}}},
    }}}  # fmt: skip
    assert sdk.Events.create_event(models.EventCreateQueryV2.from_dict(body)) is None
    bulk = {"data": {"type": "event-bulk-create-job", "attributes": {"events-bulk-create": {"data": [
        {"type": "event-bulk-create", "attributes": {
            "profile": {"data": {"type": "profile", "attributes": {"email": DANIEL.email}}},
            "events": {"data": [{"type": "event", "attributes": {
                "properties": {"Variation": "A"}, "unique_id": "sdk-bulk-1",
                "metric": {"data": {"type": "metric", "attributes": {"name": "Saw Personalization"}}},
            }}]},
        }},
    ]}}}}  # fmt: skip
    assert sdk.Events.bulk_create_events(models.EventsBulkCreateJob.from_dict(bulk)) is None
    sent = state.events(metric_name="Entered Test")
    assert [(e.profile_id, e.unique_id) for e in sent] == [(AVA.profile_id, "sdk-1")]
    assert sent[0].backfill is False  # the SDK sends backfill: false
    [bulk_event] = state.events(metric_name="Saw Personalization")
    assert bulk_event.profile_id == DANIEL.profile_id
    ava = state.profile(AVA.profile_id)
    assert isinstance(ava, Profile)
    assert ava.properties["kx_last_variation"] == "B"


def test_sdk_parses_the_fakes_errors(sandbox: tuple[SandboxState, KlaviyoAPI]) -> None:
    _, sdk = sandbox
    with pytest.raises(NotFoundException) as raised:
        sdk.Profiles.get_segment_ids_for_profile("01NOSUCHPROFILE")
    parsed = models.GetAccounts4XXResponse.from_json(raised.value.body)
    assert parsed is not None
    assert parsed.errors[0].code == "not_found"

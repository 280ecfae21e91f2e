"""The OAuth flow over a real socket: consent page, code, PKCE exchange, refresh, revoke."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from sandbox import DEMO_ACCOUNT_ID, SandboxState, demo_state, running_fake_klaviyo
from tests.sandbox.support import (
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT_URI,
    REVISION,
    FakeClock,
    basic,
    pkce_pair,
    read_form,
)

SCOPE = "accounts:read profiles:read segments:read"


@dataclass
class Live:
    state: SandboxState
    http: httpx.Client
    clock: FakeClock


@pytest.fixture
def live() -> Iterator[Live]:
    clock = FakeClock()
    state = demo_state(CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, clock=clock)
    with running_fake_klaviyo(state) as url, httpx.Client(base_url=url) as http:
        yield Live(state, http, clock)


def authorize_params(challenge: str, **overrides: str) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "scope": SCOPE,
        "state": "st-123",
        "code_challenge_method": "S256",
        "code_challenge": challenge,
    }
    params.update(overrides)
    return params


def callback(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def consent(live: Live, challenge: str, decision: str, **extra: str) -> dict[str, str]:
    """Open the consent page and press one of its buttons, as a merchant would."""
    page = live.http.get("/oauth/authorize", params=authorize_params(challenge))
    assert page.status_code == 200
    form = read_form(page.text)
    assert decision in form.buttons["decision"]
    submitted = live.http.post(form.action, data={**form.fields, "decision": decision, **extra})
    return callback(submitted)


def exchange(live: Live, code: str, verifier: str, **overrides: str) -> httpx.Response:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "code_verifier": verifier,
        "redirect_uri": REDIRECT_URI,
    }
    data.update(overrides)
    return live.http.post("/oauth/token", data=data, headers={"Authorization": basic()})


def refresh(live: Live, token: str) -> httpx.Response:
    data = {"grant_type": "refresh_token", "refresh_token": token}
    return live.http.post("/oauth/token", data=data, headers={"Authorization": basic()})


def accounts(live: Live, access_token: str) -> httpx.Response:
    headers = {"revision": REVISION, "Authorization": f"Bearer {access_token}"}
    return live.http.get("/api/accounts", headers=headers)


def connected(live: Live) -> dict[str, str]:
    verifier, challenge = pkce_pair()
    code = consent(live, challenge, "allow")["code"]
    response = exchange(live, code, verifier)
    assert response.status_code == 200, response.text
    tokens: dict[str, str] = response.json()
    return tokens


def test_should_connect_end_to_end_through_the_consent_page(live: Live) -> None:
    verifier, challenge = pkce_pair()
    page = live.http.get("/oauth/authorize", params=authorize_params(challenge))
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    for text in ("accounts:read", "profiles:read", "segments:read", "Sandbox Outfitters"):
        assert text in page.text
    form = read_form(page.text)
    assert form.method == "post"
    assert form.buttons == {"decision": ["allow", "deny"]}

    answer = callback(live.http.post(form.action, data={**form.fields, "decision": "allow"}))
    assert answer["state"] == "st-123"
    token = exchange(live, answer["code"], verifier)
    assert token.status_code == 200
    body = token.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == SCOPE
    assert body["refresh_token"]

    response = accounts(live, body["access_token"])
    assert response.status_code == 200
    assert response.json()["data"][0]["id"] == DEMO_ACCOUNT_ID
    assert live.state.calls.count("/oauth/token", status=200) == 1
    assert live.state.calls.count("/api/accounts", account_id=DEMO_ACCOUNT_ID) == 1


def test_should_redirect_access_denied_when_the_merchant_declines(live: Live) -> None:
    _, challenge = pkce_pair()
    answer = consent(live, challenge, "deny")
    assert answer["error"] == "access_denied"
    assert answer["error_description"]
    assert answer["state"] == "st-123"
    assert "code" not in answer


def test_should_let_the_merchant_pick_the_account(live: Live) -> None:
    other = live.state.add_account("Second Store", account_id="Second")
    verifier, challenge = pkce_pair()
    page = live.http.get("/oauth/authorize", params=authorize_params(challenge))
    form = read_form(page.text)
    assert form.selects["account_id"] == [DEMO_ACCOUNT_ID, other.id]
    submitted = live.http.post(form.action, data={**form.fields, "decision": "allow", "account_id": other.id})
    tokens = exchange(live, callback(submitted)["code"], verifier).json()
    assert accounts(live, tokens["access_token"]).json()["data"][0]["id"] == "Second"


@pytest.mark.parametrize(
    ("params", "what"),
    [
        ({"client_id": "nobody"}, "Unknown app"),
        ({"redirect_uri": "https://evil.example/steal"}, "Invalid redirect"),
        ({"redirect_uri": REDIRECT_URI + "/extra"}, "Invalid redirect"),
    ],
)
def test_should_never_redirect_for_an_unknown_client_or_redirect(
    live: Live, params: dict[str, str], what: str
) -> None:
    _, challenge = pkce_pair()
    response = live.http.get("/oauth/authorize", params=authorize_params(challenge, **params))
    assert response.status_code == 400
    assert "location" not in response.headers
    assert what in response.text


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"code_challenge": ""}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"scope": ""}, "invalid_scope"),
        ({"scope": "everything"}, "invalid_scope"),
    ],
)
def test_should_redirect_errors_for_bad_authorize_requests(
    live: Live, params: dict[str, str], error: str
) -> None:
    _, challenge = pkce_pair()
    response = live.http.get("/oauth/authorize", params=authorize_params(challenge, **params))
    answer = callback(response)
    assert answer["error"] == error
    assert answer["state"] == "st-123"


def test_should_refuse_every_bad_token_request(live: Live) -> None:
    verifier, challenge = pkce_pair()
    code = consent(live, challenge, "allow")["code"]
    form = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier}
    form["redirect_uri"] = REDIRECT_URI

    def post(data: dict[str, str], authorization: str = basic()) -> httpx.Response:
        return live.http.post("/oauth/token", data=data, headers={"Authorization": authorization})

    for authorization in (basic(secret="wrong"), basic(client_id="nobody"), "Basic !!!", "Bearer x"):
        refused = post(form, authorization)
        assert (refused.status_code, refused.json()["error"]) == (401, "invalid_client")
    assert live.http.post("/oauth/token", data=form).json()["error"] == "invalid_client"

    def error_of(**changes: str) -> tuple[int, str]:
        response = post({**form, **changes})
        return response.status_code, response.json()["error"]

    assert error_of(code_verifier="short") == (400, 'Invalid "code_verifier"')
    assert error_of(code_verifier=pkce_pair()[0]) == (400, "Code challenge failed.")
    assert error_of(redirect_uri=REDIRECT_URI + "/other") == (400, "invalid_grant")
    assert error_of(grant_type="password") == (400, "invalid_grant_type")
    assert error_of(grant_type="") == (400, "invalid_grant_type")
    assert error_of(code="unknown") == (400, "invalid_grant")

    assert post(form).status_code == 200  # the code still works after the failed attempts...
    assert error_of() == (400, "invalid_grant")  # ...exactly once


def test_should_refuse_a_json_token_body_as_klaviyo_does(live: Live) -> None:
    response = live.http.post(
        "/oauth/token",
        json={"grant_type": "refresh_token", "refresh_token": "x"},
        headers={"Authorization": basic()},
    )
    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant_type")


def test_should_expire_codes(live: Live) -> None:
    verifier, challenge = pkce_pair()
    code = consent(live, challenge, "allow")["code"]
    live.clock.advance(live.state.oauth.code_ttl_s + 1)
    assert exchange(live, code, verifier).json()["error"] == "invalid_grant"


def test_should_rotate_refresh_tokens(live: Live) -> None:
    first = connected(live)
    second = refresh(live, first["refresh_token"])
    assert second.status_code == 200
    rotated = second.json()
    assert rotated["refresh_token"] != first["refresh_token"]
    assert rotated["access_token"] != first["access_token"]
    assert rotated["scope"] == SCOPE
    reused = refresh(live, first["refresh_token"])
    assert (reused.status_code, reused.json()) == (
        400,
        {"error": "invalid_grant", "error_description": reused.json()["error_description"]},
    )
    assert refresh(live, rotated["refresh_token"]).status_code == 200


def test_should_keep_the_refresh_token_when_rotation_is_off(live: Live) -> None:
    live.state.oauth.rotate_refresh_tokens = False
    first = connected(live)
    again = refresh(live, first["refresh_token"]).json()
    assert again["refresh_token"] == first["refresh_token"]
    assert refresh(live, first["refresh_token"]).status_code == 200


def test_should_answer_401_once_the_access_token_expires_and_refresh_fixes_it(live: Live) -> None:
    tokens = connected(live)
    live.clock.advance(3600)
    assert accounts(live, tokens["access_token"]).status_code == 401
    renewed = refresh(live, tokens["refresh_token"]).json()
    assert accounts(live, renewed["access_token"]).status_code == 200
    live.state.expire_access_tokens()
    assert accounts(live, renewed["access_token"]).status_code == 401


def test_should_revoke_the_installation(live: Live) -> None:
    tokens = connected(live)
    data = {"token": tokens["refresh_token"], "token_type_hint": "refresh_token"}
    unauthenticated = live.http.post("/oauth/revoke", data=data)
    assert unauthenticated.status_code == 401
    revoked = live.http.post("/oauth/revoke", data=data, headers={"Authorization": basic()})
    assert revoked.status_code == 200
    after = refresh(live, tokens["refresh_token"])
    assert (after.status_code, after.json()["error"]) == (400, "invalid_grant")
    assert accounts(live, tokens["access_token"]).status_code == 401


def test_should_fail_refresh_after_uninstall_or_ninety_idle_days(live: Live) -> None:
    tokens = connected(live)
    live.state.uninstall(DEMO_ACCOUNT_ID)
    assert refresh(live, tokens["refresh_token"]).json()["error"] == "invalid_grant"
    idle = connected(live)
    live.clock.advance(90 * 86400 + 1)
    assert refresh(live, idle["refresh_token"]).json()["error"] == "invalid_grant"


def test_should_skip_the_page_when_auto_approving(live: Live) -> None:
    live.state.oauth.auto_approve = True
    verifier, challenge = pkce_pair()
    answer = callback(live.http.get("/oauth/authorize", params=authorize_params(challenge)))
    assert exchange(live, answer["code"], verifier).status_code == 200

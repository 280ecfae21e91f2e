"""`POST /v1/assign` through the ASGI app, with a scripted resolver at the Klaviyo boundary."""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from edge.app import create_app
from edge.ops.logs import request_id_var
from edge.resolver.results import Identified, Pending, Resolution
from edge.settings import Settings
from edge.web.request_ids import worker_of
from klaviyo.types import ConnectionRef
from tests.apps import app_client, connect_directly, create_site, make_settings, put_experience, services_of
from tests.edge.scripted_resolver import ScriptedResolver
from tests.targeting.factories import doc, seg

SHOP = "https://shop.example.com"
VIP_KX = "VIPVIPVIPVIPVIPV==.abc123"
WHOLESALE_KX = "WHOLESALEWHOLESA==.def456"
UNKNOWN_KX = "NOBODYNOBODYNOBO==.ghi789"
PENDING_KX = "SLOWSLOWSLOWSLOW==.jkl012"


@pytest.fixture
def resolver() -> ScriptedResolver:
    return ScriptedResolver(
        {
            VIP_KX: Identified(frozenset({"VIP"})),
            WHOLESALE_KX: Identified(frozenset({"Wholesale"})),
            PENDING_KX: Pending(retry_after_ms=400),
        }
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, assign_max_body_bytes=1024)


FREE_SHIPPING = doc(
    "free-shipping",
    type="personalization",
    rules={"any": [seg("VIP")]},
    variation_ids=("no-banner", "banner"),
)
CUSTOM_TEST = doc("custom-test", rules={"all": [seg("Wholesale")]}, variation_ids=("control", "bulk-pricing"))
ADVANCED_TEST = doc(
    "advanced-test",
    audiences=[{"rules": {"any": [seg("VIP")]}, "action": "assign", "variation_id": "vip-offer"}],
    variation_ids=("control", "vip-offer"),
)
EVERYONE_TEST = doc("everyone", variation_ids=("control", "b"), weights=(1, 1))


@pytest.fixture
async def shop(
    settings: Settings, resolver: ScriptedResolver
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, Any]]]:
    async with app_client(create_app(settings, resolver=resolver)) as client:
        site = await create_site(client, settings, origins=[SHOP])
        for body in (FREE_SHIPPING, CUSTOM_TEST, ADVANCED_TEST, EVERYONE_TEST):
            await put_experience(client, site["id"], body)
        await connect_directly(client, site["id"])
        yield client, site


async def _assign(
    client: httpx.AsyncClient, site: dict[str, Any], body: dict[str, Any] | bytes, **headers: str
) -> httpx.Response:
    content = body if isinstance(body, bytes) else httpx.Request("POST", "/", json=body).content
    return await client.post(
        f"/v1/assign?site={site['public_key']}",
        content=content,
        headers={"content-type": "text/plain;charset=UTF-8", **headers},
    )


def _by_id(response: httpx.Response) -> dict[str, dict[str, Any]]:
    return {e["id"]: e for e in response.json()["experiences"]}


async def test_a_new_visitor_gets_an_id_and_every_live_experience(
    shop: tuple[httpx.AsyncClient, dict[str, Any]],
) -> None:
    client, site = shop
    response = await _assign(client, site, {"url": "https://shop.example.com/"})
    assert response.status_code == 200
    body = response.json()
    assert len(body["visitor_id"]) == 22
    assert body["identity"] == "unidentified"
    assert body["retry_after_ms"] is None
    assert body["warnings"] == []
    assert set(_by_id(response)) == {"free-shipping", "custom-test", "advanced-test", "everyone"}
    assert body["sticky"]
    assert response.headers["cache-control"] == "no-store"
    other = await _assign(client, site, {})
    assert other.json()["visitor_id"] != body["visitor_id"]


async def test_an_identified_vip_sees_the_personalization(
    shop: tuple[httpx.AsyncClient, dict[str, Any]], resolver: ScriptedResolver
) -> None:
    client, site = shop
    response = await _assign(client, site, {"visitor_id": "v" * 22, "kx": VIP_KX})
    assert response.json()["identity"] == "identified"
    decisions = _by_id(response)
    assert decisions["free-shipping"] == {
        "id": "free-shipping", "type": "personalization", "status": "decided", "entered": True,
        "variation_id": "banner", "is_control": False, "reason": "rules_matched",
    }  # fmt: skip
    assert decisions["advanced-test"]["variation_id"] == "vip-offer"
    assert decisions["advanced-test"]["reason"] == "assigned"
    assert decisions["custom-test"]["entered"] is False  # VIP is not Wholesale
    conn, kx, targeted = resolver.calls[-1]
    assert kx == VIP_KX and targeted == frozenset({"VIP", "Wholesale"})
    assert conn.site_id == site["id"] and conn.account_id == "acct_TEST"


async def test_an_anonymous_visitor_gets_the_controls(shop: tuple[httpx.AsyncClient, dict[str, Any]]) -> None:
    client, site = shop
    decisions = _by_id(await _assign(client, site, {"visitor_id": "a" * 22}))
    assert decisions["free-shipping"]["is_control"] is True
    assert decisions["free-shipping"]["reason"] == "unidentified"
    assert decisions["custom-test"]["variation_id"] == "control"
    assert decisions["advanced-test"]["entered"] is False
    assert decisions["advanced-test"]["reason"] == "deferred"


async def test_a_profile_klaviyo_does_not_know_is_unidentified(
    shop: tuple[httpx.AsyncClient, dict[str, Any]],
) -> None:
    client, site = shop
    response = await _assign(client, site, {"kx": UNKNOWN_KX})
    assert response.json()["identity"] == "unidentified"
    assert _by_id(response)["free-shipping"]["is_control"] is True


async def test_pending_asks_the_snippet_to_retry_then_custom_sticks_and_advanced_enters(
    shop: tuple[httpx.AsyncClient, dict[str, Any]], resolver: ScriptedResolver
) -> None:
    client, site = shop
    visitor = "p" * 22
    resolver.answers[PENDING_KX] = Pending(retry_after_ms=400)
    first = await _assign(client, site, {"visitor_id": visitor, "kx": PENDING_KX})
    body = first.json()
    assert body["identity"] == "pending" and body["retry_after_ms"] == 400
    decisions = _by_id(first)
    assert decisions["free-shipping"]["status"] == "pending"
    assert decisions["custom-test"]["status"] == "decided"  # custom: the default at once, and it sticks
    assert decisions["custom-test"]["variation_id"] == "control"
    assert (
        decisions["advanced-test"] | {"status": "decided", "entered": False, "reason": "deferred"}
        == decisions["advanced-test"]
    )

    # The segment is known now: the visitor turns out to be VIP *and* Wholesale.
    resolver.answers[PENDING_KX] = Identified(frozenset({"VIP", "Wholesale"}))
    second = await _assign(client, site, {"visitor_id": visitor, "kx": PENDING_KX, "sticky": body["sticky"]})
    after = _by_id(second)
    assert second.json()["retry_after_ms"] is None
    assert after["custom-test"]["variation_id"] == "control"  # stuck with the default
    assert after["custom-test"]["reason"] == "sticky"
    assert after["advanced-test"]["variation_id"] == "vip-offer"  # advanced entered once known
    assert after["free-shipping"]["variation_id"] == "banner"


async def test_a_sticky_test_assignment_survives_a_visit_without_kx(
    shop: tuple[httpx.AsyncClient, dict[str, Any]],
) -> None:
    client, site = shop
    visitor = "w" * 22
    first = await _assign(client, site, {"visitor_id": visitor, "kx": WHOLESALE_KX})
    assert _by_id(first)["custom-test"]["entered"] is True
    entered_variation = _by_id(first)["custom-test"]["variation_id"]
    second = await _assign(client, site, {"visitor_id": visitor, "sticky": first.json()["sticky"]})
    assert _by_id(second)["custom-test"]["variation_id"] == entered_variation
    assert _by_id(second)["custom-test"]["reason"] == "sticky"


async def test_a_tampered_or_foreign_sticky_token_is_ignored(
    shop: tuple[httpx.AsyncClient, dict[str, Any]],
) -> None:
    client, site = shop
    visitor = "t" * 22
    first = (await _assign(client, site, {"visitor_id": visitor, "kx": WHOLESALE_KX})).json()
    raw = bytearray(base64.urlsafe_b64decode(first["sticky"] + "=" * (-len(first["sticky"]) % 4)))
    raw[3] ^= 0x01
    tampered = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    response = await _assign(client, site, {"visitor_id": visitor, "sticky": tampered})
    assert response.status_code == 200
    assert "sticky_ignored" in response.json()["warnings"]
    assert _by_id(response)["custom-test"]["reason"] == "unidentified"  # decided afresh
    # The same token presented for another visitor is foreign too: nobody picks a variation.
    stolen = await _assign(client, site, {"visitor_id": "x" * 22, "sticky": first["sticky"]})
    assert "sticky_ignored" in stolen.json()["warnings"]


async def test_a_malformed_kx_is_treated_as_absent_and_never_resolved(
    shop: tuple[httpx.AsyncClient, dict[str, Any]], resolver: ScriptedResolver
) -> None:
    client, site = shop
    for hostile in ('abc") OR equals(email,"x', "a" * 600, "<script>", "short", "ünïcode==.x"):
        response = await _assign(client, site, {"kx": hostile})
        assert response.status_code == 200, hostile[:40]
        assert response.json()["identity"] == "unidentified"
        assert response.json()["warnings"] == ["kx_malformed"]
    assert resolver.calls == []


async def test_a_crawler_with_a_kx_gets_the_controls_and_is_never_looked_up(
    shop: tuple[httpx.AsyncClient, dict[str, Any]], resolver: ScriptedResolver
) -> None:
    client, site = shop
    googlebot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    response = await _assign(client, site, {"kx": VIP_KX}, **{"user-agent": googlebot})
    assert response.status_code == 200
    assert response.json()["identity"] == "unidentified"
    assert {(e["reason"], e["is_control"]) for e in response.json()["experiences"]} == {("bot", True)}
    assert resolver.calls == []
    # The same kx from a browser is looked up.
    await _assign(
        client, site, {"kx": VIP_KX}, **{"user-agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"}
    )
    assert resolver.asked == [VIP_KX]


async def test_a_malformed_visitor_id_is_replaced(shop: tuple[httpx.AsyncClient, dict[str, Any]]) -> None:
    client, site = shop
    response = await _assign(client, site, {"visitor_id": "bad id!"})
    assert response.status_code == 200
    assert response.json()["visitor_id"] != "bad id!"
    assert response.json()["warnings"] == ["visitor_id_replaced"]


async def test_a_site_that_is_not_connected_answers_unidentified(
    settings: Settings, resolver: ScriptedResolver
) -> None:
    async with app_client(create_app(settings, resolver=resolver)) as client:
        site = await create_site(client, settings, origins=[SHOP])
        await put_experience(client, site["id"], FREE_SHIPPING)
        response = await _assign(client, site, {"kx": VIP_KX})
    assert response.json()["identity"] == "unidentified"
    assert response.json()["warnings"] == ["klaviyo_not_connected"]
    assert resolver.calls == []


async def test_the_answer_is_deterministic_for_a_visitor(
    shop: tuple[httpx.AsyncClient, dict[str, Any]],
) -> None:
    client, site = shop
    answers = [_by_id(await _assign(client, site, {"visitor_id": "d" * 22}))["everyone"] for _ in range(3)]
    assert answers[0] == answers[1] == answers[2]


async def test_application_json_works_too(shop: tuple[httpx.AsyncClient, dict[str, Any]]) -> None:
    client, site = shop
    response = await client.post(f"/v1/assign?site={site['public_key']}", json={"kx": VIP_KX})
    assert response.status_code == 200
    assert response.json()["identity"] == "identified"


async def test_cors_preflight_and_simple_requests_for_allowed_origins(
    shop: tuple[httpx.AsyncClient, dict[str, Any]],
) -> None:
    client, site = shop
    preflight = await client.options(
        f"/v1/assign?site={site['public_key']}",
        headers={
            "Origin": SHOP,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == SHOP
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert preflight.headers["access-control-allow-headers"] == "content-type"
    assert int(preflight.headers["access-control-max-age"]) > 0
    simple = await _assign(client, site, {}, origin=SHOP)
    assert simple.headers["access-control-allow-origin"] == SHOP
    assert simple.headers["vary"] == "Origin"


async def test_a_disallowed_origin_is_refused_readably_with_nothing_else(
    shop: tuple[httpx.AsyncClient, dict[str, Any]],
) -> None:
    """The refused page may read the refusal (so the snippet can say why), and nothing more."""
    client, site = shop
    refused = await _assign(client, site, {"visitor_id": "v" * 20}, origin="https://evil.example")
    assert refused.status_code == 403
    assert refused.json() == {
        "error": {"code": "origin_not_allowed", "message": refused.json()["error"]["message"]}
    }
    assert "https://evil.example" in refused.json()["error"]["message"]
    assert "allowed_origins" in refused.json()["error"]["message"]
    assert refused.headers["access-control-allow-origin"] == "https://evil.example"
    assert "access-control-allow-credentials" not in refused.headers
    assert "v" * 20 not in refused.text
    preflight = await client.options(
        f"/v1/assign?site={site['public_key']}",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 403
    assert preflight.json()["error"]["code"] == "origin_not_allowed"
    assert "access-control-allow-origin" not in preflight.headers


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b'{"kx": ', 400, "malformed_json"),
        (b"\xff\xfe", 400, "malformed_json"),
        (b"", 400, "empty_body"),
        (b"[1, 2]", 422, "validation_failed"),
        (b'{"kx": 42}', 422, "validation_failed"),
        (b'{"visitor_id": ["a"]}', 422, "validation_failed"),
        (b'{"sticky": {"a": 1}}', 422, "validation_failed"),
        (b'{"url": "' + b"u" * 2000 + b'"}', 413, "payload_too_large"),
    ],
)
async def test_bad_input_gets_a_json_4xx(
    shop: tuple[httpx.AsyncClient, dict[str, Any]], body: bytes, status: int, code: str
) -> None:
    client, site = shop
    response = await _assign(client, site, body, origin=SHOP)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert response.headers["access-control-allow-origin"] == SHOP  # the snippet can read the error


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [  # 1,000 levels in 2 KB, under the default body limit: unknown fields (skipped, but still
        # nested), then where a string is due (refused at the first bracket)
        (b'{"screen":' + b"[" * 1000 + b"]" * 1000 + b"}", 400, "json_too_deep"),
        (b'{"screen":' + b'{"a":' * 1000 + b"1" + b"}" * 1001, 400, "json_too_deep"),
        (b'{"kx":' + b"[" * 1000 + b"]" * 1000 + b"}", 422, "validation_failed"),
        (b"[" * 1000 + b"]" * 1000, 422, "validation_failed"),
    ],
)
async def test_json_nested_deeper_than_the_decoder_follows_is_a_4xx_and_logs_no_error(
    tmp_path: Path,
    resolver: ScriptedResolver,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
    status: int,
    code: str,
) -> None:
    settings = make_settings(tmp_path)
    assert len(body) < settings.assign_max_body_bytes
    async with app_client(create_app(settings, resolver=resolver)) as client:
        site = await create_site(client, settings, origins=[SHOP])
        with caplog.at_level(logging.WARNING):
            response = await _assign(client, site, body)
            shallower = await _assign(client, site, b'{"screen":' + b"[" * 200 + b"]" * 200 + b"}")
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert shallower.status_code == 200  # nesting the decoder can follow is merely ignored
    assert caplog.records == []


@pytest.mark.parametrize(
    "query",
    [
        "&".join(f"f{n}=x" for n in range(30)) + "&site={key}",  # more fields than parse_qsl's default cap
        "&" * 500 + "site={key}",
        "utm=a%20b&site={key}&site=pk_other",  # the first one counts
    ],
)
async def test_any_number_of_query_fields_finds_the_site(
    shop: tuple[httpx.AsyncClient, dict[str, Any]], query: str
) -> None:
    client, site = shop
    response = await client.post("/v1/assign?" + query.format(key=site["public_key"]), content=b"{}")
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("&" * 3000 + "site=pk", 400, "query_too_long"),
        ("f=" + "x" * 3000, 400, "query_too_long"),
        ("site=&other=1", 400, "missing_site"),
        ("site=%ff%fe%00", 404, "site_not_found"),
        ("site=" + "k" * 200, 404, "site_not_found"),
    ],
)
async def test_a_query_that_names_no_site_of_ours_is_a_4xx(
    shop: tuple[httpx.AsyncClient, dict[str, Any]], query: str, status: int, code: str
) -> None:
    client, _ = shop
    response = await client.post("/v1/assign?" + query, content=b"{}")
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


@pytest.mark.parametrize(
    "visitor_id", ["12345678", "cust-4242", "7012345678901", "a", "u.s:e_r-1", "x" * 128]
)
async def test_a_merchants_own_visitor_id_is_kept(
    shop: tuple[httpx.AsyncClient, dict[str, Any]], visitor_id: str
) -> None:
    client, site = shop
    response = await _assign(client, site, {"visitor_id": visitor_id})
    assert response.json()["visitor_id"] == visitor_id
    assert response.json()["warnings"] == []


@pytest.mark.parametrize("visitor_id", ["", "x" * 129, "has space", 'quote"', "ünï", "nul\u0000"])
async def test_a_visitor_id_outside_the_charset_or_length_is_replaced(
    shop: tuple[httpx.AsyncClient, dict[str, Any]], visitor_id: str
) -> None:
    client, site = shop
    response = await _assign(client, site, {"visitor_id": visitor_id})
    assert response.json()["visitor_id"] != visitor_id
    assert len(response.json()["visitor_id"]) == 22  # a new visitor's 128 random bits
    assert response.json()["warnings"] == ["visitor_id_replaced"]


async def test_an_incoming_request_id_is_honoured_and_a_bad_one_replaced(
    shop: tuple[httpx.AsyncClient, dict[str, Any]],
) -> None:
    client, site = shop
    given = await _assign(client, site, {}, **{"x-request-id": "edge-trace-0001"})
    assert given.headers["x-request-id"] == "edge-trace-0001"
    for bad in ("short", "x" * 65, "with space here"):
        replaced = await _assign(client, site, {}, **{"x-request-id": bad})
        assert worker_of(replaced.headers["x-request-id"]) == services_of(client).request_ids.worker


async def test_log_lines_of_an_assignment_carry_its_request_id(
    shop: tuple[httpx.AsyncClient, dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    client, site = shop
    seen: list[str | None] = []

    class Noisy:
        def observed(self, *args: object) -> None:
            seen.append(request_id_var.get())
            raise RuntimeError("an observer bug")

    services_of(client).assign_observers.append(Noisy())
    with caplog.at_level(logging.ERROR, logger="kx_edge.assign"):
        response = await _assign(client, site, {}, **{"x-request-id": "trace-observer-1"})
    assert response.status_code == 200  # an observer's failure never fails the visitor
    assert seen == ["trace-observer-1"]
    assert [r.message for r in caplog.records] == ["an assignment observer failed"]
    assert request_id_var.get() is None  # reset after the request


async def test_unknown_or_missing_site_and_wrong_method(
    shop: tuple[httpx.AsyncClient, dict[str, Any]],
) -> None:
    client, site = shop
    unknown = await client.post("/v1/assign?site=pk_nope", content=b"{}")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "site_not_found"
    missing = await client.post("/v1/assign", content=b"{}")
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "missing_site"
    wrong = await client.get(f"/v1/assign?site={site['public_key']}")
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST, OPTIONS"


async def test_unknown_fields_are_ignored_for_newer_snippets(
    shop: tuple[httpx.AsyncClient, dict[str, Any]],
) -> None:
    client, site = shop
    response = await _assign(client, site, {"visitor_id": "n" * 22, "screen": "1920x1080"})
    assert response.status_code == 200


async def test_an_unexpected_failure_is_a_json_500_with_a_request_id(settings: Settings) -> None:
    class BrokenResolver(ScriptedResolver):
        async def resolve(
            self,
            conn: ConnectionRef,
            kx: str | None,
            targeted: frozenset[str],
            deadline_s: float | None = None,
        ) -> Resolution:
            raise RuntimeError("a bug")

    async with app_client(create_app(settings, resolver=BrokenResolver())) as client:
        site = await create_site(client, settings, origins=[SHOP])
        await put_experience(client, site["id"], FREE_SHIPPING)
        await connect_directly(client, site["id"])
        response = await _assign(client, site, {"kx": VIP_KX})
        worker = services_of(client).request_ids.worker
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert worker_of(response.headers["x-request-id"]) == worker


async def test_a_returning_visitor_keeps_the_same_token_while_nothing_changes(
    shop: tuple[httpx.AsyncClient, dict[str, Any]],
) -> None:
    client, site = shop
    first = (await _assign(client, site, {"visitor_id": "r" * 22, "kx": WHOLESALE_KX})).json()
    again = (
        await _assign(client, site, {"visitor_id": "r" * 22, "kx": WHOLESALE_KX, "sticky": first["sticky"]})
    ).json()
    assert again["sticky"] == first["sticky"]
    assert again["warnings"] == []


async def test_after_a_configuration_change_the_next_first_visits_see_the_new_experiences(
    shop: tuple[httpx.AsyncClient, dict[str, Any]],
) -> None:
    # First visits share answers per identity and hash picks (memo.FirstAnswer): a change must
    # never be answered from what the previous configuration shared.
    client, site = shop
    visitors = [f"first-{n:04d}" for n in range(30)]
    for visitor in visitors:
        assert (await _assign(client, site, {"visitor_id": visitor, "kx": VIP_KX})).status_code == 200
    svc = services_of(client)
    shipping = await svc.store.get_experience(site["id"], "free-shipping")
    assert shipping is not None
    await svc.store.delete_experience(site["id"], "free-shipping", expected_version=shipping.version)
    await put_experience(client, site["id"], doc("launched", variation_ids=("control", "new")))  # reloads
    for visitor in visitors:
        decisions = _by_id(await _assign(client, site, {"visitor_id": visitor, "kx": VIP_KX}))
        assert "launched" in decisions and "free-shipping" not in decisions

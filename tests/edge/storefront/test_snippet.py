"""`GET /v1/snippet.js`: headers, size budget, the per-site hiding plan, ETag and 304."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from edge.app import create_app
from edge.storefront.snippet import (
    PARTS,
    PLAN_MARK,
    etag_matches,
    hiding_plan,
    load_snippet,
    site_snippet,
    snippet_response,
    source,
)
from targeting import compile_site, parse_experience
from tests.apps import app_client, create_site, make_settings, put_experience

URL = "/v1/snippet.js?site=pk_test_123"
BUDGET_GZIPPED = 6 * 1024


def _experience(exp_id: str, changes: dict[str, Any], status: str = "live") -> dict[str, Any]:
    return {
        "id": exp_id,
        "type": "test",
        "name": exp_id,
        "status": status,
        "targeting": {"mode": "custom"},
        "variations": [
            {"id": "control", "name": "Control", "weight": 1, "is_control": True},
            {"id": "b", "name": "B", "weight": 1, "changes": changes},
        ],
    }


HERO = {
    "css": ".hero { color: red } .cta:hover { color: blue }",
    "dom": [{"selector": ".hero h1", "action": "set_text", "value": "Hi"}],
}
SPLIT = {"redirect": "/b", "pages": ["/a"]}


def _plan_of(body: bytes) -> Any:
    found = re.search(rb"const plan=(.*?);const w=window", body)
    assert found is not None
    return json.loads(found.group(1))


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = Starlette(routes=[Route("/v1/snippet.js", snippet_response)])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kx.test") as client:
        yield client


async def test_serves_javascript_cached_briefly_and_revalidated(client: httpx.AsyncClient) -> None:
    response = await client.get(URL)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/javascript; charset=utf-8"
    assert response.headers["cache-control"] == "public, max-age=60, stale-while-revalidate=300"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "content-encoding" not in response.headers
    assert response.content == load_snippet().body  # no services: the body with an empty plan


async def test_body_fits_its_budget_gzipped_and_is_minified(client: httpx.AsyncClient) -> None:
    body = (await client.get(URL)).content
    assert len(gzip.compress(body, compresslevel=6)) <= BUDGET_GZIPPED
    assert len(body) < len(source()) * 0.7  # minified: comments and indentation gone
    assert b"// kx-edge storefront snippet, part" not in body
    assert body.startswith(b"/*! kx-edge storefront snippet")


def test_the_minified_body_is_valid_javascript(tmp_path: Path) -> None:
    plan = hiding_plan(compile_site([parse_experience(_experience("hero", HERO))]))
    path = tmp_path / "snippet.js"
    path.write_bytes(site_snippet(plan).body)
    node = shutil.which("node")
    if node is None:  # the browser tests run it in Chromium anyway
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("node is not installed (CI must check the minified snippet, not skip it)")
        pytest.skip("node is not installed")
    checked = subprocess.run([node, "--check", str(path)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr


def test_every_part_is_in_the_source_once() -> None:
    text = source()
    for name in PARTS:
        assert text.count(f'part "{name.removesuffix(".js")}"') == 1
    assert text.count(PLAN_MARK) == 1


def test_the_hiding_plan_lists_what_live_variations_touch() -> None:
    site = compile_site(
        [
            parse_experience(_experience("hero", HERO)),
            parse_experience(_experience("split", SPLIT)),
            parse_experience(_experience("payload-only", {"payload": {"a": 1}})),
            parse_experience(_experience("draft", HERO, status="draft")),
        ]
    )
    assert hiding_plan(site) == {
        "hero": [((), (".hero h1", ".hero"), 0)],
        "split": [(("/a",), (), 1)],
    }


async def test_each_site_gets_its_plan_and_its_own_etag(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    async with app_client(create_app(settings)) as client:
        shop = await create_site(client, settings, "Shop")
        other = await create_site(client, settings, "Other")
        await put_experience(client, shop["id"], _experience("hero", HERO))
        first = await client.get(f"/v1/snippet.js?site={shop['public_key']}")
        plain = await client.get(f"/v1/snippet.js?site={other['public_key']}")
        unknown = await client.get("/v1/snippet.js?site=pk_nobody")
        assert _plan_of(first.content) == {"hero": [[[], [".hero h1", ".hero"], 0]]}
        assert _plan_of(plain.content) == {}
        assert plain.content == unknown.content == load_snippet().body
        assert first.headers["etag"] != plain.headers["etag"]
        assert re.fullmatch(r'"[0-9a-f]{32}"', first.headers["etag"])

        # Revalidation: 304 while the plan holds, a new body once it changes.
        same = await client.get(
            f"/v1/snippet.js?site={shop['public_key']}", headers={"If-None-Match": first.headers["etag"]}
        )
        assert same.status_code == 304
        await put_experience(client, shop["id"], _experience("split", SPLIT))
        changed = await client.get(
            f"/v1/snippet.js?site={shop['public_key']}", headers={"If-None-Match": first.headers["etag"]}
        )
        assert changed.status_code == 200
        assert set(_plan_of(changed.content)) == {"hero", "split"}


@pytest.mark.parametrize(
    "if_none_match",
    ["{etag}", "W/{etag}", '"0000", {etag}', "*"],
    ids=["exact", "weak", "in-a-list", "star"],
)
async def test_matching_if_none_match_answers_304_without_a_body(
    client: httpx.AsyncClient, if_none_match: str
) -> None:
    etag = load_snippet().etag
    response = await client.get(URL, headers={"If-None-Match": if_none_match.format(etag=etag)})
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == etag
    assert "content-length" not in response.headers or response.headers["content-length"] == "0"


async def test_stale_if_none_match_gets_the_full_body(client: httpx.AsyncClient) -> None:
    response = await client.get(URL, headers={"If-None-Match": '"an-older-version"'})
    assert response.status_code == 200
    assert response.content == load_snippet().body


def test_etag_matching_rules() -> None:
    assert etag_matches('"abc"', '"abc"')
    assert etag_matches(' W/"abc" ', '"abc"')
    assert not etag_matches('"abcd"', '"abc"')
    assert not etag_matches("", '"abc"')


def test_one_body_per_distinct_plan() -> None:
    assert site_snippet({}) is load_snippet()
    plan = {"x": [(("/",), (".a",), 0)]}
    assert site_snippet(plan) is site_snippet({"x": [(("/",), (".a",), 0)]})


async def test_the_app_serves_the_snippet_gzipped_with_its_etag(tmp_path: Path) -> None:
    async with app_client(create_app(make_settings(tmp_path))) as client:
        response = await client.get("/v1/snippet.js?site=pk_any", headers={"Accept-Encoding": "gzip"})
        assert response.status_code == 200
        assert response.headers["content-encoding"] == "gzip"
        assert response.headers["content-type"] == "application/javascript; charset=utf-8"
        assert response.content == load_snippet().body  # httpx decompresses
        cached = await client.get(
            "/v1/snippet.js?site=pk_any", headers={"If-None-Match": response.headers["etag"]}
        )
        assert cached.status_code == 304

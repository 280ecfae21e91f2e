"""`GET /v1/snippet.js`: headers, size budget, ETag and 304, through the ASGI transport."""

from __future__ import annotations

import gzip
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from edge.app import create_app
from edge.storefront.snippet import etag_matches, load_snippet, minify, snippet_response, source
from tests.apps import app_client, make_settings

URL = "/v1/snippet.js?site=pk_test_123"


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = Starlette(routes=[Route("/v1/snippet.js", snippet_response)])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kx.test") as client:
        yield client


async def test_serves_javascript_that_caches_for_five_minutes(client: httpx.AsyncClient) -> None:
    response = await client.get(URL)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/javascript; charset=utf-8"
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "content-encoding" not in response.headers
    assert response.content == load_snippet().body


async def test_body_fits_three_kilobytes_gzipped(client: httpx.AsyncClient) -> None:
    body = (await client.get(URL)).content
    assert len(gzip.compress(body, compresslevel=6)) <= 3072
    # The compactor really ran: no indentation, no whole-line comments left.
    assert not re.search(r"^\s", body.decode(), re.MULTILINE)
    assert not re.search(r"^//", body.decode(), re.MULTILINE)


async def test_etag_is_strong_stable_and_independent_of_the_site(
    client: httpx.AsyncClient,
) -> None:
    first = await client.get(URL)
    again = await client.get(URL)
    other_site = await client.get("/v1/snippet.js?site=pk_other")
    etag = first.headers["etag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
    assert again.headers["etag"] == etag == other_site.headers["etag"]


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
    assert response.headers["cache-control"] == "public, max-age=300"
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


def test_minify_keeps_line_breaks_and_code_but_drops_comments_and_indentation() -> None:
    source = '/*! banner */\n// note\n(() => {\n    const a = "x // y";\n\n    return a\n})();\n'
    assert minify(source) == '/*! banner */\n(() => {\nconst a = "x // y";\nreturn a\n})();\n'


def test_snippet_source_follows_the_compactor_rules() -> None:
    # No template literals at all (they could span lines), no comment after code on a line.
    joined = source()
    assert "`" not in joined
    for line in joined.splitlines():
        code = line.strip()
        if code.startswith(("//", "/*!")):
            continue
        assert not re.search(r"[;,{}()]\s*//", code), line


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

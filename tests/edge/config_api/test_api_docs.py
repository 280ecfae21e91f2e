"""The document for people: an example request and answer for every operation (each valid
against its published schema), `servers`, health in the document, and the `/docs` page with
its vendored viewer."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from edge.config_api.api_docs import STATIC_DIR
from edge.config_api.examples import EXAMPLES
from edge.config_api.openapi import OPERATIONS, build_openapi
from tests.edge.config_api.support import Shop

DOCUMENT = build_openapi("https://edge.example.com")
VENDORED = {
    "swagger-ui-bundle.js": "e6a898692f2d768e807c3ba4626068a69a2c5dd960dd6c76f3e4d3a3de180af2",
    "swagger-ui.css": "5ed08757e53da3e026d6cbecc61fe5d43585c9560b302d534ad56692519a273d",
}


def _validator(schema: dict[str, Any]) -> jsonschema_rs.Validator:
    return jsonschema_rs.Draft202012Validator(schema | {"components": DOCUMENT["components"]})


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, methods in DOCUMENT["paths"].items()
        for method, operation in methods.items()
    ]


def test_every_operation_has_examples() -> None:
    missing = {op.operation_id for op in OPERATIONS} - set(EXAMPLES)
    assert not missing, f"operations without an example in edge/config_api/examples.py: {sorted(missing)}"
    assert set(EXAMPLES) <= {op.operation_id for op in OPERATIONS}, "examples of no operation"


@pytest.mark.parametrize(("path", "method", "operation"), _operations(), ids=lambda v: str(v)[:40])
def test_each_example_fits_the_schema_it_illustrates(
    path: str, method: str, operation: dict[str, Any]
) -> None:
    shown = 0
    for media in operation.get("requestBody", {}).get("content", {}).values():
        assert "example" in media, f"{method} {path}: no request example"
        errors = [e.message for e in _validator(media["schema"]).iter_errors(media["example"])]
        assert not errors, f"{method} {path} request example: {errors}"
        shown += 1
    answers = [r for status, r in operation["responses"].items() if status.startswith("2") and "content" in r]
    if answers:
        (media,) = answers[0]["content"].values()
        assert "example" in media, f"{method} {path}: no answer example"
        errors = [e.message for e in _validator(media["schema"]).iter_errors(media["example"])]
        assert not errors, f"{method} {path} answer example: {errors}"
        shown += 1
    assert shown or operation["responses"].keys() == {"204", "401", "404", "409", "412", "428"}
    for parameter in operation["parameters"]:
        if parameter["in"] == "path":
            assert parameter["example"], f"{method} {path}: path parameter {parameter['name']} has no example"


def test_the_document_names_its_server_and_the_health_endpoints() -> None:
    assert DOCUMENT["servers"] == [{"url": "https://edge.example.com", "description": "this kx-edge service"}]
    assert build_openapi()["servers"][0]["url"] == "/"
    assert set(DOCUMENT["paths"]["/healthz"]["get"]["responses"]) == {"200"}
    assert set(DOCUMENT["paths"]["/readyz"]["get"]["responses"]) == {"200", "503"}
    assert DOCUMENT["paths"]["/readyz"]["get"]["security"] == []


async def test_health_answers_match_their_documented_schemas(shop: Shop) -> None:
    for path in ("/healthz", "/readyz"):
        response = await shop.client.get(path)
        media = DOCUMENT["paths"][path]["get"]["responses"][str(response.status_code)]["content"]
        assert _validator(media["application/json"]["schema"]).is_valid(response.json())


async def test_the_docs_page_loads_only_its_own_assets(shop: Shop) -> None:
    page = await shop.client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "connect-src 'self';" in csp and "frame-ancestors 'none'" in csp
    assert "http" not in page.text.replace('href="/', "").split("<body>")[0]  # no CDN in the head
    for asset in ("swagger-ui/swagger-ui-bundle.js", "swagger-ui/swagger-ui.css", "docs.js", "docs.css"):
        assert f"/docs/assets/{asset}" in page.text
        served = await shop.client.get(f"/docs/assets/{asset}")
        assert served.status_code == 200, asset
        assert served.content == (STATIC_DIR / asset).read_bytes()


def test_the_vendored_viewer_is_the_published_package_with_its_licence() -> None:
    folder = Path(STATIC_DIR) / "swagger-ui"
    for name, digest in VENDORED.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name
    assert "Apache License" in (folder / "LICENSE").read_text()
    assert (folder / "NOTICE").read_text().startswith("swagger-ui")
    docs_js = (Path(STATIC_DIR) / "docs.js").read_text()
    assert "validatorUrl: null" in docs_js  # the badge would call validator.swagger.io

"""`kx-edge sites list|show` and `kx-edge experiences export|import` against a real server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.edge.cli.conftest import Server
from tests.targeting.factories import doc


@pytest.fixture(scope="module")
def shops(server: Server) -> dict[str, dict[str, Any]]:
    made = {}
    for name, origin in (
        ("Staging shop", "https://staging.example.com"),
        ("Production shop", "https://shop.example.com"),
    ):
        made[name] = server.api("POST", "/v1/sites", {"name": name, "allowed_origins": [origin]})
    staging = made["Staging shop"]
    for document in (
        doc("free-shipping", type="personalization", status="live"),
        doc("hero-copy", status="draft"),
    ):
        server.api("POST", f"/v1/sites/{staging['id']}/experiences", document, token=staging["api_key"])
    return made


def test_sites_list_shows_every_site(server: Server, shops: dict[str, dict[str, Any]]) -> None:
    table = server.run("sites", "list", "--url", server.url)
    assert table.returncode == 0, table.stderr
    header, *rows = table.stdout.splitlines()
    assert header.split() == ["ID", "NAME", "PUBLIC", "KEY", "ORIGINS", "CREATED"]
    for site in shops.values():
        assert any(
            row.startswith(site["id"]) and site["name"] in row and site["public_key"] in row for row in rows
        )
    as_json = server.run("sites", "list", "--url", server.url, "--json")
    listed = json.loads(as_json.stdout)
    assert {s["id"] for s in listed} >= {s["id"] for s in shops.values()}
    assert all("api_key" not in s for s in listed)


def test_sites_show_tells_klaviyo_and_experiences(server: Server, shops: dict[str, dict[str, Any]]) -> None:
    staging = shops["Staging shop"]
    shown = server.run("sites", "show", staging["id"], "--url", server.url)
    assert shown.returncode == 0, shown.stderr
    lines = dict(line.split("  ", 1) for line in shown.stdout.splitlines())
    assert lines["id"].strip() == staging["id"]
    assert lines["klaviyo"].strip() == "disconnected"
    assert lines["experiences"].strip() == "1 draft, 1 live"
    assert lines["allowed origins"].strip() == "https://staging.example.com"


def test_an_unknown_site_is_a_clear_error(server: Server) -> None:
    missing = server.run("sites", "show", "site_doesnotexist", "--url", server.url)
    assert missing.returncode == 1
    assert missing.stderr.strip() == "kx-edge: 404 site_not_found: No site site_doesnotexist."


def test_a_server_that_does_not_answer_is_a_clear_error(server: Server) -> None:
    result = server.run("sites", "list", "--url", "http://127.0.0.1:9")
    assert result.returncode == 1
    assert "cannot reach kx-edge at http://127.0.0.1:9" in result.stderr and "--url" in result.stderr


def test_a_wrong_credential_is_named(server: Server) -> None:
    result = server.run(
        "sites", "list", "--url", server.url, env={"KX_EDGE_OPERATOR_TOKEN": "wrong-token-0001"}
    )
    assert result.returncode == 1
    assert "401 unauthorized" in result.stderr and "the operator token was refused" in result.stderr


def test_experiences_copy_from_staging_to_production(
    server: Server, shops: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    staging, production = shops["Staging shop"], shops["Production shop"]
    saved = tmp_path / "staging.json"
    exported = server.run("experiences", "export", staging["id"], "-o", str(saved), "--url", server.url)
    assert exported.returncode == 0, exported.stderr
    assert "2 experience(s) written to" in exported.stderr
    document = json.loads(saved.read_text())
    assert [e["id"] for e in document["experiences"]] == ["free-shipping", "hero-copy"]

    # A merchant uses their own site's api key; the operator token would do too.
    imported = server.run(
        "experiences", "import", production["id"], str(saved), "--url", server.url,
        env={"KX_EDGE_API_KEY": production["api_key"]},
    )  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    assert "created: free-shipping, hero-copy" in imported.stderr
    listed = server.api("GET", f"/v1/sites/{production['id']}/experiences")["experiences"]
    assert [(e["id"], e["status"]) for e in listed] == [("free-shipping", "draft"), ("hero-copy", "draft")]

    again = server.run(
        "experiences", "import", production["id"], "-", "--url", server.url, stdin=saved.read_text()
    )
    assert again.returncode == 1
    assert "409 experiences_exist" in again.stderr and "on_conflict=skip" in again.stderr
    skipped = server.run(
        "experiences", "import", production["id"], "-", "--url", server.url, "--on-conflict", "skip",
        stdin=saved.read_text(),
    )  # fmt: skip
    assert skipped.returncode == 0 and "skipped: free-shipping, hero-copy" in skipped.stderr

    not_json = server.run("experiences", "import", production["id"], "-", "--url", server.url, stdin="nope")
    assert not_json.returncode == 2 and "is not JSON" in not_json.stderr

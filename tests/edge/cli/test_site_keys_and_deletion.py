"""`kx-edge sites rotate-key` and `kx-edge sites delete` against a real server."""

from __future__ import annotations

import json
import urllib.error
from typing import Any

import pytest

from tests.edge.cli.conftest import Server


def _site(server: Server, name: str) -> dict[str, Any]:
    created: dict[str, Any] = server.api(
        "POST", "/v1/sites", {"name": name, "allowed_origins": ["https://shop.example.com"]}
    )
    return created


def _status(server: Server, site_id: str, token: str) -> int:
    try:
        server.api("GET", f"/v1/sites/{site_id}", token=token)
    except urllib.error.HTTPError as exc:
        return exc.code
    return 200


def test_rotate_key_prints_the_new_key_once_and_the_old_one_keeps_its_grace(server: Server) -> None:
    site = _site(server, "Rotating shop")
    rotated = server.run("sites", "rotate-key", site["id"], "--url", server.url)
    assert rotated.returncode == 0, rotated.stderr
    answer = json.loads(rotated.stdout)
    assert answer["api_key"].startswith("sk_") and answer["api_key"] != site["api_key"]
    assert answer["grace_s"] == 86_400
    assert "shown once" in rotated.stderr and "keeps working until" in rotated.stderr
    assert _status(server, site["id"], answer["api_key"]) == 200
    assert _status(server, site["id"], site["api_key"]) == 200  # within the grace period

    # The replaced key cannot rotate again; the error names the service's code.
    refused = server.run(
        "sites", "rotate-key", site["id"], "--url", server.url, env={"KX_EDGE_API_KEY": site["api_key"]}
    )
    assert refused.returncode == 1
    assert "403 current_key_required" in refused.stderr


def test_delete_asks_for_the_site_id_and_deletes_only_when_it_matches(server: Server) -> None:
    site = _site(server, "Doomed shop")
    kept = _site(server, "Kept shop")
    wrong = server.run("sites", "delete", site["id"], "--url", server.url, stdin=kept["id"] + "\n")
    assert wrong.returncode == 2
    assert "not deleted" in wrong.stderr and f"Type the site id ({site['id']})" in wrong.stderr
    assert _status(server, site["id"], site["api_key"]) == 200

    deleted = server.run("sites", "delete", site["id"], "--url", server.url, stdin=site["id"] + "\n")
    assert deleted.returncode == 0, deleted.stderr
    assert f"deleted {site['id']}" in deleted.stderr
    assert _status(server, site["id"], server.operator_token) == 404
    assert _status(server, kept["id"], kept["api_key"]) == 200
    listed = json.loads(server.run("sites", "list", "--url", server.url, "--json").stdout)
    assert site["id"] not in {s["id"] for s in listed}


@pytest.mark.parametrize("how", ["--yes", "missing"])
def test_delete_with_yes_needs_no_answer_and_a_missing_site_is_named(server: Server, how: str) -> None:
    if how == "--yes":
        site = _site(server, "Scripted shop")
        done = server.run("sites", "delete", site["id"], "--yes", "--url", server.url)
        assert done.returncode == 0, done.stderr
        assert _status(server, site["id"], server.operator_token) == 404
    else:
        missing = server.run("sites", "delete", "site_nope", "--yes", "--url", server.url)
        assert missing.returncode == 1
        assert "404 site_not_found" in missing.stderr

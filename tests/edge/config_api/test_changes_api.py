"""Variations' `changes` through the configuration API: stored canonical, refused with the path."""

from __future__ import annotations

from typing import Any

import pytest

from tests.edge.config_api.support import Shop, error


def _experience(changes: Any) -> dict[str, Any]:
    return {
        "id": "hero",
        "type": "test",
        "name": "Hero",
        "targeting": {"mode": "custom"},
        "variations": [
            {"id": "control", "name": "Control", "weight": 1, "is_control": True},
            {"id": "b", "name": "B", "weight": 1, "changes": changes},
        ],
    }


async def test_changes_are_stored_and_answered_canonically(shop: Shop) -> None:
    changes = {
        "dom": [
            {
                "selector": "#price",
                "action": "set_html",
                "value": '<b class="x" data-y="1">x</b><marquee>m</marquee>',
            }
        ],
        "payload": [1, {"a": None}],
    }
    created = await shop.create(_experience(changes))
    assert created.status_code == 201, created.text
    stored = created.json()["variations"][1]["changes"]
    assert stored == {
        "dom": [{"selector": "#price", "action": "set_html", "value": '<b class="x">x</b>m'}],
        "payload": [1, {"a": None}],
    }
    assert "changes" not in created.json()["variations"][0]
    assert (await shop.get("hero")).json()["variations"][1]["changes"] == stored


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"dom": [{"selector": "div[", "action": "hide"}]}, "variations[1].changes.dom[0].selector"),
        (
            {"dom": [{"selector": "a", "action": "set_html", "value": "<img src=x onerror=alert(1)>"}]},
            "variations[1].changes.dom[0].value",
        ),
        ({"css": "@import url(https://x.example/a.css);"}, "variations[1].changes.css"),
        ({"redirect": "/b"}, "variations[1].changes.redirect"),
        ({"js": "alert(1)"}, "variations[1].changes.js"),
    ],
)
async def test_a_bad_change_is_a_422_naming_its_path(shop: Shop, changes: Any, path: str) -> None:
    answer = await shop.create(_experience(changes))
    assert answer.status_code == 422, answer.text
    body = error(answer)
    assert body["code"] == "validation_failed"
    assert path in [problem["path"] for problem in body["details"]]

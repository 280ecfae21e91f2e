"""`GET|PUT /v1/sites/{site_id}/klaviyo/triggers`: off by default, documented, any subset, strict."""

from __future__ import annotations

from typing import Any

import pytest

from edge.events.switches import SwitchBook
from edge.events.triggers import Trigger
from edge.settings import Settings
from edge.store.switches import SqlSwitchStore
from sandbox import SandboxState
from tests.apps import create_site
from tests.edge.events.conftest import WITHOUT_EVENTS, Shop, shop

DOCUMENTED = ["Experience", "Experience ID", "Variation", "Variation ID", "Is Control", "Site", "Page URL"]


async def _get(s: Shop) -> dict[str, Any]:
    response = await s.client.get(f"/v1/sites/{s.site['id']}/klaviyo/triggers", headers=s.headers)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def _enabled(view: dict[str, Any]) -> dict[str, bool]:
    return {t.value: view[t.value]["enabled"] for t in Trigger}


async def test_every_trigger_is_off_by_default_with_its_metric_and_properties(
    settings: Settings, sandbox: SandboxState
) -> None:
    async with shop(settings, sandbox) as s:
        view = await _get(s)
    assert _enabled(view) == {"entered_test": False, "saw_personalization": False, "profile_sync": False}
    assert view["entered_test"]["metric_name"] == "kx-edge: Entered Test"
    assert view["saw_personalization"]["metric_name"] == "kx-edge: Saw Personalization"
    assert view["profile_sync"]["metric_name"] == "kx-edge: Experiences Updated"
    for trigger in ("entered_test", "saw_personalization"):
        properties = view[trigger]["properties"]
        assert [p["name"] for p in properties] == DOCUMENTED
        assert all(p["description"] for p in properties)
    [profile_property] = view["profile_sync"]["profile_properties"]
    assert profile_property["name"] == "kx_edge_experiences"
    assert view["missing_scopes"] == []


async def test_put_switches_any_subset_and_keeps_the_others(
    settings: Settings, sandbox: SandboxState
) -> None:
    async with shop(settings, sandbox) as s:
        first = await s.put_triggers({"entered_test": {"enabled": True}})
        assert first.status_code == 200
        assert _enabled(first.json()) == {
            "entered_test": True,
            "saw_personalization": False,
            "profile_sync": False,
        }
        second = await s.put_triggers({"profile_sync": {"enabled": True}, "entered_test": {"enabled": False}})
        assert _enabled(second.json()) == {
            "entered_test": False,
            "saw_personalization": False,
            "profile_sync": True,
        }
        assert (await s.put_triggers({})).status_code == 200
        assert _enabled(await _get(s)) == {
            "entered_test": False,
            "saw_personalization": False,
            "profile_sync": True,
        }
        assert s.events.switches.get(s.site["id"]).profile_sync  # the observer sees it at once


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"entered": {"enabled": True}}, 422),
        ({"entered_test": {"enabled": "yes"}}, 422),
        ({"entered_test": {"enabled": True, "metric": "x"}}, 422),
        ({"entered_test": {}}, 422),
        ({"entered_test": None}, 422),
        ({"entered_test": True}, 422),
        ([], 422),
    ],
)
async def test_put_refuses_unknown_keys_and_wrong_shapes(
    settings: Settings, sandbox: SandboxState, body: Any, status: int
) -> None:
    async with shop(settings, sandbox) as s:
        response = await s.put_triggers(body)
        assert response.status_code == status, response.text
        assert response.json()["error"]["code"] == "validation_failed"
        assert _enabled(await _get(s)) == {
            "entered_test": False,
            "saw_personalization": False,
            "profile_sync": False,
        }


async def test_put_refuses_malformed_json(settings: Settings, sandbox: SandboxState) -> None:
    async with shop(settings, sandbox) as s:
        url = f"/v1/sites/{s.site['id']}/klaviyo/triggers"
        response = await s.client.put(url, content=b"{nope", headers=s.headers)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "malformed_json"


async def test_another_sites_key_opens_nothing(settings: Settings, sandbox: SandboxState) -> None:
    async with shop(settings, sandbox) as s:
        other = await create_site(s.client, settings, name="Other")
        foreign = {"Authorization": f"Bearer {other['api_key']}"}
        base = f"/v1/sites/{s.site['id']}/klaviyo/triggers"
        assert (await s.client.get(base, headers=foreign)).status_code == 404
        assert (await s.client.get(base + "/status", headers=foreign)).status_code == 404
        put = await s.client.put(base, json={"entered_test": {"enabled": True}}, headers=foreign)
        assert put.status_code == 404
        assert (await s.client.get(base)).status_code == 401


async def test_enabling_without_events_write_is_saved_and_reported_everywhere(
    settings: Settings, sandbox: SandboxState
) -> None:
    async with shop(settings, sandbox, scopes=WITHOUT_EVENTS) as s:
        connection = await s.client.get(f"/v1/sites/{s.site['id']}/klaviyo", headers=s.headers)
        assert connection.json()["missing_scopes"] == []  # nothing on: nothing missing
        put = await s.put_triggers({"saw_personalization": {"enabled": True}})
        assert put.status_code == 200
        assert put.json()["saw_personalization"]["enabled"] is True
        assert put.json()["missing_scopes"] == ["events:write"]
        connection = await s.client.get(f"/v1/sites/{s.site['id']}/klaviyo", headers=s.headers)
        assert connection.json()["missing_scopes"] == ["events:write"]
        status = await s.status()
        assert status["events_scope_missing"] is True
        assert status["missing_scopes"] == ["events:write"]
        assert any("events:write" in p for p in status["problems"])
        # Reconnecting asks Klaviyo for the scope.
        started = await s.client.post(f"/v1/sites/{s.site['id']}/klaviyo/connect", headers=s.headers)
        assert started.status_code == 200, started.text
        assert "events:write" in started.json()["scopes"]
        to_klaviyo = await s.client.post(started.json()["authorize_url"])  # the link, opened
        assert "events%3Awrite" in to_klaviyo.headers["location"]


async def test_another_workers_change_reaches_the_observer_on_refresh(
    settings: Settings, sandbox: SandboxState
) -> None:
    async with shop(settings, sandbox) as s:
        other_worker = SwitchBook(SqlSwitchStore(s.svc.database))
        await other_worker.refresh()
        assert s.site["id"] not in other_worker.active
        await s.put_triggers({"entered_test": {"enabled": True}})
        await other_worker.refresh()
        assert s.site["id"] in other_worker.active
        assert other_worker.get(s.site["id"]).entered_test
        await s.put_triggers({"entered_test": {"enabled": False}})
        await other_worker.refresh()
        assert s.site["id"] not in other_worker.active

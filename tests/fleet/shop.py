"""A shop on a two-node fleet: a sandbox Klaviyo that counts every call, both nodes pointed at it,
a site created through node A and connected through A's OAuth flow (as a merchant connects it),
so both nodes work with the tokens in PostgreSQL.

    with klaviyo_fleet(settings, tmp_path, env={...}, triggers={...}) as fleet:
        fleet.a, fleet.b, fleet.sandbox, fleet.site
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx

from sandbox import SandboxState, running_fake_klaviyo
from sandbox.sample_data import demo_state
from tests.fleet.nodes import FleetSettings, Node, running_fleet
from tests.waiting import free_port, wait_until

CLIENT_ID, CLIENT_SECRET = "kx-edge-fleet-client", "fleet-client-secret-0123456789"


@dataclass
class Fleet:
    a: Node
    b: Node
    sandbox: SandboxState
    site: dict[str, str]
    operator_token: str

    @property
    def key(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.site['api_key']}"}

    @property
    def operator(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.operator_token}"}

    def nodes(self) -> tuple[Node, Node]:
        return self.a, self.b


class _Form(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.action = values.get("action", "")
        elif tag in ("input", "select") and values.get("type") != "submit" and "name" in values:
            self.fields.setdefault(values["name"], values.get("value", ""))


def connect(a: Node, klaviyo: str, site: dict[str, str]) -> None:
    """The merchant's OAuth flow, through node A, allowed at the sandbox's consent page."""
    key = {"Authorization": f"Bearer {site['api_key']}"}
    with httpx.Client(base_url=a.url, timeout=10) as browser:
        link = browser.post(f"/v1/sites/{site['id']}/klaviyo/connect", headers=key).json()["authorize_url"]
        assert browser.get(link).status_code == 200
        at_klaviyo = browser.post(link).headers["location"]
        assert at_klaviyo.startswith(klaviyo)
        form = _Form()
        form.feed(httpx.get(at_klaviyo).text)
        redirect = httpx.post(form.action, data={**form.fields, "decision": "allow"})
        callback = browser.get(redirect.headers["location"])
        assert callback.headers["location"].startswith("/oauth/klaviyo/result?outcome=connected"), (
            callback.text
        )


@contextmanager
def klaviyo_fleet(
    settings: FleetSettings,
    root: Path,
    *,
    env: dict[str, str] | None = None,
    triggers: dict[str, Any] | None = None,
    experiences: tuple[dict[str, Any], ...] = (),
    ready: Callable[[Fleet], bool] | None = None,
) -> Iterator[Fleet]:
    """Two nodes on one sandbox Klaviyo; the site gets `triggers` switched on before it connects
    (so the connection is granted events:write), then `experiences`; `ready` is waited for."""
    port_a = free_port()
    sandbox = demo_state(CLIENT_ID, CLIENT_SECRET, f"http://127.0.0.1:{port_a}/oauth/klaviyo/callback")
    with running_fake_klaviyo(sandbox) as klaviyo:
        node_env = settings.environ(
            KLAVIYO_CLIENT_ID=CLIENT_ID,
            KLAVIYO_CLIENT_SECRET=CLIENT_SECRET,
            KX_EDGE_KLAVIYO_API_BASE=klaviyo,
            KX_EDGE_KLAVIYO_AUTHORIZE_URL=klaviyo + "/oauth/authorize",
            KX_EDGE_KLAVIYO_TOKEN_URL=klaviyo + "/oauth/token",
            KX_EDGE_KLAVIYO_REVOKE_URL=klaviyo + "/oauth/revoke",
            KX_EDGE_PUBLIC_URL=f"http://127.0.0.1:{port_a}",
            **(env or {}),
        )
        with running_fleet(root, {"a": node_env, "b": node_env}, {"a": port_a}) as nodes:
            a = nodes["a"]
            status, site = a.call(
                "/v1/sites",
                "POST",
                {"name": "Shop", "allowed_origins": []},
                {"Authorization": f"Bearer {settings.operator_token}"},
            )
            assert status == 201, site
            fleet = Fleet(a, nodes["b"], sandbox, site, settings.operator_token)
            if triggers:
                status, body = a.call(f"/v1/sites/{site['id']}/klaviyo/triggers", "PUT", triggers, fleet.key)
                assert status == 200, body
            connect(a, klaviyo, site)
            for experience in experiences:
                status, body = a.call(f"/v1/sites/{site['id']}/experiences", "POST", experience, fleet.key)
                assert status == 201, body
            if ready is not None:
                wait_until(lambda: ready(fleet), timeout=30, what="the fleet to be ready")
            yield fleet

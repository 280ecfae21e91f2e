"""Assembling the demo: the service, a sandbox Klaviyo mounted beside it, a storefront page.

The sandbox lives at `<public_url>/_sandbox/klaviyo` and the service's Klaviyo settings point
there, so the connection is made through the real flow: connect -> the sandbox's authorize page
-> redirect to our callback -> token exchange with PKCE -> `GET /api/accounts`. The sandbox is in
memory, so the demo keeps its own database file and starts it afresh every time.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import sys
from dataclasses import replace
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.routing import Mount

from demo.experiences import demo_experiences
from demo.storefront import VISITS, storefront_routes
from demo.traffic import ENV as TRAFFIC_ENV
from demo.traffic import TrafficReport, play
from demo.traffic_plan import DEMO_TEST, TrafficPlan
from edge.app import create_app
from edge.connect.link import redirect_uri
from edge.services import Services
from edge.settings import Settings
from edge.settings.local_secrets import keep_secret
from edge.sites.keys import new_site
from oauth.crypto import TokenCipher
from sandbox import DEMO_PEOPLE, SandboxState, create_fake_klaviyo, demo_state
from targeting import parse_experience

logger = logging.getLogger("kx_edge.demo")
SANDBOX_PATH = "/_sandbox/klaviyo"
DEMO_CLIENT_ID = "kx-edge-demo"


def demo_settings(settings: Settings) -> Settings:
    base = settings.public_url.rstrip("/") + SANDBOX_PATH
    return replace(
        settings,
        database=str(Path(settings.data_dir) / "demo.sqlite3"),
        klaviyo_client_id=DEMO_CLIENT_ID,
        klaviyo_client_secret=secrets.token_urlsafe(24),
        klaviyo_api_base=base,
        klaviyo_authorize_url=base + "/oauth/authorize",
        klaviyo_token_url=base + "/oauth/token",
        klaviyo_revoke_url=base + "/oauth/revoke",
        # The sandbox's own traffic (segment sync, OAuth) would bury the demo's links.
        access_log=False,
    )


def create_demo_app(settings: Settings, *, traffic: TrafficPlan | None = None) -> Starlette:
    """The demo app. `traffic`: the visitors played into the demo test once it is seeded (None:
    none; `kx-edge serve --demo` passes what `KX_DEMO_TRAFFIC` asks for, see demo/traffic.py)."""
    settings = demo_settings(settings)
    _fresh_database(settings.database_path)
    assert settings.klaviyo_client_id and settings.klaviyo_client_secret and settings.secret_key
    sandbox = demo_state(settings.klaviyo_client_id, settings.klaviyo_client_secret, redirect_uri(settings))
    # The merchant's consent is given by the seeding step below, so the page approves at once.
    sandbox.oauth.auto_approve = True

    created = new_site(
        "Sandbox Outfitters (demo)",
        _origins(settings.public_url),
        TokenCipher(settings.secret_key, settings.secret_key_old),
        0,
    )
    site, api_key = created.record, created.api_key

    report = TrafficReport() if traffic is not None else None

    async def seed(svc: Services) -> None:
        await svc.store.create_site(replace(site, created_at=svc.now(), updated_at=svc.now()))
        for body in demo_experiences():
            experience = parse_experience(body)
            await svc.store.create_experience(
                site.id, experience.id, type=experience.type.value, status=experience.status.value,
                body=experience.to_dict(), now=svc.now(),
            )  # fmt: skip
        await _connect_through_oauth(settings.public_url, site.id, api_key)
        await svc.runtimes.reload(site.id)
        key_file = Path(settings.data_dir) / "demo-api-key"
        keep_secret(key_file, api_key)  # never printed: the log stream is no place for a secret
        _announce(settings.public_url, site.id, site.public_key, key_file, sandbox, traffic)
        if traffic is not None and report is not None:
            # Still the on_ready task: start-up is not delayed, and shutdown cancels it.
            await play(
                traffic,
                base_url=settings.public_url,
                public_key=site.public_key,
                origin=_origins(settings.public_url)[0],
                report=report,
            )

    app = create_app(
        settings,
        on_ready=seed,
        extra_routes=[
            Mount(SANDBOX_PATH, app=create_fake_klaviyo(sandbox, enforce_rate_limits=True)),
            *storefront_routes(site.public_key),
        ],
    )
    app.state.sandbox = sandbox
    app.state.demo_traffic = report
    app.state.demo_site = {
        "id": site.id,
        "public_key": site.public_key,
        "api_key": api_key,
        "people": [
            {
                "name": f"{p.first_name} {p.last_name}",
                "email": p.email,
                "kx": p.kx,
                "segments": list(p.segments),
            }
            for p in DEMO_PEOPLE
        ],
    }
    return app


def _origins(public_url: str) -> tuple[str, ...]:
    origin = public_url.rstrip("/")
    alias = origin.replace("://127.0.0.1", "://localhost") if "://127.0.0.1" in origin else None
    return (origin, alias) if alias else (origin,)


def _fresh_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)


async def _connect_through_oauth(
    public_url: str, site_id: str, api_key: str, *, timeout_s: float = 30.0
) -> None:
    """Connect the demo site exactly as a merchant's browser would, once the server listens."""
    async with httpx.AsyncClient(base_url=public_url, timeout=5.0, follow_redirects=True) as client:
        async with asyncio.timeout(timeout_s):
            while True:
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
            started = await client.post(
                f"/v1/sites/{site_id}/klaviyo/connect", headers={"Authorization": f"Bearer {api_key}"}
            )
            started.raise_for_status()
            # An api-key connect answers a one-time link on our own origin; its POST binds this
            # client (its cookie jar) to the flow and goes on to the sandbox's consent page.
            finished = await client.post(started.json()["authorize_url"])
            finished.raise_for_status()
            status = await client.get(
                f"/v1/sites/{site_id}/klaviyo", headers={"Authorization": f"Bearer {api_key}"}
            )
            if status.json()["status"] != "active":
                raise RuntimeError(f"the demo connection did not become active: {status.json()}")
    logger.info("demo site connected to the sandbox Klaviyo through the OAuth flow")


def _announce(
    public_url: str,
    site_id: str,
    public_key: str,
    key_file: Path,
    sandbox: SandboxState,
    traffic: TrafficPlan | None,
) -> None:
    base = public_url.rstrip("/")
    width = max(len(label) for label, _, _ in VISITS.values())
    lines = [
        "",
        "kx-edge demo is ready (sandbox Klaviyo: Sandbox Outfitters, connected: Active)",
        f"  demo storefront: {base}/",
        f"  merchant page:   {base}/admin (the demo site's api key is filled in for you)",
        *(f"  {label.ljust(width)}  {base}/demo/visit/{name}" for name, (label, _, _) in VISITS.items()),
        f"  demo site: id {site_id}, public key {public_key}",
        f"  configuration API key for the demo site (this run only): kept in {key_file}",
        *(
            [
                f"  results:         {base}/admin/experiences/{DEMO_TEST}/results ({traffic.visitors:,} demo "
                f"visitors being played in; {TRAFFIC_ENV}=0 turns that off)"
            ]
            if traffic is not None
            else []
        ),
        "",
    ]
    print("\n".join(lines), file=sys.stderr, flush=True)

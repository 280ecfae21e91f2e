"""The fleet deployment in deploy/: the compose file (no container runtime here, so it is parsed
and its nodes' environment is loaded as kx-edge's settings), and the plain-process fleet
(`deploy/local-fleet`), run for real against this machine's PostgreSQL and Redis Cluster."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from edge.settings import SECRET_ENV, Settings, load_settings
from tests.fleet.nodes import KX_EDGE
from tests.waiting import free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
# Variables kx-edge reads besides its settings (KX_EDGE_ENV: the named environment).
NOT_SETTINGS = {"KX_EDGE_ENV"}
SETTING_ENV = {"KX_EDGE_" + f.name.upper() for f in fields(Settings) if f.name not in SECRET_ENV}
KNOWN = SETTING_ENV | set(SECRET_ENV.values()) | NOT_SETTINGS
_VARIABLE = re.compile(r"\$\{(\w+)(?::?[-?][^}]*)?\}")


def _compose() -> dict[str, Any]:
    loaded = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def _nodes(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The kx-edge services: those built from the repository's Dockerfile."""
    return {
        name: service
        for name, service in compose["services"].items()
        if isinstance(service.get("build"), dict)
        and service["build"].get("dockerfile") == "deploy/Dockerfile"
    }


def _substituted(value: str) -> str:
    """`${VAR:?...}` / `${VAR:-default}` as compose would fill them from a deploy/.env."""
    examples = {"POSTGRES_PASSWORD": "pg-password", "KX_EDGE_PUBLIC_URL": "https://kx-edge.example.com"}
    return _VARIABLE.sub(lambda m: examples.get(m.group(1), f"example-{m.group(1).lower()}"), value)


def test_the_compose_file_has_the_fleet_and_every_service_it_depends_on() -> None:
    compose = _compose()
    services = compose["services"]
    assert {"postgres", "redis-1", "redis-2", "redis-3", "redis-cluster-init", "load-balancer"} <= set(
        services
    )
    assert set(_nodes(compose)) == {"kx-edge-a", "kx-edge-b"}
    for name, service in services.items():
        for needed in service.get("depends_on", []):
            assert needed in services, f"{name} depends on {needed}, which is not a service"
    # Three masters, joined into one cluster by the init service.
    assert all("--cluster-enabled yes" in services[f"redis-{i}"]["command"] for i in (1, 2, 3))
    assert "--cluster-replicas 0" in services["redis-cluster-init"]["command"][0]
    # The load balancer's upstreams are the two nodes, on the port the image serves.
    nginx = (DEPLOY / "nginx" / "nginx.conf").read_text()
    assert set(re.findall(r"server (kx-edge-\w+):8787", nginx)) == set(_nodes(compose))
    assert "./nginx/nginx.conf:/etc/nginx/nginx.conf:ro" in services["load-balancer"]["volumes"]
    assert '"8787"' in (DEPLOY / "Dockerfile").read_text()


def test_every_node_variable_in_the_compose_file_is_a_kx_edge_setting() -> None:
    for name, node in _nodes(_compose()).items():
        unknown = set(node["environment"]) - KNOWN
        assert not unknown, f"{name}: not kx-edge settings: {sorted(unknown)}"


def test_the_nodes_environment_loads_as_production_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # as in the image: no settings file beside the node
    nodes = _nodes(_compose())
    environments = [
        {key: _substituted(str(value)) for key, value in node["environment"].items()}
        for node in nodes.values()
    ]
    assert environments[0] == environments[1]  # every node is given the same settings
    loaded = load_settings(environ=environments[0])
    assert loaded.warnings == []
    settings = loaded.settings
    assert settings.env == "production"
    assert settings.database_url is not None and settings.database_url.startswith("postgresql://")
    assert settings.redis_cluster and settings.redis_url == "redis://redis-1:6379"
    assert settings.secret_key and settings.operator_token and settings.klaviyo_configured
    assert settings.config_push and settings.public_url == "https://kx-edge.example.com"


def test_the_dockerfile_copies_what_the_package_is_built_from() -> None:
    copied = set(re.findall(r"^COPY (\S+) ", (DEPLOY / "Dockerfile").read_text(), re.MULTILINE))
    packages = re.search(r"packages = \[([^\]]*)\]", (ROOT / "pyproject.toml").read_text())
    assert packages is not None
    wanted = {p.strip().strip('"') for p in packages.group(1).split(",")}
    assert wanted <= copied
    assert all((ROOT / path).exists() for path in copied if path != "pyproject.toml")


def test_every_variable_the_local_fleet_sets_is_a_kx_edge_setting() -> None:
    script = (DEPLOY / "local-fleet").read_text()
    exported = set(re.findall(r"\b(KX_EDGE_[A-Z_]+)=", script)) - {"KX_EDGE_BIN"}
    assert exported and exported <= KNOWN, sorted(exported - KNOWN)


def _run(command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(DEPLOY / "local-fleet"), command], env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def fleet_env(
    tmp_path: Path, postgres_schema_url: str, redis_cluster_url: str, redis_prefix: str
) -> Iterator[dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KX_EDGE_", "KLAVIYO_", "KX_FLEET_"))}
    env |= {
        "KX_FLEET_DIR": str(tmp_path / "fleet"),
        "KX_FLEET_DATABASE_URL": postgres_schema_url,
        "KX_FLEET_REDIS_URL": redis_cluster_url,
        "KX_FLEET_PREFIX": redis_prefix,
        "KX_FLEET_PORTS": f"{free_port()} {free_port()}",
        "KX_EDGE_BIN": KX_EDGE,
    }
    yield env
    _run("stop", env)


def _url(env: dict[str, str], index: int) -> str:
    return f"http://127.0.0.1:{env['KX_FLEET_PORTS'].split()[index]}"


def _operator(env: dict[str, str]) -> dict[str, str]:
    secrets = dict(
        line.split("=", 1) for line in (Path(env["KX_FLEET_DIR"]) / "fleet.env").read_text().splitlines()
    )
    return {"Authorization": f"Bearer {secrets['KX_EDGE_OPERATOR_TOKEN']}"}


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.slow
def test_the_local_fleet_starts_two_nodes_that_share_the_stores(fleet_env: dict[str, str]) -> None:
    started = _run("start", fleet_env)
    assert started.returncode == 0, started.stderr
    assert _run("status", fleet_env).returncode == 0
    assert (Path(fleet_env["KX_FLEET_DIR"]) / "fleet.env").stat().st_mode & 0o077 == 0  # secrets: 0600
    operator = _operator(fleet_env)
    created = httpx.post(_url(fleet_env, 0) + "/v1/sites", json={"name": "Shop"}, headers=operator)
    assert created.status_code == 201, created.text
    site_id = created.json()["id"]

    def listed_on_b() -> bool:
        answer = httpx.get(_url(fleet_env, 1) + "/v1/sites", headers=operator)
        return site_id in {s["id"] for s in answer.json()["sites"]}

    wait_until(listed_on_b, timeout=10, what="node b to list the site created on node a")
    # Separate directories: nothing of one node's is in the other's.
    assert not (Path(fleet_env["KX_FLEET_DIR"]) / "a" / "var" / "kx-edge.sqlite3").exists()
    assert _run("start", fleet_env).returncode == 0  # already running: left as it is
    stopped = _run("stop", fleet_env)
    assert stopped.returncode == 0, stopped.stderr
    assert _run("status", fleet_env).returncode == 1

"""`kx-edge serve`: uvicorn with uvloop and httptools (each response in one write:
`edge.web.one_write`), one or several workers."""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import uvicorn

from edge.settings import LoadResult
from edge.settings.local_secrets import LocalSecrets, ensure_local_secrets
from edge.web.one_write import OneWriteHttpToolsProtocol

SERVICE_APP = "edge.asgi:create_app_from_environment"
# The demo (a sandbox Klaviyo and a demo storefront beside the service) is a package of its own
# that the service never imports: `--demo` only names its app factory to uvicorn.
DEMO_APP = "demo.asgi:create_demo_app_from_environment"


def serve(
    loaded: LoadResult,
    *,
    host: str,
    port: int,
    workers: int,
    demo: bool,
    config_path: Path | None,
) -> int:
    settings = loaded.settings
    if not settings.public_url:
        shown_host = "127.0.0.1" if host in {"0.0.0.0", "::"} else host  # noqa: S104
        settings = replace(settings, public_url=f"http://{shown_host}:{port}")
    local = ensure_local_secrets(settings)
    settings = local.settings
    if workers < 1:
        print("kx-edge: --workers must be at least 1", file=sys.stderr)
        return 2
    if demo and workers != 1:
        print("kx-edge: --demo runs a single worker (its sandbox Klaviyo lives in memory)", file=sys.stderr)
        return 2

    # Worker processes rebuild the settings from the environment (edge.asgi).
    os.environ["KX_EDGE_PUBLIC_URL"] = settings.public_url
    os.environ["KX_EDGE_WORKER_PROCESSES"] = str(workers)
    if settings.env:
        os.environ["KX_EDGE_ENV"] = settings.env
    if config_path is not None:
        os.environ["KX_EDGE_CONFIG"] = str(config_path)
    if workers > 1:
        prepare_multiprocess_metrics()

    print(banner(settings.public_url, local, terminal=sys.stderr.isatty()), file=sys.stderr, flush=True)
    uvicorn.run(
        DEMO_APP if demo else SERVICE_APP,
        factory=True,
        host=host,
        port=port,
        workers=workers if workers > 1 else None,
        # uvloop: without it, several workers answer every request ~44 ms late (no TCP_NODELAY).
        loop="uvloop",
        http=OneWriteHttpToolsProtocol,
        lifespan="on",
        log_config=None,
        server_header=False,
        timeout_graceful_shutdown=10,
    )
    return 0


def prepare_multiprocess_metrics() -> str:
    """Several workers share their /metrics through prometheus-client's multiprocess mode: each
    writes its values to files in `PROMETHEUS_MULTIPROC_DIR` and a scrape sums them. The directory
    is the operator's when set (emptied here: values of an earlier run must not count), else a
    new private one. Set before the workers start, which read it as they import prometheus-client."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
    else:
        directory = tempfile.mkdtemp(prefix="kx-edge-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    return directory


def banner(url: str, local: LocalSecrets, *, terminal: bool) -> str:
    """The start-up lines. The operator token is shown once, at the start that created it, and
    only on a terminal: stderr that is not one is a log stream (a file, a collector), and a
    secret never goes there. Every other start says where the token is kept."""
    lines = [f"kx-edge listening on {url}"]
    path, token = local.operator_token_path, local.settings.operator_token
    if path is not None and token:
        if local.operator_token_created and terminal:
            lines.append(f"operator token (new, shown this once; kept in {path}): {token}")
        elif local.operator_token_created:
            lines.append(f"operator token: new, kept in {path} (not shown: stderr is not a terminal)")
        else:
            lines.append(f"operator token: kept in {path}")
    return "\n".join(lines)

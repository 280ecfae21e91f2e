"""Entry points uvicorn imports: each worker process builds its own app from the environment.

`kx-edge serve` writes what the workers need (environment name, config path, public URL) into
the environment before uvicorn forks, and generated local secrets live in files under data_dir,
so every worker reads the same settings.
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.applications import Starlette

from edge.app import create_app
from edge.ops.logs import configure_logging
from edge.settings import SECRET_ENV, Settings, load_settings
from edge.settings.local_secrets import ensure_local_secrets


def settings_from_environment() -> Settings:
    """This worker's settings (the config file `KX_EDGE_CONFIG` names, then `KX_EDGE_*`), with
    logging configured from them."""
    config = os.environ.get("KX_EDGE_CONFIG")
    loaded = load_settings(config_path=Path(config) if config else None)
    settings = ensure_local_secrets(loaded.settings).settings
    configure_logging(
        level=settings.log_level,
        fmt=settings.log_format,
        secrets=[str(getattr(settings, name)) for name in SECRET_ENV if getattr(settings, name)],
    )
    return settings


def create_app_from_environment() -> Starlette:
    return create_app(settings_from_environment())

"""The demo's entry point for uvicorn (`kx-edge serve --demo` names it): the service's settings
and the demo traffic's plan (`KX_DEMO_TRAFFIC`) from the environment, then the demo app around
the service."""

from __future__ import annotations

from starlette.applications import Starlette

from demo.setup import create_demo_app
from demo.traffic import traffic_from_environment
from edge.asgi import settings_from_environment


def create_demo_app_from_environment() -> Starlette:
    return create_demo_app(settings_from_environment(), traffic=traffic_from_environment())

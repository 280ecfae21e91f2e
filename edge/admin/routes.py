"""The merchant page's routes: add `routes` to the app (`create_app(..., extra_routes=routes)`)."""

from __future__ import annotations

from pathlib import Path

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from edge.admin import pages, results_page

STATIC_PATH = "/admin/static"

static = Mount(STATIC_PATH, app=StaticFiles(directory=Path(__file__).parent / "static"), name="admin-static")

routes: list[BaseRoute] = [
    Route("/admin", pages.home, methods=["GET"]),
    Route("/admin/", pages.home, methods=["GET"]),
    Route("/admin/sign-in", pages.sign_in_endpoint, methods=["GET", "POST"]),
    Route("/admin/sign-out", pages.sign_out, methods=["POST"]),
    Route("/admin/integrations", pages.integrations, methods=["GET"]),
    Route("/admin/experiences", pages.experiences, methods=["GET"]),
    Route("/admin/experiences/new", pages.editor, methods=["GET"]),
    Route("/admin/experiences/{experience_id}", pages.editor, methods=["GET"]),
    Route("/admin/experiences/{experience_id}/results", results_page.results_page, methods=["GET"]),
    Route("/admin/preview", pages.preview, methods=["GET"]),
    static,
]

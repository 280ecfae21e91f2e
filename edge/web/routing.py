"""One route per path, dispatching by method, so a wrong method's 405 names every allowed one."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

Handler = Callable[[Request], Awaitable[Response]]


def method_route(path: str, handlers: Mapping[str, Handler]) -> Route:
    table = dict(handlers)

    async def dispatch(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        return await table[method](request)

    dispatch.__name__ = "_".join(handler.__name__ for handler in table.values())
    return Route(path, dispatch, methods=list(table))

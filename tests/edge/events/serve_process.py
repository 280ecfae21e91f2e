"""A kx-edge server process for the durability test: the real app under uvicorn, settings from
the environment (as `kx-edge serve` gives its workers), the events component enqueueing only
(another process sends), so every event the test counts comes through the outbox.

    python -m tests.edge.events.serve_process PORT

Prints `ready` once it answers; serves until it is killed.
"""

from __future__ import annotations

import sys

import uvicorn

from edge.app import create_app
from edge.asgi import settings_from_environment
from edge.events import EventsConfig, replace_events
from edge.services import Services


async def enqueue_only(svc: Services) -> None:
    events = await replace_events(svc, EventsConfig(send=False))
    await events.start()
    print("ready", flush=True)


def main(port: str) -> None:
    app = create_app(settings_from_environment(), on_ready=enqueue_only)
    uvicorn.run(app, host="127.0.0.1", port=int(port), log_config=None, lifespan="on")


if __name__ == "__main__":
    main(*sys.argv[1:])

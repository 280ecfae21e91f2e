"""Event triggers: "entered a test", "saw a personalization" and profile sync, sent to Klaviyo
through a durable outbox, never on the request path.

    observer (request path: buffer append)
      -> flusher (plan, dedupe, payloads; one outbox write per few ms)
      -> outbox (SQLite table, or a Redis stream when Redis is configured)
      -> sender (single or bulk POSTs within the account's budget; settle each event)

`build_events(svc)` builds it all; `explain_events` serves the explain endpoint. Its configuration
endpoints belong to the configuration API (`edge.config_api.triggers`).
"""

from edge.events.component import Events, EventsConfig, build_events, events_of, replace_events
from edge.events.plan import SkipReason, unique_id
from edge.events.sender import SenderConfig
from edge.events.status import explain_events
from edge.events.triggers import METRIC_NAMES, PROFILE_PROPERTY, Switches, Trigger

__all__ = [
    "METRIC_NAMES",
    "PROFILE_PROPERTY",
    "Events",
    "EventsConfig",
    "SenderConfig",
    "SkipReason",
    "Switches",
    "Trigger",
    "build_events",
    "events_of",
    "explain_events",
    "replace_events",
    "unique_id",
]

"""Who else hears about an assignment once it is answered (event triggers, metrics)."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Protocol

from edge.sites.runtime import SiteRuntime
from edge.storefront.identity import VisitorIdentity
from targeting import SiteDecision


class AssignObserver(Protocol):
    """Told about every answered assignment. Must be quick, must not block and must not raise:
    anything slow (sending events) belongs in a queue the observer feeds.

    `observed` may return an awaitable: the answer is sent once it is done (event triggers:
    the visit's events are durable). The observer bounds that wait itself."""

    def observed(
        self,
        runtime: SiteRuntime,
        visitor_id: str,
        who: VisitorIdentity,
        decision: SiteDecision,
        url: str | None,
    ) -> Awaitable[object] | None: ...

"""Is a request's user agent a known crawler? `crawlerdetect`'s maintained list decides.

The list is a few thousand patterns, so a verdict costs tens of microseconds to milliseconds;
it is cached per distinct user agent in a bounded map. The user agent is client data: only its
first `MAX_UA_CHARS` characters are looked at (and kept as the key), and a verdict is only
remembered once it has been computed, so a client that sends a new user agent per request
costs itself one check each and the process at most `max_entries` small entries.
"""

from __future__ import annotations

from crawlerdetect import CrawlerDetect

from edge.bounded import BoundedMap

MAX_UA_CHARS = 512
MAX_VERDICTS = 20_000


class BotCheck:
    __slots__ = ("_detector", "_verdicts", "enabled")

    def __init__(self, *, enabled: bool = True, max_entries: int = MAX_VERDICTS) -> None:
        self.enabled = enabled
        self._detector = CrawlerDetect()
        self._verdicts: BoundedMap[bytes, bool] = BoundedMap(max_entries)

    def is_bot(self, user_agent: bytes | None) -> bool:
        """Whether `user_agent` (raw header bytes, None when absent) names a known crawler. A
        request without one is not called a bot: the list recognises names, not their absence."""
        if not self.enabled or not user_agent:
            return False
        key = user_agent[:MAX_UA_CHARS]
        verdict = self._verdicts.get(key)
        if verdict is None:
            verdict = bool(self._detector.isCrawler(key.decode("latin-1")))
            self._verdicts.put(key, verdict)
        return verdict

"""Redis as an optional helper: a failure never fails a request.

Every command runs through `RedisGuard.run` with a timeout. Two kinds of failure:

- Redis is *down* (connection refused or reset, or a timeout when no command has succeeded for
  `down_after_s`, as when the server vanished and the client's own retries hang): it
  is skipped for `retry_interval_s` (nothing waits on a dead connection meanwhile) and callers
  degrade to the in-process path; the failure is logged at most once per `log_interval_s`. The
  next command after the interval probes it again: the pool reconnects by itself, so Redis coming
  back is used again without a restart.
- Redis is *busy* (a single timeout, or the connection pool is exhausted): only this command
  failed. Callers must not bypass the fleet-wide lock and budget for it: they answer pending.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.exceptions import MaxConnectionsError, RedisError

from edge.fleet.redis_client import RedisClient
from edge.resolver.metrics import ResolverMetrics

_T = TypeVar("_T")
logger = logging.getLogger("kx_edge.resolver")


class RedisDown(Exception):
    """Redis is not configured, or did not answer: degrade to the in-process path."""


class RedisBusy(RedisDown):
    """Redis is up but this command did not get through in time: do not degrade for it."""


class RedisGuard:
    def __init__(
        self,
        redis: RedisClient | None,
        metrics: ResolverMetrics,
        *,
        timeout_s: float = 0.25,
        retry_interval_s: float = 1.0,
        log_interval_s: float = 30.0,
        down_after_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.redis = redis
        self._metrics = metrics
        self._timeout = timeout_s
        self._retry_interval = retry_interval_s
        self._log_interval = log_interval_s
        self._down_after = down_after_s
        self._clock = clock
        self._last_success = clock()
        self._down_until = 0.0
        self._next_log = 0.0
        self._was_down = False

    @property
    def configured(self) -> bool:
        return self.redis is not None

    @property
    def available(self) -> bool:
        return self.redis is not None and self._clock() >= self._down_until

    async def run(
        self, command: Callable[[RedisClient], Awaitable[_T]], *, timeout_s: float | None = None
    ) -> _T:
        """The command's result, or `RedisDown` (also while Redis is known to be down)."""
        client = self.redis
        if client is None:
            raise RedisDown("Redis is not configured")
        if self._clock() < self._down_until:
            raise RedisDown("Redis is down")
        try:
            async with asyncio.timeout(timeout_s or self._timeout):
                result = await command(client)
        except MaxConnectionsError as exc:
            self._metrics.inc("redis_busy_pool")
            raise RedisBusy("Redis connection pool exhausted") from exc
        except TimeoutError as exc:
            if self._clock() - self._last_success < self._down_after:
                self._metrics.inc("redis_busy_timeout")
                raise RedisBusy("Redis command timed out") from exc
            self._failed(exc)
            raise RedisDown("no Redis command succeeded lately") from exc
        except (RedisError, OSError) as exc:
            self._failed(exc)
            raise RedisDown(str(exc)) from exc
        self._last_success = self._clock()
        if self._was_down:
            self._was_down = False
            logger.warning("redis answers again; using it again")
        return result

    def _failed(self, exc: BaseException) -> None:
        now = self._clock()
        self._down_until = now + self._retry_interval
        self._was_down = True
        self._metrics.inc("redis_error")
        if now >= self._next_log:
            self._next_log = now + self._log_interval
            logger.warning(
                "redis unavailable, serving from L1 with local locks and budget: %s",
                f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__,
            )

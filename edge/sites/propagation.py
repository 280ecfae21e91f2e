"""How long configuration changes take to reach this process: the propagation lag.

A change pushed from the database carries the time it was made (the PostgreSQL server's clock);
when the push installs the new runtime here, the lag is now minus that time. Kept for an exporter
to read: the last lag, a bounded list of recent lags, their count and sum (what a histogram or a
summary needs), and callbacks told of each new lag as it is measured. Lags measured across
machines include their clock difference: keep the fleet's clocks synchronised (NTP).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable


class PropagationLag:
    def __init__(self, keep: int = 1024) -> None:
        self.last_s: float | None = None
        self.recent_s: deque[float] = deque(maxlen=keep)
        self.count = 0
        self.sum_s = 0.0
        self.observers: list[Callable[[float], None]] = []

    def observe(self, lag_s: float) -> None:
        """One change installed `lag_s` seconds after it was made (clamped at 0: clock skew)."""
        lag_s = max(lag_s, 0.0)
        self.last_s = lag_s
        self.recent_s.append(lag_s)
        self.count += 1
        self.sum_s += lag_s
        for observer in self.observers:
            observer(lag_s)

"""Message rate limits: per person and per server, over a sliding minute.

A public bot must not let one person (or one busy server) flood it: every turn costs a brain
call and may start heavy work. The limiter keeps, per key, the times of recent turns; it lives
in the bot's memory (a restart forgets it, which errs on the side of answering).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

__all__ = ["RateLimiter", "server_of"]


def server_of(conversation_id: str) -> str:
    """The server a conversation belongs to: ``discord:<guild>``, ``slack:<team>``, ``local``."""
    parts = conversation_id.split(":")
    return ":".join(parts[:2]) if len(parts) > 2 else parts[0]


class RateLimiter:
    """At most ``per_minute`` events per key in any 60 seconds (0 = no limit)."""

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 100_000) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self.max_keys = max_keys
        self._seen: dict[str, deque[float]] = {}

    def allow(self, key: str) -> bool:
        """Count one event for ``key``; ``False`` (and not counted) when over the limit."""
        if self.per_minute <= 0:
            return True
        now = self.clock()
        times = self._seen.setdefault(key, deque())
        while times and now - times[0] >= 60.0:
            times.popleft()
        if len(times) >= self.per_minute:
            return False
        times.append(now)
        if len(self._seen) > self.max_keys:  # forget the quiet ones; memory stays bounded
            for stale in [k for k, v in self._seen.items() if not v or now - v[-1] >= 60.0]:
                del self._seen[stale]
        return True

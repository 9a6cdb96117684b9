"""When a job's progress message is posted, edited, or left as it is: the same on every platform.

Each job has one progress message, edited in place as the job moves on. Platforms rate-limit
edits (Discord about 5 per 5 s per channel, Slack's ``chat.update`` 50 a minute), and a
render reports progress far more often than anyone reads it, so an edit waits until
``min_interval_s`` has passed since the last one. The final state (done, failed, stopped)
is always shown, at once. A state is remembered only after the platform took it
(:meth:`ProgressPacer.shown`), so a post or edit that failed is tried again with the next
report, or by the event pump's retry.

The adapters only translate: they ask :meth:`ProgressPacer.plan` what to do, do it with the
platform's own calls, and tell the pacer what is now shown.

:class:`Pace` keeps a platform method under its rate tier before the platform has to say
429: a token bucket per key (a channel, a workspace) that a post waits on, and that an
intermediate progress edit only takes when a token is there (it is skipped otherwise; the
final state waits for its token). The tiers' numbers are the adapters' (platform facts);
the waiting is the same everywhere.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

__all__ = ["Pace", "Plan", "ProgressPacer"]

Ref = TypeVar("Ref")
"""How a platform names a posted message (a Discord message id, a Slack ``ts``)."""

Plan = Literal["post", "edit", "skip"]


@dataclass
class _Shown(Generic[Ref]):
    ref: Ref
    text: str
    at: float


class ProgressPacer(Generic[Ref]):
    """One per platform adapter: decides each progress report's fate, remembers what is shown."""

    def __init__(self, *, min_interval_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.min_interval_s = min_interval_s
        self.clock = clock
        self._shown: dict[str, _Shown[Ref]] = {}

    def plan(self, job_id: str, text: str, *, done: bool) -> Plan:
        """``post`` a job's first report, ``edit`` when it changed and its time came (or the
        job is done), else ``skip`` (a finished job whose message already says it all is
        forgotten then)."""
        shown = self._shown.get(job_id)
        if shown is None:
            return "post"
        if text == shown.text:
            if done:
                self._shown.pop(job_id, None)
            return "skip"
        if done or self.clock() - shown.at >= self.min_interval_s:
            return "edit"
        return "skip"

    def ref(self, job_id: str) -> Ref:
        """The message that shows the job's progress (after a ``post``)."""
        return self._shown[job_id].ref

    def shown(self, job_id: str, text: str, *, ref: Ref | None = None, done: bool) -> None:
        """The platform took the post (with its ``ref``) or edit; a finished job is forgotten."""
        if done:
            self._shown.pop(job_id, None)
            return
        if ref is None:
            ref = self._shown[job_id].ref
        self._shown[job_id] = _Shown(ref, text, self.clock())


class Pace:
    """Requests per key within a rate tier: ``burst`` at once, then ``per_s`` a second."""

    def __init__(self, *, burst: int, per_s: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.burst = burst
        self.per_s = per_s
        self.clock = clock
        self.sleep = sleep
        self._level: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def _tokens(self, key: str) -> float:
        now = self.clock()
        tokens, at = self._level.get(key, (float(self.burst), now))
        return min(float(self.burst), tokens + (now - at) * self.per_s)

    def ready(self, key: str) -> bool:
        """Take a token if one is there now (for what may be skipped, like a progress edit)."""
        tokens = self._tokens(key)
        if tokens < 1.0:
            return False
        self._level[key] = (tokens - 1.0, self.clock())
        return True

    async def wait(self, key: str) -> None:
        """Take a token, waiting for it when the tier is spent (callers queue up in order)."""
        tokens = self._tokens(key) - 1.0  # may go below zero: a debt the caller waits out
        self._level[key] = (tokens, self.clock())
        if tokens < 0.0:
            await self.sleep(-tokens / self.per_s)

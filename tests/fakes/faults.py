"""Faults on demand and per-method rate limits, shared by the Discord and Slack loopback fakes.

A fake asks :meth:`Faults.decide` before it handles a request; the answer says whether the
request is refused (a status such as 429 or 500), held and then dropped (a timeout), dropped
at once (a broken connection), slowed down (a slow upload) or served. A refused, held or
dropped request is never applied, so a client that tries again cannot make anything appear
twice in the fake unless it really sent it twice.

:class:`RateBuckets` are token buckets, one per (method, key): a request that finds its
bucket empty is answered 429 with the seconds until a token comes back, as the platforms do.
"""

from __future__ import annotations

import asyncio
import fnmatch
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal, Self

from aiohttp import web

__all__ = ["Fault", "Faults", "LoopbackServer", "RateBuckets", "Tier"]

FaultKind = Literal["status", "timeout", "drop", "slow"]


@dataclass(frozen=True)
class Fault:
    """What happens to one request instead of (or before) being served."""

    kind: FaultKind
    status: int = 0  #: for ``status``: the HTTP status answered
    seconds: float = 0.0  #: for ``timeout`` (held, then dropped) and ``slow`` (held, then served)


@dataclass
class _Rule:
    pattern: str  #: fnmatch pattern on the request's name (``chat.postMessage``, ``POST /channels/*``)
    fault: Fault
    times: int
    where: str = ""  #: only requests about this channel (empty: any)


@dataclass
class Faults:
    """Faults a test turns on: every n-th request refused, or the next matching ones.

    ``every`` counts only requests matching ``every_pattern`` (all by default); the refused
    ones cycle through ``statuses``. One-off rules (:meth:`next`) are checked first.
    """

    every: int = 0
    statuses: tuple[int, ...] = (429, 500)
    every_pattern: str = "*"
    retry_after_s: float = 1.0  #: what a 429 from ``every`` asks the client to wait
    injected: list[tuple[str, Fault]] = field(default_factory=list)  #: what was done, in order
    _rules: list[_Rule] = field(default_factory=list)
    _seen: int = 0
    _cycle: itertools.cycle[int] | None = None

    def fail_every(self, n: int, *, statuses: tuple[int, ...] = (429, 500),
                   pattern: str = "*", retry_after_s: float = 1.0) -> None:
        """Refuse every ``n``-th request matching ``pattern``, cycling through ``statuses``."""
        self.every, self.statuses, self.every_pattern = n, statuses, pattern
        self.retry_after_s = retry_after_s
        self._seen, self._cycle = 0, None

    def next(self, pattern: str, fault: Fault, *, times: int = 1, where: str = "") -> None:
        """The next ``times`` requests matching ``pattern`` (about channel ``where``, when
        given: other threads' posts in the same workspace pass) get ``fault``."""
        self._rules.append(_Rule(pattern, fault, times, where))

    def off(self) -> None:
        """No more faults (rules already used stay in :attr:`injected`)."""
        self.every = 0
        self._rules.clear()

    def decide(self, name: str, *, where: str = "") -> Fault | None:
        """The fault for this request, if any (and remember it in :attr:`injected`)."""
        for rule in self._rules:
            if rule.times > 0 and fnmatch.fnmatchcase(name, rule.pattern) and (
                    not rule.where or rule.where == where):
                rule.times -= 1
                self.injected.append((name, rule.fault))
                return rule.fault
        if self.every and fnmatch.fnmatchcase(name, self.every_pattern):
            self._seen += 1
            if self._seen % self.every == 0:
                if self._cycle is None:
                    self._cycle = itertools.cycle(self.statuses)
                fault = Fault("status", status=next(self._cycle), seconds=self.retry_after_s)
                self.injected.append((name, fault))
                return fault
        return None

    def count(self, kind: FaultKind) -> int:
        return sum(1 for _, fault in self.injected if fault.kind == kind)


@dataclass(frozen=True)
class Tier:
    """A rate limit: ``burst`` requests at once, refilled at ``per_s`` a second."""

    burst: int
    per_s: float

    @classmethod
    def per_minute(cls, n: int) -> Tier:
        """A Slack tier (``n`` a minute; Slack tolerates a burst of about that many)."""
        return cls(burst=n, per_s=n / 60.0)


class RateBuckets:
    """Token buckets by (method, key); :meth:`take` answers the wait when one is empty."""

    def __init__(self, tiers: dict[str, Tier],
                 clock: Callable[[], float] | None = None) -> None:
        self.tiers = tiers
        self.clock = clock or (lambda: asyncio.get_running_loop().time())
        self._level: dict[tuple[str, str], tuple[float, float]] = {}  # -> (tokens, at)
        self.limited: list[tuple[str, str]] = []  #: (method, key) of every 429 answered

    def take(self, method: str, key: str = "") -> float:
        """Take a token; 0 when there was one, else the seconds until there will be."""
        tier = self.tiers.get(method)
        if tier is None:
            return 0.0
        now = self.clock()
        tokens, at = self._level.get((method, key), (float(tier.burst), now))
        tokens = min(float(tier.burst), tokens + (now - at) * tier.per_s)
        if tokens >= 1.0:
            self._level[(method, key)] = (tokens - 1.0, now)
            return 0.0
        self._level[(method, key)] = (tokens, now)
        self.limited.append((method, key))
        return (1.0 - tokens) / tier.per_s

    def remaining(self, method: str, key: str = "") -> tuple[int, float]:
        """Whole tokens left and seconds until the bucket is full (for rate-limit headers)."""
        tier = self.tiers[method]
        now = self.clock()
        tokens, at = self._level.get((method, key), (float(tier.burst), now))
        tokens = min(float(tier.burst), tokens + (now - at) * tier.per_s)
        return int(tokens), (tier.burst - tokens) / tier.per_s


async def hold(fault: Fault) -> None:
    """Wait as the fault says (a timeout or a slow upload)."""
    if fault.kind in ("timeout", "slow") and fault.seconds > 0:
        await asyncio.sleep(fault.seconds)


class LoopbackServer:
    """A fake platform API served on 127.0.0.1 at a free port for the life of ``async with``.

    A fake gives its routes in :meth:`application`; ``base_url`` is where the client under
    test is pointed.
    """

    _runner: web.AppRunner | None = None
    base_url = ""

    def application(self) -> web.Application:
        """The fake's aiohttp application with its routes."""
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        self._runner = web.AppRunner(self.application(), access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

"""The product without an audio engine: the Maestro with the rule brain and every Chef.

Most conversation tests build the same Maestro on a fresh SQLite store and differ only in the
job queue behind it (one that runs nothing, one that only analyses, the honest queue that
answers every job as a perfect engine would). :func:`rule_maestro` builds it once, and
:class:`IdleQueue` is the do-nothing queue the others specialise.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from chefs import all_chefs, load_genres
from core.jobs import JobEvent, JobKind, JobQueue, JobRequest
from core.maestro import Maestro, MaestroLimits
from core.rule_brain import RuleBrain
from core.store import Store

__all__ = ["IdleQueue", "limits_for", "rule_maestro"]


def limits_for(data_dir: Path) -> MaestroLimits:
    """The limits every conversation test runs under: a 50 MB, 12-minute song."""
    return MaestroLimits(max_upload_bytes=50_000_000, max_song_s=720, data_dir=str(data_dir))


def rule_maestro(store: Store, queue: JobQueue, data_dir: Path, **parts: Any) -> Maestro:
    """A Maestro with the rule brain and every Chef on ``store`` and ``queue``.

    ``parts`` go to the Maestro as they are (an ``advisor``, a ``page_link``).
    """
    genres = load_genres()
    return Maestro(brain=RuleBrain(genres=genres), chefs=all_chefs(), genres=genres,
                   store=store, queue=queue, limits=limits_for(data_dir), **parts)


class IdleQueue:
    """A job queue that runs nothing and reports nothing; ``supports`` says no to every kind."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    def supports(self, kind: JobKind) -> bool:
        return False

    async def enqueue(self, request: JobRequest) -> int:
        raise AssertionError("nothing should be enqueued when no kind is supported")

    async def cancel(self, production_id: str) -> list[str]:
        return []

    async def events(self) -> AsyncIterator[JobEvent]:
        if False:
            yield

    async def ack(self, event: JobEvent) -> None: ...


class RecordingQueue(IdleQueue):
    """Accepts jobs of ``kinds`` and keeps their requests; the test delivers their results."""

    def __init__(self, *kinds: JobKind) -> None:
        self.kinds = frozenset(kinds)
        self.requests: list[JobRequest] = []

    def supports(self, kind: JobKind) -> bool:
        return kind in self.kinds

    async def enqueue(self, request: JobRequest) -> int:
        self.requests.append(request)
        return 1

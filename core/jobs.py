"""The job queue as the Maestro sees it: typed requests in, typed events out.

Two implementations sit behind :class:`JobQueue`: the inline queue (a process pool inside
the bot, the embedded default, in ``bot/inline_queue.py``) and arq on Redis (its own
module). Job functions live in ``jobs/`` and are registered by name in ``jobs.tasks``.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, Field

__all__ = [
    "JobEvent",
    "JobKind",
    "JobQueue",
    "JobRequest",
    "JobStatus",
    "ProgressFn",
    "RedisKeys",
    "job_id_for",
    "queue_for",
]


class JobKind(StrEnum):
    """The steps heavy work is split into; each runs on a worker."""

    ANALYZE = "analyze"  #: intake checks + tempo, key, loudness, bar grid
    SEPARATE = "separate"  #: stems with Demucs (GPU-capable queue)
    RENDER = "render"  #: spec -> stems, mix, master, preview, picture
    EXPORT = "export"  #: spec + renders -> Live set, DAWproject, MIDI, zip
    COMPARE = "compare"  #: two renders -> the same section of each, loudness-matched


class JobStatus(StrEnum):
    """Where a job is in its life."""

    QUEUED = "queued"  #: accepted, waiting at ``position``
    STARTED = "started"  #: a worker picked it up
    PROGRESS = "progress"  #: a step reported ``fraction`` done
    DONE = "done"  #: finished; ``result`` holds its data
    FAILED = "failed"  #: failed; ``message`` is the sentence for the thread
    CANCELLED = "cancelled"  #: stopped at the director's request


ProgressFn = Callable[[float, str], None]
"""Called by a job with the fraction done (0–1) and the current step's name."""


def job_id_for(production_id: str, version: int, kind: JobKind, *, attempt: str = "") -> str:
    """A job id derived from (production, version, step): enqueueing the same work twice is a no-op.

    ``attempt`` distinguishes a deliberate re-run (after a cancel, say) of the same step.
    """
    digest = hashlib.sha256(f"{production_id}|{version}|{kind}|{attempt}".encode()).hexdigest()
    return f"{kind}-v{version}-{digest[:16]}"


class JobRequest(BaseModel):
    """One unit of heavy work for a worker; ``payload`` is validated by the job itself."""

    job_id: str
    production_id: str
    kind: JobKind
    version: int = Field(default=0, ge=0)
    payload: dict[str, Any] = Field(default_factory=dict)


class JobEvent(BaseModel):
    """What a worker reports about a job, in order, for the thread the job belongs to."""

    job_id: str
    production_id: str
    kind: JobKind
    status: JobStatus
    version: int = 0
    fraction: float | None = Field(default=None, ge=0, le=1)
    step: str = ""
    position: int | None = None  #: queue position when ``QUEUED`` (1 = next)
    eta_s: float | None = None
    message: str = ""  #: user-facing sentence when ``FAILED`` or ``CANCELLED``
    result: dict[str, Any] = Field(default_factory=dict)
    receipt: str = ""  #: set by the queue on delivery (a stream entry id); ``ack`` uses it


class JobQueue(Protocol):
    """Runs heavy work off the bot's event loop and reports back through :meth:`events`."""

    async def start(self) -> None:
        """Connect and start delivering events."""

    async def close(self) -> None:
        """Stop accepting work and release resources; running jobs are cancelled."""

    def supports(self, kind: JobKind) -> bool:
        """Whether this installation can run jobs of ``kind``."""

    async def enqueue(self, request: JobRequest) -> int:
        """Queue ``request``; returns its queue position. A duplicate ``job_id`` is a no-op.

        Raises :class:`core.errors.QueueUnavailable` when the queue cannot be reached.
        """

    async def cancel(self, production_id: str) -> list[str]:
        """Cancel the queued and running jobs of a production; returns the cancelled ids."""

    def events(self) -> AsyncIterator[JobEvent]:
        """Job events, each delivered until :meth:`ack` is called for it."""

    async def ack(self, event: JobEvent) -> None:
        """Acknowledge an event once its reply has been posted."""


QUEUES: dict[str, frozenset[JobKind]] = {
    "separate": frozenset({JobKind.SEPARATE}),
    "render": frozenset({JobKind.ANALYZE, JobKind.RENDER, JobKind.EXPORT, JobKind.COMPARE}),
}
"""Worker queues by name: ``separate`` wants a GPU, ``render`` (render, export, analysis) a CPU."""


def queue_for(kind: JobKind) -> str:
    """The queue a job kind runs on (``render`` for any kind not named elsewhere)."""
    return next((name for name, kinds in QUEUES.items() if kind in kinds), "render")


class RedisKeys:
    """Key names the bot and the workers share on Redis (arq's own keys are arq's)."""

    PREFIX = "vyke"
    GROUP = "vyke-bot"  #: the bots' consumer group on each platform's event stream
    KINDS = "vyke:kinds"  #: set of job kinds some worker has offered
    DURATIONS = "vyke:durations"  #: hash kind -> typical run time (s), for ETAs
    RUNNING = "vyke:running"  #: hash job id -> worker name, while a worker runs it
    EVENTS_MAXLEN = 100_000  #: the stream is trimmed (approximately) to this many entries

    @staticmethod
    def events(platform: str) -> str:
        """The stream of :class:`JobEvent` (field ``event``) for one platform's bot.

        One stream per platform, so a Discord bot, a Slack bot and a terminal sharing a Redis
        each read only their own productions' results (a production id starts with its
        platform: ``discord:…``, ``slack:…``, ``local:…``).
        """
        return f"vyke:events:{platform}"

    @staticmethod
    def events_of(production_id: str) -> str:
        """The event stream a production's events go to."""
        platform, sep, _ = production_id.partition(":")
        return RedisKeys.events(platform if sep and platform else "local")

    @staticmethod
    def queue(name: str) -> str:
        """The arq queue (a sorted set) of a worker queue name."""
        return f"vyke:queue:{name}"

    @staticmethod
    def worker(name: str) -> str:
        """A worker's heartbeat key; it expires when the worker dies."""
        return f"vyke:worker:{name}"

    @staticmethod
    def chain(production_id: str) -> tuple[str, str, str]:
        """A production's running job (hash), its waiting jobs (list) and their ids (set).

        Jobs of one production run one after another: only the head of the chain is on an
        arq queue; the worker that finishes it submits the next.
        """
        base = f"vyke:chain:{production_id}"
        return f"{base}:active", f"{base}:waiting", f"{base}:ids"

"""The embedded job queue: jobs in child processes of the bot, for one machine with no Redis.

It implements :class:`core.jobs.JobQueue` with the same behaviour as the Redis queue: jobs of
one production run in order, different productions run side by side up to ``workers``, each
job runs in its own child process (so "stop" kills the work itself), a job that runs out of
time is stopped and reported, and transient failures (the process died) are retried with
backoff. Job functions are looked up in ``jobs.tasks.TASKS`` inside the children only, so
the bot never imports torch, librosa or pedalboard.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import time
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from core.artifacts import StoreConfig
from core.jobs import JobEvent, JobKind, JobRequest, JobStatus
from core.progress import ProgressClock

__all__ = ["InlineQueue"]

logger = logging.getLogger(__name__)


def _available_kinds() -> list[str]:
    """Runs in a child: the job kinds this installation's ``jobs`` package provides."""
    try:
        from jobs.tasks import TASKS
    except ImportError as error:  # the audio engine is not installed
        logging.getLogger(__name__).warning("jobs.tasks unavailable: %s", error)
        return []
    return [str(kind) for kind in TASKS]


class InlineQueue:
    """A :class:`core.jobs.JobQueue` on child processes of the bot.

    Parameters
    ----------
    workers : int
        Jobs that run at once (different productions; one production's jobs run in order).
    timeouts_s : dict, optional
        Longest run per job kind (``"separate": 1800.0`` …); the defaults otherwise.
    max_tries : int
        Runs of one job at most when it fails for a transient reason.
    store : StoreConfig
        Where jobs fetch and publish artifacts, and this host's caches.
    """

    def __init__(self, *, store: StoreConfig, workers: int = 1,
                 timeouts_s: dict[str, float] | None = None, max_tries: int = 3,
                 retry_backoff_s: float = 2.0) -> None:
        self.store = store
        self.workers = workers
        self.timeouts_s = dict(timeouts_s or {})
        self.max_tries = max_tries
        self.retry_backoff_s = retry_backoff_s
        self._kinds: set[JobKind] = set()
        self._events: asyncio.Queue[JobEvent] = asyncio.Queue()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._requests: dict[str, JobRequest] = {}
        self._tails: dict[str, asyncio.Task[None]] = {}  # production -> its last job's task
        self._slots: asyncio.Semaphore | None = None
        self._durations: dict[JobKind, float] = {}

    async def start(self) -> None:
        self._slots = asyncio.Semaphore(self.workers)
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
            kinds = await asyncio.get_running_loop().run_in_executor(pool, _available_kinds)
        self._kinds = {JobKind(k) for k in kinds}
        logger.info("inline queue ready with %d worker(s); jobs: %s", self.workers,
                    ", ".join(sorted(self._kinds)) or "none")

    async def close(self) -> None:
        tasks = [task for task in self._tasks.values() if not task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=10)

    def supports(self, kind: JobKind) -> bool:
        return kind in self._kinds

    async def enqueue(self, request: JobRequest) -> int:
        if request.job_id in self._tasks:
            return self._position(request.job_id)
        previous = self._tails.get(request.production_id)
        self._requests[request.job_id] = request
        task = asyncio.create_task(self._execute(request, previous), name=f"job-{request.job_id}")
        self._tasks[request.job_id] = task
        self._tails[request.production_id] = task
        position = self._position(request.job_id)
        await self._emit(request, JobStatus.QUEUED, position=position,
                         eta_s=self._eta(request.kind, position))
        return position

    async def cancel(self, production_id: str) -> list[str]:
        """Cancel a production's jobs; a running job's process is killed."""
        cancelled = []
        for job_id, task in list(self._tasks.items()):
            if self._requests[job_id].production_id == production_id and not task.done():
                task.cancel()
                cancelled.append(job_id)
        return cancelled

    async def events(self) -> AsyncIterator[JobEvent]:
        while True:
            yield await self._events.get()

    async def ack(self, event: JobEvent) -> None:
        """Inline events live in memory only; nothing to acknowledge."""

    def pending(self) -> int:
        """Jobs queued or running."""
        return sum(1 for task in self._tasks.values() if not task.done())

    # --- internals -----------------------------------------------------------------------

    def _position(self, job_id: str) -> int:
        running = [j for j, t in self._tasks.items() if not t.done()]
        return running.index(job_id) + 1 if job_id in running else 0

    def _eta(self, kind: JobKind, position: int) -> float | None:
        typical = self._durations.get(kind)
        return None if typical is None else round(typical * position / self.workers, 1)

    async def _emit(self, request: JobRequest, status: JobStatus, **fields: Any) -> None:
        await self._events.put(JobEvent(job_id=request.job_id, production_id=request.production_id,
                                        kind=request.kind, version=request.version, status=status,
                                        **fields))

    def _timeout(self, kind: JobKind) -> float:
        from jobs.worker import DEFAULT_TIMEOUTS_S

        return float(self.timeouts_s.get(kind.value, DEFAULT_TIMEOUTS_S.get(kind.value, 900.0)))

    async def _execute(self, request: JobRequest, previous: asyncio.Task[None] | None) -> None:
        from jobs.worker import run_in_process  # the runner only; the audio engine stays out

        assert self._slots is not None
        try:
            if previous is not None and not previous.done():
                await asyncio.wait([previous])
            async with self._slots:
                clock = ProgressClock(typical_s=self._durations.get(request.kind))
                await self._emit(request, JobStatus.STARTED, fraction=0.0,
                                 eta_s=clock.eta_s(0.0))
                started = time.monotonic()

                def progress(fraction: float, step: str) -> None:
                    self._events.put_nowait(JobEvent(
                        job_id=request.job_id, production_id=request.production_id,
                        kind=request.kind, version=request.version, status=JobStatus.PROGRESS,
                        fraction=fraction, step=step, eta_s=clock.eta_s(fraction)))

                for attempt in range(1, self.max_tries + 1):
                    outcome = await run_in_process(request, progress,
                                                   timeout_s=self._timeout(request.kind),
                                                   store=self.store)
                    if not (outcome.status == "failed" and outcome.transient
                            and attempt < self.max_tries):
                        break
                    await asyncio.sleep(self.retry_backoff_s * 2 ** (attempt - 1))
                seconds = time.monotonic() - started
                logger.info("job %s %s in %.1f s", request.job_id, outcome.status, seconds)
            if outcome.status == "done":
                old = self._durations.get(request.kind)
                self._durations[request.kind] = seconds if old is None else 0.7 * old + 0.3 * seconds
                await self._emit(request, JobStatus.DONE, fraction=1.0, result=outcome.result)
            else:
                await self._emit(request, JobStatus.FAILED, message=outcome.message)
        except asyncio.CancelledError:
            await self._emit(request, JobStatus.CANCELLED,
                             message=f"Stopped {request.kind.value} as you asked.")
        except Exception:
            logger.exception("inline job %s crashed", request.job_id)
            await self._emit(request, JobStatus.FAILED,
                             message=f"The {request.kind.value} step crashed; your earlier "
                                     "versions are safe. Try again in a moment.")

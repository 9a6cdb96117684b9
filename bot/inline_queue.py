"""The embedded job queue: a process pool inside the bot, for one machine with no Redis.

It implements :class:`core.jobs.JobQueue`. Job functions are looked up in ``jobs.tasks.TASKS``
inside the worker processes only, so the bot never imports torch, librosa or pedalboard. Jobs
of one production run in order; different productions run side by side up to ``workers``.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import queue as queue_module
import threading
import time
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from core.errors import VykeError
from core.jobs import JobEvent, JobKind, JobRequest, JobStatus

__all__ = ["InlineQueue"]

logger = logging.getLogger(__name__)

_progress: Any = None  # the worker process's progress queue, set by _init_worker


def _init_worker(progress: Any) -> None:
    global _progress
    _progress = progress


def _available_kinds() -> list[str]:
    """Runs in a worker: the job kinds this installation's ``jobs`` package provides."""
    try:
        from jobs.tasks import TASKS
    except ImportError as error:  # the audio engine is not installed
        logging.getLogger(__name__).warning("jobs.tasks unavailable: %s", error)
        return []
    return [str(kind) for kind in TASKS]


def _run(request_json: str) -> tuple[str, dict[str, Any] | str]:
    """Runs in a worker: one job. Returns ("done", result) or ("failed", sentence)."""
    from jobs.tasks import TASKS

    request = JobRequest.model_validate_json(request_json)

    def progress(fraction: float, step: str) -> None:
        if _progress is not None:
            _progress.put((request.job_id, max(0.0, min(1.0, float(fraction))), step))

    try:
        return "done", TASKS[request.kind](request, progress)
    except VykeError as error:
        return "failed", str(error)
    except Exception:  # a bug or a crash: logged in full here, one sentence for the thread
        logging.getLogger(__name__).exception("job %s failed", request.job_id)
        return "failed", (f"The {request.kind.value} step failed unexpectedly. Your earlier "
                          "versions are safe; try again, and if it keeps failing tell the operator.")


class InlineQueue:
    """A :class:`core.jobs.JobQueue` on a local process pool."""

    def __init__(self, *, workers: int = 1) -> None:
        self.workers = workers
        self._kinds: set[JobKind] = set()
        self._events: asyncio.Queue[JobEvent] = asyncio.Queue()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._requests: dict[str, JobRequest] = {}
        self._tails: dict[str, asyncio.Task[None]] = {}  # production -> its last job's task
        self._pool: ProcessPoolExecutor | None = None
        self._manager: Any = None
        self._progress: Any = None
        self._reader: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing = threading.Event()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        context = multiprocessing.get_context("spawn")
        self._manager = context.Manager()
        self._progress = self._manager.Queue()
        self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=context,
                                         initializer=_init_worker, initargs=(self._progress,))
        kinds = await self._loop.run_in_executor(self._pool, _available_kinds)
        self._kinds = {JobKind(k) for k in kinds}
        self._reader = threading.Thread(target=self._read_progress, name="vyke-inline-progress",
                                        daemon=True)
        self._reader.start()
        logger.info("inline queue ready with %d worker(s); jobs: %s", self.workers,
                    ", ".join(sorted(self._kinds)) or "none")

    async def close(self) -> None:
        self._closing.set()
        for task in list(self._tasks.values()):
            task.cancel()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        if self._manager is not None:
            self._manager.shutdown()

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
        await self._emit(request, JobStatus.QUEUED, position=position)
        return position

    async def cancel(self, production_id: str) -> list[str]:
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

    async def _emit(self, request: JobRequest, status: JobStatus, **fields: Any) -> None:
        await self._events.put(JobEvent(job_id=request.job_id, production_id=request.production_id,
                                        kind=request.kind, version=request.version, status=status,
                                        **fields))

    async def _execute(self, request: JobRequest, previous: asyncio.Task[None] | None) -> None:
        try:
            if previous is not None and not previous.done():
                await asyncio.wait([previous])
            assert self._pool is not None and self._loop is not None
            await self._emit(request, JobStatus.STARTED, fraction=0.0)
            started = time.monotonic()
            status, value = await self._loop.run_in_executor(self._pool, _run,
                                                              request.model_dump_json())
            logger.info("job %s %s in %.1f s", request.job_id, status, time.monotonic() - started)
            if status == "done":
                assert isinstance(value, dict)
                await self._emit(request, JobStatus.DONE, fraction=1.0, result=value)
            else:
                await self._emit(request, JobStatus.FAILED, message=str(value))
        except asyncio.CancelledError:
            await self._emit(request, JobStatus.CANCELLED,
                             message=f"Stopped {request.kind.value} as you asked.")
        except Exception:
            logger.exception("inline job %s crashed", request.job_id)
            await self._emit(request, JobStatus.FAILED,
                             message=f"The {request.kind.value} step crashed; your earlier "
                                     "versions are safe. Try again in a moment.")

    def _read_progress(self) -> None:
        while not self._closing.is_set():
            try:
                job_id, fraction, step = self._progress.get(timeout=0.2)
            except queue_module.Empty:
                continue
            except (EOFError, OSError):
                return
            request = self._requests.get(job_id)
            if request is None or self._loop is None:
                continue
            event = JobEvent(job_id=job_id, production_id=request.production_id,
                             kind=request.kind, version=request.version,
                             status=JobStatus.PROGRESS, fraction=fraction, step=step)
            self._loop.call_soon_threadsafe(self._events.put_nowait, event)

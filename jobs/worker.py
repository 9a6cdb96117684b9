"""Workers: run ``jobs.tasks.TASKS`` from arq queues on Redis and report back on a stream.

``vyke worker --queues separate,render`` runs one arq worker per queue in one process. Every
job runs in a child process (forked from a forkserver that has the audio libraries loaded),
so a timeout or a "stop" kills the work itself, not just the coroutine waiting for it.

Delivery is at least once: a job can run twice (a worker killed mid-job, a deploy). That is
safe because jobs write their files atomically and the bot ignores events of jobs it has
already finished. Events (started, progress, done, failed) go to the ``vyke:events`` stream;
the bot reads them through a consumer group and acknowledges each after posting its reply.

Retries (with exponential backoff) are for transient trouble only: the job's process died
(killed for memory, a crash), a lost connection, an I/O error that is not the disk being
full. Bad input (:class:`core.errors.AudioError`) and other :class:`core.errors.VykeError`
sentences are final, and so is a timeout: a job that ran out of time would run out again.
A worker that dies mid-job is noticed by the others through its heartbeat, and its job is
handed back to the queue at once instead of after arq's in-progress timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import logging
import multiprocessing
import multiprocessing.forkserver
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from arq import Retry
from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.constants import in_progress_key_prefix
from arq.worker import Function, Worker, func
from redis.asyncio.retry import Retry as RedisRetry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from core.artifacts import StoreConfig
from core.errors import VykeError
from core.jobs import (
    QUEUES,
    RESULTS,
    JobEvent,
    JobKind,
    JobRequest,
    JobResult,
    JobStatus,
    RedisKeys,
    queue_for,
)
from core.progress import ProgressClock

__all__ = [
    "DEFAULT_TIMEOUTS_S",
    "PRELOAD",
    "Outcome",
    "WorkerConfig",
    "publish",
    "redis_settings",
    "run_in_process",
    "run_worker",
    "worker_settings",
]

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUTS_S: dict[str, float] = {"analyze": 300.0, "separate": 1800.0, "render": 900.0,
                                        "export": 600.0, "preview": 300.0}
"""How long each kind of job may run before it is stopped and reported as too slow."""

_PERMANENT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM,
                     errno.ENOENT, errno.EISDIR, errno.ENOTDIR}
PRELOAD = ("jobs.tasks", "jobs.analysis", "jobs.separation", "jobs.vocal", "jobs.render",
           "jobs.master", "jobs.measure", "jobs.preview",
           "matplotlib.pyplot", "matplotlib.backends.backend_agg")
"""Modules the forkserver imports once, so no job pays for them: the audio libraries, and
matplotlib for the pictures every render draws (a second of imports in each job otherwise)."""
_HEARTBEAT_S = 1.0
_HEARTBEAT_TTL_S = 5


# --- one job in a child process ------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """How a job's process ended: ``done`` (with ``result``) or ``failed`` (with ``message``)."""

    status: str  #: "done" | "failed" | "timeout"
    result: JobResult | None = None
    message: str = ""
    transient: bool = False  #: worth running again (the process died, a connection dropped)


def _unexpected(kind: JobKind) -> str:
    return (f"The {kind.value} step failed unexpectedly. Your earlier versions are safe; try "
            "again, and if it keeps failing tell the operator.")


def _classify(error: BaseException, kind: JobKind) -> tuple[str, bool]:
    """The sentence for the thread and whether the error is worth a retry."""
    if isinstance(error, VykeError):
        return str(error), False  # bad input or a step's own sentence: never retried
    if isinstance(error, (ConnectionError, TimeoutError)):
        return _unexpected(kind), True
    if isinstance(error, OSError):
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            return (f"The {kind.value} step stopped: the server's disk is full. Your earlier "
                    "versions are safe; the operator needs to free space."), False
        return _unexpected(kind), error.errno not in _PERMANENT_ERRNOS
    return _unexpected(kind), False


def _watch_parent(parent: int) -> None:
    """Exit when the worker that started us is gone (no orphaned work after a SIGKILL)."""
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(70)


def _child(request_json: str, conn: Connection, store: StoreConfig) -> None:
    """Runs in the child: one job, its progress and outcome sent back on ``conn``."""
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    from jobs.files import JobFiles
    from jobs.tasks import TASKS

    request = JobRequest.model_validate_json(request_json)

    def progress(fraction: float, step: str) -> None:
        conn.send(("progress", max(0.0, min(1.0, float(fraction))), str(step)))

    try:
        task = TASKS.get(request.kind)
        if task is None:
            raise VykeError(f"This installation cannot run the {request.kind.value} step.")
        result = task(request, progress, JobFiles.open(store))
        if not isinstance(result, RESULTS[request.kind]):  # a job's contract, checked once here
            raise TypeError(f"the {request.kind.value} job returned {type(result).__name__}")
        conn.send(("done", result))
    except BaseException as error:  # everything becomes one sentence for the thread
        message, transient = _classify(error, request.kind)
        if not isinstance(error, VykeError):
            logging.getLogger(__name__).exception("job %s failed", request.job_id)
        conn.send(("failed", message, transient))
    finally:
        conn.close()


def _context() -> Any:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(PRELOAD))
    return context


ProgressSink = Callable[[float, str], None]


async def run_in_process(request: JobRequest, on_progress: ProgressSink, *,
                         timeout_s: float, store: StoreConfig) -> Outcome:
    """Run one job in a child process; cancelling this coroutine kills the child.

    ``on_progress`` is called in the event loop with each (fraction, step) the job reports;
    ``store`` says where the job fetches and publishes its artifacts and where this host's
    caches are.
    """
    loop = asyncio.get_running_loop()
    context = _context()
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(request.model_dump_json(), sender, store),
                              name=f"vyke-job-{request.job_id}", daemon=True)
    messages: asyncio.Queue[tuple[Any, ...] | None] = asyncio.Queue()

    def readable() -> None:
        try:
            messages.put_nowait(receiver.recv())
        except (EOFError, OSError):
            loop.remove_reader(receiver.fileno())
            messages.put_nowait(None)

    await asyncio.to_thread(process.start)
    sender.close()
    loop.add_reader(receiver.fileno(), readable)
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                message = await messages.get()
                if message is None:  # the process died without a word (OOM killer, crash)
                    await asyncio.to_thread(process.join, 5)
                    logger.warning("job %s: its process died (exit code %s)", request.job_id,
                                   process.exitcode)
                    return Outcome("failed", message=_unexpected(request.kind), transient=True)
                if message[0] == "progress":
                    on_progress(message[1], message[2])
                elif message[0] == "done":
                    return Outcome("done", result=message[1])
                else:
                    return Outcome("failed", message=message[1], transient=bool(message[2]))
    except TimeoutError:
        minutes = max(1, round(timeout_s / 60))
        return Outcome("timeout", message=(
            f"The {request.kind.value} step took longer than {minutes} min, so I stopped it. "
            "Your earlier versions are safe; a shorter song or a simpler change will be quicker."))
    finally:
        with contextlib.suppress(OSError, ValueError):
            loop.remove_reader(receiver.fileno())
        receiver.close()
        if process.is_alive():
            process.kill()
        await asyncio.to_thread(process.join, 5)


# --- events ----------------------------------------------------------------------------


async def publish(redis: Any, event: JobEvent) -> None:
    """Append an event to the stream the bot reads."""
    await redis.xadd(RedisKeys.events_of(event.production_id),
                     {"event": event.model_dump_json(exclude={"receipt"})},
                     maxlen=RedisKeys.EVENTS_MAXLEN, approximate=True)


def _event(request: JobRequest, status: JobStatus, **fields: Any) -> JobEvent:
    return JobEvent(job_id=request.job_id, production_id=request.production_id, kind=request.kind,
                    version=request.version, status=status, **fields)


_FINISH = """
local cur = redis.call('HGET', KEYS[1], 'id')
if cur and cur ~= ARGV[1] then return redis.call('HGET', KEYS[1], 'req') end
local nxt = redis.call('LPOP', KEYS[2])
if nxt then
  local id = cjson.decode(nxt)['job_id']
  redis.call('SREM', KEYS[3], id)
  redis.call('HSET', KEYS[1], 'id', id, 'req', nxt)
  return nxt
end
redis.call('DEL', KEYS[1], KEYS[3])
return false
"""
"""Ends a production's running job and returns the next one to submit (or the current one
again when this run was a stale duplicate: submitting it twice is a no-op for arq)."""


async def _finish(redis: ArqRedis, request: JobRequest) -> None:
    """Submit the production's next job, now that this one is over."""
    following = await redis.eval(_FINISH, 3, *RedisKeys.chain(request.production_id),
                                 request.job_id)
    if following:
        nxt = JobRequest.model_validate_json(following)
        await redis.enqueue_job(nxt.kind.value, nxt.model_dump_json(), _job_id=nxt.job_id,
                                _queue_name=RedisKeys.queue(queue_for(nxt.kind)))


async def _typical_duration(redis: ArqRedis, kind: JobKind) -> float | None:
    """How long jobs of ``kind`` usually take (s), for the ETA; ``None`` before the first."""
    try:
        value = await redis.hget(RedisKeys.DURATIONS, kind.value)
    except (RedisError, OSError):  # an ETA is a nicety; the job runs without one
        return None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


async def _record_duration(redis: ArqRedis, kind: JobKind, seconds: float) -> None:
    """Keep a moving average of run times per kind, for queue ETAs."""
    old = await redis.hget(RedisKeys.DURATIONS, kind.value)
    value = seconds if old is None else 0.7 * float(old) + 0.3 * seconds
    await redis.hset(RedisKeys.DURATIONS, kind.value, f"{value:.3f}")


def redis_settings(url: str, *, retry_for_s: float) -> RedisSettings:
    """arq's Redis settings for ``url``, retrying lost connections for about ``retry_for_s``.

    Workers wait out a Redis restart (tens of seconds); the bot gives up within a second or
    two so it can tell the thread that the queue is unavailable.
    """
    retries = max(1, int(retry_for_s / 1.0))
    return dataclasses.replace(
        RedisSettings.from_dsn(url), conn_timeout=2, conn_retries=retries, conn_retry_delay=1,
        retry_on_error=[RedisConnectionError, RedisTimeoutError, ConnectionError, OSError],
        retry=RedisRetry(ExponentialBackoff(cap=1.0, base=0.1), retries))


# --- the arq job -----------------------------------------------------------------------


@dataclass
class WorkerConfig:
    """What a worker process needs (built from :class:`bot.settings.Settings` by the CLI)."""

    redis_url: str
    store: StoreConfig  #: the artifact store and this host's data and cache folders
    queues: tuple[str, ...] = ("separate", "render")
    jobs_per_queue: int = 1  #: jobs one worker runs at once on each queue
    timeouts_s: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_TIMEOUTS_S))
    max_tries: int = 3  #: runs of one job at most (the first plus retries of transient errors)
    retry_backoff_s: float = 2.0  #: first retry waits this long, then doubles
    name: str = field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    poll_delay_s: float = 0.2

    def timeout_for(self, kind: JobKind) -> float:
        return float(self.timeouts_s.get(kind.value, DEFAULT_TIMEOUTS_S.get(kind.value, 900.0)))


async def run_job(ctx: dict[str, Any], request_json: str) -> str:
    """The arq function for every kind: run the job, publish its events, submit the next."""
    config: WorkerConfig = ctx["config"]
    redis: ArqRedis = ctx["redis"]
    request = JobRequest.model_validate_json(request_json)
    attempt = int(ctx.get("job_try", 1))
    if attempt > config.max_tries:
        await publish(redis, _event(request, JobStatus.FAILED, message=_unexpected(request.kind)))
        await _finish(redis, request)
        return "failed: out of tries"
    await redis.hset(RedisKeys.RUNNING, request.job_id, config.name)
    clock = ProgressClock(typical_s=await _typical_duration(redis, request.kind))
    await publish(redis, _event(request, JobStatus.STARTED, fraction=0.0,
                                step="retrying" if attempt > 1 else "", eta_s=clock.eta_s(0.0)))
    outbox: asyncio.Queue[JobEvent | None] = asyncio.Queue()
    sender = asyncio.create_task(_send_in_order(redis, outbox))
    last = [0.0]

    def on_progress(fraction: float, step: str) -> None:
        now = time.monotonic()
        if now - last[0] < 0.5 and fraction < 1.0:
            return  # a few updates a second is plenty for a message edited in place
        last[0] = now
        outbox.put_nowait(_event(request, JobStatus.PROGRESS, fraction=fraction, step=step,
                                 eta_s=clock.eta_s(fraction)))

    started = time.monotonic()
    try:
        outcome = await run_in_process(request, on_progress,
                                       timeout_s=config.timeout_for(request.kind),
                                       store=config.store)
        outbox.put_nowait(None)
        await sender
        if outcome.status == "failed" and outcome.transient and attempt < config.max_tries:
            delay = config.retry_backoff_s * 2 ** (attempt - 1)
            logger.warning("job %s: transient failure, retry %d in %.0f s", request.job_id,
                           attempt + 1, delay)
            raise Retry(defer=delay)
        if outcome.status == "done":
            await _record_duration(redis, request.kind, time.monotonic() - started)
            await publish(redis, _event(request, JobStatus.DONE, fraction=1.0,
                                        result=outcome.result))
        else:
            await publish(redis, _event(request, JobStatus.FAILED, message=outcome.message))
        await _finish(redis, request)
        return outcome.status
    finally:
        sender.cancel()
        with contextlib.suppress(RedisError, OSError):
            await redis.hdel(RedisKeys.RUNNING, request.job_id)


async def _send_in_order(redis: ArqRedis, outbox: asyncio.Queue[JobEvent | None]) -> None:
    """Publish progress one event at a time, so the thread never sees it go backwards."""
    while (event := await outbox.get()) is not None:
        try:
            await publish(redis, event)
        except (RedisError, OSError) as error:  # progress is best effort; results are not
            logger.warning("progress of %s not published: %s", event.job_id, error)


def _functions(config: WorkerConfig, kinds: list[JobKind]) -> list[Function]:
    # arq's own timeout is a backstop behind ours (ours kills the process and says so)
    return [func(run_job, name=kind.value, timeout=config.timeout_for(kind) + 30,
                 max_tries=config.max_tries + 2) for kind in kinds]


def worker_settings(config: WorkerConfig, queue: str, kinds: list[JobKind]) -> dict[str, Any]:
    """arq ``WorkerSettings`` (as keyword arguments) for one queue of this worker."""
    return {
        "functions": _functions(config, kinds),
        "queue_name": RedisKeys.queue(queue),
        "redis_settings": redis_settings(config.redis_url, retry_for_s=60),
        "max_jobs": config.jobs_per_queue,
        "poll_delay": config.poll_delay_s,
        "allow_abort_jobs": True,
        "keep_result": 3600,
        "max_tries": config.max_tries + 2,
        "handle_signals": False,
        "health_check_interval": 60,
        "ctx": {"config": config},
    }


# --- the worker process ----------------------------------------------------------------


async def _heartbeat(redis: ArqRedis, config: WorkerConfig, kinds: list[JobKind]) -> None:
    """Say we are alive; hand back jobs of workers that stopped saying so."""
    if kinds:
        await redis.sadd(RedisKeys.KINDS, *[k.value for k in kinds])
    while True:
        try:
            await redis.set(RedisKeys.worker(config.name), ",".join(config.queues),
                            ex=_HEARTBEAT_TTL_S)
            running = await redis.hgetall(RedisKeys.RUNNING)
            for job_id, owner in running.items():
                job, name = job_id.decode(), owner.decode()
                if name != config.name and not await redis.exists(RedisKeys.worker(name)):
                    logger.warning("worker %s is gone; job %s goes back to the queue", name, job)
                    await redis.delete(in_progress_key_prefix + job)
                    await redis.hdel(RedisKeys.RUNNING, job)
        except (OSError, RedisError) as error:  # Redis restarting: keep trying
            logger.warning("heartbeat: %s", error)
        await asyncio.sleep(_HEARTBEAT_S)


def _served_kinds(queue: str) -> list[JobKind]:
    from jobs.tasks import TASKS

    return sorted((kind for kind in TASKS if queue_for(kind) == queue), key=str)


async def run_worker(config: WorkerConfig) -> int:
    """Run the worker until SIGTERM or SIGINT; running jobs go back to their queue."""
    unknown = [q for q in config.queues if q not in QUEUES]
    if unknown:
        raise ValueError(f"unknown queue(s) {', '.join(unknown)}; choose from "
                         f"{', '.join(QUEUES)}")
    _context()  # the forkserver starts with the audio libraries loaded, once
    # now, before the heartbeat says this worker is ready: its first job starts at once
    # instead of waiting for the audio libraries to import (seconds on a fresh host)
    await asyncio.to_thread(multiprocessing.forkserver.ensure_running)
    redis = await create_pool(redis_settings(config.redis_url, retry_for_s=60))
    served = {queue: _served_kinds(queue) for queue in config.queues}
    workers = [Worker(redis_pool=redis, **{k: v for k, v in worker_settings(config, q, kinds)
                                           .items() if k != "redis_settings"})
               for q, kinds in served.items() if kinds]
    if not workers:
        logger.error("no job on queues %s is available in this installation",
                     ", ".join(config.queues))
        return 1
    all_kinds = [k for kinds in served.values() for k in kinds]
    logger.info("worker %s on %s: %s", config.name, ", ".join(config.queues),
                ", ".join(k.value for k in all_kinds))
    loop = asyncio.get_running_loop()

    def stop(signum: signal.Signals) -> None:
        for worker in workers:
            worker.handle_sig(signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop, signum)
    beat = asyncio.create_task(_heartbeat(redis, config, all_kinds))
    try:
        ends = await asyncio.gather(*(w.async_run() for w in workers), return_exceptions=True)
    finally:
        beat.cancel()
        with contextlib.suppress(RedisError, OSError):
            await redis.delete(RedisKeys.worker(config.name))
        for w in workers:
            with contextlib.suppress(RedisError, OSError, RuntimeError):
                await w.close()
    failures = [e for e in ends if isinstance(e, Exception)]
    for error in failures:
        logger.error("worker loop ended: %r", error)
    return 1 if failures else 0

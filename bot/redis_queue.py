"""The job queue on Redis: arq queues for the work, a Redis Stream for the events.

It implements :class:`core.jobs.JobQueue` for one bot and any number of ``vyke worker``
processes on one or several machines. Jobs of one production run one after another (the
production's chain lives in Redis, so it survives a bot restart). Workers append events to
the ``vyke:events`` stream; the bot reads them through a consumer group and acknowledges
each one only after its reply is posted, so after a crash the unacknowledged events are
delivered again and each result reaches its thread exactly once (the Maestro ignores events
of jobs it has already finished).

When Redis cannot be reached, :meth:`RedisQueue.enqueue` raises
:class:`core.errors.QueueUnavailable` (the thread is told) and :meth:`RedisQueue.events`
keeps retrying until Redis is back.
"""

from __future__ import annotations

import asyncio
import collections
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Sequence
from typing import Any, TypeVar

from arq.connections import ArqRedis, create_pool
from arq.constants import abort_jobs_ss
from redis.exceptions import RedisError, ResponseError

from core.errors import QueueUnavailable
from core.jobs import JobEvent, JobKind, JobRequest, JobStatus, RedisKeys, queue_for

_T = TypeVar("_T")


async def _run(result: Awaitable[_T] | _T) -> _T:
    """A Redis command's result: redis-py types its commands for the sync and async clients
    alike (``Awaitable[T] | T``); ours is async, so this awaits and keeps the type."""
    if inspect.isawaitable(result):
        return await result
    return result

__all__ = ["RedisQueue"]

logger = logging.getLogger(__name__)

_ENQUEUE = """
local cur = redis.call('HGET', KEYS[1], 'id')
if cur == ARGV[1] or redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 1 then return 'duplicate' end
if cur then
  redis.call('RPUSH', KEYS[2], ARGV[2])
  redis.call('SADD', KEYS[3], ARGV[1])
  return 'waiting'
end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'req', ARGV[2])
return 'submit'
"""
"""Start a production's chain with this job, or append it behind the running one."""

_CANCEL = """
local ids = {}
local cur = redis.call('HGET', KEYS[1], 'id')
if cur then table.insert(ids, cur) end
for _, req in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do
  table.insert(ids, cjson.decode(req)['job_id'])
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
return ids
"""
"""Empty a production's chain; returns the ids that were running or waiting."""

_UNAVAILABLE = (RedisError, OSError, ConnectionError)


class RedisQueue:
    """A :class:`core.jobs.JobQueue` on arq and a Redis Stream.

    Parameters
    ----------
    redis_url : str
        ``redis://host:port/db``.
    consumer : str
        This bot's name in the consumer group; keep it stable across restarts so the bot
        picks up the events it had read but not yet posted.
    platforms : sequence of str
        The platforms whose productions this bot serves (``local``, ``discord``, ``slack``):
        it reads only their event streams, so bots of other platforms on the same Redis
        never take its results.
    """

    def __init__(self, redis_url: str, *, consumer: str = "bot",
                 platforms: Sequence[str] = ("local",)) -> None:
        self.redis_url = redis_url
        self.consumer = consumer
        self.streams = [RedisKeys.events(p) for p in dict.fromkeys(platforms)]
        self._redis: ArqRedis | None = None
        self._kinds: set[JobKind] = set()
        self._buffer: collections.deque[JobEvent] = collections.deque()
        self._backlog = True  # first deliver what this consumer read before a restart
        self._group_ready = False
        self._refresh: asyncio.Task[None] | None = None
        self._closed = False
        self._down_since: float | None = None

    # --- JobQueue ---------------------------------------------------------------------

    async def start(self) -> None:
        from jobs.worker import redis_settings  # arq settings only; no audio libraries

        try:
            self._redis = await create_pool(redis_settings(self.redis_url, retry_for_s=1))
            await self._ensure_group()
            await self._load_kinds()
            await self._resubmit_heads()
        except _UNAVAILABLE as error:
            raise QueueUnavailable() from error
        self._refresh = asyncio.create_task(self._refresh_kinds(), name="vyke-redis-kinds")
        logger.info("Redis queue ready; workers offer: %s", ", ".join(sorted(self._kinds)) or
                    "nothing yet")

    async def close(self) -> None:
        self._closed = True
        if self._refresh is not None:
            self._refresh.cancel()
        if self._redis is not None:
            await self._redis.aclose()

    def supports(self, kind: JobKind) -> bool:
        return kind in self._kinds

    async def enqueue(self, request: JobRequest) -> int:
        redis = self._pool()
        body = request.model_dump_json()
        active, waiting, ids = RedisKeys.chain(request.production_id)
        try:
            placed = _text(await _run(redis.eval(_ENQUEUE, 3, active, waiting, ids,
                                                  request.job_id, body)))
            position = await self._position(request, placed)
            if placed == "duplicate":
                return position
            eta = await self._eta(request.kind, position)
            await self._publish(JobEvent(job_id=request.job_id,
                                         production_id=request.production_id,
                                         kind=request.kind, version=request.version,
                                         status=JobStatus.QUEUED, position=position, eta_s=eta))
            if placed == "submit":
                await redis.enqueue_job(request.kind.value, body, _job_id=request.job_id,
                                        _queue_name=RedisKeys.queue(queue_for(request.kind)))
        except _UNAVAILABLE as error:
            logger.warning("cannot enqueue %s: %s", request.job_id, error)
            raise QueueUnavailable() from error
        return position

    async def cancel(self, production_id: str) -> list[str]:
        redis = self._pool()
        try:
            ids = [_text(i) for i in await _run(redis.eval(_CANCEL, 3,
                                                           *RedisKeys.chain(production_id)))]
            if ids:
                await redis.zadd(abort_jobs_ss, {ids[0]: int(time.time() * 1000)})
            for job_id in ids:
                kind = _kind_of(job_id)
                await self._publish(JobEvent(job_id=job_id, production_id=production_id,
                                             kind=kind, status=JobStatus.CANCELLED,
                                             message=f"Stopped {kind.value} as you asked."))
        except _UNAVAILABLE as error:
            raise QueueUnavailable() from error
        return ids

    async def events(self) -> AsyncIterator[JobEvent]:
        while not self._closed:
            if not self._buffer:
                await self._read()
                continue
            yield self._buffer.popleft()

    async def ack(self, event: JobEvent) -> None:
        if not event.receipt:
            return
        stream, _, entry_id = event.receipt.rpartition("|")
        try:
            await self._pool().xack(stream, RedisKeys.GROUP, entry_id)
        except _UNAVAILABLE as error:  # delivered again later; the Maestro drops the repeat
            logger.warning("could not acknowledge %s: %s", event.receipt, error)

    def pending(self) -> int:
        """Events read but not yet handed out (for tests and status)."""
        return len(self._buffer)

    # --- internals --------------------------------------------------------------------

    def _pool(self) -> ArqRedis:
        if self._redis is None:
            raise QueueUnavailable()
        return self._redis

    async def _ensure_group(self) -> None:
        for stream in self.streams:
            try:
                await self._pool().xgroup_create(stream, RedisKeys.GROUP, id="0", mkstream=True)
            except ResponseError as error:
                if "BUSYGROUP" not in str(error):
                    raise
        self._group_ready = True

    async def _read(self) -> None:
        """Fill the buffer: first this consumer's unacknowledged events, then new ones."""
        redis = self._pool()
        try:
            if not self._group_ready:
                await self._ensure_group()
            start = "0" if self._backlog else ">"
            reply = await redis.xreadgroup(RedisKeys.GROUP, self.consumer,
                                           dict.fromkeys(self.streams, start), count=100,
                                           block=None if self._backlog else 1000)
        except ResponseError as error:
            if "NOGROUP" in str(error):  # Redis came back empty: start the group again
                self._group_ready = False
                return
            raise
        except _UNAVAILABLE as error:
            self._note_down(error)
            await asyncio.sleep(0.5)
            return
        if self._down_since is not None:
            logger.info("Redis is back after %.0f s", time.monotonic() - self._down_since)
            self._down_since = None
        entries = [(_text(stream), entry_id, fields)
                   for stream, stream_entries in (reply or []) for entry_id, fields in stream_entries]
        if self._backlog and not entries:
            self._backlog = False
        for stream, entry_id, fields in entries:
            raw = fields.get(b"event") if fields else None
            if raw is None:  # an entry deleted by trimming while still pending
                await redis.xack(stream, RedisKeys.GROUP, entry_id)
                continue
            event = JobEvent.model_validate_json(raw)
            receipt = f"{stream}|{_text(entry_id)}"  # ack needs the stream as well as the id
            self._buffer.append(event.model_copy(update={"receipt": receipt}))

    def _note_down(self, error: BaseException) -> None:
        if self._down_since is None:
            self._down_since = time.monotonic()
            logger.warning("Redis unavailable (%s); retrying", error)

    async def _publish(self, event: JobEvent) -> None:
        await self._pool().xadd(RedisKeys.events_of(event.production_id),
                                {"event": event.model_dump_json(exclude={"receipt"})},
                                maxlen=RedisKeys.EVENTS_MAXLEN, approximate=True)

    async def _position(self, request: JobRequest, placed: str) -> int:
        """1 = next to start. Jobs waiting behind their production's running job count the
        queue ahead of that job plus their place in the chain."""
        redis = self._pool()
        queue = RedisKeys.queue(queue_for(request.kind))
        if placed == "submit":
            return int(await redis.zcard(queue)) + 1
        active, waiting, _ = RedisKeys.chain(request.production_id)
        head = _text(await _run(redis.hget(active, "id")) or b"")
        rank = await redis.zrank(queue, head) if head else None
        ahead = int(rank) + 1 if rank is not None else 1
        if head == request.job_id:
            return ahead
        bodies = await _run(redis.lrange(waiting, 0, -1))
        place = next((i for i, b in enumerate(bodies) if request.job_id in _text(b)),
                     len(bodies))
        return ahead + place + 1

    async def _eta(self, kind: JobKind, position: int) -> float | None:
        """Seconds until done: jobs ahead times the typical run time, over the workers."""
        redis = self._pool()
        typical = await _run(redis.hget(RedisKeys.DURATIONS, kind.value))
        if typical is None:
            return None
        workers = 0
        async for _ in redis.scan_iter(match=RedisKeys.worker("*"), count=100):
            workers += 1
        return round(float(typical) * position / max(1, workers), 1)

    async def _load_kinds(self) -> None:
        members = {_text(m) for m in await _run(self._pool().smembers(RedisKeys.KINDS))}
        self._kinds = {kind for kind in JobKind if kind.value in members}

    async def _refresh_kinds(self) -> None:
        """Workers may start after the bot; learn what they offer."""
        while not self._closed:
            await asyncio.sleep(5)
            try:
                await self._load_kinds()
            except _UNAVAILABLE:
                continue

    async def _resubmit_heads(self) -> None:
        """Submit every chain's running job again (a no-op unless the bot died in between)."""
        redis = self._pool()
        async for key in redis.scan_iter(match="vyke:chain:*:active", count=500):
            body = await _run(redis.hget(key, "req"))
            if body is None:
                continue
            request = JobRequest.model_validate_json(body)
            await redis.enqueue_job(request.kind.value, _text(body), _job_id=request.job_id,
                                    _queue_name=RedisKeys.queue(queue_for(request.kind)))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _kind_of(job_id: str) -> JobKind:
    """Job ids start with their kind (see :func:`core.jobs.job_id_for`)."""
    return JobKind(job_id.split("-", 1)[0])

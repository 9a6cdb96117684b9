"""The Redis queue against a private redis-server (no workers): duplicates, a production's
chain, cancel, delivery until acknowledged, and an unreachable Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.redis_queue import RedisQueue
from core.errors import QueueUnavailable
from core.jobs import JobEvent, JobKind, JobRequest, JobStatus, RedisKeys, job_id_for
from tests.fakes.honest_queue import fake_key
from tests.integration.harness import RedisServer


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    made = RedisServer(tmp_path)
    made.start()
    yield made
    made.stop()


@pytest.fixture
async def queue(server: RedisServer) -> AsyncIterator[RedisQueue]:
    made = RedisQueue(server.url)
    await made.start()
    yield made
    await made.close()


def _request(production: str, kind: JobKind, version: int = 0) -> JobRequest:
    payload = {"audio": fake_key("nowhere", ".wav"), "max_duration_s": 60,
               "max_size_bytes": 1000}
    return JobRequest(job_id=job_id_for(production, version, kind), production_id=production,
                      kind=kind, version=version, payload=payload)


async def _take(queue: RedisQueue, count: int) -> list[JobEvent]:
    events = queue.events()
    return [await anext(events) for _ in range(count)]


async def test_duplicate_enqueue_is_a_no_op(queue: RedisQueue) -> None:
    request = _request("p1", JobKind.ANALYZE)
    assert await queue.enqueue(request) == 1
    assert await queue.enqueue(request) == 1
    redis = queue._pool()
    assert await redis.zcard(RedisKeys.queue("render")) == 1
    assert await redis.xlen(RedisKeys.events("local")) == 1  # one "queued" event


async def test_a_productions_jobs_wait_behind_its_running_one(queue: RedisQueue) -> None:
    first, second = _request("p1", JobKind.ANALYZE), _request("p1", JobKind.SEPARATE)
    other = _request("p2", JobKind.SEPARATE)
    await queue.enqueue(first)
    assert await queue.enqueue(second) == 2  # behind the production's analysis
    await queue.enqueue(other)
    redis = queue._pool()
    assert await redis.zrange(RedisKeys.queue("separate"), 0, -1) == [other.job_id.encode()]
    events = await _take(queue, 3)
    assert [e.status for e in events] == [JobStatus.QUEUED] * 3
    assert [e.position for e in events] == [1, 2, 1]


async def test_cancel_stops_running_and_waiting_jobs(queue: RedisQueue) -> None:
    first, second = _request("p1", JobKind.ANALYZE), _request("p1", JobKind.SEPARATE)
    await queue.enqueue(first)
    await queue.enqueue(second)
    assert await queue.cancel("p1") == [first.job_id, second.job_id]
    assert await queue.cancel("p1") == []
    events = await _take(queue, 4)
    assert [e.status for e in events[2:]] == [JobStatus.CANCELLED] * 2
    assert events[2].message == "Stopped analyze as you asked."
    # the production can start again at once
    assert await queue.enqueue(_request("p1", JobKind.ANALYZE, version=1)) == 2


async def test_unacknowledged_events_come_back_after_a_restart(server: RedisServer) -> None:
    queue = RedisQueue(server.url, consumer="bot")
    await queue.start()
    await queue.enqueue(_request("p1", JobKind.ANALYZE))
    await queue.enqueue(_request("p2", JobKind.ANALYZE))
    posted, lost = await _take(queue, 2)
    await queue.ack(posted)  # the second one's reply was never posted (the bot died)
    await queue.close()
    again = RedisQueue(server.url, consumer="bot")
    await again.start()
    (redelivered,) = await _take(again, 1)
    assert redelivered.job_id == lost.job_id
    await again.ack(redelivered)
    await again.close()
    third = RedisQueue(server.url, consumer="bot")
    await third.start()
    assert await third._pool().xpending(RedisKeys.events("local"), RedisKeys.GROUP) == {
        "pending": 0, "min": None, "max": None, "consumers": []}
    await third.close()


async def test_unreachable_redis_is_a_sentence(server: RedisServer) -> None:
    queue = RedisQueue(server.url)
    await queue.start()
    server.stop()
    with pytest.raises(QueueUnavailable, match="The job queue is unavailable right now"):
        await queue.enqueue(_request("p1", JobKind.ANALYZE))
    await queue.close()


async def test_each_platform_bot_reads_only_its_own_productions_results(
        server: RedisServer) -> None:
    """A Discord bot and a Slack bot on one Redis: neither takes (and acks) the other's events."""
    discord = RedisQueue(server.url, consumer="discord-bot", platforms=("discord",))
    slack = RedisQueue(server.url, consumer="slack-bot", platforms=("slack",))
    await discord.start()
    await slack.start()
    try:
        await discord.enqueue(_request("discord:g:1", JobKind.ANALYZE))
        await slack.enqueue(_request("slack:T:C:1.0", JobKind.ANALYZE))
        (from_discord,) = await _take(discord, 1)
        (from_slack,) = await _take(slack, 1)
        assert from_discord.production_id == "discord:g:1"
        assert from_slack.production_id == "slack:T:C:1.0"
        await discord.ack(from_discord)
        await slack.ack(from_slack)
        pending = await slack._pool().xpending(RedisKeys.events("slack"), RedisKeys.GROUP)
        assert pending["pending"] == 0
        assert discord.pending() == 0 and slack.pending() == 0
    finally:
        await discord.close()
        await slack.close()

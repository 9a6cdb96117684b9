"""Crashes and outages against a real redis-server and real ``vyke worker`` processes running
the real analysis and separation jobs: every result reaches its thread exactly once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest
import redis

from bot.app import App, build_app
from bot.runtime import handle_event
from bot.settings import Settings
from core.conversation import Attachment, AttachmentKind, Author, Reply, TextReply, Turn
from core.jobs import JobEvent, JobStatus, RedisKeys
from tests.integration.harness import (
    ROOT,
    SEED,
    RedisServer,
    Workers,
    vyke,
    vyke_env,
    wait_for_workers,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def long_song(tmp_path_factory: pytest.TempPathFactory, song: Path) -> Path:
    """A 60-second song: its analysis runs long enough to be interrupted."""
    from jobs.demo_song import make_demo_song

    return make_demo_song(tmp_path_factory.mktemp("long") / "long.wav", duration_s=60.0)


@pytest.fixture(scope="module")
def short_song(tmp_path_factory: pytest.TempPathFactory, song: Path) -> Path:
    from jobs.demo_song import make_demo_song

    return make_demo_song(tmp_path_factory.mktemp("short") / "short.wav", duration_s=6.0)


def _settings(data: Path, url: str, **extra: object) -> Settings:
    return Settings(_env_file=None, data_dir=data, redis_url=url,  # type: ignore[call-arg]
                    anthropic_api_key=None, **extra)


def _turn(conversation: str, text: str, *, author: str = "director",
          audio: Path | None = None) -> Turn:
    files = [Attachment(name=audio.name, path=str(audio), size_bytes=audio.stat().st_size,
                        content_type="audio/wav", kind=AttachmentKind.AUDIO)] if audio else []
    return Turn(conversation_id=conversation, author=Author(id=author, name=author), text=text,
                attachments=files)


def _texts(replies: list[Reply]) -> str:
    return "\n".join(r.text for r in replies if isinstance(r, TextReply))


_feeds: dict[int, tuple[object, asyncio.Task[JobEvent] | None]] = {}


async def _pump(app: App, posted: list[tuple[str, Reply]], *, until: list[str],
                timeout_s: float = 120, seen: list[JobEvent] | None = None,
                first: bool = False) -> None:
    """Post job events until the named conversations have no job pending (with ``first``:
    until one of those now pending has finished).

    One event generator per app, and a read in flight is never cancelled (a cancelled read
    would end the generator), just awaited again on the next call.
    """
    async def post(conversation: str, reply: Reply) -> None:
        posted.append((conversation, reply))

    events, task = _feeds.get(id(app), (app.queue.events(), None))
    deadline = time.monotonic() + timeout_s
    at_start: int | None = None
    try:
        while True:
            pending = [c for c in until if (p := await app.store.get(c)) and p.pending_jobs]
            at_start = len(pending) if at_start is None else at_start
            if not pending or (first and len(pending) < at_start):
                return
            assert time.monotonic() < deadline, f"still waiting for {pending}"
            if task is None:
                task = asyncio.ensure_future(anext(events))  # type: ignore[call-overload]
            done, _ = await asyncio.wait({task}, timeout=1.0)
            if not done:
                continue
            event, task = task.result(), None
            if seen is not None:
                seen.append(event)
            await handle_event(app, event, post)
    finally:
        _feeds[id(app)] = (events, task)


def _wait_running(url: str, timeout_s: float = 60) -> None:
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + timeout_s
    try:
        while not client.hlen(RedisKeys.RUNNING):
            assert time.monotonic() < deadline, "no job started"
            time.sleep(0.05)
    finally:
        client.close()


async def test_worker_killed_mid_job_result_arrives_once(long_song: Path, tmp_path: Path,
                                                         redis_server: RedisServer,
                                                         workers: Workers) -> None:
    workers.env = vyke_env(tmp_path / "data", redis_server.url)
    first = workers.start("render")
    wait_for_workers(redis_server.url, 1)
    posted: list[tuple[str, Reply]] = []
    async with build_app(_settings(tmp_path / "data", redis_server.url)) as app:
        replies = await app.maestro.handle(_turn("local:k", "Remix this to Afro Circuit",
                                                 audio=long_song))
        assert "Listening to the song first" in str(replies)  # the key question follows it
        await asyncio.to_thread(_wait_running, redis_server.url)
        workers.kill(first)  # SIGKILL the worker and its job's process
        workers.start("render")
        await _pump(app, posted, until=["local:k"])
        production = await app.store.get("local:k")
    analysed = [r for _, r in posted if isinstance(r, TextReply) and
                r.text.startswith("Analysed the song")]
    assert len(analysed) == 1
    assert sum("Agree?" in str(r) for _, r in posted) == 1  # asked once, after the analysis
    assert production is not None and production.analysis is not None
    assert production.analysis.tempo.bpm == pytest.approx(118, abs=1.5)
    assert "goes back to the queue" in workers.log_text()  # the second worker took it over


def test_bot_killed_while_job_runs_result_posted_once(long_song: Path, tmp_path: Path,
                                                      redis_server: RedisServer,
                                                      workers: Workers) -> None:
    env = vyke_env(tmp_path / "data", redis_server.url)
    workers.env = env
    workers.start("render")
    wait_for_workers(redis_server.url, 1)
    first = tmp_path / "first.txt"
    first.write_text("Remix this to Afro Circuit\n")
    bot = subprocess.Popen([sys.executable, "-m", "bot.cli", "chat", "--script", str(first),
                            "--audio", str(long_song), "--out", str(tmp_path / "o1"),
                            "--name", "b"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    _wait_running(redis_server.url)
    bot.send_signal(signal.SIGKILL)
    before, _ = bot.communicate(timeout=10)
    assert b"Analysed the song" not in before  # it died before the result
    again = tmp_path / "again.txt"
    again.write_text("status\n")
    outputs = [vyke("chat", "--script", str(again), "--out", str(tmp_path / f"o{i}"),
                    "--resume", "b", env=env) for i in (2, 3)]
    for result in outputs:
        assert result.returncode == 0, result.stderr
    assert outputs[0].stdout.count("Analysed the song") == 1
    assert "Analysed the song" not in outputs[1].stdout  # never posted twice
    session = json.loads((tmp_path / "o3" / "session.json").read_text())
    assert session["analysis"]["key"]["key"] == {"tonic": 0, "mode": "major"}


async def test_redis_restart_mid_conversation(song: Path, tmp_path: Path,
                                              redis_server: RedisServer,
                                              workers: Workers) -> None:
    workers.env = vyke_env(tmp_path / "data", redis_server.url)
    workers.start()
    wait_for_workers(redis_server.url, 1)
    # the seed up to v1: the song, then (with Redis down and back) the tempo and the vocal, and
    # the render on the queue that came back; the later turns only repeat what v1 proves
    lines = [line for line in SEED.read_text().splitlines()
             if line and not line.startswith("#")][:3]
    posted: list[tuple[str, Reply]] = []
    conversation = "local:r"
    # a 32-bar v1: what is checked is that nothing is lost, not the render's length
    async with build_app(_settings(tmp_path / "data", redis_server.url, max_bars=32)) as app:
        await app.maestro.handle(_turn(conversation, lines[0], audio=song))
        await _pump(app, posted, until=[conversation])
        redis_server.stop()
        down = await app.maestro.handle(_turn(conversation, lines[1]))
        assert "The job queue is unavailable right now" in _texts(down)
        kept = await app.store.get(conversation)
        assert kept is not None and kept.analysis is not None  # nothing lost
        redis_server.start()
        for line in lines[1:]:
            await app.maestro.handle(_turn(conversation, line))
            await _pump(app, posted, until=[conversation])
        production = await app.store.get(conversation)
    assert production is not None
    assert set(production.stems) == {"vocals", "drums", "bass", "other"}
    assert [(v.number, v.rendered) for v in production.versions] == [(1, True)]
    assert production.brief.bpm is not None and production.brief.bpm.value == 126
    separated = [r for _, r in posted if isinstance(r, TextReply) and "stems" in r.text.lower()
                 and "separat" in r.text.lower()]
    assert len(separated) == 1


async def test_twenty_productions_five_people_two_workers(short_song: Path, tmp_path: Path,
                                                          redis_server: RedisServer,
                                                          workers: Workers) -> None:
    workers.env = vyke_env(tmp_path / "data", redis_server.url)
    workers.start("render")
    workers.start("render")
    wait_for_workers(redis_server.url, 2)
    people = [f"person{i}" for i in range(5)]
    threads = {f"local:{p}-{j}": p for p in people for j in range(4)}
    posted: list[tuple[str, Reply]] = []
    seen: list[JobEvent] = []
    refusals = 0
    busiest: dict[str, int] = defaultdict(int)
    # each refused start is said again at once: the message rate limit is not under test here
    settings = _settings(tmp_path / "data", redis_server.url, jobs_per_user=2,
                         productions_per_server=8, turns_per_minute=0)
    async with build_app(settings) as app:
        waiting = list(threads)
        while waiting:
            for thread in list(waiting):
                replies = await app.maestro.handle(_turn(thread, "Remix this to Afro Circuit",
                                                         author=threads[thread],
                                                         audio=short_song))
                if "productions working" in _texts(replies) or "is already working" in \
                        _texts(replies):
                    refusals += 1
                    continue
                waiting.remove(thread)
                for person in people:
                    busiest[person] = max(busiest[person], await app.store.busy(owner=person))
                assert await app.store.busy() <= 8
            started = [t for t in threads if t not in waiting]
            await _pump(app, posted, until=started, seen=seen, first=bool(waiting))
        productions = [await app.store.get(t) for t in threads]
    assert all(p is not None and p.analysis is not None for p in productions)  # all 20 done
    assert refusals > 0 and max(busiest.values()) == 2  # the limits were reached and held
    by_job: dict[str, list[JobEvent]] = defaultdict(list)
    for event in seen:
        by_job[event.job_id].append(event)
    assert len(by_job) == 20
    for events in by_job.values():
        statuses = [e.status for e in events]
        assert statuses[0] is JobStatus.QUEUED and statuses[-1] is JobStatus.DONE
        assert statuses.index(JobStatus.STARTED) < statuses.index(JobStatus.DONE)
        fractions = [e.fraction for e in events if e.status is JobStatus.PROGRESS]
        assert fractions == sorted(fractions)  # progress never goes backwards
    done_posts = [c for c, r in posted if isinstance(r, TextReply) and
                  r.text.startswith("Analysed the song")]
    assert sorted(done_posts) == sorted(threads)  # each thread got its result, once


def test_worker_needs_redis_url(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    result = subprocess.run([sys.executable, "-m", "bot.cli", "worker"], cwd=ROOT,
                            env={**env, "VYKE_DATA_DIR": str(tmp_path)}, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    assert "needs REDIS_URL" in result.stderr

"""Job queue benchmarks: enqueue-to-start latency and throughput of short jobs, Redis vs inline.

The short job is a real analysis served from the cache (a few milliseconds of work), so the
numbers are the queue's own cost: Redis round trips and polling for arq, and one forked
child process per job for both. Redis runs as a private ``redis-server`` on a free port with
one ``vyke worker`` (two jobs at once); the inline queue runs two jobs at once.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from bench._table import Table

__all__ = ["run"]

JOBS = 40
_ROOT = Path(__file__).resolve().parents[1]

if TYPE_CHECKING:
    from core.artifacts import StoreConfig


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _store(folder: Path) -> StoreConfig:
    """The local artifact store and cache both queues' jobs use (the Redis worker's defaults)."""
    from core.artifacts import StoreConfig

    return StoreConfig(data_dir=str(folder), cache_dir=str(folder / "cache"))


def _payload(song: Path, folder: Path) -> dict[str, object]:
    """An analysis of ``song``, stored first in the local artifact store as the bot does."""
    from core.artifacts import LocalArtifactStore

    key = LocalArtifactStore(folder).put_file("bench", song.name, song).key
    return {"audio": key, "name": song.name, "max_duration_s": 600, "max_size_bytes": 10**9}


async def _measure(queue: object, song: Path, folder: Path) -> tuple[list[float], float]:
    """Latencies (enqueue -> started, s) of ``JOBS`` jobs and their throughput (jobs/s)."""
    from core.jobs import JobKind, JobRequest, JobStatus

    payload = _payload(song, folder)
    enqueued: dict[str, float] = {}
    latencies: list[float] = []
    done = 0
    events = queue.events()  # type: ignore[attr-defined]
    start = time.perf_counter()
    for i in range(JOBS):
        request = JobRequest(job_id=f"analyze-bench-{os.getpid()}-{i}", production_id=f"b{i}",
                             kind=JobKind.ANALYZE, payload=payload)
        enqueued[request.job_id] = time.perf_counter()
        await queue.enqueue(request)  # type: ignore[attr-defined]
    while done < JOBS:
        event = await anext(events)
        await queue.ack(event)  # type: ignore[attr-defined]
        if event.status is JobStatus.STARTED and event.job_id in enqueued:
            latencies.append(time.perf_counter() - enqueued[event.job_id])
        elif event.status in (JobStatus.DONE, JobStatus.FAILED) and event.job_id in enqueued:
            done += 1
    return latencies, JOBS / (time.perf_counter() - start)


async def _inline(song: Path, folder: Path) -> tuple[list[float], float]:
    from bot.inline_queue import InlineQueue

    queue = InlineQueue(store=_store(folder), workers=2)
    await queue.start()
    try:
        return await _measure(queue, song, folder)
    finally:
        await queue.close()


async def _redis(song: Path, folder: Path) -> tuple[list[float], float]:
    from bot.redis_queue import RedisQueue
    from core.jobs import JobKind

    port = _free_port()
    server = subprocess.Popen([shutil.which("redis-server") or "redis-server", "--port",
                               str(port), "--bind", "127.0.0.1", "--dir", str(folder),
                               "--save", ""], stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    env = {**os.environ, "REDIS_URL": url, "VYKE_DATA_DIR": str(folder),
           "VYKE_WORKER_JOBS": "2", "VYKE_LOG_LEVEL": "WARNING"}
    worker = subprocess.Popen([sys.executable, "-m", "bot.cli", "worker", "--queues", "render"],
                              cwd=_ROOT, env=env)
    queue = RedisQueue(url, consumer="bench")
    try:
        for _ in range(100):
            try:
                await queue.start()
                break
            except Exception:  # the server is still starting
                await asyncio.sleep(0.1)
        while not queue.supports(JobKind.ANALYZE):  # the worker has not offered it yet
            await asyncio.sleep(0.5)
        return await _measure(queue, song, folder)
    finally:
        await queue.close()
        worker.terminate()
        worker.wait(timeout=30)
        server.terminate()
        server.wait(timeout=10)


def _row(name: str, latencies: list[float], throughput: float) -> list[str]:
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return [name, f"{statistics.median(ordered) * 1000:.0f} ms",
            f"{p95 * 1000:.0f} ms", f"{throughput:.1f} jobs/s"]


def run() -> list[Table]:
    """Measure both queues on the same cached analysis job."""
    from jobs.analysis import analyze_file
    from jobs.demo_song import make_demo_song

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        song = make_demo_song(folder / "song.wav", duration_s=5.0)
        analyze_file(song, max_duration_s=600, max_size_bytes=10**9)  # warm the JIT cache
        asyncio.run(_measure_once_to_fill(song, folder))
        inline = asyncio.run(_inline(song, folder))
        redis = asyncio.run(_redis(song, folder))
    return [Table(
        f"Short jobs ({JOBS} cached analyses, 2 at once): enqueue-to-start latency, throughput",
        ["queue", "latency median", "latency p95", "throughput"],
        [_row("inline (child processes)", *inline), _row("Redis + 1 vyke worker", *redis)],
        notes=["Latency is from enqueue() returning to the STARTED event reaching the bot; "
               "all jobs are enqueued at once, so later jobs wait for earlier ones.",
               "Redis adds arq's polling (0.2 s poll delay) and stream round trips."],
    )]


async def _measure_once_to_fill(song: Path, folder: Path) -> None:
    """Run one analysis through the inline queue so every benchmark job is a cache hit."""
    from bot.inline_queue import InlineQueue
    from core.jobs import JobKind, JobRequest, JobStatus

    queue = InlineQueue(store=_store(folder), workers=1)
    await queue.start()
    try:
        await queue.enqueue(JobRequest(job_id="analyze-fill", production_id="fill",
                                       kind=JobKind.ANALYZE, payload=_payload(song, folder)))
        async for event in queue.events():
            if event.status in (JobStatus.DONE, JobStatus.FAILED):
                return
    finally:
        await queue.close()

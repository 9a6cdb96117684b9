"""The inline queue with the real analysis job: order within a production, "stop" kills the
running job's process, a bad file fails with its own sentence."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.inline_queue import InlineQueue
from core.artifacts import LocalArtifactStore, StoreConfig
from core.jobs import AnalyzeResult, JobEvent, JobKind, JobRequest, JobStatus, job_id_for, result_of

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def long_song(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from jobs.demo_song import make_demo_song

    return make_demo_song(tmp_path_factory.mktemp("song") / "song.wav", duration_s=40.0)


@pytest.fixture
async def queue(tmp_path: Path) -> AsyncIterator[InlineQueue]:
    store = StoreConfig(data_dir=str(tmp_path / "data"), cache_dir=str(tmp_path / "cache"))
    made = InlineQueue(store=store, workers=2, max_tries=2, retry_backoff_s=0.1)
    await made.start()
    yield made
    await made.close()


def _analysis(production: str, song: Path, tmp_path: Path, attempt: str = "") -> JobRequest:
    """Analyse ``song``, stored first in the queue's artifact store as the Maestro does."""
    key = LocalArtifactStore(tmp_path / "data").put_file(production, song.name, song).key
    return JobRequest(job_id=job_id_for(production, 0, JobKind.ANALYZE, attempt=attempt),
                      production_id=production, kind=JobKind.ANALYZE,
                      payload={"audio": key, "name": song.name,
                               "max_duration_s": 600, "max_size_bytes": 10**9})


async def _until(queue: InlineQueue, stop: set[JobStatus], count: int) -> list[JobEvent]:
    seen: list[JobEvent] = []
    events = queue.events()
    while sum(e.status in stop for e in seen) < count:
        seen.append(await asyncio.wait_for(anext(events), timeout=120))
    return seen


async def test_stop_kills_the_running_job(queue: InlineQueue, long_song: Path,
                                          tmp_path: Path) -> None:
    request = _analysis("p", long_song, tmp_path)
    await queue.enqueue(request)
    events = queue.events()
    while (await anext(events)).status is not JobStatus.PROGRESS:
        pass  # the job's process is analysing
    assert await queue.cancel("p") == [request.job_id]
    while (event := await anext(events)).status is JobStatus.PROGRESS:
        pass
    assert event.status is JobStatus.CANCELLED
    assert event.message == "Stopped analyze as you asked."
    await asyncio.sleep(3)  # a surviving process would finish and write its cache entry
    assert not list((tmp_path / "cache").rglob("*.json"))


async def test_jobs_of_one_production_run_in_order(queue: InlineQueue, long_song: Path,
                                                   tmp_path: Path) -> None:
    first = _analysis("p", long_song, tmp_path)
    second = _analysis("p", long_song, tmp_path, attempt="2")
    assert await queue.enqueue(first) == 1
    assert await queue.enqueue(second) == 2
    assert await queue.enqueue(second) == 2  # a duplicate is a no-op
    seen = await _until(queue, {JobStatus.DONE}, 2)
    order = [(e.job_id, e.status) for e in seen if e.status is not JobStatus.PROGRESS]
    assert order.index((first.job_id, JobStatus.DONE)) < order.index((second.job_id,
                                                                      JobStatus.STARTED))
    assert sum(1 for e in seen if e.status is JobStatus.QUEUED) == 2
    done = [e for e in seen if e.status is JobStatus.DONE]
    report = result_of(done[0], AnalyzeResult).report
    assert report.key.key.model_dump(mode="json") == {"tonic": 0, "mode": "major"}


async def test_a_bad_file_fails_with_its_sentence(queue: InlineQueue, tmp_path: Path) -> None:
    bad = tmp_path / "notes.wav"
    bad.write_text("these are not sounds")
    await queue.enqueue(_analysis("p", bad, tmp_path))
    seen = await _until(queue, {JobStatus.FAILED, JobStatus.DONE}, 1)
    assert seen[-1].status is JobStatus.FAILED
    assert "notes.wav" in seen[-1].message and "unexpectedly" not in seen[-1].message

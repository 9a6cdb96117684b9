"""Every result reaches its thread once: failed posts are retried, kept, and posted after a restart."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bot import runtime
from bot.runtime import deliver_undelivered, handle_event
from core.conversation import Author, Reply, Turn
from core.jobs import JobEvent, JobKind, JobStatus
from core.store import SqliteStore
from tests.core.test_maestro import RenderQueue
from tests.fakes.rule_maestro import rule_maestro

CID = "discord:1:2"
WAIT_S = runtime._wait_s  # the real wait, before the fixture below swaps it
DEE = Author(id="u-dee", name="Dee")


class RateLimited(Exception):
    """What an adapter raises when the platform answers 429 (it carries ``retry_after``)."""

    def __init__(self, retry_after: float) -> None:
        super().__init__("429 Too Many Requests")
        self.retry_after = retry_after


class FlakyThread:
    """A thread whose platform refuses the first ``failures`` posts, then takes them all."""

    def __init__(self, failures: int, *, retry_after: float = 0.0) -> None:
        self.failures = failures
        self.retry_after = retry_after
        self.posted: list[tuple[str, Reply]] = []

    async def post(self, conversation_id: str, reply: Reply) -> None:
        if self.failures:
            self.failures -= 1
            raise RateLimited(self.retry_after)
        self.posted.append((conversation_id, reply))


@pytest.fixture(autouse=True)
def _no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries are checked, not waited for: every backoff and Retry-After is 0 s here."""
    waits: list[float] = []

    def wait_s(state: Any) -> float:
        error = state.outcome.exception()
        waits.append(getattr(error, "retry_after", -1.0))
        return 0.0

    monkeypatch.setattr(runtime, "_wait_s", wait_s)


@asynccontextmanager
async def _bot(db: Path, queue: RenderQueue) -> AsyncIterator[tuple[SimpleNamespace, SqliteStore]]:
    """One bot process on the database ``db``: its Maestro and queue, and its store (closed
    when the process ends)."""
    store = await SqliteStore(db).open()
    try:
        maestro = rule_maestro(store, queue, db.parent)
        yield SimpleNamespace(maestro=maestro, queue=queue, artifacts=maestro.parts.artifacts), store
    finally:
        await store.close()


async def _rendered_event(app: SimpleNamespace, queue: RenderQueue) -> JobEvent:
    """v1 of a text-to-track planned and queued; the worker's DONE event for its render."""
    await app.maestro.handle(Turn(conversation_id=CID, author=DEE,
                                  text="a 124 BPM deep house track in A minor"))
    production = await app.maestro.store.get(CID)
    while production.pending_question is not None:  # agree to whatever is suggested
        await app.maestro.handle(Turn(conversation_id=CID, author=DEE, text="yes"))
        production = await app.maestro.store.get(CID)
    job = next(r for r in queue.requests if r.kind is JobKind.RENDER)
    measurements = {"key": "Am", "tempo_bpm": 124.0, "integrated_lufs": -14.0,
                    "true_peak_dbtp": -1.2, "tracks": {}}
    return JobEvent(job_id=job.job_id, production_id=CID, kind=JobKind.RENDER,
                    status=JobStatus.DONE, version=1,
                    result={"artifacts": {}, "measurements": measurements, "mismatches": []})


async def _posts_nothing_again(app: SimpleNamespace, event: JobEvent) -> None:
    """The same event delivered again (at-least-once queues do): nothing is posted twice."""
    again = FlakyThread(failures=0)
    assert await handle_event(app, event, again.post)  # type: ignore[arg-type]
    assert again.posted == []


@pytest.fixture
async def rendered(tmp_path: Path) -> AsyncIterator[tuple[SimpleNamespace, SqliteStore, JobEvent]]:
    """A bot whose v1 was planned and rendered: the app, its store, and the worker's DONE
    event for the render, not yet handled."""
    queue = RenderQueue()
    async with _bot(tmp_path / "vyke.sqlite", queue) as (app, store):
        yield app, store, await _rendered_event(app, queue)


def _texts(thread: FlakyThread) -> list[str]:
    return [getattr(reply, "text", "") or getattr(reply, "step", "") for _, reply in thread.posted]


async def test_a_rate_limited_post_is_retried_and_lands_once(
        rendered: tuple[SimpleNamespace, SqliteStore, JobEvent]) -> None:
    app, store, event = rendered
    thread = FlakyThread(failures=2, retry_after=1.5)
    assert await handle_event(app, event, thread.post)  # type: ignore[arg-type]
    assert any("v1 rendered" in t for t in _texts(thread))
    assert len(thread.posted) == len(set(map(id, (r for _, r in thread.posted))))
    production = await store.get(CID)
    assert production is not None and production.outbox == []
    await _posts_nothing_again(app, event)


async def test_a_result_that_could_not_be_posted_is_posted_after_a_restart(
        tmp_path: Path) -> None:
    queue = RenderQueue()
    async with _bot(tmp_path / "vyke.sqlite", queue) as (app, store):
        event = await _rendered_event(app, queue)
        down = FlakyThread(failures=10_000)
        assert not await handle_event(app, event, down.post)  # type: ignore[arg-type]
        assert down.posted == []
        held = await store.get(CID)
        assert held is not None and len(held.outbox) == 1 and held.outbox[0].posted == 0
        assert held.versions[0].rendered  # the render's state change is kept, not the text only

    # a new bot process on the same data: the held replies are posted once, in order
    async with _bot(tmp_path / "vyke.sqlite", queue) as (restarted, store):
        thread = FlakyThread(failures=1)
        count = await deliver_undelivered(restarted, thread.post)  # type: ignore[arg-type]
        assert count == len(held.outbox[0].replies) == len(thread.posted)
        assert any("v1 rendered" in t for t in _texts(thread))
        assert (await store.get(CID)).outbox == []  # type: ignore[union-attr]
        assert await deliver_undelivered(restarted, thread.post) == 0  # type: ignore[arg-type]
        await _posts_nothing_again(restarted, event)  # after the restart too


async def test_a_post_that_fails_halfway_resumes_after_the_last_reply_that_landed(
        rendered: tuple[SimpleNamespace, SqliteStore, JobEvent]) -> None:
    app, store, event = rendered
    first = FlakyThread(failures=0)
    replies = await app.maestro.on_event(event)
    assert len(replies) >= 2
    await first.post(CID, replies[0])
    await app.maestro.posted(CID, event.job_id)  # the first landed, then the bot died
    rest = FlakyThread(failures=0)
    assert await handle_event(app, event, rest.post)  # type: ignore[arg-type]
    assert [r for _, r in rest.posted] == replies[1:]
    assert (await store.get(CID)).outbox == []  # type: ignore[union-attr]


def test_the_wait_before_a_retry_honours_retry_after() -> None:
    def state(error: Exception, attempt: int = 1) -> Any:
        outcome = SimpleNamespace(exception=lambda: error)
        return SimpleNamespace(outcome=outcome, attempt_number=attempt)

    assert WAIT_S(state(RateLimited(1.5))) == 1.5
    assert WAIT_S(state(RateLimited(3600))) == 30.0  # a platform's day-long ban is not waited out
    assert WAIT_S(state(ConnectionResetError(), attempt=1)) >= 1.0
    assert WAIT_S(state(ConnectionResetError(), attempt=3)) > WAIT_S(state(OSError(), attempt=1))

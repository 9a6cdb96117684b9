"""Nothing a director says is dropped: changes asked while a version renders are kept and applied."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.conversation import Author, QuestionReply, Reply, TextReply, Turn
from core.jobs import JobEvent, JobKind, JobStatus
from core.maestro import Maestro
from core.production import MaestroState, Production
from core.store import SqliteStore
from tests.core.test_maestro import RenderQueue, texts
from tests.fakes.rule_maestro import rule_maestro

CID = "local:busy"
DEE = Author(id="u-dee", name="Dee")
SAM = Author(id="u-sam", name="Sam")


Busy = tuple[Maestro, RenderQueue]


@pytest.fixture
async def busy(tmp_path: Path) -> AsyncIterator[Busy]:
    """A Maestro whose renders wait (the test delivers them), on a store closed after."""
    store = await SqliteStore(tmp_path / "vyke.sqlite").open()
    queue = RenderQueue()
    yield rule_maestro(store, queue, tmp_path), queue
    await store.close()


async def say(m: Maestro, text: str, author: Author = DEE) -> list[Reply]:
    return await m.handle(Turn(conversation_id=CID, author=author, text=text))


async def production(m: Maestro) -> Production:
    p = await m.store.get(CID)
    assert p is not None
    return p


async def _rendering_v1(m: Maestro) -> None:
    await say(m, "a 124 BPM deep house track in A minor")
    p = await production(m)
    while p.pending_question is not None:
        await say(m, "yes")
        p = await production(m)
    assert p.state is MaestroState.EXECUTING and len(p.versions) == 1


def _rendered(queue: RenderQueue, version: int) -> JobEvent:
    job = [r for r in queue.requests if r.kind is JobKind.RENDER][-1]
    assert job.version == version
    measurements = {"key": "Am", "tempo_bpm": 124.0, "integrated_lufs": -14.0,
                    "true_peak_dbtp": -1.2, "tracks": {}}
    return JobEvent(job_id=job.job_id, production_id=CID, kind=JobKind.RENDER,
                    status=JobStatus.DONE, version=version,
                    result={"artifacts": {}, "measurements": measurements, "mismatches": []})


async def test_changes_asked_while_rendering_are_kept_and_applied_after(busy: Busy) -> None:
    m, queue = busy
    await _rendering_v1(m)
    first = await say(m, "less reverb on everything")
    assert "Noted" in texts(first) and "v1" in texts(first)
    second = await say(m, "the bass is too loud", author=SAM)
    assert "Noted" in texts(second) and "2 changes" in texts(second)
    status = await say(m, "status")  # still answered at once, not kept
    assert "State: executing" in texts(status)
    p = await production(m)
    assert [q.text for q in p.queued] == ["less reverb on everything", "the bass is too loud"]
    assert len(p.versions) == 1  # nothing applied under the running render

    replies = await m.on_event(_rendered(queue, 1))
    said = texts(replies)
    assert "v1 rendered" in said and "Now applying" in said and "This is v2" in said
    p = await production(m)
    assert p.queued == [] and len(p.versions) == 2 and p.state is MaestroState.EXECUTING
    v2 = p.versions[1]
    assert v2.parent == 1 and v2.patch is not None
    changed = " ".join(v2.patch.describe())
    assert "bass" in changed and "reverb" in changed  # both kept changes, one version
    assert [r.kind for r in queue.requests].count(JobKind.RENDER) == 2  # v2 is rendering


async def test_a_change_said_while_a_question_is_open_is_kept_not_refused(
        busy: Busy) -> None:
    m, _ = busy
    await say(m, "a 124 BPM deep house track")
    p = await production(m)
    assert p.pending_question is not None
    replies = await say(m, "hats are too harsh")
    assert "Noted" in texts(replies) and "didn't catch" not in texts(replies)
    assert not any(isinstance(r, QuestionReply) for r in replies)  # buttons not re-posted
    p = await production(m)
    assert [q.text for q in p.queued] == ["hats are too harsh"]


async def test_a_question_is_asked_again_at_most_once(busy: Busy) -> None:
    m, _ = busy
    await say(m, "a 124 BPM deep house track")
    again = await say(m, "hmm purple elephants")
    assert sum(isinstance(r, QuestionReply) for r in again) == 1
    third = await say(m, "what about banana")
    assert not any(isinstance(r, QuestionReply) for r in third)
    assert all(isinstance(r, TextReply) for r in third) and "still need" in texts(third)


async def test_a_partial_answer_takes_the_rest_of_the_suggestion(busy: Busy) -> None:
    m, _ = busy
    await say(m, "a deep house track")
    p = await production(m)
    assert p.pending_question is not None and p.pending_question.topic == "key_bpm"
    suggested_key = p.brief.key.value if p.brief.key else None
    replies = await say(m, "130 is fine")
    assert "didn't catch" not in texts(replies)
    p = await production(m)
    assert p.brief.bpm is not None and p.brief.bpm.value == 130
    assert p.brief.key is not None and p.brief.key.value == suggested_key
    assert p.brief.is_settled("key") and p.brief.is_settled("bpm")


async def test_slow_it_right_down_to_80_is_the_tempo(busy: Busy) -> None:
    m, _ = busy
    await say(m, "make a lo-fi hip hop track and slow it right down to 80")
    p = await production(m)
    assert p.brief.bpm is not None and p.brief.bpm.value == 80


async def test_a_change_to_a_track_that_does_not_exist_is_not_claimed(busy: Busy) -> None:
    m, queue = busy
    await _rendering_v1(m)
    await m.on_event(_rendered(queue, 1))
    said = texts(await say(m, "the vocals are buried"))  # a track without a vocal
    assert "didn't change" in said.lower() and "Raised" not in said
    assert "no vocals track" in said


async def test_a_wish_not_possible_yet_is_named_with_the_closest_change_offered(
        busy: Busy) -> None:
    m, queue = busy
    await _rendering_v1(m)
    await m.on_event(_rendered(queue, 1))
    replies = await say(m, "add vinyl crackle")
    [offer] = [r for r in replies if isinstance(r, QuestionReply)]
    assert "can't make vinyl crackle yet" in offer.question.text
    assert "didn't understand" not in texts(replies)
    assert len((await production(m)).versions) == 1  # nothing changed before the yes
    taken = await say(m, "yes")
    p = await production(m)
    assert len(p.versions) == 2 and p.pending_offer == [] and p.pending_question is None
    assert "This is v2" in texts(taken)
    assert p.versions[1].patch is not None and p.versions[1].patch.ops

    await m.on_event(_rendered(queue, 2))
    declined = await say(m, "add a guitar solo")
    assert "can't make a live instrument part yet" in texts(declined)
    assert "OK, nothing changed" in texts(await say(m, "no"))
    assert len((await production(m)).versions) == 2
    no_vocal = await say(m, "autotune the vocal please")  # no vocal here: chops not offered
    assert "can't make a tuned or vocoded vocal yet" in texts(no_vocal)
    assert "no vocal" in texts(no_vocal)
    assert not any(isinstance(r, QuestionReply) for r in no_vocal)

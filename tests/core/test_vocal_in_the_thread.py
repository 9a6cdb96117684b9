"""What the thread hears about the vocal after a render: the key it sits in, a re-shift said
aloud, and a question (never a silent post) when it does not fit the production's key."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from core.conversation import Attachment, Author, QuestionReply, Reply, TextReply, Turn
from core.jobs import JobRequest, RenderRequest
from core.maestro import Maestro
from core.patch import SetVocalShift
from core.production import Production, Topic
from core.store import SqliteStore
from tests.fakes.honest_queue import HonestQueue
from tests.fakes.rule_maestro import rule_maestro

CID = "local:vocal"
DEE = Author(id="u-dee", name="Dee")
SONG = Attachment(name="song.wav", path="/songs/song.wav", size_bytes=4_000_000,
                  content_type="audio/wav")


class HeardQueue(HonestQueue):
    """The honest queue, whose first render reads the vocal as ``heard`` says."""

    def __init__(self, store: Any, heard: dict[str, Any]) -> None:
        super().__init__(store)
        self.heard = heard

    async def _result(self, request: JobRequest) -> dict[str, Any]:
        result = await super()._result(request)
        if isinstance(request.payload, RenderRequest) and request.version == 1:
            spec = request.payload.spec
            placements = [{"bar": first, "bars": last - first + 1, "part": "hook",
                           "source_bar": 7} for s, first, last in spec.section_bars()
                          if s.kind == "drop"]
            result["measurements"]["vocal"] = {**self.heard, "hook": [7, 10],
                                               "placements": placements}
            if self.heard.get("fits") is False:
                result["mismatches"] = ["the vocal reads as Eb, outside A minor's notes"]
        return result


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    s = await SqliteStore(tmp_path / "vyke.sqlite").open()
    yield s
    await s.close()


def _texts(replies: list[Reply]) -> str:
    return "\n".join(r.text if isinstance(r, TextReply) else r.question.text
                     for r in replies if isinstance(r, TextReply | QuestionReply))


async def _remix_to_v1(m: Maestro, queue: HonestQueue) -> list[Reply]:
    """"Remix this to deep house", yes, keep the lyrics, each answered once its jobs are done;
    the replies of the last jobs (v1's render among them)."""
    said: list[Reply] = []
    for index, text in enumerate(["Remix this to deep house", "yes", "keep the lyrics"]):
        await m.handle(Turn(conversation_id=CID, author=DEE, text=text,
                            attachments=[SONG] if index == 0 else []))
        said = []
        async for event in queue.events():
            said += await m.on_event(event)
    return said


async def _production(m: Maestro) -> Production:
    p = await m.store.get(CID)
    assert p is not None
    return p


async def test_the_first_render_says_the_vocals_key_and_where_its_hook_sings(
        store: SqliteStore, tmp_path: Path) -> None:
    queue = HeardQueue(store, {"key": "C", "fits": True, "planned_shift": 0, "applied_shift": 0})
    m = rule_maestro(store, queue, tmp_path)
    said = _texts(await _remix_to_v1(m, queue))
    assert ("🎤 The vocal reads as C major at the song's own pitch, the relative major of "
            "A minor. Its hook is the song's bars 7–10, sung in drop 1 and drop 2.") in said
    assert (await _production(m)).pending_question is None


async def test_a_vocal_moved_again_by_the_render_is_said(store: SqliteStore,
                                                         tmp_path: Path) -> None:
    queue = HeardQueue(store, {"key": "C", "fits": True, "planned_shift": 0,
                               "applied_shift": 3, "planned_reading": "A"})
    m = rule_maestro(store, queue, tmp_path)
    said = _texts(await _remix_to_v1(m, queue))
    assert ("The vocal read as A major at the song's own pitch, outside A minor's notes (the "
            "song's key was likely misread), so I moved it +3 semitones from the song's pitch "
            "instead: it now reads as C major, the relative major of A minor.") in said


async def test_a_vocal_that_does_not_fit_is_asked_about_and_moved_on_yes(
        store: SqliteStore, tmp_path: Path) -> None:
    queue = HeardQueue(store, {"key": "Eb", "fits": False, "planned_shift": 0,
                               "applied_shift": 0})
    m = rule_maestro(store, queue, tmp_path)
    said = _texts(await _remix_to_v1(m, queue))
    assert "Not as planned: the vocal reads as Eb, outside A minor's notes" in said
    p = await _production(m)
    assert p.pending_question is not None and p.pending_question.topic == Topic.OFFER
    assert p.pending_question.text == (
        "The vocal reads as Eb major, outside A minor's notes. Shall I move it Eb major → C "
        "major, the relative major of A minor: -3 semitones so it sits in them?")
    await m.handle(Turn(conversation_id=CID, author=DEE, text="yes"))
    async for event in queue.events():
        await m.on_event(event)
    p = await _production(m)
    v2 = p.versions[-1]
    assert v2.number == 2 and v2.patch is not None and v2.rendered
    assert v2.patch.ops == [SetVocalShift(semitones=-3)]
    assert v2.spec.vocal is not None and v2.spec.vocal.recheck_key is False


async def test_an_unsure_reading_is_said_not_acted_on(store: SqliteStore, tmp_path: Path) -> None:
    queue = HeardQueue(store, {"key": "Dm", "fits": None, "sure": False, "margin": 0.02,
                               "planned_shift": 0, "applied_shift": 0})
    m = rule_maestro(store, queue, tmp_path)
    said = _texts(await _remix_to_v1(m, queue))
    assert ("🎤 The vocal reads most like D minor, outside A minor's notes, but too unsurely to "
            "move it on that alone") in said
    assert "Not as planned" not in said
    assert (await _production(m)).pending_question is None

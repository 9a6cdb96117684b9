"""What the conversation corpus found: every request gets an honest answer, nothing vanishes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.conversation import Author, Reply, Turn
from core.maestro import Maestro
from core.production import Production
from core.store import SqliteStore
from tests.core.test_maestro import texts
from tests.fakes.honest_queue import HonestQueue
from tests.fakes.rule_maestro import rule_maestro

CID = "local:answered"
DEE = Author(id="u-dee", name="Dee")


class _Thread:
    def __init__(self, maestro: Maestro, queue: HonestQueue) -> None:
        self.maestro, self.queue = maestro, queue

    async def say(self, text: str) -> str:
        return texts(await self.maestro.handle(Turn(conversation_id=CID, author=DEE, text=text)))

    async def finish_jobs(self) -> str:
        said: list[Reply] = []
        async for event in self.queue.events():
            said += await self.maestro.on_event(event)
        return texts(said)

    async def production(self) -> Production:
        p = await self.maestro.store.get(CID)
        assert p is not None
        return p


@pytest.fixture
async def thread(tmp_path: Path) -> AsyncIterator[_Thread]:
    """A conversation with the honest queue, on a store closed after the test."""
    store = await SqliteStore(tmp_path / "vyke.sqlite").open()
    queue = HonestQueue(store)
    yield _Thread(rule_maestro(store, queue, tmp_path), queue)
    await store.close()


async def test_a_key_after_a_tempo_is_still_the_key(thread: _Thread) -> None:
    await thread.say("make a house track at 124 in C minor")
    p = await thread.production()
    assert p.brief.key is not None and str(p.brief.key.value) == "Cm"
    assert p.versions  # both given: planned at once, nothing asked


async def test_a_wish_said_with_a_possible_change_is_named_and_the_change_made(
        thread: _Thread) -> None:
    await thread.say("make a house track at 124 in A minor")
    await thread.finish_jobs()
    said = await thread.say("add a vinyl crackle and more reverb on the pads")
    assert "This is v2" in said and "reverb" in said
    assert "can't make vinyl crackle yet, so I left it out" in said
    assert "The closest I can do is" in said


async def test_a_kept_change_that_cannot_be_made_is_said_not_dropped(thread: _Thread) -> None:
    await thread.say("make a garage track")  # the key/tempo question is open
    assert "Noted" in await thread.say("stutter the vocal in the intro")
    assert "Noted" in await thread.say("hats are too harsh")
    await thread.say("128 works")
    said = await thread.finish_jobs()
    assert "Now applying" in said and "This is v2" in said
    assert "Not changed: “stutter the vocal in the intro” — This production has no vocal" \
        in said


async def test_a_yes_with_no_question_open_is_answered_as_a_yes(thread: _Thread) -> None:
    await thread.say("make a house track at 124 in A minor")
    await thread.finish_jobs()
    said = await thread.say("yes")
    assert "didn't understand" not in said and "no question open" in said
    assert len((await thread.production()).versions) == 1


async def test_a_stopped_render_is_noted_on_its_version(thread: _Thread) -> None:
    await thread.say("make a house track at 124 in A minor")
    assert "Stopped" in await thread.say("stop")
    p = await thread.production()
    assert not p.pending_jobs and p.versions[0].note == "stopped before it rendered"
    assert not p.versions[0].rendered


async def test_a_wish_with_a_change_before_anything_exists_is_still_named(
        thread: _Thread) -> None:
    said = await thread.say("add vinyl crackle and more reverb on the pads")
    assert "can't make vinyl crackle yet" in said and "not sure what you'd like" not in said


async def test_a_remix_with_everything_given_still_separates_and_renders(
        thread: _Thread) -> None:
    from core.conversation import Attachment

    song = Attachment(name="song.wav", path="/songs/song.wav", size_bytes=4_000_000,
                      content_type="audio/wav")
    await thread.maestro.handle(Turn(conversation_id=CID, author=DEE, attachments=[song],
                                     text="remix this to techno at 128 in F minor"))
    await thread.finish_jobs()
    await thread.say("keep the lyrics")  # the only question: key and tempo were given
    said = await thread.finish_jobs()
    p = await thread.production()
    assert "Stems separated" in said and "v1 rendered" in said
    assert p.versions[0].rendered and not p.pending_jobs


async def test_praise_after_approval_is_thanked_not_refused(thread: _Thread) -> None:
    await thread.say("make a house track at 124 in A minor")
    await thread.finish_jobs()
    await thread.say("perfect")
    said = await thread.say("love it")
    assert "didn't understand" not in said and "Great" in said


async def test_the_tempo_it_already_has_changes_nothing_and_says_so(thread: _Thread) -> None:
    await thread.say("make a house track at 124 in A minor")
    await thread.finish_jobs()
    said = await thread.say("up the tempo to 124")
    assert "already at 124 BPM" in said and "This is v2" not in said
    p = await thread.production()
    assert len(p.versions) == 1 and p.state.value == "reviewing"

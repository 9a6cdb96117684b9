"""Several directors in one thread: opposite changes in a row become a vote, not a flip-flop."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.brain import Brain, BrainContext, Understanding
from core.conversation import Author, ButtonPress, QuestionReply, Reply, TextReply, Turn
from core.maestro import Maestro
from core.production import MaestroState, Production
from tests.core.test_maestro import DEE, SAM, make_maestro, texts

CID = "local:vote"


@pytest.fixture
async def maestro(tmp_path: Path) -> AsyncIterator[Maestro]:
    m, store = await make_maestro(tmp_path / "vyke.sqlite")
    yield m
    await store.close()


async def say(m: Maestro, text: str, author=DEE) -> list[Reply]:  # type: ignore[no-untyped-def]
    return await m.handle(Turn(conversation_id=CID, author=author, text=text))


async def press(m: Maestro, question_id: str, option_id: str, author=DEE) -> list[Reply]:  # type: ignore[no-untyped-def]
    return await m.handle(Turn(conversation_id=CID, author=author,
                               press=ButtonPress(question_id=question_id, option_id=option_id)))


async def production(m: Maestro) -> Production:
    p = await m.store.get(CID)
    assert p is not None
    return p


async def bass_gain(m: Maestro) -> float:
    p = await production(m)
    assert p.current_version is not None
    bass = p.current_version.spec.track("bass")
    assert bass is not None
    return bass.gain_db


async def _v1(m: Maestro) -> float:
    """A house track planned and (unrendered) reviewed: v1, its bass gain."""
    await say(m, "Make a house track in Am at 124 BPM")
    p = await production(m)
    assert p.state is MaestroState.REVIEWING and len(p.versions) == 1, p.state
    return await bass_gain(m)


async def _conflict(m: Maestro) -> tuple[float, str]:
    v1 = await _v1(m)
    await say(m, "bass louder", author=DEE)
    assert await bass_gain(m) == pytest.approx(v1 + 3)
    replies = await say(m, "bass too loud", author=SAM)
    question = next(r for r in replies if isinstance(r, QuestionReply)).question
    assert question.topic == "vote"
    assert "Dee" in question.text and "Sam" in question.text, question.text
    assert [o.id for o in question.options] == ["keep", "apply"]
    assert "Dee" in question.options[0].label and "Sam" in question.options[1].label
    p = await production(m)
    assert len(p.versions) == 2 and p.current == 2  # nothing flipped yet
    assert p.pending_question is not None and p.pending_question.topic == "vote"
    assert await bass_gain(m) == pytest.approx(v1 + 3)
    return v1, question.id


async def test_opposite_changes_by_two_directors_ask_the_thread(maestro: Maestro) -> None:
    await _conflict(maestro)


async def test_keeping_the_first_change(maestro: Maestro) -> None:
    v1, qid = await _conflict(maestro)
    replies = await press(maestro, qid, "keep", author=SAM)
    assert "Dee" in texts(replies) and "v2" in texts(replies)
    p = await production(maestro)
    assert len(p.versions) == 2 and p.current == 2 and p.pending_question is None
    assert await bass_gain(maestro) == pytest.approx(v1 + 3)


async def test_applying_the_second_change(maestro: Maestro) -> None:
    v1, qid = await _conflict(maestro)
    replies = await press(maestro, qid, "apply", author=DEE)
    assert "v3" in texts(replies)
    p = await production(maestro)
    assert len(p.versions) == 3 and p.current == 3 and p.pending_question is None
    assert p.versions[-1].author == SAM.id and p.versions[-1].parent == 2
    assert await bass_gain(maestro) == pytest.approx(v1)  # +3 then −3
    assert p.state is MaestroState.REVIEWING


async def test_typing_the_option_number_answers_the_vote(maestro: Maestro) -> None:
    v1, _ = await _conflict(maestro)
    await say(maestro, "2", author=DEE)
    assert await bass_gain(maestro) == pytest.approx(v1)


async def _no_vote(maestro: Maestro, second: str, author: Author) -> tuple[float, list[Reply]]:
    """v1's bass gain and the replies to ``second`` said after Dee's "bass louder": no vote."""
    v1 = await _v1(maestro)
    await say(maestro, "bass louder", author=DEE)
    replies = await say(maestro, second, author=author)
    assert not any(isinstance(r, QuestionReply) for r in replies)
    return v1, replies


async def test_same_director_changing_their_mind_is_not_a_vote(maestro: Maestro) -> None:
    v1, _ = await _no_vote(maestro, "bass too loud", DEE)
    assert await bass_gain(maestro) == pytest.approx(v1)


async def test_different_changes_by_two_directors_are_not_a_vote(maestro: Maestro) -> None:
    v1, replies = await _no_vote(maestro, "kick louder", SAM)
    assert all(isinstance(r, TextReply) for r in replies)
    assert await bass_gain(maestro) == pytest.approx(v1 + 3)
    assert len((await production(maestro)).versions) == 3


class _FickleBrain:
    """Reads "bass too loud" as bass down once, and as "kick louder" every time after."""

    name = "fickle"

    def __init__(self, rules: Brain) -> None:
        self.rules = rules
        self.readings = 0

    async def understand(self, text: str, *, context: BrainContext) -> Understanding:
        if text == "bass too loud":
            self.readings += 1
            if self.readings > 1:
                text = "kick louder"
        return await self.rules.understand(text, context=context)


async def test_a_vote_applies_the_change_it_showed_not_a_new_reading(maestro: Maestro) -> None:
    fickle = _FickleBrain(maestro.brain)
    maestro.parts.brain = fickle
    v1, qid = await _conflict(maestro)
    p = await production(maestro)
    assert p.current_version is not None
    kick_before = p.current_version.spec.track("kick")
    await press(maestro, qid, "apply", author=DEE)
    p = await production(maestro)
    assert len(p.versions) == 3 and await bass_gain(maestro) == pytest.approx(v1)
    assert p.versions[-1].spec.track("kick") == kick_before  # the kick was never in the vote
    assert fickle.readings == 1  # the request was read once, when the vote was asked

"""The conversation corpus: every scripted conversation through the real Maestro, brain and Chefs.

Jobs go to :class:`tests.fakes.honest_queue.HonestQueue` (instant, and its renders measure
what the spec promises), so the whole corpus runs in seconds; ``python -m bench
conversations`` plays a handful through the real audio engine. The checks are
:func:`bench.conversations.drive`'s; the pass rate is printed.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bench.conversations import CORPUS, NO_CARD, Outcome, drive, read_conversation
from chefs import load_genres
from core.conversation import Attachment
from core.rule_brain import RuleBrain
from core.store import SqliteStore
from tests.fakes.honest_queue import HonestQueue
from tests.fakes.rule_maestro import rule_maestro

SCRIPTS = sorted(CORPUS.glob("*.txt"))
SONG = Attachment(name="song.wav", path="/songs/song.wav", size_bytes=4_000_000,
                  content_type="audio/wav")
GENRES = {g.id for g in load_genres()}


async def _play(tmp_path: Path) -> list[Outcome]:
    store = await SqliteStore(tmp_path / "vyke.sqlite").open()
    queue = HonestQueue(store)
    maestro = rule_maestro(store, queue, tmp_path)
    try:
        return [await drive(maestro, queue, read_conversation(path),
                            conversation_id=f"local:{path.stem}", song=SONG)
                for path in SCRIPTS]
    finally:
        await store.close()


def test_the_corpus_covers_what_the_issue_asks() -> None:
    scripts = [read_conversation(p) for p in SCRIPTS]
    assert len(scripts) >= 40
    said = "\n".join(line.text.lower() for s in scripts for line in s.lines)
    assert any(s.song for s in scripts) and any(not s.song for s in scripts)
    assert "reproduce" in said and "remix" in said
    assert any(line.busy for s in scripts for line in s.lines)  # interruptions during jobs
    assert any({line.author for line in s.lines} != {"Dee"} for s in scripts)  # two people
    assert "130 is fine" in said and "vinyl crackle" in said
    brain = RuleBrain(genres=load_genres())
    from core.brain import BrainContext

    heard = {brain.parse(line.text, context=BrainContext(has_song=s.song)).genre
             for s in scripts for line in s.lines}
    assert heard >= GENRES, f"genres without a conversation: {GENRES - heard}"


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> list[Outcome]:
    """The whole corpus, played once for the tests below."""
    return asyncio.run(_play(tmp_path_factory.mktemp("corpus")))


def test_every_conversation_reaches_its_goal(outcomes: list[Outcome],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    passed = [o for o in outcomes if o.passed]
    with capsys.disabled():
        print(f"\nConversation corpus: {len(passed)}/{len(outcomes)} pass every check "
              f"({100 * len(passed) / len(outcomes):.0f} %); "
              f"{sum(o.feedback_lines for o in outcomes)} feedback lines, "
              f"{sum(o.versions for o in outcomes)} versions, "
              f"{sum(o.seconds for o in outcomes):.1f} s")
    failures = {o.name: [p for p in o.problems if NO_CARD not in p] for o in outcomes}
    assert {name: problems for name, problems in failures.items() if problems} == {}


def test_every_change_has_a_change_card(outcomes: list[Outcome]) -> None:
    """Every Chef operation a conversation asks for declares how it shows in a render."""
    missing = {o.name: [p for p in o.problems if NO_CARD in p] for o in outcomes}
    assert {name: problems for name, problems in missing.items() if problems} == {}

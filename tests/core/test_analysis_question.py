"""The Maestro asks when analysis is unsure of the song's key or tempo, and states it when sure.

Analysis results are delivered as job events with hand-made reports, so each confidence is
exactly what the test says; the store is a real SQLite file.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from core.analysis import (
    ASK_BELOW_CONFIDENCE,
    AnalysisReport,
    KeyEstimate,
    SectionEstimate,
    TempoEstimate,
)
from core.brief import Provenance
from core.conversation import Attachment, Author, ButtonPress, QuestionReply, Reply, TextReply, Turn
from core.jobs import JobEvent, JobKind, JobStatus
from core.maestro import Maestro
from core.music import parse_key
from core.production import Production, Topic
from core.store import SqliteStore
from tests.fakes.rule_maestro import RecordingQueue, rule_maestro

DEE = Author(id="u-dee", name="Dee")
SONG = Attachment(name="song.wav", path="/songs/song.wav", size_bytes=4_000_000,
                  content_type="audio/wav")
CID = "local:ask"


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[tuple[Maestro, RecordingQueue]]:
    store = await SqliteStore(tmp_path / "vyke.sqlite").open()
    queue = RecordingQueue(JobKind.ANALYZE)
    m = rule_maestro(store, queue, tmp_path)
    yield m, queue
    await store.close()


def _report(*, key: str, key_confidence: float, runner_up: str, bpm: float,
            tempo_confidence: float, alternative_bpm: float) -> AnalysisReport:
    return AnalysisReport(
        duration_s=180.0, sample_rate_hz=44100, channels=2,
        tempo=TempoEstimate(bpm=bpm, confidence=tempo_confidence, alternative_bpm=alternative_bpm,
                            ambiguous=tempo_confidence < ASK_BELOW_CONFIDENCE),
        key=KeyEstimate(key=parse_key(key), confidence=key_confidence,
                        runner_up=parse_key(runner_up),
                        ambiguous=key_confidence < ASK_BELOW_CONFIDENCE),
        integrated_lufs=-10.0, true_peak_dbtp=-1.0, loudness_range_lu=5.0,
        sections=[SectionEstimate(start_s=0, end_s=180, energy=1.0, label="high")],
    )


def texts(replies: list[Reply]) -> str:
    return "\n".join(r.text if isinstance(r, TextReply) else r.question.text
                     for r in replies if isinstance(r, TextReply | QuestionReply))


def question_of(replies: list[Reply]) -> QuestionReply:
    found = [r for r in replies if isinstance(r, QuestionReply)]
    assert found, texts(replies)
    return found[-1]


async def _upload_and_analyse(m: Maestro, queue: RecordingQueue,
                              report: AnalysisReport) -> list[Reply]:
    """Ask for a remix with the song attached, then deliver the analysis result."""
    await m.handle(Turn(conversation_id=CID, author=DEE, text="Remix this to Afro Circuit",
                        attachments=[SONG]))
    job = queue.requests[0]
    return await m.on_event(JobEvent(job_id=job.job_id, production_id=CID, kind=JobKind.ANALYZE,
                                     status=JobStatus.DONE,
                                     result={"report": report.model_dump(mode="json")}))


async def _analysed(setup: tuple[Maestro, RecordingQueue],
                    **reading: Any) -> tuple[str, list[Reply]]:
    """The replies once the song read as ``reading`` (see :func:`_report`) is analysed: the
    Maestro listens first, so its first question follows the analysis."""
    m, queue = setup
    replies = await _upload_and_analyse(m, queue, _report(**reading))
    return texts(replies), replies


async def _yes(m: Maestro) -> list[Reply]:
    """The director agrees to the suggested key, at 126 BPM."""
    return await m.handle(Turn(conversation_id=CID, author=DEE, text="Yes, but make it 126 BPM"))


async def _production(m: Maestro) -> Production:
    p = await m.store.get(CID)
    assert p is not None
    return p


async def test_unsure_key_is_asked_with_both_readings_and_the_answer_is_the_directors(
        setup: tuple[Maestro, RecordingQueue]) -> None:
    m, _ = setup
    said, replies = await _analysed(setup, key="G#m", key_confidence=0.45, runner_up="B",
                                    bpm=124.0, tempo_confidence=0.95, alternative_bpm=62.0)
    assert "maybe B major" in said  # the analysis post names both readings
    question = question_of(replies).question
    assert question.topic == Topic.SOURCE_KEY
    assert "I hear G# minor or B major: which is it?" in question.text
    assert [o.label for o in question.options][:2] == ["G# minor", "B major"]
    replies = await m.handle(Turn(conversation_id=CID, author=DEE,
                                  press=ButtonPress(question_id=question.id, option_id="second")))
    p = await _production(m)
    assert p.brief.source_key is not None
    assert p.brief.source_key.value == parse_key("B")
    assert p.brief.source_key.source is Provenance.USER and p.brief.source_key.author == DEE.id
    said = texts(replies)
    assert "The song is in B major" in said
    # the suggestion is the genre's key nearest the song's, the move said as it is applied
    assert ("I suggest Am at 128 BPM for dark tribal energy, the Afro House key nearest the "
            "song's B major (B major → C major, the relative major of A minor: +1 semitone). "
            "Agree?") in said
    said = texts(await _yes(m))
    # the vocal question speaks of the key the director chose, as fact, without a percentage
    assert "Original vocals are in B major." in said
    assert "B major → C major, the relative major of A minor: +1 semitone" in said
    p = await _production(m)
    assert p.pending_question is not None and p.pending_question.topic == Topic.VOCAL


async def test_half_time_doubt_is_asked_and_the_chosen_tempo_reaches_the_plan(
        setup: tuple[Maestro, RecordingQueue]) -> None:
    m, _ = setup
    _, replies = await _analysed(setup, key="Fm", key_confidence=0.97, runner_up="Ab",
                                 bpm=87.0, tempo_confidence=0.55, alternative_bpm=174.0)
    question = question_of(replies).question
    assert question.topic == Topic.SOURCE_TEMPO
    assert question.text.startswith("Is this 87 or 174 BPM?")
    replies = await m.handle(Turn(conversation_id=CID, author=DEE,
                                  press=ButtonPress(question_id=question.id, option_id="second")))
    assert "The song is at 174 BPM" in texts(replies)
    p = await _production(m)
    assert p.brief.source_bpm is not None and p.brief.source_bpm.value == 174.0
    assert p.brief.source_bpm.source is Provenance.USER
    assert question_of(replies).question.topic == Topic.KEY_BPM
    replies = await _yes(m)
    question = question_of(replies).question
    assert question.topic == Topic.VOCAL
    await m.handle(Turn(conversation_id=CID, author=DEE,
                        press=ButtonPress(question_id=question.id, option_id="keep")))
    p = await _production(m)
    assert p.current_version is not None
    assert p.current_version.spec.source_tempo_bpm == 174.0  # what the stretch starts from
    assert p.current_version.spec.source_key == parse_key("Fm")


async def test_a_typed_key_answers_the_key_question(
        setup: tuple[Maestro, RecordingQueue]) -> None:
    m, _ = setup
    _, replies = await _analysed(setup, key="D", key_confidence=0.3, runner_up="Em",
                                 bpm=124.0, tempo_confidence=0.95, alternative_bpm=62.0)
    assert question_of(replies).question.topic == Topic.SOURCE_KEY
    await m.handle(Turn(conversation_id=CID, author=DEE, text="E minor"))
    p = await _production(m)
    assert p.brief.source_key is not None and p.brief.source_key.value == parse_key("Em")


async def test_sure_readings_are_stated_with_how_sure_and_not_asked(
        setup: tuple[Maestro, RecordingQueue]) -> None:
    m, _ = setup
    said, replies = await _analysed(setup, key="Am", key_confidence=0.93, runner_up="C",
                                    bpm=124.0, tempo_confidence=0.9, alternative_bpm=62.0)
    assert "124.0 BPM (90% sure)" in said and "A minor (93% sure)" in said
    assert question_of(replies).question.topic == Topic.KEY_BPM  # straight to the suggestion
    assert "I suggest Am at 128 BPM" in said and "already in A minor: no shift" in said
    replies = await _yes(m)
    question = question_of(replies).question
    assert question.topic == Topic.VOCAL  # straight on: nothing to confirm
    assert "Original vocals are in A minor (93% sure)" in question.text
    p = await _production(m)
    assert Topic.SOURCE_KEY not in p.asked and Topic.SOURCE_TEMPO not in p.asked
    assert p.brief.source_key is None and p.brief.source_bpm is None

"""The key the Maestro suggests for a remix: the genre's key nearest the song's, the move said
the way a musician says it, and the shift said the one the planner applies."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chefs import load_genres
from core.analysis import AnalysisReport, KeyEstimate, SectionEstimate, TempoEstimate
from core.brief import Brief, Param, Provenance, VocalTreatment, Workflow
from core.conversation import Attachment, Author, QuestionReply, Reply, TextReply, Turn
from core.jobs import JobEvent, JobKind, JobStatus
from core.maestro import Maestro
from core.music import Key, Mode, parse_key
from core.planner import base_spec
from core.production import Topic
from core.replies import suggest_key_bpm
from core.store import SqliteStore
from tests.fakes.rule_maestro import RecordingQueue, rule_maestro

GENRES = {g.id: g for g in load_genres()}
KEYS = [Key(tonic=t, mode=m) for m in (Mode.MAJOR, Mode.MINOR) for t in range(12)]
DEE = Author(id="u-dee", name="Dee")
SONG = Attachment(name="song.wav", path="/songs/song.wav", size_bytes=4_000_000,
                  content_type="audio/wav")
CID = "local:suggest"


def _said_shift(text: str) -> int:
    """The shift a suggestion says: "+2 semitones", or 0 for "no shift"."""
    if "no shift" in text:
        return 0
    found = re.search(r"([+-]\d+) semitones?\b", text)
    assert found is not None, text
    return int(found[1])


def test_an_e_minor_song_asked_for_deep_house_stays_near_e_minor() -> None:
    deep = GENRES["deep_house"]
    key = deep.key_near(parse_key("Em"))
    assert key in (parse_key("Em"), parse_key("Am"))
    assert parse_key("Em").transposition_to(key) == 0  # not a key four semitones away


def test_the_move_is_said_in_a_musicians_words() -> None:
    garage = GENRES["uk_garage"]
    song = parse_key("F#")
    key = garage.key_near(song)
    assert key == parse_key("Fm")
    user = Provenance.SUGGESTED
    brief = Brief(key=Param(value=key, source=user), bpm=Param(value=130.0, source=user))
    text = suggest_key_bpm(brief, garage, song_key=song)
    assert "F# major → Ab major, the relative major of F minor: +2 semitones" in text
    assert text.startswith("I suggest Fm at 130 BPM")


@pytest.mark.parametrize("genre_id", sorted(GENRES))
def test_every_song_key_gets_the_smallest_shift_and_the_planner_applies_what_is_said(
        genre_id: str) -> None:
    genre = GENRES[genre_id]
    candidates = [parse_key(k) for k in genre.keys]
    for song in KEYS:
        key = genre.key_near(song)
        shift = song.transposition_to(key)
        assert abs(shift) == min(abs(song.transposition_to(k)) for k in candidates if k)
        suggested = Provenance.SUGGESTED
        brief = Brief(workflow=Param(value=Workflow.REMIX, source=Provenance.USER),
                      key=Param(value=key, source=suggested),
                      bpm=Param(value=genre.default_bpm, source=suggested),
                      vocal=Param(value=VocalTreatment(), source=Provenance.USER))
        spec = base_spec(production_id="p", brief=brief, genre=genre, source_key=song,
                         source_tempo_bpm=120.0, stems={})
        assert spec.vocal is not None
        assert _said_shift(suggest_key_bpm(brief, genre, song_key=song)) \
            == spec.vocal.semitones == shift
        assert song.transposed(shift).fits(key)  # every note the vocal sings is in the key


def _report(key: str) -> AnalysisReport:
    return AnalysisReport(
        duration_s=180.0, sample_rate_hz=44100, channels=2,
        tempo=TempoEstimate(bpm=120.0, confidence=0.95),
        key=KeyEstimate(key=parse_key(key), confidence=0.95),
        integrated_lufs=-10.0, true_peak_dbtp=-1.0, loudness_range_lu=5.0,
        sections=[SectionEstimate(start_s=0, end_s=180, energy=1.0, label="high")])


@pytest.fixture
async def maestro(tmp_path: Path) -> AsyncIterator[tuple[Maestro, RecordingQueue]]:
    store = await SqliteStore(tmp_path / "vyke.sqlite").open()
    queue = RecordingQueue(JobKind.ANALYZE)
    yield rule_maestro(store, queue, tmp_path), queue
    await store.close()


def _texts(replies: list[Reply]) -> str:
    return "\n".join(r.text if isinstance(r, TextReply) else r.question.text
                     for r in replies if isinstance(r, TextReply | QuestionReply))


async def test_make_it_deep_house_with_an_e_minor_song_is_a_remix_in_its_key(
        maestro: tuple[Maestro, RecordingQueue]) -> None:
    m, queue = maestro
    replies = await m.handle(Turn(conversation_id=CID, author=DEE, text="make it deep house",
                                  attachments=[SONG]))
    assert "Listening to the song first" in _texts(replies)  # the song's key comes first
    p = await m.store.get(CID)
    assert p is not None and p.brief.workflow is not None
    assert p.brief.workflow.value is Workflow.REMIX  # the song is remixed, not dropped
    job = queue.requests[0]
    replies = await m.on_event(JobEvent(job_id=job.job_id, production_id=CID,
                                        kind=JobKind.ANALYZE, status=JobStatus.DONE,
                                        result={"report": _report("Em").model_dump(mode="json")}))
    question = next(r for r in replies if isinstance(r, QuestionReply)).question
    assert question.topic == Topic.KEY_BPM
    assert question.text.startswith("I suggest Em at 122 BPM")
    assert "already in E minor: no shift" in question.text
    replies = await m.handle(Turn(conversation_id=CID, author=DEE, text="yes"))
    vocal = next(r for r in replies if isinstance(r, QuestionReply)).question
    assert "Original vocals are in E minor (95% sure), the production's key" in vocal.text
    await m.handle(Turn(conversation_id=CID, author=DEE, text="keep the lyrics"))
    p = await m.store.get(CID)
    assert p is not None and p.current_version is not None
    spec = p.current_version.spec
    assert spec.key == parse_key("Em") and spec.vocal is not None
    assert spec.vocal.semitones == _said_shift(question.text) == 0

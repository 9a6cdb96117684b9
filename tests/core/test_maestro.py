"""The Maestro's conversation engine on the seed scenario, driven turn by turn.

The job queue seam is a queue with no job kinds installed (what a bot without the audio
engine has); the store is a real SQLite file.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from core.brief import Provenance, VocalMode
from core.conversation import (
    Attachment,
    Author,
    ButtonPress,
    QuestionReply,
    Reply,
    Turn,
    replies_text,
)
from core.errors import IllegalTransition
from core.jobs import (
    CompareRequest,
    ExportRequest,
    JobEvent,
    JobKind,
    JobQueue,
    JobRequest,
    JobStatus,
    payload_of,
)
from core.maestro import TRANSITIONS, Maestro
from core.maestro.machine import go
from core.music import parse_key
from core.production import MaestroState, Production
from core.store import SqliteStore
from tests.fakes.honest_queue import fake_key
from tests.fakes.rule_maestro import IdleQueue, RecordingQueue, rule_maestro

SEED = [
    "Remix this to Afro Circuit",
    "Yes, but make it 126 BPM",
    "Keep lyrics but add some stutter effect in the build",
    "Bass too loud, needs more sidechain",
    "Perfect! Add filter sweep on build (bars 33-48)",
]
DEE = Author(id="u-dee", name="Dee")
SAM = Author(id="u-sam", name="Sam")
SONG = Attachment(name="song.wav", path="/songs/song.wav", size_bytes=4_000_000,
                  content_type="audio/wav")


class NoJobsQueue(IdleQueue):
    """A JobQueue with no job kinds installed: the Maestro must say which step is missing."""


async def make_maestro(db: Path) -> tuple[Maestro, SqliteStore]:
    store = await SqliteStore(db).open()
    return rule_maestro(store, NoJobsQueue(), db.parent), store


@pytest.fixture
async def maestro(tmp_path: Path) -> AsyncIterator[Maestro]:
    m, store = await make_maestro(tmp_path / "vyke.sqlite")
    yield m
    await store.close()


@asynccontextmanager
async def maestro_on(tmp_path: Path, queue: JobQueue, **parts: Any) -> AsyncIterator[Maestro]:
    """A rule Maestro on ``queue`` (one that accepts the job kinds a test follows) and a real
    SQLite store in ``tmp_path``, closed afterwards; ``parts`` go to the Maestro."""
    store = await SqliteStore(tmp_path / "vyke.sqlite").open()
    try:
        yield rule_maestro(store, queue, tmp_path, **parts)
    finally:
        await store.close()


async def job_done(m: Maestro, job: JobRequest, result: dict[str, Any],
                   **event: Any) -> list[Reply]:
    """What the Maestro says when the worker reports ``job`` done with ``result``."""
    return await m.on_event(JobEvent(job_id=job.job_id, production_id=job.production_id,
                                      kind=job.kind, status=JobStatus.DONE, result=result,
                                      **event))


texts = replies_text


async def say(m: Maestro, text: str, *, author: Author = DEE, song: bool = False,
              cid: str = "local:seed") -> list[Reply]:
    return await m.handle(Turn(conversation_id=cid, author=author, text=text,
                               attachments=[SONG] if song else []))


async def production(m: Maestro, cid: str = "local:seed") -> Production:
    p = await m.store.get(cid)
    assert p is not None
    return p


async def test_seed_conversation_walks_every_step(maestro: Maestro) -> None:
    replies = await say(maestro, SEED[0], song=True)
    question = next(r for r in replies if isinstance(r, QuestionReply)).question
    assert question.text == "I suggest Fm at 128 BPM for dark tribal energy. Agree?"
    assert [o.id for o in question.options] == ["agree", "keep", "other"]
    assert question.options[0].suggested
    p = await production(maestro)
    assert p.state is MaestroState.GATHERING_PARAMS
    assert p.brief.genre and p.brief.genre.value == "afro_house"
    assert p.brief.key and p.brief.key.source is Provenance.SUGGESTED

    replies = await say(maestro, SEED[1])
    assert "✓ Key: Fm, BPM: 126" in texts(replies)
    p = await production(maestro)
    assert p.brief.key is not None and p.brief.key.value == parse_key("Fm")
    assert p.brief.key.source is Provenance.USER  # agreed to, so now the director's
    assert p.brief.bpm is not None and p.brief.bpm.value == 126
    assert p.brief.bpm.source is Provenance.USER and p.brief.bpm.author == DEE.id
    vocal_q = next(r for r in replies if isinstance(r, QuestionReply)).question
    assert vocal_q.topic == "vocal" and "Keep the lyrics or make chops?" in vocal_q.text
    assert "formant" in vocal_q.text

    replies = await say(maestro, SEED[2])
    p = await production(maestro)
    assert p.brief.vocal is not None
    assert p.brief.vocal.value.mode is VocalMode.KEEP_LYRICS
    assert p.brief.vocal.value.describe() == "pitch_shift + formant_preserve + stutter_build"
    v1 = p.versions[0].spec
    assert (v1.key, v1.tempo_bpm) == (parse_key("Fm"), 126)
    assert [s.bars for s in v1.sections] == [16, 8, 32, 16, 32, 32]
    build = v1.section_named("build")
    assert build is not None and v1.vocal is not None
    assert [(s.start_bar, s.end_bar) for s in v1.vocal.stutters] == [(build[1], build[2])]
    bass = v1.track("bass")
    assert bass is not None and bass.sidechain is not None and bass.sidechain.depth_db == 6
    assert "stopped before rendering the audio" in texts(replies)
    assert not p.versions[0].rendered  # nothing faked
    assert p.state is MaestroState.REVIEWING

    replies = await say(maestro, SEED[3])
    p = await production(maestro)
    assert p.history[-1].routed_to == ["MixingChef", "MixingChef"]
    v2 = p.versions[1].spec
    bass2 = v2.track("bass")
    assert bass2 is not None and bass2.sidechain is not None
    assert bass2.gain_db == pytest.approx(bass.gain_db - 3)
    assert bass2.sidechain.depth_db >= bass.sidechain.depth_db + 2
    assert "Consulting MixingChef" in texts(replies)

    replies = await say(maestro, SEED[4])
    p = await production(maestro)
    assert p.history[-1].routed_to == ["SoundDesignChef"]
    music = p.versions[2].spec.track("music")
    assert music is not None
    sweep = music.automation[-1]
    assert (sweep.parameter, sweep.start_bar, sweep.end_bar) == ("filter_cutoff_hz", 33, 48)
    assert (sweep.start_value, sweep.end_value) == (200, 20_000)
    assert "Want me to add a riser sample too?" in texts(replies)

    assert p.trail == [
        "idle->gathering_params",
        "gathering_params->planning", "planning->consulting", "consulting->executing",
        "executing->reviewing",
        "reviewing->iterating", "iterating->consulting", "consulting->executing",
        "executing->reviewing",
        "reviewing->iterating", "iterating->consulting", "consulting->executing",
        "executing->reviewing",
    ]


async def test_every_recorded_transition_is_legal(maestro: Maestro) -> None:
    for i, line in enumerate([*SEED, "go back to v2", "louder master", "start over"]):
        await say(maestro, line, song=i == 0)
    p = await production(maestro)
    for step in p.trail:
        source, target = (MaestroState(s) for s in step.split("->"))
        assert target in TRANSITIONS[source]


async def test_illegal_transition_raises() -> None:
    p = Production(id="local:x")
    with pytest.raises(IllegalTransition):
        go(p, MaestroState.REVIEWING)


async def test_remix_without_a_song_asks_for_the_track(maestro: Maestro) -> None:
    replies = await say(maestro, "Remix Madonna to Afro Circuit", cid="local:nosong")
    text = texts(replies)
    assert "attach the song" in text and "Madonna" in text
    p = await production(maestro, "local:nosong")
    assert p.awaiting == "song" and p.brief.genre is not None
    replies = await say(maestro, "here it is", song=True, cid="local:nosong")
    assert "I suggest Fm at 128 BPM" in texts(replies)


async def test_restart_between_turns_loses_nothing(tmp_path: Path) -> None:
    db = tmp_path / "vyke.sqlite"
    for i, line in enumerate(SEED):
        m, store = await make_maestro(db)  # a fresh process each turn, same database
        await say(m, line, song=i == 0)
        await store.close()
    m, store = await make_maestro(db)
    p = await production(m)
    assert len(p.versions) == 3 and p.state is MaestroState.REVIEWING
    assert p.brief.bpm is not None and p.brief.bpm.value == 126
    await store.close()


async def test_button_press_answers_and_stale_press_is_ignored(maestro: Maestro) -> None:
    replies = await say(maestro, SEED[0], song=True)
    q = next(r for r in replies if isinstance(r, QuestionReply)).question
    press = Turn(conversation_id="local:seed", author=SAM,
                 press=ButtonPress(question_id=q.id, option_id="agree"))
    replies = await maestro.handle(press)
    assert "✓ Key: Fm, BPM: 128" in texts(replies)
    replies = await maestro.handle(press)  # the same press again: the question is closed
    assert "already answered" in texts(replies)


async def test_several_people_are_recorded(maestro: Maestro) -> None:
    await say(maestro, SEED[0], song=True)
    await say(maestro, SEED[1], author=SAM)
    await say(maestro, SEED[2])
    await say(maestro, "vocals too quiet", author=SAM)
    p = await production(maestro)
    assert [r.author for r in p.history] == [DEE.id, SAM.id, DEE.id, SAM.id]
    assert p.versions[-1].author == SAM.id


@pytest.mark.parametrize("text", ["help", "status", "versions", "stop", "asdf qwerty", ""])
async def test_commands_and_nonsense_get_a_sentence(maestro: Maestro, text: str) -> None:
    replies = await say(maestro, text)
    assert texts(replies).strip()


async def test_versions_revert_compare_merge(maestro: Maestro) -> None:
    for i, line in enumerate(SEED):
        await say(maestro, line, song=i == 0)
    assert "v3" in texts(await say(maestro, "versions"))
    assert "bass -3.0 dB" in texts(await say(maestro, "compare v1 and v2"))
    await say(maestro, "go back to v2")
    p = await production(maestro)
    assert p.current == 2
    await say(maestro, "drums from v1 with the vocal of v3")
    p = await production(maestro)
    assert p.current == 4 and len(p.versions) == 4
    assert "There is no v9" in texts(await say(maestro, "go back to v9"))


async def test_change_request_before_any_version_is_explained(maestro: Maestro) -> None:
    text = texts(await say(maestro, "bass too loud", cid="local:fresh"))
    assert "Remix" in text or "remix" in text


async def test_platform_command_chooses_the_recipe(maestro: Maestro) -> None:
    """``/reproduce`` with plain words still means reproduce, and asks for the reference."""
    await maestro.handle(Turn(conversation_id="local:cmd", author=DEE, text="something like this",
                              command="reproduce"))
    p = await production(maestro, "local:cmd")
    assert p.brief.workflow is not None and p.brief.workflow.value.value == "reproduce"
    assert p.awaiting == "song"
    await maestro.handle(Turn(conversation_id="local:cmd2", author=DEE,
                              text="deep house in A minor", command="produce"))
    p = await production(maestro, "local:cmd2")
    assert p.brief.workflow is not None and p.brief.workflow.value.value == "text_to_track"


class AnalysisOnlyQueue(RecordingQueue):
    """Accepts analysis jobs (so the Maestro waits for their result) and nothing else."""

    def __init__(self) -> None:
        super().__init__(JobKind.ANALYZE)


async def test_reproduce_takes_tempo_key_shape_and_loudness_from_the_reference(
        tmp_path: Path) -> None:
    from core.analysis import AnalysisReport, KeyEstimate, SectionEstimate, TempoEstimate

    queue = AnalysisOnlyQueue()
    async with maestro_on(tmp_path, queue) as m:
        replies = await m.handle(Turn(conversation_id="local:ref", author=DEE,
                                      text="deep house like this", attachments=[SONG],
                                      command="reproduce"))
        assert "measuring the reference" in texts(replies)
        bar = 240 / 100  # the reference is at 100 BPM: 2.4 s a bar
        report = AnalysisReport(
            duration_s=48 * bar, sample_rate_hz=44100, channels=2,
            tempo=TempoEstimate(bpm=100.0, confidence=0.9),
            key=KeyEstimate(key=parse_key("Am"), confidence=0.8),
            integrated_lufs=-9.2, true_peak_dbtp=-0.8, loudness_range_lu=5,
            sections=[SectionEstimate(start_s=0, end_s=8 * bar, energy=0.3, label="intro"),
                      SectionEstimate(start_s=8 * bar, end_s=40 * bar, energy=1.0, label="high"),
                      SectionEstimate(start_s=40 * bar, end_s=48 * bar, energy=0.3, label="outro")])
        job = queue.requests[0]
        assert (job.production_id, job.kind) == ("local:ref", JobKind.ANALYZE)
        replies = await job_done(m, job, {"report": report.model_dump(mode="json")})
        p = await m.store.get("local:ref")
        assert p is not None and p.current_version is not None
        spec = p.current_version.spec
        assert spec.tempo_bpm == 100.0 and str(spec.key) == "Am"
        assert [(s.kind, s.bars) for s in spec.sections] == [("intro", 8), ("drop", 32),
                                                              ("outro", 8)]
        assert spec.master.target_lufs == -9.2
        assert "Plan v1" in texts(replies)


async def test_compare_posts_two_loudness_matched_clips(tmp_path: Path) -> None:
    from core.conversation import FileReply
    from core.production import Version

    queue = RecordingQueue(JobKind.COMPARE)  # the versions below carry their masters already
    async with maestro_on(tmp_path, queue) as m:
        for line in SEED[:3]:
            await say(m, line, song=line == SEED[0], cid="local:ab")
        p = await production(m, "local:ab")
        p.versions.append(Version(number=2, spec=p.versions[0].spec, parent=1))
        for v in p.versions:
            v.rendered, v.artifacts = True, {"master.wav": fake_key(f"v{v.number}", ".wav")}
        p.state = MaestroState.REVIEWING
        await m.store.put(p)
        replies = await say(m, "compare v1 and v2", cid="local:ab")
        assert "v1 → v2" in texts(replies)
        job = queue.requests[-1]
        assert job.kind is JobKind.COMPARE
        assert isinstance(job.payload, CompareRequest)
        assert (job.payload.a.master, job.payload.b.master) == (
            fake_key("v1", ".wav"), fake_key("v2", ".wav"))
        clips = [{"version": n, "key": fake_key(f"clip{n}", ".mp3"), "name": f"v{n}-drop.mp3",
                  "lufs": -14.0, "gain_db": g,
                  "start_s": 30.0, "end_s": 60.0} for n, g in ((1, 0.0), (2, -2.5))]
        assert job.production_id == "local:ab"
        replies = await job_done(m, job, {"clips": clips, "section": "drop 1"})
        files = [r for r in replies if isinstance(r, FileReply)]
        assert [(f.attachment.key, f.attachment.name) for f in files] == [
            (fake_key("clip1", ".mp3"), "v1-drop.mp3"), (fake_key("clip2", ".mp3"), "v2-drop.mp3")]
        assert "matched at -14.0 LUFS" in texts(replies)


class RenderQueue(RecordingQueue):
    """Accepts render jobs only (the delivery, busy and fault tests build on it)."""

    def __init__(self) -> None:
        super().__init__(JobKind.RENDER)


async def test_rendered_post_links_the_version_page(tmp_path: Path) -> None:
    queue = RenderQueue()
    async with maestro_on(tmp_path, queue,
                          page_link=lambda pid, n: f"https://vyke.example/p/{pid}/v{n}?sig=x") as m:
        await say(m, "a 124 BPM deep house track in A minor", cid="local:page")
        p = await production(m, "local:page")
        while p.pending_question is not None:  # agree to whatever is suggested
            await say(m, "yes", cid="local:page")
            p = await production(m, "local:page")
        job = next(r for r in queue.requests if r.kind is JobKind.RENDER)
        assert job.production_id == "local:page"
        measurements = {"key": "Am", "tempo_bpm": 124.0, "integrated_lufs": -14.0,
                        "true_peak_dbtp": -1.2, "tracks": {}}
        replies = await job_done(m, job, {"artifacts": {}, "measurements": measurements,
                                          "mismatches": []}, version=1)
        assert "https://vyke.example/p/local:page/v1?sig=x" in texts(replies)


async def test_a_second_song_does_not_pull_the_first_from_under_its_versions(
        maestro: Maestro) -> None:
    for line in SEED[:3]:
        await say(maestro, line, song=line == SEED[0], cid="local:two-songs")
    other = Attachment(name="other.wav", path="/songs/other.wav", size_bytes=1000,
                       content_type="audio/wav")
    replies = await maestro.handle(Turn(conversation_id="local:two-songs", author=DEE,
                                        text="now this one", attachments=[other]))
    assert "start over" in texts(replies) and "other.wav" in texts(replies)
    p = await production(maestro, "local:two-songs")
    assert p.source is not None and p.source.name == "song.wav" and p.versions


async def test_a_production_keeps_one_project_zip_and_going_back_builds_it_again(
        tmp_path: Path) -> None:
    """Each version's zip would hold every track again: a new version's export replaces the
    earlier zip, and going back to a version whose zip went exports it again."""
    queue = RecordingQueue(JobKind.RENDER, JobKind.EXPORT)
    cid = "local:zips"
    measurements = {"key": "Am", "tempo_bpm": 124.0, "integrated_lufs": -14.0,
                    "true_peak_dbtp": -1.2, "tracks": {}}

    zips = {version: fake_key(f"v{version}/project.zip", ".zip") for version in (1, 2)}

    def last(kind: JobKind) -> JobRequest:
        return [r for r in queue.requests if r.kind is kind][-1]

    async def render_and_export(m: Maestro, version: int) -> JobRequest:
        await job_done(m, last(JobKind.RENDER), {"artifacts": {}, "measurements": measurements,
                                                  "mismatches": []}, version=version)
        export = last(JobKind.EXPORT)
        assert export.version == version
        await job_done(m, export, {"artifacts": {"project.zip": zips[version]},
                                   "size_bytes": 100, "checks": []}, version=version)
        return export

    async with maestro_on(tmp_path, queue) as m:
        await say(m, "a 124 BPM deep house track in A minor", cid=cid)
        while (await production(m, cid)).pending_question is not None:
            await say(m, "yes", cid=cid)
        first = await render_and_export(m, 1)
        assert payload_of(first, ExportRequest).replaces == []
        await say(m, "bass too loud", cid=cid)
        second = await render_and_export(m, 2)
        assert payload_of(second, ExportRequest).replaces == [zips[1]]
        p = await production(m, cid)
        assert "project.zip" not in p.versions[0].artifacts
        assert p.versions[1].artifacts["project.zip"] == zips[2]

        await say(m, "go back to v1", cid=cid)
        again = queue.requests[-1]
        assert (again.kind, again.version) == (JobKind.EXPORT, 1)
        assert payload_of(again, ExportRequest).replaces == [zips[2]]

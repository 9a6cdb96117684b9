"""A change is heard first in its bars: the Maestro queues them ahead of the whole version.

The preview job's request names the bars where the change is heard, the version before it
(its master gives the clip's loudness, its tonal stage the clip's EQ) and the version's own
render request; its clip is posted unless the whole version got there first, and a failed
clip costs nothing but the head start.
"""

from __future__ import annotations

from pathlib import Path

from core.conversation import FileReply, Reply
from core.jobs import JobKind, JobRequest, SectionRequest
from core.maestro import Maestro
from core.maestro.preview import heard_bars
from core.music import parse_key
from core.patch import AddAutomation, SpecPatch
from core.production import MaestroState
from core.spec import Automation, ProductionSpec, Section
from tests.core.test_maestro import job_done, maestro_on, production, say
from tests.fakes.honest_queue import fake_key
from tests.fakes.rule_maestro import RecordingQueue

CID = "local:first-listen"
V1_MASTER = fake_key("v1/master", ".wav")
CLIP = fake_key("v2/first-listen", ".mp3")
V1_MEASURED = {"key": "Am", "tempo_bpm": 124.0, "integrated_lufs": -14.0,
               "true_peak_dbtp": -1.2, "tonal_eq_db": {"63": -1.5, "8000": 2.0},
               "tracks": {"bass": {"track_level_db": -9.0}}}


async def _v1_rendered(m: Maestro, queue: RecordingQueue) -> None:
    await say(m, "a 124 BPM deep house track in A minor", cid=CID)
    while (await production(m, CID)).pending_question is not None:
        await say(m, "yes", cid=CID)
    assert [r.kind for r in queue.requests] == [JobKind.RENDER]  # nothing to hear v1 against
    await job_done(m, queue.requests[0], {"artifacts": {"master.wav": V1_MASTER},
                                          "measurements": V1_MEASURED}, version=1)


def _files(replies: list[Reply]) -> list[FileReply]:
    return [r for r in replies if isinstance(r, FileReply)]


def _kind(queue: RecordingQueue, kind: JobKind, version: int) -> JobRequest:
    return next(r for r in queue.requests if r.kind is kind and r.version == version)


async def test_a_change_is_heard_in_its_bars_before_the_whole_version(tmp_path: Path) -> None:
    queue = RecordingQueue(JobKind.RENDER, JobKind.PREVIEW)
    async with maestro_on(tmp_path, queue) as m:
        await _v1_rendered(m, queue)
        await say(m, "bass too loud", cid=CID)
        preview, render = _kind(queue, JobKind.PREVIEW, 2), _kind(queue, JobKind.RENDER, 2)
        assert queue.requests.index(preview) < queue.requests.index(render)
        section = preview.payload
        assert isinstance(section, SectionRequest)
        v2 = (await production(m, CID)).versions[1].spec
        drop = next(s for s in v2.section_bars() if s[0].kind == "drop")
        assert (section.start_bar, section.label) == (drop[1], f"the {drop[0].name}")
        assert 20.0 <= (section.end_bar - section.start_bar + 1) * v2.bar_s <= 32.0
        assert section.parent == 1 and section.match_master == V1_MASTER
        assert section.tonal_eq_db == {"63": -1.5, "8000": 2.0}
        assert section.render == render.payload  # the same chains, cached for the render

        replies = await job_done(m, preview, {
            "key": CLIP, "start_bar": section.start_bar,
            "end_bar": section.end_bar, "label": section.label, "parent": 1,
            "lufs": -11.8}, version=2)
        [clip] = _files(replies)
        assert clip.attachment.key == CLIP
        assert clip.caption.startswith(f"First listen to v2 — {section.label}, level-matched "
                                       "to v1 at -11.8 LUFS")
        p = await production(m, CID)
        assert p.state is MaestroState.EXECUTING and [j.kind for j in p.pending_jobs] == ["render"]


async def test_a_clip_later_than_its_whole_version_is_not_posted(tmp_path: Path) -> None:
    queue = RecordingQueue(JobKind.RENDER, JobKind.PREVIEW)
    async with maestro_on(tmp_path, queue) as m:
        await _v1_rendered(m, queue)
        await say(m, "bass too loud", cid=CID)
        await job_done(m, _kind(queue, JobKind.RENDER, 2), {
            "artifacts": {"master.wav": fake_key("v2/master", ".wav")}, "measurements": V1_MEASURED},
            version=2)
        late = await job_done(m, _kind(queue, JobKind.PREVIEW, 2), {
            "key": CLIP, "start_bar": 1, "end_bar": 16}, version=2)
        assert _files(late) == []


async def test_a_failed_clip_leaves_the_whole_version_to_come(tmp_path: Path) -> None:
    from core.jobs import JobEvent, JobStatus

    queue = RecordingQueue(JobKind.RENDER, JobKind.PREVIEW)
    async with maestro_on(tmp_path, queue) as m:
        await _v1_rendered(m, queue)
        await say(m, "bass too loud", cid=CID)
        preview = _kind(queue, JobKind.PREVIEW, 2)
        replies = await m.on_event(JobEvent(
            job_id=preview.job_id, production_id=CID, kind=JobKind.PREVIEW,
            status=JobStatus.FAILED, version=2, message="The preview step failed."))
        assert not any(getattr(r, "text", "") for r in replies)  # no failure sentence
        p = await production(m, CID)
        assert p.state is MaestroState.EXECUTING and [j.kind for j in p.pending_jobs] == ["render"]


def test_the_bars_of_a_sweep_are_its_own_and_a_mix_change_is_heard_in_the_drop() -> None:
    spec = ProductionSpec(title="t", genre="house", tempo_bpm=126, key=parse_key("Am"), sections=[
        Section(name="intro", kind="intro", bars=16),
        Section(name="build", kind="build", bars=16),
        Section(name="drop", kind="drop", bars=32), Section(name="outro", kind="outro", bars=16)])
    sweep = SpecPatch(chef="SoundDesignChef", ops=[AddAutomation(
        track="music", automation=Automation(parameter="filter_cutoff_hz", start_bar=33,
                                             end_bar=48, start_value=200, end_value=20000))])
    assert heard_bars(spec, sweep) == (33, 48, "bars 33–48")
    start, end, label = heard_bars(spec, SpecPatch(chef="MixingChef"))
    assert (start, label) == (33, "the drop") and 20 <= (end - start + 1) * spec.bar_s <= 32
    short = SpecPatch(chef="SoundDesignChef", ops=[AddAutomation(
        track="music", automation=Automation(parameter="filter_cutoff_hz", start_bar=20,
                                             end_bar=21, start_value=200, end_value=20000))])
    start, end, _ = heard_bars(spec, short)
    assert start == 20 and (end - start + 1) * spec.bar_s >= 20  # long enough to hear

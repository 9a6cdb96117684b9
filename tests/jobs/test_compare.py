"""Comparing two versions: the same section of each, matched to equal loudness (within 0.5 LU)."""

from __future__ import annotations

from pathlib import Path

import soundfile as sf

from chefs import all_chefs, load_genres
from core.brief import Brief, Param, Provenance, Workflow
from core.jobs import JobKind, JobRequest
from core.music import parse_key
from core.patch import SetMaster, SpecPatch, apply_patch
from core.planner import base_spec
from jobs.compare import compare_task, section_window_s
from jobs.files import JobFiles
from jobs.render import RenderPayload, render_spec


def _spec():
    genres = {g.id: g for g in load_genres()}
    user = Provenance.USER
    brief = Brief(workflow=Param(value=Workflow.TEXT_TO_TRACK, source=user),
                  genre=Param(value="house", source=user),
                  key=Param(value=parse_key("Am"), source=user), bpm=Param(value=124.0, source=user))
    spec = base_spec(production_id="test:compare", brief=brief, genre=genres["house"],
                     source_key=None, source_tempo_bpm=None, stems={})
    for chef in all_chefs():
        patch = chef.plan(brief=brief, spec=spec, genre=genres["house"])
        if patch is not None:
            spec = apply_patch(spec, patch)
    return spec.model_copy(update={"sections": [s.model_copy(update={"bars": 4})
                                                for s in spec.sections[:3]]})


def test_clips_of_two_versions_play_at_the_same_loudness(tmp_path: Path) -> None:
    quiet = _spec()  # v1 mastered for streaming (-14 LUFS), v2 for the club (-9 LUFS)
    loud = apply_patch(quiet, SpecPatch(chef="MasteringChef",
                                        ops=[SetMaster(target_lufs=-9, ceiling_dbtp=-0.5)]))
    files = JobFiles.local(tmp_path / "data")
    masters = []
    for number, spec in ((1, quiet), (2, loud)):
        result = render_spec(RenderPayload(spec=spec, out_dir=str(tmp_path / f"v{number}"),
                                           cache_dir=str(tmp_path / "cache")), lambda f, s: None)
        masters.append(files.publish("p", f"v{number}/master.flac",
                                     Path(result["artifacts"]["master.flac"])))
    request = JobRequest(job_id="c", production_id="p", kind=JobKind.COMPARE, version=2, payload={
        "a": {"version": 1, "master": masters[0], "spec": quiet.model_dump(mode="json")},
        "b": {"version": 2, "master": masters[1], "spec": loud.model_dump(mode="json")}})
    result = compare_task(request, lambda f, s: None, files)
    a, b = result.clips
    assert a.lufs is not None and b.lufs is not None and abs(a.lufs - b.lufs) <= 0.5
    assert b.gain_db < -3 and a.gain_db == 0  # the louder master was turned down
    start, end, name = section_window_s(quiet, "")
    assert result.section == name and (a.start_s, a.end_s) == (round(start, 2), round(end, 2))
    assert a.name.startswith("v1-") and b.name.startswith("v2-") and a.name.endswith(".mp3")
    durations = [sf.info(files.fetch(clip.key)).duration for clip in (a, b)]
    assert abs(durations[0] - durations[1]) < 0.1 and abs(durations[0] - (end - start)) < 0.2

"""Rendering a spec into music: the seed remix, a mix-only change, text-to-track and reproduce.

Everything is rendered for real from generated material (the demo song's own stems stand in
for separated ones) and measured on the result: loudness, true peak, tempo, key, ducking and
the filter sweep. Arrangements are shortened so the module stays around a minute.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from chefs import all_chefs, load_genres
from core.brain import Aspect, Domain, Feedback
from core.brief import Brief, Param, Provenance, VocalTreatment, Workflow
from core.music import parse_key
from core.patch import AdjustGain, apply_patch
from core.planner import base_spec
from core.spec import ProductionSpec
from jobs.audio_io import ENGINE_SAMPLE_RATE, write_wav
from jobs.render import RENDER_VERSION, RenderPayload, render_spec

pytestmark = pytest.mark.slow  # full renders

GENRES = {g.id: g for g in load_genres()}
CHEFS = {chef.domain: chef for chef in all_chefs()}


def _planned(brief: Brief, *, genre_id: str, bars: list[int] | None = None,
             source_key: str | None = None, source_bpm: float | None = None,
             stems: dict[str, str] | None = None, reference: Any = None) -> ProductionSpec:
    """The spec the Maestro would plan: the genre's layout refined by every Chef's plan."""
    genre = GENRES[genre_id]
    spec = base_spec(production_id=f"test:{genre_id}", brief=brief, genre=genre,
                     source_key=parse_key(source_key) if source_key else None,
                     source_tempo_bpm=source_bpm, stems=stems or {}, reference=reference)
    for chef in CHEFS.values():
        patch = chef.plan(brief=brief, spec=spec, genre=genre)
        if patch is not None:
            spec = apply_patch(spec, patch)
    if bars is not None:
        spec = spec.model_copy(update={"sections": [
            s.model_copy(update={"bars": b}) for s, b in zip(spec.sections, bars, strict=False)]})
    return spec


def _brief(workflow: Workflow, genre: str, key: str, bpm: float, **extra: Any) -> Brief:
    user = Provenance.USER
    return Brief(workflow=Param(value=workflow, source=user),
                 genre=Param(value=genre, source=user),
                 key=Param(value=parse_key(key), source=user),
                 bpm=Param(value=bpm, source=user), **extra)


def _render(spec: ProductionSpec, tmp: Path, name: str, cache: Path, **payload: Any) -> dict[str, Any]:
    steps: list[str] = []
    result = render_spec(RenderPayload(spec=spec, out_dir=str(tmp / name), cache_dir=str(cache),
                                       **payload), lambda fraction, step: steps.append(step))
    assert steps[-1] == "rendered"
    return result


def _assert_on_spec(spec: ProductionSpec, result: dict[str, Any]) -> None:
    """The acceptance numbers every render must meet, measured on its master."""
    m = result["measurements"]
    assert abs(m["integrated_lufs"] - spec.master.target_lufs) <= 0.5, m["integrated_lufs"]
    assert m["true_peak_dbtp"] <= spec.master.ceiling_dbtp + 0.1, m["true_peak_dbtp"]
    assert abs(m["tempo_bpm"] - spec.tempo_bpm) <= 0.5, m["tempo_bpm"]
    assert str(spec.key) in (m["key"], m["key_alternative"]), m["key"]
    assert result["mismatches"] == []


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The seed's v1 (Afro House, Fm, 126 BPM, vocal kept with a stutter in the build), shortened
    to 48 bars so bars 33–48 exist, rendered once for the module."""
    from jobs.demo_song import DEMO_TEMPO_BPM, render_demo_stems

    tmp = tmp_path_factory.mktemp("seed")
    stems = {name: str(write_wav(tmp / "stems" / f"{name}.wav",
                                 audio if audio.ndim == 2 else audio[np.newaxis, :],
                                 sample_rate=ENGINE_SAMPLE_RATE))
             for name, audio in render_demo_stems().items()}
    brief = _brief(Workflow.REMIX, "afro_house", "Fm", 126.0,
                   vocal=Param(value=VocalTreatment(stutter_sections=["build"]),
                               source=Provenance.USER))
    spec = _planned(brief, genre_id="afro_house", bars=[8, 8, 16, 8, 8, 4], source_key="C",
                    source_bpm=DEMO_TEMPO_BPM, stems=stems)
    cache = tmp / "cache"
    result = _render(spec, tmp, "v1", cache, stems=stems)
    yield {"spec": spec, "stems": stems, "result": result, "tmp": tmp, "cache": cache}
    shutil.rmtree(tmp, ignore_errors=True)  # ~1 GB of stems, renders and cache, done with


def test_seed_render_meets_loudness_peak_tempo_and_key(seed: dict[str, Any]) -> None:
    spec, result = seed["spec"], seed["result"]
    assert spec.vocal is not None and spec.vocal.stutters  # the build's stutter is in the plan
    _assert_on_spec(spec, result)
    out = Path(result["artifacts"]["master.flac"]).parent
    for name in ("master.flac", "preview.mp3", "arrangement.png", "spec.json"):
        assert (out / name).stat().st_size > 0
    assert {p.stem for p in (out / "tracks").glob("*.flac")} >= {t.name for t in spec.tracks}
    assert sorted(result["cache"]["rendered"]) == sorted(
        [t.name for t in spec.tracks] + (["transitions"] if spec.transitions else []))


def test_sidechain_dip_is_the_requested_depth(seed: dict[str, Any]) -> None:
    spec, m = seed["spec"], seed["result"]["measurements"]
    ducked = [t for t in spec.tracks if t.sidechain is not None]
    assert ducked
    for track in ducked:
        assert track.sidechain is not None
        measured = m["tracks"][track.name]["ducking_depth_db"]
        assert abs(measured - track.sidechain.depth_db) <= 1.0, (track.name, measured)


def _exported(spec: ProductionSpec, render_dir: Path, files: Any, *,
              replaces: list[str]) -> tuple[str, Path]:
    """A rendered version's project zip, as the export job makes it from the version's files
    published to the artifact store (as ``jobs.render.render_task`` publishes them): its key
    and its stored file."""
    from core.jobs import JobKind, JobRequest
    from jobs.export import export_task

    made = {"master.flac": render_dir / "master.flac", "samples.json": render_dir / "samples.json",
            **{f"tracks/{t.name}": t for t in (render_dir / "tracks").glob("*")}}
    rendered = {name: files.publish("p", f"{render_dir.name}/{name}", path)
                for name, path in made.items() if path.is_file()}
    request = JobRequest(job_id=f"export-{render_dir.name}", production_id="p",
                         version=int(render_dir.name.lstrip("v")), kind=JobKind.EXPORT,
                         payload={"spec": spec.model_dump(mode="json"), "rendered": rendered,
                                  "replaces": replaces})
    key = export_task(request, lambda fraction, step: None, files).artifacts["project.zip"]
    return key, files.fetch(key)


def _allocated(paths: list[Path]) -> int:
    files = [f for p in paths for f in ([p] if p.is_file() else p.rglob("*")) if f.is_file()]
    return sum(f.stat().st_blocks * 512 for f in files)


@pytest.fixture(scope="module")
def mix_only(seed: dict[str, Any]) -> dict[str, Any]:
    """"Bass too loud, needs more sidechain" on the seed's v1, rendered and exported as v2
    once for the tests below; it counts the raw tracks read and forbids analysing the master
    while it renders, and measures the store (v1, the stems, the cache) before and after."""
    import jobs.analysis
    import jobs.render
    from bench.footprint import measure

    def no_analysis(*args: object, **kwargs: object) -> None:
        raise AssertionError("the notes did not change, yet the master was analysed again")

    reads: list[str] = []
    load_raw = jobs.render._Cache.load_raw

    def counted(self: Any, key: str) -> Any:
        reads.append(key)
        return load_raw(self, key)

    hashed: list[str] = []
    file_sha256 = jobs.render.file_sha256

    def hashing(path: Any) -> str:
        hashed.append(str(path))
        return file_sha256(path)

    spec = seed["spec"]
    genre = GENRES["afro_house"]
    faded = 0.0  # what the Chef moved the bass's fader by (sized to be heard on the master)
    for aspect in (Aspect.LEVEL, Aspect.SIDECHAIN):
        patch = CHEFS[Domain.MIXING].consult(
            spec=spec, request=Feedback(domain=Domain.MIXING, aspect=aspect, target="bass",
                                        direction="down" if aspect is Aspect.LEVEL else "up",
                                        text="Bass too loud, needs more sidechain"),
            measurements=seed["result"]["measurements"], genre=genre)
        faded += sum(op.delta_db for op in patch.ops
                     if isinstance(op, AdjustGain) and op.track == "bass")
        spec = apply_patch(spec, patch)
    from jobs.files import JobFiles

    store = seed["tmp"]
    files = JobFiles.local(store / "data")  # the artifact store, counted with the rest
    v1_key, v1_zip = _exported(seed["spec"], store / "v1", files, replaces=[])
    mixed = Path(seed["cache"]) / "render" / RENDER_VERSION / "mixed"
    entries = set(mixed.iterdir())
    before = measure(store)
    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(jobs.analysis, "tempo_and_key", no_analysis)
        patched.setattr(jobs.render._Cache, "load_raw", counted)
        patched.setattr(jobs.render, "file_sha256", hashing)
        result = _render(spec, store, "v2", seed["cache"], stems=seed["stems"])
    v1_zip_bytes = v1_zip.stat().st_blocks * 512
    _, v2_zip = _exported(spec, store / "v2", files, replaces=[v1_key])
    return {"spec": spec, "result": result, "faded": faded, "reads": reads, "hashed": hashed,
            "v1_zip": v1_zip,
            "v1_zip_bytes": v1_zip_bytes, "v2_zip": v2_zip, "before": before,
            "after": measure(store), "v1_entries": sorted(entries),
            "new_entries": sorted(set(mixed.iterdir()) - entries)}


def test_mix_only_change_re_renders_one_chain_and_the_master(
        seed: dict[str, Any], mix_only: dict[str, Any]) -> None:
    """"Bass too loud, needs more sidechain": only the bass chain and the master are redone.

    The unchanged tracks' raw audio is not even read, and the master's tempo and key are not
    analysed again: the same parts read the same whatever the mix does to them.
    """
    spec, result, faded = mix_only["spec"], mix_only["result"], mix_only["faded"]
    assert faded < 0
    cache = result["cache"]
    assert cache["rendered"] == []  # no synthesis, no vocal processing (no separation at all)
    assert cache["mixed"] == ["bass"]
    assert "vocals" in cache["raw_cached"] and "vocals" in cache["mix_cached"]
    _assert_on_spec(spec, result)
    before = seed["result"]["measurements"]["tracks"]["bass"]
    after = result["measurements"]["tracks"]["bass"]
    assert abs(after["track_level_db"] - before["track_level_db"] - faded) <= 0.5
    assert after["ducking_depth_db"] - before["ducking_depth_db"] >= 2.0
    assert len(mix_only["reads"]) == 1  # the bass, for its new chain
    assert mix_only["hashed"] == []  # nor are the stems read again to name their tracks
    v1 = seed["result"]["measurements"]
    assert (result["measurements"]["tempo_bpm"], result["measurements"]["key"]) == (
        v1["tempo_bpm"], v1["key"])


def test_a_bass_only_version_adds_only_the_bass_to_the_store(
        seed: dict[str, Any], mix_only: dict[str, Any]) -> None:
    """Storage scales with the work: the version that changed only the bass's chain stores the
    bass's processed audio and its own master, preview and small files. Every track's audio is
    v1's bytes (hard links into the render cache), and its project zip replaces v1's."""
    store = seed["tmp"]
    new_entries = mix_only["new_entries"]
    assert len([p for p in new_entries if p.is_dir()]) == 1  # the bass's chain, nothing else
    v2 = store / "v2"
    own = [p for p in v2.iterdir() if p.name not in ("tracks", "export")]
    assert {f.stat().st_ino for f in (v2 / "tracks").iterdir()} == {
        f.stat().st_ino for f in (store / "v1" / "tracks").iterdir()}
    assert not mix_only["v1_zip"].exists() and mix_only["v2_zip"].is_file()  # one zip
    # its zip replaced v1's: only a master that compresses less can make it grow
    zip_growth = max(0, mix_only["v2_zip"].stat().st_blocks * 512 - mix_only["v1_zip_bytes"])
    added = mix_only["after"].total - mix_only["before"].total
    assert added <= _allocated(new_entries) + _allocated(own) + zip_growth + 1_000_000, (
        added, _allocated(new_entries), _allocated(own), zip_growth)


def test_a_version_keeps_one_processed_array_per_track(seed: dict[str, Any],
                                                       mix_only: dict[str, Any]) -> None:
    """What the chain cache keeps of a version is what the next mix change reads: one array
    per track (a staged track's filtered signal, not its chain output beside it) and the
    returns."""
    staging = seed["result"]["measurements"]["staging"]
    assert any(st["tilt_db_per_oct"] or st.get("low_cut") for st in staging.values())
    kept = [p for p in mix_only["v1_entries"] if p.is_dir() and not p.name.startswith(".")]
    assert len(kept) == len(seed["result"]["cache"]["rendered"]) + 1


def test_a_production_keeps_what_its_newest_version_reads(
        seed: dict[str, Any], mix_only: dict[str, Any], tmp_path: Path) -> None:
    """Versions do not pile up in the chain cache: a production's newest render forgets what
    its earlier versions kept and it does not read (v1's bass chain, once v2 changed the
    bass), and keeps all it does read, so the next change re-renders only what it changes."""
    import json
    import os

    cache = tmp_path / "cache"
    shutil.copytree(seed["cache"], cache, copy_function=os.link)
    mixed = cache / "render" / RENDER_VERSION / "mixed"
    owners = cache / "render" / RENDER_VERSION / "owners"
    v1 = _render(seed["spec"], tmp_path, "v1", cache, stems=seed["stems"], production="p")
    assert v1["cache"]["mixed"] == []
    (listed,) = owners.glob("*.json")
    v1_reads = set(json.loads(listed.read_text())["keys"])
    before = {p.name for p in mixed.iterdir() if p.is_dir()}
    assert v1_reads <= before
    v2 = _render(mix_only["spec"], tmp_path, "v2", cache, stems=seed["stems"], production="p")
    assert v2["cache"]["mixed"] == []  # the bass chain v2 reads was cached by its first render
    v2_reads = set(json.loads(listed.read_text())["keys"])
    after = {p.name for p in mixed.iterdir() if p.is_dir()}
    assert len(v2_reads) == len(v1_reads) and len(v2_reads - v1_reads) == 1  # the new bass
    assert before - after == v1_reads - v2_reads  # v1's bass chain, nothing else
    assert v2_reads <= after


def test_filter_sweep_brightens_bar_by_bar_across_33_to_48(seed: dict[str, Any]) -> None:
    spec = seed["spec"]
    patch = CHEFS[Domain.SOUND_DESIGN].consult(
        spec=spec, request=Feedback(domain=Domain.SOUND_DESIGN, aspect=Aspect.FILTER_SWEEP,
                                    direction="add", start_bar=33, end_bar=48, section="build",
                                    text="Add filter sweep on build (bars 33-48)"),
        measurements=seed["result"]["measurements"], genre=GENRES["afro_house"])
    spec = apply_patch(spec, patch)
    swept = [t.name for t in spec.tracks if t.automation]
    assert swept
    result = _render(spec, seed["tmp"], "v3", seed["cache"], stems=seed["stems"])
    assert sorted(result["cache"]["mixed"]) == sorted(swept)
    for name in swept:
        centroids = result["measurements"]["centroid_by_bar"][name]
        relative = result["measurements"]["brightness_by_bar"][name]
        assert len(centroids) == len(relative) == 16
        # bar by bar against the same track without the sweep (its chords change too): it
        # rises with every bar while the cutoff is inside the track's content and never falls
        # once the filter has opened past it (a pad has little above ~8 kHz to reveal)
        steps = list(itertools.pairwise(relative))
        opening = [(a, b) for a, b in steps if a < 0.995 * relative[-1]]  # before it opens past
        assert len(opening) >= 6, str(relative)  # the sweep is heard over most of the section
        assert all(b > a * 1.001 for a, b in opening), str(relative)
        assert all(b >= a * 0.999 for a, b in steps), str(relative)
        # … and in absolute terms from the dull first bar to the open last one
        assert centroids[-1] > 1.2 * centroids[0], centroids
    # read again by the next render of the sweep, not measured on a second run of its chain
    import jobs.mix

    def no_chain(*args: object, **kwargs: object) -> None:
        raise AssertionError("a chain ran again, yet nothing changed")

    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(jobs.mix, "process_track", no_chain)
        again = _render(spec, seed["tmp"], "v3-again", seed["cache"], stems=seed["stems"])
    assert again["measurements"]["brightness_by_bar"] == result["measurements"]["brightness_by_bar"]


@pytest.mark.parametrize(("genre", "key", "bpm"), [
    ("house", "Am", 124.0), ("techno", "Fm", 132.0), ("deep_house", "Dm", 122.0),
    ("drum_and_bass", "Gm", 174.0), ("uk_garage", "Bb", 132.0), ("nu_disco", "E", 118.0),
    ("amapiano", "Cm", 112.0),
])
def test_text_to_track_lands_on_its_tempo_and_key(genre: str, key: str, bpm: float,
                                                  tmp_path: Path) -> None:
    spec = _planned(_brief(Workflow.TEXT_TO_TRACK, genre, key, bpm), genre_id=genre)
    sections = [s for s in spec.sections if "bass" in s.layers and "music" in s.layers][:1]
    spec = spec.model_copy(update={"sections": [
        sections[0].model_copy(update={"bars": 12})] if sections else spec.sections})
    result = _render(spec, tmp_path, "v1", tmp_path / "cache")
    _assert_on_spec(spec, result)


def test_reproduce_matches_the_reference(tmp_path: Path) -> None:
    """An original production that follows the reference's tempo, key, shape and loudness."""
    from jobs.analysis import analyze, spectral_tilt_db_per_oct
    from jobs.demo_song import render_demo_song

    reference_audio = render_demo_song(duration_s=40.0)
    reference = analyze(reference_audio, sample_rate=ENGINE_SAMPLE_RATE)
    brief = Brief(workflow=Param(value=Workflow.REPRODUCE, source=Provenance.USER),
                  genre=Param(value="house", source=Provenance.USER),
                  key=Param(value=reference.key.key, source=Provenance.DETECTED),
                  bpm=Param(value=round(reference.tempo.bpm, 1), source=Provenance.DETECTED))
    spec = _planned(brief, genre_id="house", reference=reference)
    assert abs(spec.master.target_lufs - reference.integrated_lufs) <= 0.1
    assert abs(spec.total_bars * 240 / spec.tempo_bpm - reference.duration_s) <= 8 * 240 / spec.tempo_bpm
    result = _render(spec, tmp_path, "v1", tmp_path / "cache",
                     reference_tilt_db_per_oct=reference.spectral_tilt_db_per_oct)
    _assert_on_spec(spec, result)
    assert abs(result["measurements"]["tempo_bpm"] - reference.tempo.bpm) <= 0.5
    from jobs.audio_io import read_audio

    master = read_audio(Path(result["artifacts"]["master.flac"]), max_duration_s=600,
                        max_size_bytes=10**9).audio
    tilt = spectral_tilt_db_per_oct(master.mean(axis=0), sample_rate=ENGINE_SAMPLE_RATE)
    assert reference.spectral_tilt_db_per_oct is not None
    assert abs(tilt - reference.spectral_tilt_db_per_oct) <= 1.5, (tilt, reference.spectral_tilt_db_per_oct)


def test_the_changed_bars_come_first_at_the_loudness_they_had(seed: dict[str, Any]) -> None:
    """A bass change's drop, ahead of the whole version: the clip is those bars, as loud as
    the same bars of v1, and the full render that follows finds the new bass chain cached."""
    from jobs.audio_io import read_audio
    from jobs.loudness import integrated_loudness
    from jobs.render import SectionPayload, render_section

    spec = seed["spec"].model_copy(deep=True)
    bass = spec.track("bass")
    assert bass is not None
    bass.gain_db -= 4.5
    drop = next(s for s in spec.section_bars() if s[0].kind == "drop")
    start, end = drop[1], min(drop[2], drop[1] + 11)
    v1 = seed["result"]
    request = SectionPayload(
        render=RenderPayload(spec=spec, stems=seed["stems"], out_dir=str(seed["tmp"] / "first"),
                             cache_dir=str(seed["cache"])),
        start_bar=start, end_bar=end, label="the drop", parent=1,
        match_master=v1["artifacts"]["master.flac"],
        tonal_eq_db=v1["measurements"].get("tonal_eq_db", {}))
    clip = render_section(request, lambda fraction, step: None)
    heard = read_audio(Path(clip.path), max_duration_s=600, max_size_bytes=10**9)
    assert abs(heard.audio.shape[1] / heard.sample_rate - (end - start + 1) * spec.bar_s) < 0.2
    master = read_audio(Path(v1["artifacts"]["master.flac"]), max_duration_s=600,
                        max_size_bytes=10**9).audio
    bars = master[:, round((start - 1) * spec.bar_s * ENGINE_SAMPLE_RATE):
                  round(end * spec.bar_s * ENGINE_SAMPLE_RATE)]
    assert clip.lufs is not None
    assert abs(clip.lufs - integrated_loudness(bars, sample_rate=ENGINE_SAMPLE_RATE)) <= 1.0
    whole = _render(spec, seed["tmp"], "first-whole", seed["cache"], stems=seed["stems"])
    assert "bass" in whole["cache"]["mix_cached"] and whole["cache"]["mixed"] == []


def test_a_stem_is_hashed_once_and_again_when_its_file_changes(tmp_path: Path) -> None:
    """The tracks' cache keys name a stem by its SHA-256: remembered for the same file, taken
    again for a file rewritten with other audio."""
    import hashlib
    import os

    from jobs.render import _Cache, _stem_hashes

    cache = _Cache(tmp_path / "cache")
    stem = tmp_path / "vocals.wav"
    stem.write_bytes(b"first take")
    first = _stem_hashes({"vocals": str(stem)}, cache)
    assert first == {"vocals": hashlib.sha256(b"first take").hexdigest()}
    assert _stem_hashes({"vocals": str(stem)}, cache) == first
    replacement = tmp_path / "new.wav"
    replacement.write_bytes(b"second take")
    os.replace(replacement, stem)
    assert _stem_hashes({"vocals": str(stem)}, cache) == {
        "vocals": hashlib.sha256(b"second take").hexdigest()}


def test_an_unsure_key_reading_whose_other_candidate_is_the_plan_is_not_a_miss() -> None:
    from jobs.render import _mismatches

    spec = ProductionSpec(title="t", genre="afro_house", tempo_bpm=126, key=parse_key("Fm"))
    read = {"tempo_bpm": 126.0, "integrated_lufs": spec.master.target_lufs,
            "true_peak_dbtp": spec.master.ceiling_dbtp - 0.5}
    assert _mismatches(spec, {**read, "key": "C", "key_alternative": "Fm"}) == []
    assert _mismatches(spec, {**read, "key": "C", "key_alternative": None}) == [
        "the master reads as C, not Fm"]
    assert _mismatches(spec, {**read, "key": "C", "key_alternative": "G"}) == [
        "the master reads as C, not Fm"]

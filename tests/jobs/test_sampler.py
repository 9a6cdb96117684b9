"""The sampler: a palette chosen by genre and role from the director's Sound Vault and the
installed kits, recorded hits shaped by the voice controls, and a render that plays samples and
names every one with its licence, down to the project's manifest and README and the thread."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from chefs import all_chefs, load_genres
from core.brief import Brief, Param, Provenance, Workflow
from core.jobs import JobKind, JobRequest, SampleSources
from core.music import parse_key
from core.patch import apply_patch
from core.planner import base_spec
from core.production import Production, Version
from core.replies import instruments_line
from core.spec import ProductionSpec, VoiceSpec
from jobs import sample_library
from jobs.sampler import build_palette
from tests.jobs.sound_vault_fixture import SR, _hit
from tests.jobs.test_sample_library import write_kit

GENRES = {g.id: g for g in load_genres()}


def _spec(genre_id: str = "afro_house", bars: tuple[int, ...] = (2, 2, 4)) -> ProductionSpec:
    """A planned spec, shortened: an intro (kick, percussion), a build and a drop with drums."""
    genre = GENRES[genre_id]
    user = Provenance.USER
    brief = Brief(workflow=Param(value=Workflow.TEXT_TO_TRACK, source=user),
                  genre=Param(value=genre_id, source=user),
                  key=Param(value=parse_key("Fm"), source=user), bpm=Param(value=126, source=user))
    spec = base_spec(production_id=f"test:{genre_id}", brief=brief, genre=genre, source_key=None,
                     source_tempo_bpm=None, stems={})
    for chef in all_chefs():
        patch = chef.plan(brief=brief, spec=spec, genre=genre)
        if patch is not None:
            spec = apply_patch(spec, patch)
    return spec.model_copy(update={"sections": [
        s.model_copy(update={"bars": b}) for s, b in zip(spec.sections, bars, strict=False)]})


@pytest.fixture
def library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A tiny installed library: one reviewed (CC0) kit, one refused kit, no SoundFonts."""
    root = tmp_path / "drumkits"
    write_kit(root / "Audiophob", {"Kick": "kick.wav", "Snare Rock": "snare.wav",
                                   "Closed HH": "hat.wav", "Hand Clap": "clap.wav",
                                   "Open HH": "open.wav", "Crash": "crash.wav"})
    write_kit(root / "circAfrique v4", {"Snare": "snare.wav"})
    monkeypatch.setattr(sample_library, "HYDROGEN_DIRS", (str(root),))
    monkeypatch.setattr(sample_library, "SOUNDFONT_DIRS", (str(tmp_path / "no-soundfonts"),))
    return root


@pytest.fixture
def own_vault(tmp_path: Path) -> Path:
    """The director's Sound Vault: a tribal conga (named so) and an unnamed one."""
    folder = tmp_path / "my samples"
    (folder / "Tribal Perc").mkdir(parents=True)
    sf.write(folder / "Tribal Perc" / "conga hit.wav", _hit("conga_high", decay=0.2), SR)
    sf.write(folder / "x1.wav", _hit("conga_high", brightness=0.3), SR)
    return folder


def test_the_palette_prefers_the_directors_own_then_the_genres_kits(
        library: Path, own_vault: Path, tmp_path: Path) -> None:
    palette = build_palette(_spec(), SampleSources(library=True, vault_dir=str(own_vault)),
                            cache_dir=tmp_path / "cache")
    assert palette.choices["snare"][0].kit == "Audiophob"
    assert palette.choices["snare"][0].licence.spdx == "CC0-1.0"
    assert "kick" not in palette.choices  # afro house keeps its key-tuned synth kick
    congas = palette.choices["conga_high"]
    assert {s.kit for s in congas} == {"Sound Vault"}
    assert congas[0].path.name == "conga hit.wav"  # "tribal" ranks first for afro house
    assert all(s.kit != "circAfrique v4" for ss in palette.choices.values() for s in ss)
    # a genre that samples its kick takes it from the kit
    dnb = build_palette(_spec("drum_and_bass"), SampleSources(library=True),
                        cache_dir=tmp_path / "cache")
    assert dnb.choices["kick"][0].kit == "Audiophob"


def test_without_sources_nothing_is_sampled_and_the_note_says_why(library: Path,
                                                                  tmp_path: Path) -> None:
    off = build_palette(_spec(), SampleSources(), cache_dir=tmp_path / "cache")
    assert not off.sampled and "switched off" in off.note
    assert off.plays(VoiceSpec(name="drum_kit")) is False
    (library / "Audiophob" / "drumkit.xml").unlink()
    (library / "circAfrique v4" / "drumkit.xml").unlink()
    none = build_palette(_spec(), SampleSources(library=True), cache_dir=tmp_path / "cache")
    assert not none.sampled and "no sample library is installed" in none.note
    assert none.describe([])["vault"] == "synth"


def test_a_recorded_hit_follows_the_voice_controls(library: Path, tmp_path: Path) -> None:
    palette = build_palette(_spec(), SampleSources(library=True), cache_dir=tmp_path / "cache")
    plain = palette.hit("snare", VoiceSpec(name="drum_kit"), 1.0, 0)
    assert plain is not None and plain.shape[0] == 2 and plain.dtype == np.float32
    assert np.abs(plain).max() == pytest.approx(0.7, abs=1e-3)  # the vault's snare level
    short = palette.hit("snare", VoiceSpec(name="drum_kit", decay=-1.0), 1.0, 0)
    dark = palette.hit("snare", VoiceSpec(name="drum_kit", brightness=-1.0), 1.0, 0)
    assert short is not None and dark is not None and short.shape[1] < plain.shape[1]

    def centroid(x: np.ndarray) -> float:
        mag = np.abs(np.fft.rfft(x.mean(axis=0)))
        return float((mag * np.fft.rfftfreq(x.shape[1], 1 / SR)).sum() / mag.sum())

    assert centroid(dark) < 0.7 * centroid(plain)
    half = palette.hit("snare", VoiceSpec(name="drum_kit"), 0.5, 0)
    assert half is not None and np.allclose(half, 0.5 * plain)
    assert palette.hit("conga_low", VoiceSpec(name="percussion_kit"), 1.0, 0) is None  # synth
    assert palette.take_used() == ["Audiophob/snare.wav"]


def test_the_render_plays_samples_and_names_each_with_its_licence(
        library: Path, own_vault: Path, tmp_path: Path) -> None:
    from jobs.export.task import export_task
    from jobs.files import JobFiles
    from jobs.render import RenderPayload, render_spec

    spec = _spec()
    sources = SampleSources(library=True, vault_dir=str(own_vault))

    def render(name: str, samples: SampleSources) -> dict[str, Any]:
        return render_spec(RenderPayload(spec=spec, out_dir=str(tmp_path / name),
                                         cache_dir=str(tmp_path / "cache"), samples=samples),
                           lambda fraction, step: None)

    sampled = render("v1", sources)
    m = sampled["measurements"]
    inst = m["instruments"]
    assert inst["vault"] == "samples" and inst["kits"] == ["Audiophob", "Sound Vault"]
    files = {row["file"]: row for row in inst["samples"]}
    assert {"Audiophob/snare.wav", "Audiophob/hat.wav", "Sound Vault/conga hit.wav"} <= set(files)
    assert files["Audiophob/snare.wav"]["licence"] == "CC0-1.0"
    assert files["Sound Vault/conga hit.wav"]["licence"] == "the director's own"
    assert inst["synth_roles"] == ["kick"]
    assert json.loads((tmp_path / "v1" / "samples.json").read_text()) == inst
    assert sampled["mismatches"] == [], sampled["mismatches"]
    # the same spec without samples renders the synth vault, and the drums sound different
    synth = render("v2", SampleSources())
    assert synth["measurements"]["instruments"]["vault"] == "synth"
    drums_sampled, _ = sf.read(tmp_path / "v1" / "tracks" / "drums.flac")
    drums_synth, _ = sf.read(tmp_path / "v2" / "tracks" / "drums.flac")
    assert not np.allclose(drums_sampled, drums_synth, atol=1e-3)
    # rendered again from the cache, it still knows which samples sounded
    again = render("v3", sources)
    assert again["cache"]["rendered"] == [] and again["measurements"]["instruments"] == inst

    jobs = JobFiles.local(tmp_path / "data")  # the render's files, published as a worker does
    rendered = {f"tracks/{p.name}": jobs.publish("p1", f"tracks/{p.name}", p)
                for p in (tmp_path / "v1" / "tracks").glob("*.wav")}
    for name in ("master.flac", "samples.json"):
        rendered[name] = jobs.publish("p1", name, tmp_path / "v1" / name)
    request = JobRequest(job_id="export-v1", production_id="p1", kind=JobKind.EXPORT, version=1,
                         payload={"spec": spec.model_dump(mode="json"), "rendered": rendered})
    result = export_task(request, lambda fraction, step: None, jobs)
    with zipfile.ZipFile(jobs.fetch(result.artifacts["project.zip"])) as archive:
        names = archive.namelist()
        manifest = json.loads(archive.read(next(n for n in names if n.endswith("manifest.json"))))
        readme = archive.read(next(n for n in names if n.endswith("README.txt"))).decode()
    listed = {row["file"]: row["licence"] for row in manifest["instruments"]["samples"]}
    assert listed == {f: row["licence"] for f, row in files.items()}
    assert "Audiophob/snare.wav  (snare): soundcloud.com/audiophobdubstep, CC0-1.0" in readme
    assert "Sound Vault/conga hit.wav" in readme and "Synthesised, not sampled: kick" in readme

    # the thread hears which vault played: the kits on a change, the synth fallback once
    v1 = Version(number=1, spec=spec, rendered=True, measurements=m)
    v2 = Version(number=2, spec=spec, rendered=True, measurements=synth["measurements"])
    v3 = Version(number=3, spec=spec, rendered=True, measurements=synth["measurements"])
    production = Production(id="local:t", versions=[v1, v2, v3])
    assert "Audiophob (CC0-1.0), Sound Vault (the director's own)" in instruments_line(production, v1)
    assert "the kick is synthesised" in instruments_line(production, v1)
    assert "synthesised sound vault's: sampled kits are switched off" in \
        instruments_line(production, v2)
    assert instruments_line(production, v3) == ""


def test_a_sampled_kick_is_tuned_to_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "drumkits"
    write_kit(root / "Audiophob", {"Kick": "kick.wav"})
    t = np.arange(int(0.6 * SR)) / SR
    body = 0.8 * np.sin(2 * np.pi * 70.0 * t) * np.exp(-t / 0.15)  # a 70 Hz kick: off F minor
    sf.write(root / "Audiophob" / "kick.wav", np.stack([body, body], axis=1), SR)
    monkeypatch.setattr(sample_library, "HYDROGEN_DIRS", (str(root),))
    monkeypatch.setattr(sample_library, "SOUNDFONT_DIRS", (str(tmp_path / "none"),))
    palette = build_palette(_spec("drum_and_bass"), SampleSources(library=True),
                            cache_dir=tmp_path / "cache")
    hit = palette.hit("kick_hard", VoiceSpec(name="kick_hard"), 1.0, 0)
    assert hit is not None
    mono = hit.mean(axis=0)[int(0.02 * SR): int(0.3 * SR)]
    spectrum = np.abs(np.fft.rfft(mono * np.hanning(mono.size), 8 * mono.size))
    pitch = np.argmax(spectrum) * SR / (8 * mono.size)
    assert pitch == pytest.approx(65.41, rel=0.01)  # C, the fifth of F minor


def test_a_version_whose_tracks_a_changed_bars_clip_made_still_credits_its_samples(
        library: Path, own_vault: Path, tmp_path: Path) -> None:
    """The clip job often plays a version's tracks first; the version's render reads them from
    the cache and must still name every sample that sounded."""
    from jobs.render import RenderPayload, SectionPayload, render_section, render_spec

    spec = _spec()
    sources = SampleSources(library=True, vault_dir=str(own_vault))

    def payload(name: str, cache: str) -> RenderPayload:
        return RenderPayload(spec=spec, out_dir=str(tmp_path / name),
                             cache_dir=str(tmp_path / cache), samples=sources)

    def quiet(fraction: float, step: str) -> None:
        return None

    direct = render_spec(payload("direct", "cache-direct"), quiet)
    render_section(SectionPayload(render=payload("v2", "cache"), start_bar=3, end_bar=6,
                                  label="the drop"), quiet)
    after = render_spec(payload("v2", "cache"), quiet)
    assert after["cache"]["rendered"] == []  # the clip job made every track
    assert after["measurements"]["instruments"] == direct["measurements"]["instruments"]
    assert after["measurements"]["instruments"]["vault"] == "samples"

"""The iteration loop, measured: a director's words → RuleBrain → Chef → SpecPatch → real render.

Each row is something a director would type on a finished version. It is understood by the
real rule brain, routed to the Chef of its domain the way ``Maestro._iterate`` routes it,
applied, rendered for real and measured. The row passes when the patch came from the expected
Chef with the expected kinds of operations, every expected effect on the change card was met,
and the row's own metric moved the intended way between the base render and the patched one.

The base is a short house remix of the demo song (one 8-bar drop, its vocal kept, the demo's
own stems standing in for separated ones) rendered once;
every render shares one cache, so each row re-renders only the chains it changed and the master.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from chefs import all_chefs, load_genres
from core.brain import Aspect, BrainContext, Feedback
from core.brief import Brief, Param, Provenance, VocalTreatment, Workflow
from core.change_card import card_lines, metric_value
from core.maestro.iterating import merge_patches as _merge_patches
from core.maestro.parts import resolve_bpm as _resolve_bpm
from core.measurements import Measurements
from core.music import parse_key
from core.patch import SpecPatch, apply_patch
from core.planner import base_spec
from core.rule_brain import RuleBrain
from core.spec import ProductionSpec
from jobs.render import RenderPayload, render_spec

pytestmark = pytest.mark.slow  # a render per feedback

GENRES = {g.id: g for g in load_genres()}
GENRE = GENRES["house"]
CHEFS = {chef.domain: chef for chef in all_chefs()}
BRAIN = RuleBrain(genres=load_genres())

# text, chef, op class names, metric, track ("" = master), direction ("up", "down", "rises")
ROWS: list[tuple[str, str, set[str], str, str, str]] = [
    # levels
    ("bass too loud", "MixingChef", {"AdjustGain"}, "track_level_db", "bass", "down"),
    ("the bass is a bit too quiet", "MixingChef", {"AdjustGain"}, "track_level_db", "bass", "up"),
    ("turn the bass down 2 dB", "MixingChef", {"AdjustGain"}, "track_level_db", "bass", "down"),
    ("too much low end", "MixingChef", {"AdjustGain"}, "track_level_db", "bass", "down"),
    ("the synths are too loud", "MixingChef", {"AdjustGain"}, "track_level_db", "music", "down"),
    ("the chords are buried", "MixingChef", {"AdjustGain"}, "track_level_db", "music", "up"),
    ("can't hear the kick", "MixingChef", {"AdjustGain"}, "track_level_db", "kick", "up"),
    ("bring the drums up 2 dB", "MixingChef", {"AdjustGain"}, "track_level_db", "drums", "up"),
    ("less hats", "MixingChef", {"AdjustGain"}, "track_level_db", "percussion", "down"),
    ("percussion a bit too loud", "MixingChef", {"AdjustGain"}, "track_level_db", "percussion", "down"),
    ("vocal too quiet", "MixingChef", {"AdjustGain"}, "track_level_db", "vocals", "up"),
    ("the vocals are way too loud", "MixingChef", {"AdjustGain"}, "track_level_db", "vocals", "down"),
    # sidechain
    ("more sidechain on the bass", "MixingChef", {"SetSidechain"}, "ducking_depth_db", "bass", "up"),
    ("bass needs more pump", "MixingChef", {"SetSidechain"}, "ducking_depth_db", "bass", "up"),
    ("less sidechain", "MixingChef", {"SetSidechain"}, "ducking_depth_db", "bass", "down"),
    ("more pumping on the music", "MixingChef", {"SetSidechain"}, "ducking_depth_db", "music", "up"),
    # punch
    ("kick needs more punch", "MixingChef", {"SetCompression", "AdjustGain"}, "track_level_db", "kick", "up"),
    ("drums need more punch", "MixingChef", {"SetCompression", "AdjustGain"}, "track_level_db", "drums", "up"),
    # tone
    ("make it brighter", "MixingChef", {"SetEQBand"}, "spectral_centroid_hz", "music", "up"),
    ("make the master brighter", "MasteringChef", {"SetMaster"}, "spectral_centroid_hz", "", "up"),
    ("the hats are too bright", "MixingChef", {"SetEQBand"}, "spectral_centroid_hz", "percussion", "down"),
    ("the hats are too harsh", "MixingChef", {"SetEQBand"}, "spectral_centroid_hz", "percussion", "down"),
    ("make the drums darker", "MixingChef", {"SetEQBand"}, "spectral_centroid_hz", "drums", "down"),
    ("the synths sound harsh", "MixingChef", {"SetEQBand"}, "spectral_centroid_hz", "music", "down"),
    ("the vocal sounds harsh", "MixingChef", {"SetEQBand"}, "spectral_centroid_hz", "vocals", "down"),
    ("make the vocals brighter", "MixingChef", {"SetEQBand"}, "spectral_centroid_hz", "vocals", "up"),
    ("less mud", "MixingChef", {"SetEQBand"}, "low_end_db", "music", "down"),
    ("the bass is muddy", "MixingChef", {"SetEQBand"}, "low_end_db", "bass", "down"),
    ("bass is too thin", "MixingChef", {"SetEQBand"}, "low_end_db", "bass", "up"),
    # master
    ("louder master", "MasteringChef", {"SetMaster"}, "integrated_lufs", "", "up"),
    ("make it quieter", "MasteringChef", {"SetMaster"}, "integrated_lufs", "", "down"),
    ("master for club", "MasteringChef", {"SetMaster"}, "integrated_lufs", "", "up"),
    ("master it to -12 LUFS", "MasteringChef", {"SetMaster"}, "integrated_lufs", "", "up"),
    ("make the mix wider", "MasteringChef", {"SetMaster"}, "stereo_width", "", "up"),
    ("narrower mix", "MasteringChef", {"SetMaster"}, "stereo_width", "", "down"),
    ("wider", "MixingChef", {"SetMaster"}, "stereo_width", "", "up"),
    # movement, patterns, tempo
    ("add a filter sweep on bars 5-8", "SoundDesignChef", {"AddAutomation"},
     "spectral_centroid_hz", "music", "rises"),
    ("drums too busy", "DrumChef", {"SetPattern"}, "track_level_db", "drums", "down"),
    ("more hats", "DrumChef", {"SetPattern"}, "track_level_db", "percussion", "up"),
    ("slower, 120 BPM", "GenreChef", {"SetTempo"}, "tempo_bpm", "", "down"),
]


def _short_spec(stems: dict[str, str]) -> ProductionSpec:
    """The planner's house remix of the demo song (vocal kept) at the genre's key and tempo,
    cut to one 8-bar drop in which every layer plays."""
    from jobs.demo_song import DEMO_KEY, DEMO_TEMPO_BPM

    user = Provenance.USER
    brief = Brief(workflow=Param(value=Workflow.REMIX, source=user),
                  genre=Param(value="house", source=user),
                  key=Param(value=GENRE.default_key, source=user),
                  bpm=Param(value=GENRE.default_bpm, source=user),
                  vocal=Param(value=VocalTreatment(), source=user))
    spec = base_spec(production_id="test:feedback", brief=brief, genre=GENRE,
                     source_key=parse_key(DEMO_KEY), source_tempo_bpm=DEMO_TEMPO_BPM,
                     stems=stems, reference=None)
    drop = next(s for s in spec.sections if s.kind == "drop")
    spec = spec.model_copy(update={"sections": [drop.model_copy(update={"bars": 8})]})
    for chef in CHEFS.values():  # the Chefs plan on the short layout
        patch = chef.plan(brief=brief, spec=spec, genre=GENRE)
        if patch is not None:
            spec = apply_patch(spec, patch)
    assert {"vocals", "bass", "kick", "drums", "percussion", "music"} <= {
        t.name for t in spec.tracks}
    return spec


def _render(spec: ProductionSpec, base: dict[str, Any], name: str) -> dict[str, Any]:
    """Render and keep the numbers; the files go at once (30 renders would pile up on disk),
    while the content-addressed cache the renders share stays."""
    out_dir = base["tmp"] / name
    try:
        result = render_spec(RenderPayload(spec=spec, stems=base["stems"], out_dir=str(out_dir),
                                           cache_dir=str(base["cache"])), lambda *_: None)
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    assert result["mismatches"] == [], result["mismatches"]
    # typed, as the Maestro stores a render's numbers and the Chefs and the change card read them
    return {**result, "measurements": Measurements.model_validate(result["measurements"])}


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The base version, rendered once; its stems are the demo song's own (short) stems."""
    from jobs.audio_io import ENGINE_SAMPLE_RATE, write_wav
    from jobs.demo_song import render_demo_stems

    tmp = tmp_path_factory.mktemp("feedback")
    stems = {name: str(write_wav(tmp / "stems" / f"{name}.wav",
                                 audio if audio.ndim == 2 else audio[np.newaxis, :],
                                 sample_rate=ENGINE_SAMPLE_RATE))
             for name, audio in render_demo_stems(duration_s=24.0).items()}
    state: dict[str, Any] = {"tmp": tmp, "cache": tmp / "cache", "stems": stems,
                             "spec": _short_spec(stems)}
    state["result"] = _render(state["spec"], state, "base")
    yield state
    shutil.rmtree(tmp, ignore_errors=True)  # the stems and the shared render cache


async def _consult(text: str, spec: ProductionSpec, measurements: Measurements) -> SpecPatch:
    """What ``Maestro._iterate`` does with ``text`` on a reviewed version, as one patch."""
    context = BrainContext(has_version=True, track_names=[t.name for t in spec.tracks],
                           section_names=[s.name for s in spec.sections])
    u = await BRAIN.understand(text, context=context)
    requests: list[Feedback] = list(u.feedback)
    assert requests, f"{text!r} was not understood as feedback: {u}"
    tempo = (_resolve_bpm(u.bpm, base=spec.tempo_bpm, source_bpm=spec.source_tempo_bpm)
             if u.bpm else None)
    for item in requests:
        if item.aspect is Aspect.TEMPO and tempo is not None:
            item.amount = tempo
    patches = []
    for item in requests:
        patch = CHEFS[item.domain].consult(spec=spec, request=item, measurements=measurements,
                                           genre=GENRE)
        if patch.ops:
            spec = apply_patch(spec, patch)
            patches.append(patch)
    assert patches, f"{text!r}: no Chef changed anything ({[r.aspect for r in requests]})"
    return _merge_patches(patches)


def test_there_are_enough_rows() -> None:
    assert len(ROWS) >= 30
    assert len({row[0] for row in ROWS}) == len(ROWS)


@pytest.mark.parametrize(("text", "chef", "ops", "metric", "track", "direction"), ROWS,
                         ids=[row[0] for row in ROWS])
async def test_feedback_moves_the_measured_metric(base: dict[str, Any], text: str, chef: str,
                                                  ops: set[str], metric: str, track: str,
                                                  direction: str) -> None:
    spec, before = base["spec"], base["result"]["measurements"]
    patch = await _consult(text, spec, before)
    assert patch.chef == chef, (text, patch.chef)
    assert {type(op).__name__ for op in patch.ops} == ops, (text, patch.ops)
    assert patch.expected, f"{text!r}: {patch.chef} promised nothing measurable"
    new_spec = apply_patch(spec, patch)
    after = _render(new_spec, base, f"row{ROWS.index(next(r for r in ROWS if r[0] == text))}")[
        "measurements"]

    lines = card_lines(patch.expected, before=before, after=after)
    assert lines and all(line.met for line in lines), (text, [
        (line.text, line.metric, line.track, line.before, line.after, line.met) for line in lines])

    if direction == "rises":
        values = after["centroid_by_bar"][track]
        assert values[-1] > values[0], (text, values)
        return
    b, a = metric_value(before, metric, track), metric_value(after, metric, track)
    assert b is not None and a is not None, (text, metric, track)
    assert (a > b) if direction == "up" else (a < b), (text, metric, track, b, a)


def test_renders_shared_the_cache(base: dict[str, Any]) -> None:
    """A mix-only row re-renders no instrument: everything came from the base's cache."""
    spec = base["spec"]
    patch = CHEFS[CHEFS_BY_NAME["MixingChef"]].consult(
        spec=spec, request=Feedback(domain=CHEFS_BY_NAME["MixingChef"], aspect=Aspect.LEVEL,
                                    direction="down", target="bass", amount=5.0,
                                    text="bass 5 dB too loud"),
        measurements=base["result"]["measurements"], genre=GENRE)
    result = _render(apply_patch(spec, patch), base, "cache-check")
    assert result["cache"]["rendered"] == []
    assert result["cache"]["mixed"] == ["bass"]


CHEFS_BY_NAME = {chef.name: domain for domain, chef in CHEFS.items()}

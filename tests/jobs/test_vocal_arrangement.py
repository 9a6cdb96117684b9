"""The song's vocal through a remix: heard wherever the plan puts it, its hook in every drop, in
the production's key, and drawn as it sounds.

Three generated songs of 26–30 s with a sung vocal, in three keys and both modes, are remixed
with "keep the lyrics" into the key the genre suggests for them (the planner's own suggestion,
as the Maestro makes it) and rendered once for the module, each in six short sections. The
songs' vocal is lifted 12 dB over the demo song's (which sings around −32 dBFS, low for a pop
mix whose vocal stem sings near −20): the check is that the remix sings, not that a quiet
synthetic voice clears −40 dBFS.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from chefs import all_chefs, load_genres
from core.brief import Brief, Param, Provenance, VocalTreatment, Workflow
from core.genre import GenreProfile
from core.music import Key, Mode, parse_key
from core.patch import apply_patch
from core.planner import base_spec
from core.replies import suggest_key_bpm
from core.spec import ProductionSpec
from jobs.audio_io import ENGINE_SAMPLE_RATE, write_wav
from jobs.demo_song import DEMO_TEMPO_BPM, demo_sections, render_demo_stems
from jobs.melody_key import melody, melody_key
from jobs.picture import lane_activity
from jobs.render import RenderPayload, render_spec

pytestmark = pytest.mark.slow  # renders three remixes

GENRES = {g.id: g for g in load_genres()}
AUDIBLE_DB = -40.0  #: a bar whose RMS is above this is heard
SILENT_DB = -60.0

SONGS = [  # genre, the song's key, its length, the bars of each section (intro … outro)
    ("afro_house", Key(tonic=9, mode=Mode.MAJOR), 28.0, [4, 4, 4, 4, 4, 8]),
    ("deep_house", Key(tonic=11, mode=Mode.MINOR), 26.0, [4, 4, 4, 4, 4, 4]),
    ("techno", Key(tonic=2, mode=Mode.MINOR), 30.0, [4, 4, 4, 4, 4, 4]),
]
"""A major → Ab major for Afro House's F minor (−1), B minor → C minor for deep house (+1),
D minor → C minor for techno (−2): every vocal is moved. Afro House's outro is 8 bars, so its
tag (the hook once) leaves four planned bars silent, as the picture must show."""


@dataclass
class Remix:
    genre: GenreProfile
    song_key: Key
    song_s: float
    suggestion: str  #: what the Maestro says when it suggests the key
    spec: ProductionSpec
    result: dict[str, Any]
    vocal_db: np.ndarray  #: the rendered vocal track's RMS in each bar, dBFS

    @property
    def heard(self) -> dict[str, Any]:
        return dict(self.result["measurements"]["vocal"])

    def bars_of(self, *kinds: str) -> list[tuple[str, int, int]]:
        return [(s.name, first, last) for s, first, last in self.spec.section_bars()
                if s.kind in kinds]


def _bar_levels(path: Path, spec: ProductionSpec) -> np.ndarray:
    audio, rate = sf.read(path, dtype="float64", always_2d=True)
    bar = spec.bar_s * rate
    return np.array([10 * np.log10(max(float(np.mean(audio[round(i * bar):round((i + 1) * bar)]
                                                       ** 2)), 1e-12))
                     for i in range(spec.total_bars)])


def _remix(tmp: Path, cache: Path, genre_id: str, song_key: Key, song_s: float,
           bars: list[int]) -> Remix:
    stems = {name: str(write_wav(tmp / "stems" / f"{name}.wav", audio,
                                 sample_rate=ENGINE_SAMPLE_RATE))
             for name, audio in render_demo_stems(duration_s=song_s, tonic=song_key.tonic,
                                                  mode=song_key.mode.value, vocal_db=12.0).items()}
    genre = GENRES[genre_id]
    user, suggested = Provenance.USER, Provenance.SUGGESTED
    brief = Brief(workflow=Param(value=Workflow.REMIX, source=user),
                  genre=Param(value=genre_id, source=user),
                  key=Param(value=genre.key_near(song_key), source=suggested),
                  bpm=Param(value=genre.default_bpm, source=suggested),
                  vocal=Param(value=VocalTreatment(), source=user),  # keep the lyrics
                  structure=Param(value=[(s.kind, b) for s, b in zip(genre.structure, bars,
                                                                     strict=True)],
                                  source=user))
    suggestion = suggest_key_bpm(brief, genre, song_key=song_key)
    spec = base_spec(production_id=f"arrangement:{genre_id}", brief=brief, genre=genre,
                     source_key=song_key, source_tempo_bpm=DEMO_TEMPO_BPM, stems=stems)
    for chef in all_chefs():
        patch = chef.plan(brief=brief, spec=spec, genre=genre)
        if patch is not None:
            spec = apply_patch(spec, patch)
    result = render_spec(RenderPayload(spec=spec, stems=stems, out_dir=str(tmp / "out"),
                                       cache_dir=str(cache)), lambda fraction, step: None)
    out = Path(result["artifacts"]["master.flac"]).parent
    return Remix(genre, song_key, song_s, suggestion, spec, result,
                 _bar_levels(_vocal_track(out), spec))


def _vocal_track(out: Path) -> Path:
    """The render's vocal track: FLAC, or a float WAV when louder than full scale."""
    (path,) = [p for p in (out / "tracks").glob("vocals.*") if p.suffix in (".flac", ".wav")]
    return path


@pytest.fixture(scope="module")
def remixes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Remix]]:
    """The three remixes, rendered once for the module (one shared render cache)."""
    tmp = tmp_path_factory.mktemp("arranged")
    yield [_remix(tmp / genre, tmp / "cache", genre, key, seconds, bars)
           for genre, key, seconds, bars in SONGS]
    shutil.rmtree(tmp, ignore_errors=True)


def test_the_vocal_is_heard_in_the_bars_the_plan_gives_it(remixes: list[Remix]) -> None:
    for remix in remixes:
        placed = sorted({bar for p in remix.heard["placements"]
                         for bar in range(p["bar"], p["bar"] + p["bars"])})
        sections = {s.kind for s, _, _ in remix.spec.section_bars() if "vocals" in s.layers}
        assert {"build", "drop", "outro"} <= sections  # a remix sings beyond the song's length
        assert len(placed) >= 20, remix.genre.id
        heard = remix.vocal_db[np.array(placed) - 1] > AUDIBLE_DB
        assert heard.mean() >= 0.8, (remix.genre.id, np.round(remix.vocal_db).tolist())
        # and nowhere else: outside its placements the vocal track is silent
        others = [b for b in range(1, remix.spec.total_bars + 1) if b not in placed]
        assert all(remix.vocal_db[b - 1] < SILENT_DB for b in others), remix.genre.id


def test_the_hook_is_found_in_the_song_and_sung_in_every_drop(remixes: list[Remix]) -> None:
    for remix in remixes:
        chorus = demo_sections(remix.song_s)["chorus"]
        first, last = remix.heard["hook"]  # the song's bars, from 1
        assert chorus[0] + 1 <= first and last <= chorus[1], (remix.genre.id, first, last)
        hook_by_bar = remix.result["measurements"]["tracks"]["vocals"]["hook_by_bar"]
        drops = remix.bars_of("drop", "chorus")
        assert len(drops) == 2
        for name, start, end in drops:
            parts = {p["part"] for p in remix.heard["placements"] if start <= p["bar"] <= end}
            assert parts == {"hook"}, (remix.genre.id, name)
            heard = hook_by_bar[start - 1:end]  # recognised from the rendered track's notes
            assert sum(heard) >= 0.75 * len(heard), (remix.genre.id, name, heard)
        # the breakdown sings the song's other phrases, not the hook
        (_, start, end), = remix.bars_of("breakdown")
        assert {p["part"] for p in remix.heard["placements"] if start <= p["bar"] <= end} \
            == {"verse"}
        assert sum(hook_by_bar[start - 1:end]) == 0


def test_the_processed_vocal_sits_in_the_production_key(remixes: list[Remix]) -> None:
    for remix in remixes:
        heard, key = remix.heard, remix.spec.key
        assert heard["fits"] is True and parse_key(heard["key"]).fits(key), (heard["key"], key)
        # read again, independently, from the finished vocal track
        out = Path(remix.result["artifacts"]["master.flac"]).parent
        audio, rate = sf.read(_vocal_track(out), dtype="float32", always_2d=True)
        reading = melody_key(melody(audio.T, sample_rate=rate))
        assert reading is not None and reading.key.fits(key), (remix.genre.id, reading)
        # the shift said in the suggestion is the one applied
        said = re.search(r"([+-]\d+) semitones?\)", remix.suggestion)
        assert said is not None, remix.suggestion
        assert int(said[1]) == heard["applied_shift"] == heard["planned_shift"] != 0
        assert remix.result["mismatches"] == []


def test_the_picture_draws_the_vocal_where_it_sounds(remixes: list[Remix]) -> None:
    afro = remixes[0]
    levels = {name: numbers["level_by_bar_db"]
              for name, numbers in afro.result["measurements"]["tracks"].items()}
    lane = lane_activity(afro.spec, levels)["vocals"]
    silent = [b for b in range(afro.spec.total_bars) if afro.vocal_db[b] < SILENT_DB]
    sounding = [b for b in range(afro.spec.total_bars) if afro.vocal_db[b] > AUDIBLE_DB]
    assert silent and sounding
    assert not any(lane[b] for b in silent)
    assert all(lane[b] for b in sounding)
    # the outro plans the vocal for 8 bars and its tag sings 4: the other 4 are drawn empty
    (_, start, end), = afro.bars_of("outro")
    assert lane[start - 1:end] == [True] * 4 + [False] * 4

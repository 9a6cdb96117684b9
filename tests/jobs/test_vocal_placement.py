"""Placing the song's phrases through the arrangement: on bar lines, by each section's part,
looped when the song is shorter, with fades at the edges; a change of what the vocal sings
re-renders the vocal alone; the picture's lanes follow what was measured. No rendering."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

from core.music import Key, Mode
from core.patch import SetVocalParts, SpecPatch, apply_patch
from core.spec import (
    PatternSpec,
    ProductionSpec,
    Section,
    TrackSpec,
    VocalProcessing,
    VoiceSpec,
)
from jobs.picture import PICTURE_SIZE_PX, arrangement_png, lane_activity
from jobs.render import RenderPayload, _Cache, _layout, _raw_recipe, transitions_track
from jobs.vocal_arrangement import Phrase, Phrases, arrange, place

SR = 8000  # placement is sample arithmetic: a low rate keeps the arrays small


def _spec(*, outro_bars: int = 8) -> ProductionSpec:
    sections = [("intro", 4, []), ("build", 4, ["vocals"]), ("drop", 8, ["vocals"]),
                ("breakdown", 8, ["vocals"]), ("drop", 8, ["vocals"]),
                ("breakdown", 4, ["vocals"]), ("outro", outro_bars, ["vocals"])]
    named: list[Section] = []
    for i, (kind, bars, layers) in enumerate(sections):
        named.append(Section(name=f"{kind} {i}", kind=kind, bars=bars,  # type: ignore[arg-type]
                             layers=["kick", *layers]))
    return ProductionSpec(
        title="t", genre="house", tempo_bpm=120, key=Key(tonic=9, mode=Mode.MINOR),
        source_tempo_bpm=120, sections=named, vocal=VocalProcessing(),
        tracks=[TrackSpec(name="kick", role="kick", source="pattern",
                          pattern=PatternSpec(style="four_on_the_floor_kick"),
                          voice=VoiceSpec(name="kick_house")),
                TrackSpec(name="vocals", role="vocals", source="stem", stem="vocals")])


def _phrases() -> Phrases:
    """A 14-bar song: verse phrases at bars 2–5 and 12–13, the hook at 7–10 (from 0)."""
    return Phrases(hook=Phrase(start=7, bars=4), others=(Phrase(2, 4), Phrase(12, 2)), bars=14,
                   features=np.zeros((14, 48)), family=frozenset(range(7, 11)))


def test_each_section_sings_its_part_on_the_bar_grid() -> None:
    spec = _spec()
    placements = arrange(spec, "vocals", _phrases())
    by_section = {}
    for section, first, last in spec.section_bars():
        inside = [p for p in placements if first <= p.bar <= last]
        assert all(p.bar + p.bars - 1 <= last for p in inside)  # never past its section
        by_section[section.name] = [(p.bar - first, p.bars, p.part, p.source.start)
                                    for p in inside]
    assert by_section["intro 0"] == []  # the vocal does not play there
    assert by_section["build 1"] == [(0, 4, "chops", 7)]  # chops of the hook
    assert by_section["drop 2"] == [(0, 4, "hook", 7), (4, 4, "hook", 7)]  # the hook, looped
    assert by_section["drop 4"] == [(0, 4, "hook", 7), (4, 4, "hook", 7)]
    # the verse phrases in the song's order, carrying on into the next breakdown
    assert by_section["breakdown 3"] == [(0, 4, "verse", 2), (4, 2, "verse", 12),
                                         (6, 2, "verse", 2)]
    assert by_section["breakdown 5"] == [(0, 2, "verse", 12), (2, 2, "verse", 2)]
    assert by_section["outro 6"] == [(0, 4, "tag", 7)]  # the hook once, then a clean tail


def test_chops_asked_instead_of_the_lyrics_replace_the_hook() -> None:
    placements = arrange(_spec(), "vocals", _phrases(), chops=True)
    assert {p.part for p in placements if p.bar in (9, 29)} == {"chops"}
    assert {p.part for p in placements if p.bar == 17} == {"verse"}


def test_phrases_land_on_their_bars_with_fades_at_the_edges() -> None:
    spec = _spec()
    bar = round(spec.bar_s * SR)
    song = np.ones((2, 14 * bar), dtype=np.float32)
    for b in range(14):
        song[:, b * bar:(b + 1) * bar] *= 0.1 + 0.05 * b  # each bar of the song its own level
    placements = [p for p in arrange(spec, "vocals", _phrases()) if p.part != "chops"]
    length = spec.total_bars * bar + SR
    out = place(song, placements, spec=spec, sample_rate=SR, length=length)
    for p in placements:
        at = (p.bar - 1) * bar
        middle = at + bar // 2
        assert out[0, middle] == np.float32(0.1 + 0.05 * p.source.start)  # the right bar
        assert abs(out[0, at]) < 1e-3 and out[0, at + round(0.012 * SR)] > 0.09  # fades in
        end = at + p.bars * bar
        assert abs(out[0, end - 1]) < 0.01  # and out, before the next bar line
    sung = {b for p in placements for b in range(p.bar, p.bar + p.bars)}
    silent = [b for b in range(1, spec.total_bars + 1) if b not in sung and b > 8]
    assert silent and all(not out[:, (b - 1) * bar:b * bar].any() for b in silent)


@pytest.mark.parametrize("parts", [{"breakdown 3": "hook"},  # "more of the hook"
                                   {"build 1": "none", "breakdown 3": "none",  # "vocal only
                                    "breakdown 5": "none", "outro 6": "none"}])  # in the drops"
def test_where_the_vocal_sings_re_renders_the_vocal_alone(tmp_path: Path,
                                                         parts: dict[str, str]) -> None:
    """What the vocal sings, or where, changes the vocal's cache key and no other track's: no
    drum is played again."""
    spec = _spec()
    after = apply_patch(spec, SpecPatch(chef="VocalChef", ops=[SetVocalParts(parts=parts)]))
    payload = RenderPayload(spec=spec, stems={"vocals": "/stems/vocals.wav"},
                            out_dir=str(tmp_path), cache_dir=str(tmp_path))
    cache = _Cache(tmp_path)

    def keys(s: ProductionSpec) -> dict[str, str]:
        out = {}
        for track in [*s.tracks, transitions_track(s)]:
            key, _ = _raw_recipe(track, s, payload, layout=_layout(s, track.name), length=1000,
                                 stem_hashes={"vocals": "abc"}, render_instrument=None,  # type: ignore[arg-type]
                                 generate_track=None, render_transitions=None,  # type: ignore[arg-type]
                                 cache=cache)
            out[track.name] = key
        return out

    before, changed = keys(spec), keys(after)
    assert {name for name in before if before[name] != changed[name]} == {"vocals"}


def test_the_picture_fills_a_lane_only_where_the_track_was_heard(tmp_path: Path) -> None:
    spec = _spec(outro_bars=4)
    total = spec.total_bars
    vocal = [-120.0] * total
    for bar in range(5, 37):  # heard in the build, drops and breakdowns; silent in the outro
        vocal[bar - 1] = -25.0
    activity = lane_activity(spec, {"vocals": vocal, "kick": [-20.0] * total})
    assert activity["vocals"] == [False] * 4 + [True] * 32 + [False] * 4
    assert activity["kick"] == [True] * total

    def pink(path: Path) -> np.ndarray:
        image = matplotlib.image.imread(str(path))[:, :, :3]
        r, g, b = image[..., 0], image[..., 1], image[..., 2]
        return ((r - g > 0.3) & (b - g > 0.15)).sum(axis=0)  # the vocal role's colour

    def column(bar: float) -> int:
        return round((0.15 + 0.78 * (bar - 1) / total) * PICTURE_SIZE_PX[0])

    planned = pink(arrangement_png(spec, tmp_path / "planned.png"))
    heard = pink(arrangement_png(spec, tmp_path / "heard.png", activity=activity))
    outro = slice(column(total - 2.5), column(total - 0.5))
    drop = slice(column(10.5), column(14.5))
    assert np.median(planned[outro]) > 20  # the plan alone draws the outro full
    assert np.median(heard[outro]) < 8  # measured silent: only the plan's dashed outline
    assert np.median(heard[drop]) > 20


@pytest.mark.parametrize("seconds", [26.0, 48.0])
def test_the_demo_songs_hook_is_its_chorus_from_its_first_bar(seconds: float) -> None:
    """The chorus repeats as often as the verse in the demo song, but it is sung higher over a
    new groove (four kicks, open hats): it is the hook, found from its first bar."""
    from jobs.demo_song import DEMO_TEMPO_BPM, demo_sections, render_demo_stems
    from jobs.melody_key import melody
    from jobs.vocal_arrangement import backing_bars, find_phrases

    sr = 22050
    stems = render_demo_stems(duration_s=seconds, sample_rate=sr)
    bar_s = 240.0 / DEMO_TEMPO_BPM
    backing = backing_bars(sum(stems[name].mean(axis=0) for name in ("drums", "bass", "other")),
                           bar_samples=round(bar_s * sr))
    phrases = find_phrases(stems["vocals"], melody(stems["vocals"], sample_rate=sr),
                           sample_rate=sr, bar_s=bar_s, backing=backing)
    chorus, verse = demo_sections(seconds)["chorus"], demo_sections(seconds)["verse"]
    assert (phrases.hook.start, phrases.hook.bars) == (chorus[0], 4)
    assert phrases.others and phrases.others[0].start == verse[0]  # the verse's own phrase
    assert all(verse[0] <= p.start < verse[1] for p in phrases.others)

"""Pattern generator: every genre's styles, layers, fills, swing, humanisation, chords, MIDI."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pretty_midi
import pytest

from core.music import Key, Mode, parse_key
from core.spec import PatternSpec, ProductionSpec, Section, TrackRole, TrackSpec, VoiceSpec
from jobs.patterns import (
    GM,
    TELECOTECO_STEPS,
    TOMS,
    chord_plan,
    generate_midi,
    generate_track,
    kick_times,
)

GENRE_FILES = sorted((Path(__file__).parents[2] / "chefs" / "genres").glob("*.toml"))
GENRES = {path.stem: tomllib.loads(path.read_text(encoding="utf-8")) for path in GENRE_FILES}


def _track(name: str, role: TrackRole, style: str, voice: str, **pattern: float) -> TrackSpec:
    return TrackSpec(name=name, role=role, source="pattern",
                     pattern=PatternSpec(style=style, **pattern), voice=VoiceSpec(name=voice))


def _spec(
    genre: dict, *, sections: list[Section] | None = None, key: str | None = None, seed: int = 0,
    humanize: bool = True, time_signature: tuple[int, int] = (4, 4),
) -> ProductionSpec:
    """A spec laid out as the planner does it: kick, drums, percussion, bass, music."""
    extra = {} if humanize else {"timing_humanize_ms": 0.0, "velocity_humanize": 0.0}
    tracks = [
        _track("kick", TrackRole.KICK, f"{genre['drum_grammar']}_kick", genre["kick_voice"],
               seed=seed, **extra),
        _track("drums", TrackRole.DRUMS, genre["drum_grammar"], "drum_kit", seed=seed + 1,
               swing=genre["swing"], **extra),
        _track("percussion", TrackRole.PERCUSSION, genre["percussion"], "percussion_kit",
               seed=seed + 2, swing=genre["swing"], **extra),
        _track("bass", TrackRole.BASS, genre["bass_style"], genre["bass_voice"], seed=seed + 3,
               **extra),
        _track("music", TrackRole.MUSIC, "chords", "pad", seed=seed + 4, **extra),
    ]
    everyone = [t.name for t in tracks]
    sections = sections or [
        Section(name="build", kind="build", bars=4, layers=everyone, energy=0.6),
        Section(name="drop", kind="drop", bars=4, layers=everyone, energy=1.0),
    ]
    return ProductionSpec(title="test", genre=genre["id"], tempo_bpm=genre["default_bpm"],
                          key=parse_key(key or genre["keys"][0]), seed=seed, sections=sections,
                          tracks=tracks, time_signature=time_signature)


def _notes(spec: ProductionSpec, name: str) -> list[pretty_midi.Note]:
    track = spec.track(name)
    assert track is not None
    return generate_track(spec, track).notes


def _step_s(spec: ProductionSpec) -> float:
    return 60.0 / spec.tempo_bpm / 4


def _styles_in_genre_files() -> list[tuple[str, str, TrackRole]]:
    styles = {}
    for genre in GENRES.values():
        styles[genre["drum_grammar"]] = (genre["id"], TrackRole.DRUMS)
        styles[f"{genre['drum_grammar']}_kick"] = (genre["id"], TrackRole.KICK)
        styles[genre["percussion"]] = (genre["id"], TrackRole.PERCUSSION)
        styles[genre["bass_style"]] = (genre["id"], TrackRole.BASS)
    styles["chords"] = ("pop", TrackRole.MUSIC)
    return [(style, genre, role) for style, (genre, role) in sorted(styles.items())]


def test_the_genre_files_are_all_read() -> None:
    assert len(GENRES) >= 14
    assert len(_styles_in_genre_files()) >= 40


@pytest.mark.parametrize(("style", "genre", "role"), _styles_in_genre_files())
def test_every_style_named_in_the_genre_files_is_implemented(
    style: str, genre: str, role: TrackRole
) -> None:
    spec = _spec(GENRES[genre])
    track = next(t for t in spec.tracks if t.role is role)
    assert track.pattern is not None
    track = track.model_copy(update={"pattern": track.pattern.model_copy(update={"style": style})})
    instrument = generate_track(spec, track)
    bars_per_note = spec.total_bars / max(1, len(instrument.notes))
    assert len(instrument.notes) >= spec.total_bars  # at least a note a bar
    assert bars_per_note <= 1
    assert instrument.is_drum == (role in (TrackRole.KICK, TrackRole.DRUMS, TrackRole.PERCUSSION))
    bar_s = 16 * _step_s(spec)
    assert all(0 <= n.start < spec.total_bars * bar_s and n.end > n.start for n in instrument.notes)


def test_an_unknown_style_is_refused_with_the_known_ones() -> None:
    spec = _spec(GENRES["house"])
    track = _track("drums", TrackRole.DRUMS, "polka", "drum_kit")
    with pytest.raises(ValueError, match="four_on_the_floor"):
        generate_track(spec, track)


def test_same_seed_same_notes_other_seed_other_notes() -> None:
    def signature(seed: int) -> list[tuple]:
        midi = generate_midi(_spec(GENRES["afro_house"], seed=seed))
        return [(i.name, n.pitch, n.velocity, round(n.start, 6), round(n.end, 6))
                for i in midi.instruments for n in i.notes]

    assert signature(3) == signature(3)
    assert signature(3) != signature(4)


def test_notes_appear_only_in_sections_whose_layers_name_the_track() -> None:
    genre = GENRES["afro_house"]
    sections = [
        Section(name="intro", kind="intro", bars=4, layers=["kick", "percussion"]),
        Section(name="build", kind="build", bars=2, layers=["kick", "drums", "music"]),
        Section(name="drop", kind="drop", bars=4, layers=["kick", "drums", "percussion", "bass",
                                                             "music"]),
        Section(name="breakdown", kind="breakdown", bars=2, layers=["music"]),
        Section(name="outro", kind="outro", bars=2, layers=["percussion", "bass"]),
    ]
    spec = _spec(genre, sections=sections)
    bar_s = 16 * _step_s(spec)
    for track in spec.tracks:
        allowed = {bar for section, first, last in spec.section_bars()
                   if track.name in section.layers for bar in range(first, last + 1)}
        # a downbeat humanised a few ms early still belongs to the bar it starts
        played = {int((n.start + 0.01) // bar_s) + 1 for n in _notes(spec, track.name)}
        assert played == allowed, track.name


def test_afro_house_percussion_plays_the_telecoteco_figure_every_bar() -> None:
    spec = _spec(GENRES["afro_house"], humanize=False)
    spec.tracks[2].pattern.swing = 0.0  # type: ignore[union-attr]
    step_s = _step_s(spec)
    tamborim = [n for n in _notes(spec, "percussion") if n.pitch == GM.TAMBORIM]
    for bar in range(spec.total_bars):
        steps = sorted(round(n.start / step_s) - 16 * bar for n in tamborim
                       if bar * 16 * step_s <= n.start < (bar + 1) * 16 * step_s)
        assert tuple(steps) == TELECOTECO_STEPS == (0, 3, 5, 7, 10, 12, 14)


def test_the_telecoteco_swings_with_the_groove() -> None:
    spec = _spec(GENRES["afro_house"], humanize=False)  # swing 0.12 from the genre
    step_s = _step_s(spec)
    first_bar = [n.start for n in _notes(spec, "percussion")
                 if n.pitch == GM.TAMBORIM and n.start < 16 * step_s]
    expected = [s * step_s + (0.12 * step_s if s % 2 else 0.0) for s in TELECOTECO_STEPS]
    assert first_bar == pytest.approx(expected, abs=1e-6)


def test_drum_fills_play_in_the_last_bar_of_each_section_only() -> None:
    spec = _spec(GENRES["house"], sections=[
        Section(name="a", kind="build", bars=4, layers=["drums"], energy=0.5),
        Section(name="b", kind="drop", bars=8, layers=["drums"], energy=1.0),
        Section(name="c", kind="outro", bars=4, layers=["drums"], energy=0.3),
    ])
    bar_s = 16 * _step_s(spec)
    tom_bars = {int(n.start // bar_s) + 1 for n in _notes(spec, "drums") if n.pitch in TOMS}
    assert tom_bars == {4, 12, 16}
    crash_bars = {round(n.start / bar_s) + 1 for n in _notes(spec, "drums")
                  if n.pitch == GM.CRASH}
    assert crash_bars == {5, 13}  # the downbeat after each fill
    # the kick and percussion tracks carry no fills
    spec_all = _spec(GENRES["house"])
    for name in ("kick", "percussion"):
        assert not any(n.pitch in TOMS for n in _notes(spec_all, name))


@pytest.mark.parametrize("swing", [0.0, 0.1, 0.25, 0.5])
def test_swing_delays_off_beat_sixteenths_by_that_fraction_of_a_sixteenth(swing: float) -> None:
    spec = _spec(GENRES["deep_house"], humanize=False)
    spec.tracks[2].pattern.swing = swing  # type: ignore[union-attr]
    spec.tracks[2].pattern.density = 1.0  # type: ignore[union-attr]
    step_s = _step_s(spec)
    offsets: dict[int, list[float]] = {0: [], 1: []}
    for note in _notes(spec, "percussion"):
        x = note.start / step_s
        on_grid = abs(x - round(x)) < 1e-6 and round(x) % 2 == 0
        step = round(x) if on_grid else round(x - swing)
        offsets[step % 2].append(note.start - step * step_s)
    assert offsets[0] == pytest.approx([0.0] * len(offsets[0]), abs=1e-6)
    assert len(offsets[1]) >= 4 * spec.total_bars
    assert offsets[1] == pytest.approx([swing * step_s] * len(offsets[1]), abs=1e-6)


def test_timing_and_velocity_humanisation_stay_within_their_bounds() -> None:
    spec = _spec(GENRES["techno"])
    spec.tracks[0].pattern = PatternSpec(style="techno_kick", timing_humanize_ms=10,
                                         velocity_humanize=0.3, density=0.0)
    step_s = _step_s(spec)
    kicks = _notes(spec, "kick")
    deviations = [n.start - round(n.start / (4 * step_s)) * 4 * step_s for n in kicks]
    assert max(abs(d) for d in deviations) <= 0.010 + 1e-9
    assert np.std(deviations) > 0.002
    assert len({n.velocity for n in kicks}) > 5


def test_density_adds_optional_layers() -> None:
    def count(density: float) -> int:
        spec = _spec(GENRES["house"])
        spec.tracks[1].pattern.density = density  # type: ignore[union-attr]
        return len(_notes(spec, "drums"))

    assert count(0.0) < count(0.5) < count(1.0)


def test_trap_hats_roll() -> None:
    spec = _spec(GENRES["trap"], humanize=False)
    step_s = _step_s(spec)
    hats = [n.start for n in _notes(spec, "drums") if n.pitch == GM.HAT_CLOSED]
    gaps = np.diff(sorted(hats))
    assert np.min(gaps) < 0.7 * step_s  # faster than sixteenths: a roll
    assert np.sum(gaps < 0.7 * step_s) >= spec.total_bars  # at least one roll a bar


@pytest.mark.parametrize("mode", [Mode.MAJOR, Mode.MINOR])
@pytest.mark.parametrize("seed", range(4))
def test_chord_plan_is_diatonic_and_starts_and_ends_on_the_tonic(mode: Mode, seed: int) -> None:
    scale = (0, 2, 4, 5, 7, 9, 11) if mode is Mode.MAJOR else (0, 2, 3, 5, 7, 8, 10)
    for tonic in range(12):
        key = Key(tonic=tonic, mode=mode)
        spec = _spec(GENRES["pop"], seed=seed).model_copy(update={"key": key})
        plan = chord_plan(spec)
        assert len(plan) == spec.total_bars
        tonic_triad = {tonic, (tonic + (4 if mode is Mode.MAJOR else 3)) % 12, (tonic + 7) % 12}
        assert set(plan[0].pitch_classes) == tonic_triad == set(plan[-1].pitch_classes)
        notes = {pc for chord in plan for pc in chord.pitch_classes}
        assert notes <= {(tonic + s) % 12 for s in scale}  # natural minor: no raised seventh
        assert len({c.root for c in plan}) >= 3


def test_each_section_restarts_the_progression() -> None:
    spec = _spec(GENRES["house"], seed=1)
    plan = chord_plan(spec)
    assert plan[0] == plan[4]
    assert plan[1:4] == plan[5:8] or plan[7] == plan[0]  # the last bar comes home


@pytest.mark.parametrize("genre", sorted(GENRES))
def test_bass_lines_follow_the_chord_of_each_bar(genre: str) -> None:
    spec = _spec(GENRES[genre], key="Am" if genre != "pop" else "C")
    bar_s = 16 * _step_s(spec)
    plan = chord_plan(spec)
    notes = _notes(spec, "bass")
    scale = {(spec.key.tonic + s) % 12 for s in ((0, 2, 3, 5, 7, 8, 10) if
                                                spec.key.mode is Mode.MINOR else (0, 2, 4, 5, 7, 9, 11))}
    for bar, chord in enumerate(plan):
        in_bar = [n for n in notes if bar * bar_s - 0.02 <= n.start < (bar + 1) * bar_s - 0.02]
        assert in_bar, f"bar {bar + 1} has no bass"
        assert in_bar[0].pitch % 12 == chord.root  # each bar's line starts on its root
        assert all(n.pitch % 12 in scale for n in in_bar)
        assert all(28 <= n.pitch <= 60 for n in in_bar)


def test_chords_voice_the_plan_with_smooth_voice_leading() -> None:
    spec = _spec(GENRES["pop"], key="C", humanize=False)
    bar_s = 16 * _step_s(spec)
    plan = chord_plan(spec)
    notes = _notes(spec, "music")
    previous: list[int] | None = None
    for bar, chord in enumerate(plan):
        voicing = sorted(n.pitch for n in notes if abs(n.start - bar * bar_s) < 1e-6)
        assert {p % 12 for p in voicing} == set(chord.pitch_classes)
        assert all(53 <= p <= 79 for p in voicing)
        if previous is not None:
            assert sum(abs(a - b) for a, b in zip(voicing, previous, strict=True)) <= 7
        previous = voicing


def test_generate_midi_sets_the_tempo_and_round_trips_through_a_file(tmp_path: Path) -> None:
    spec = _spec(GENRES["uk_garage"])
    midi = generate_midi(spec)
    assert [i.name for i in midi.instruments] == ["kick", "drums", "percussion", "bass", "music"]
    assert [i.is_drum for i in midi.instruments] == [True, True, True, False, False]
    _, tempi = midi.get_tempo_changes()
    assert tempi[0] == pytest.approx(spec.tempo_bpm, rel=1e-4)
    path = tmp_path / "song.mid"
    midi.write(str(path))
    back = pretty_midi.PrettyMIDI(str(path))
    assert [len(i.notes) for i in back.instruments] == [len(i.notes) for i in midi.instruments]
    assert back.get_tempo_changes()[1][0] == pytest.approx(spec.tempo_bpm, rel=1e-4)
    assert back.time_signature_changes[0].numerator == 4


def test_three_four_bars_are_three_beats_long() -> None:
    spec = _spec(GENRES["house"], humanize=False, time_signature=(3, 4))
    spec.tracks[0].pattern.density = 0.0  # type: ignore[union-attr]
    kicks = kick_times(spec)
    beat_s = 60.0 / spec.tempo_bpm
    assert len(kicks) == 3 * spec.total_bars
    assert np.allclose(np.diff(kicks), beat_s)


def test_kick_times_are_the_kick_tracks_hits() -> None:
    spec = _spec(GENRES["house"], sections=[
        Section(name="intro", kind="intro", bars=2, layers=["drums"]),
        Section(name="drop", kind="drop", bars=4, layers=["kick", "drums"], energy=0.5),
    ])
    times = kick_times(spec)
    track = spec.track("kick")
    assert track is not None
    assert np.array_equal(times, sorted(n.start for n in generate_track(spec, track).notes))
    bar_s = 16 * _step_s(spec)
    assert len(times) >= 16 and times[0] >= 2 * bar_s - 0.02  # four a bar, from the drop
    no_kick = spec.model_copy(update={"tracks": spec.tracks[1:]})
    assert kick_times(no_kick).size == 0

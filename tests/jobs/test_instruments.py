"""Instrument renderer: generated parts played on the vault read back at the spec's tempo and key."""

from __future__ import annotations

import numpy as np
import pretty_midi
import pytest

from chefs.genre import genre_by_id
from core.brief import Brief
from core.music import parse_key
from core.planner import base_spec
from core.spec import ProductionSpec, Section, Transition, VoiceSpec
from jobs.instruments import render_instrument, render_transitions
from jobs.key import estimate_key
from jobs.patterns import GM, generate_track
from jobs.tempo import estimate_beat_grid

SR = 44100


def _short_spec(genre_id: str, *, key: str | None = None, bars: int = 8) -> ProductionSpec:
    """The planner's first spec for the genre, cut to a build and a drop of ``bars`` in all."""
    spec = base_spec(production_id=f"test-{genre_id}", brief=Brief(), genre=genre_by_id(genre_id),
                     source_key=None, source_tempo_bpm=None, stems={})
    drop = next(s for s in spec.sections if s.kind in ("drop", "chorus"))
    layers = [t.name for t in spec.tracks]
    sections = [
        Section(name="build", kind="build", bars=bars // 2, layers=layers, energy=0.7),
        drop.model_copy(update={"bars": bars - bars // 2, "layers": layers}),
    ]
    update: dict = {"sections": sections}
    if key is not None:
        update["key"] = parse_key(key)
    return spec.model_copy(update=update)


def _duration_s(spec: ProductionSpec) -> float:
    return spec.total_bars * 4 * 60.0 / spec.tempo_bpm


def _render(spec: ProductionSpec, *names: str) -> np.ndarray:
    """The named tracks rendered and summed (stereo)."""
    out = np.zeros((2, round(_duration_s(spec) * SR)), dtype=np.float32)
    for name in names:
        track = spec.track(name)
        assert track is not None and track.voice is not None
        out += render_instrument(generate_track(spec, track), track.voice,
                                 duration_s=_duration_s(spec), sample_rate=SR, seed=1)
    return out


def _part(*notes: tuple[int, float, float], is_drum: bool = True) -> pretty_midi.Instrument:
    part = pretty_midi.Instrument(program=0, is_drum=is_drum)
    part.notes = [pretty_midi.Note(100, pitch, start, end) for pitch, start, end in notes]
    return part


def test_output_is_stereo_float32_of_the_requested_length_and_below_full_scale() -> None:
    spec = _short_spec("afro_house")
    for track in spec.tracks:
        assert track.voice is not None
        audio = render_instrument(generate_track(spec, track), track.voice, duration_s=7.3,
                                  sample_rate=SR)
        assert audio.shape == (2, round(7.3 * SR)) and audio.dtype == np.float32
        assert 0.1 < np.max(np.abs(audio)) < 1.0, track.name


def test_hits_land_on_their_notes() -> None:
    voice = VoiceSpec(name="kick_punchy")
    kick = render_instrument(_part((GM.KICK, 0.5, 0.6)), voice, duration_s=2.0, sample_rate=SR)
    both = render_instrument(_part((GM.KICK, 0.5, 0.6), (GM.SNARE, 1.25, 1.3)), voice,
                             duration_s=2.0, sample_rate=SR)
    assert not kick[:, : round(0.5 * SR)].any()
    assert np.abs(kick[:, round(0.5 * SR): round(0.5 * SR) + 10]).max() > 0
    snare = np.abs(both - kick).sum(axis=0)
    assert np.argmax(snare > 0) == pytest.approx(1.25 * SR, abs=1)


def test_a_kick_voice_plays_its_own_kick() -> None:
    part = _part((GM.KICK, 0.0, 0.1))
    deep = render_instrument(part, VoiceSpec(name="kick_deep"), duration_s=0.5, sample_rate=SR)
    hard = render_instrument(part, VoiceSpec(name="kick_hard"), duration_s=0.5, sample_rate=SR)
    assert not np.allclose(deep, hard)


def test_the_percussion_kit_plays_a_surdo_where_the_drum_kit_plays_a_floor_tom() -> None:
    part = _part((GM.FLOOR_TOM, 0.0, 0.1))
    tom = render_instrument(part, VoiceSpec(name="drum_kit"), duration_s=1.0, sample_rate=SR)
    surdo = render_instrument(part, VoiceSpec(name="percussion_kit"), duration_s=1.0,
                              sample_rate=SR)

    def f0(x: np.ndarray) -> float:
        spectrum = np.abs(np.fft.rfft(x[0]))
        return float(np.argmax(spectrum) * SR / x.shape[1])

    assert f0(surdo) < 80 < f0(tom)


def test_hats_sit_off_centre_and_the_kick_in_the_middle() -> None:
    kit = VoiceSpec(name="drum_kit")
    hat = render_instrument(_part((GM.HAT_CLOSED, 0.0, 0.1)), kit, duration_s=0.3, sample_rate=SR)
    kick = render_instrument(_part((GM.KICK, 0.0, 0.1)), kit, duration_s=0.3, sample_rate=SR)
    assert np.abs(hat[1]).sum() > 1.3 * np.abs(hat[0]).sum()
    assert np.allclose(kick[0], kick[1])


def test_same_seed_same_audio_other_seed_other_audio() -> None:
    spec = _short_spec("house", bars=4)
    track = spec.track("drums")
    assert track is not None and track.voice is not None
    part = generate_track(spec, track)
    a = render_instrument(part, track.voice, duration_s=4.0, sample_rate=SR, seed=3)
    b = render_instrument(part, track.voice, duration_s=4.0, sample_rate=SR, seed=3)
    c = render_instrument(part, track.voice, duration_s=4.0, sample_rate=SR, seed=4)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_melodic_notes_sound_at_their_pitch_and_stop_after_their_release() -> None:
    part = _part((57, 0.0, 0.5), is_drum=False)  # A3, 220 Hz
    audio = render_instrument(part, VoiceSpec(name="keys"), duration_s=2.0, sample_rate=SR)
    held = audio[0, round(0.05 * SR): round(0.45 * SR)]
    spectrum = np.abs(np.fft.rfft(held * np.hanning(held.size), 8 * held.size))
    assert np.argmax(spectrum) * SR / (8 * held.size) == pytest.approx(220.0, rel=0.02)
    assert np.max(np.abs(audio[:, round(1.2 * SR):])) < 1e-3


def test_an_unknown_voice_is_refused() -> None:
    with pytest.raises(ValueError, match="percussion_kit"):
        render_instrument(_part((GM.KICK, 0.0, 0.1)), VoiceSpec(name="banjo"), duration_s=1.0,
                          sample_rate=SR)


# genres whose rendered drums read at the spec's tempo; trap and dubstep are written in half
# time (snare on beat 3) and read as such by the tempo estimator, which offers the alternative
TEMPO_GENRES = ["afro_house", "amapiano", "deep_house", "drum_and_bass", "house", "techno",
                "nu_disco", "pop", "uk_garage", "lofi_hip_hop"]


@pytest.mark.parametrize("genre", TEMPO_GENRES)
def test_rendered_drums_read_at_the_spec_tempo(genre: str) -> None:
    spec = _short_spec(genre)
    drums = _render(spec, "kick", "drums", "percussion").mean(axis=0)
    grid = estimate_beat_grid(drums, sample_rate=SR)
    assert grid.bpm == pytest.approx(spec.tempo_bpm, abs=0.5)


@pytest.mark.parametrize("genre", ["dubstep", "trap"])
def test_half_time_grooves_offer_the_spec_tempo_as_the_alternative(genre: str) -> None:
    spec = _short_spec(genre)
    grid = estimate_beat_grid(_render(spec, "kick", "drums", "percussion").mean(axis=0),
                              sample_rate=SR)
    assert spec.tempo_bpm in (pytest.approx(grid.bpm, abs=0.5),
                              pytest.approx(grid.alternative_bpm, abs=0.5))


KEY_CASES = [
    ("afro_house", "Fm"), ("afro_house", "Am"), ("amapiano", "Dm"), ("deep_house", "Em"),
    ("drum_and_bass", "Gm"), ("lofi_hip_hop", "Ebm"), ("lofi_hip_hop", "F"), ("nu_disco", "C"),
    ("pop", "G"), ("pop", "Bb"), ("trap", "Cm"), ("house", "E"),
]


@pytest.mark.parametrize(("genre", "key"), KEY_CASES)
def test_rendered_music_and_bass_read_in_the_spec_key(genre: str, key: str) -> None:
    spec = _short_spec(genre, key=key)
    music = _render(spec, "music", "bass").mean(axis=0)
    assert estimate_key(music, sample_rate=SR).key == spec.key


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x**2))) if x.size else 0.0


def test_a_riser_ends_on_the_downbeat_its_target_section_starts() -> None:
    spec = _short_spec("house", bars=16)
    spec = spec.model_copy(update={"transitions": [Transition(kind="riser", start_bar=5, bars=4)]})
    fx = render_transitions(spec, sample_rate=SR)
    bar = round(4 * 60.0 / spec.tempo_bpm * SR)
    assert fx.shape == (2, round(16 * 4 * 60.0 / spec.tempo_bpm * SR))
    assert np.max(np.abs(fx[:, : 4 * bar])) == 0
    # bars 5-8 swell; bar 9 (from sample 8 · bar) is where the target section starts
    assert _rms(fx[:, 8 * bar - SR // 4: 8 * bar - 1]) > 4 * _rms(fx[:, 4 * bar: 5 * bar])
    assert np.max(np.abs(fx[:, 8 * bar + 2:])) == 0
    assert not np.allclose(fx[0], fx[1])  # noise risers are wide


def test_an_impact_hits_the_one_and_a_reverse_cymbal_swells_into_it() -> None:
    spec = _short_spec("techno", bars=16)
    spec = spec.model_copy(update={"transitions": [
        Transition(kind="impact", start_bar=9), Transition(kind="reverse_cymbal", start_bar=8),
    ]})
    fx = np.abs(render_transitions(spec, sample_rate=SR)).sum(axis=0)
    bar = 4 * 60.0 / spec.tempo_bpm * SR
    one = round(8 * bar)
    cymbal = fx[round(7 * bar): one]
    window = SR // 10
    levels = [_rms(cymbal[i: i + window]) for i in range(0, cymbal.size - window, window // 2)]
    assert _rms(cymbal[-window:]) >= 0.9 * max(levels)  # loudest right before the one
    assert _rms(cymbal[-window:]) > 3 * _rms(cymbal[: 3 * window])
    assert np.max(fx[one: one + SR // 10]) > 0.3
    assert _rms(fx[one: one + SR // 2]) > 3 * _rms(fx[one + 2 * SR: one + int(2.5 * SR)])


def test_no_transitions_is_a_silent_fx_track_of_the_song_length() -> None:
    spec = _short_spec("pop", bars=4)
    fx = render_transitions(spec, sample_rate=SR)
    assert fx.shape == (2, round(_duration_s(spec) * SR)) and not fx.any()

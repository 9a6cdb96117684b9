"""The sound vault: every voice sounds, its controls act audibly and measurably, names are checked."""

from __future__ import annotations

import numpy as np
import pytest

from core.spec import VoiceSpec
from jobs.vault import (
    BASS_VOICES,
    FX_KINDS,
    KICK_VOICES,
    MUSIC_VOICES,
    ONE_SHOTS,
    fx,
    one_shot,
    tone,
)

SR = 44100


def _centroid_hz(x: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(x))
    freqs = np.fft.rfftfreq(x.size, 1.0 / SR)
    return float((spectrum * freqs).sum() / spectrum.sum())


def _tail_s(x: np.ndarray, *, below_db: float = -40.0) -> float:
    """Time of the last sample within ``below_db`` of the peak: how long the sound rings."""
    level = np.abs(x)
    return float(np.flatnonzero(level > level.max() * 10 ** (below_db / 20))[-1] / SR)


def _f0_hz(x: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size), 8 * x.size))
    return float(np.argmax(spectrum) * SR / (8 * x.size))


@pytest.mark.parametrize("name", ONE_SHOTS)
def test_every_one_shot_sounds_within_full_scale(name: str) -> None:
    hit = one_shot(name, VoiceSpec(name="drum_kit"), velocity=1.0, sample_rate=SR)
    assert hit.dtype == np.float32 and hit.ndim == 1
    assert np.all(np.isfinite(hit))
    assert 0.2 < np.max(np.abs(hit)) <= 0.95
    assert abs(hit[-1]) < 1e-3  # ends without a click


@pytest.mark.parametrize("name", BASS_VOICES + MUSIC_VOICES)
def test_every_tonal_voice_plays_its_pitch(name: str) -> None:
    pitch = 45 if name in BASS_VOICES else 69  # A2 = 110 Hz, A4 = 440 Hz
    note = tone(VoiceSpec(name=name), pitch=pitch, duration_s=0.6, velocity=1.0, sample_rate=SR)
    assert note.dtype == np.float32 and np.all(np.isfinite(note))
    assert note.size >= 0.6 * SR and np.max(np.abs(note)) <= 0.95
    expected = 110.0 if name in BASS_VOICES else 440.0
    assert _f0_hz(note[int(0.05 * SR): int(0.45 * SR)]) == pytest.approx(expected, rel=0.03)


@pytest.mark.parametrize("name", KICK_VOICES)
def test_a_darker_kick_has_a_lower_spectral_centroid(name: str) -> None:
    centroids = [
        _centroid_hz(one_shot(name, VoiceSpec(name=name, brightness=b), velocity=1.0, sample_rate=SR))
        for b in (-0.8, 0.0, 0.8)
    ]
    assert centroids[0] < 0.7 * centroids[1] and centroids[2] > 1.3 * centroids[1]


@pytest.mark.parametrize("name", ["snare", "hat_closed", "conga_low", "clap"])
def test_brightness_moves_the_centroid_of_drums(name: str) -> None:
    dark, neutral, bright = (
        _centroid_hz(one_shot(name, VoiceSpec(name="drum_kit", brightness=b), velocity=1.0,
                              sample_rate=SR))
        for b in (-0.8, 0.0, 0.8)
    )
    assert dark < neutral < bright


@pytest.mark.parametrize("name", BASS_VOICES + MUSIC_VOICES)
def test_brightness_moves_the_centroid_of_tones(name: str) -> None:
    pitch = 40 if name in BASS_VOICES else 64
    dark, neutral, bright = (
        _centroid_hz(tone(VoiceSpec(name=name, brightness=b), pitch=pitch, duration_s=0.5,
                          velocity=1.0, sample_rate=SR))
        for b in (-0.8, 0.0, 0.8)
    )
    assert dark < neutral < bright


@pytest.mark.parametrize("name", ["kick_deep", "kick_punchy", "snare", "hat_open", "conga_low",
                                  "surdo", "clap"])
def test_decay_lengthens_the_tail_of_one_shots(name: str) -> None:
    short, neutral, long = (
        _tail_s(one_shot(name, VoiceSpec(name="drum_kit", decay=d), velocity=1.0, sample_rate=SR))
        for d in (-0.8, 0.0, 0.8)
    )
    assert short < 0.8 * neutral and long > 1.25 * neutral


@pytest.mark.parametrize("name", ["pad", "keys", "pluck", "808", "log_drum", "reese"])
def test_decay_lengthens_the_tail_of_tones(name: str) -> None:
    tails = [
        _tail_s(tone(VoiceSpec(name=name, decay=d), pitch=45, duration_s=0.2, velocity=1.0,
                     sample_rate=SR))
        for d in (-0.8, 0.0, 0.8)
    ]
    assert tails[0] < tails[1] < tails[2]


def test_drive_adds_harmonics_to_the_sub() -> None:
    def upper_share(drive: float) -> float:
        note = tone(VoiceSpec(name="sub", drive=drive), pitch=33, duration_s=0.5, velocity=1.0,
                    sample_rate=SR)
        power = np.abs(np.fft.rfft(note)) ** 2
        freqs = np.fft.rfftfreq(note.size, 1.0 / SR)
        return float(power[freqs > 100].sum() / power.sum())  # above the 55 Hz fundamental

    clean, driven = upper_share(0.0), upper_share(0.9)
    assert driven > 3 * clean


def test_velocity_scales_the_level() -> None:
    loud = one_shot("snare", VoiceSpec(name="drum_kit"), velocity=1.0, sample_rate=SR)
    soft = one_shot("snare", VoiceSpec(name="drum_kit"), velocity=0.5, sample_rate=SR)
    assert np.max(np.abs(soft)) == pytest.approx(0.5 * np.max(np.abs(loud)), rel=1e-4)


def test_one_shots_are_deterministic_and_variants_differ() -> None:
    voice = VoiceSpec(name="drum_kit")
    a = one_shot("hat_closed", voice, velocity=0.8, sample_rate=SR, variant=1)
    b = one_shot("hat_closed", voice, velocity=0.8, sample_rate=SR, variant=1)
    c = one_shot("hat_closed", voice, velocity=0.8, sample_rate=SR, variant=2)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_808_glides_into_its_note_from_the_previous_one() -> None:
    voice = VoiceSpec(name="808")
    slid = tone(voice, pitch=45, duration_s=0.6, velocity=1.0, sample_rate=SR, glide_from=33)
    early = _f0_hz(slid[: int(0.04 * SR)])
    late = _f0_hz(slid[int(0.3 * SR): int(0.5 * SR)])
    assert early < 0.8 * late
    assert late == pytest.approx(110.0, rel=0.03)


@pytest.mark.parametrize("kind", FX_KINDS)
def test_effects_have_their_length_and_are_seeded(kind: str) -> None:
    a = fx(kind, duration_s=2.0, sample_rate=SR, seed=1)
    b = fx(kind, duration_s=2.0, sample_rate=SR, seed=1)
    assert a.shape == (2 * SR,) and a.dtype == np.float32
    assert np.array_equal(a, b)
    assert 0.3 < np.max(np.abs(a)) <= 0.6
    if kind != "fill":  # the roll is the snare itself, no noise seed
        assert not np.array_equal(a, fx(kind, duration_s=2.0, sample_rate=SR, seed=2))


def _quarter_rms(x: np.ndarray) -> list[float]:
    return [float(np.sqrt(np.mean(q**2))) for q in np.array_split(x, 4)]


@pytest.mark.parametrize("kind", ["riser", "reverse_cymbal", "fill"])
def test_swelling_effects_peak_at_their_end(kind: str) -> None:
    quarters = _quarter_rms(fx(kind, duration_s=4.0, sample_rate=SR, seed=3))
    assert quarters[3] > 2 * quarters[0]


@pytest.mark.parametrize("kind", ["impact", "downlifter"])
def test_falling_effects_start_loud(kind: str) -> None:
    quarters = _quarter_rms(fx(kind, duration_s=4.0, sample_rate=SR, seed=3))
    assert quarters[0] > 2 * quarters[3]


def test_riser_sweeps_up_and_downlifter_sweeps_down() -> None:
    riser = fx("riser", duration_s=4.0, sample_rate=SR, seed=4)
    down = fx("downlifter", duration_s=4.0, sample_rate=SR, seed=4)
    assert _centroid_hz(riser[-SR // 2:]) > 2 * _centroid_hz(riser[SR: SR + SR // 2])
    assert _centroid_hz(down[: SR // 2]) > 2 * _centroid_hz(down[2 * SR: 2 * SR + SR // 2])


def test_unknown_names_are_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match="kick_deep"):
        one_shot("kick_huge", VoiceSpec(name="drum_kit"), velocity=1.0, sample_rate=SR)
    with pytest.raises(ValueError, match="reese"):
        tone(VoiceSpec(name="kazoo"), pitch=60, duration_s=0.2, velocity=1.0, sample_rate=SR)
    with pytest.raises(ValueError, match="riser"):
        fx("whoosh", duration_s=1.0, sample_rate=SR, seed=0)


def test_kick_and_congas_are_tuned_to_the_key() -> None:
    """A kick tuned to F minor settles on F or C; untuned it keeps its own pitch."""
    from jobs.vault import tuned_hz

    for freq in (42.0, 50.0, 56.0, 220.0, 330.0):
        tuned = tuned_hz(freq, 5)  # F
        note = round(69 + 12 * np.log2(tuned / 440.0))
        assert note % 12 in (5, 0) and abs(np.log2(tuned / freq)) < 0.5
    assert tuned_hz(42.0, None) == 42.0
    sr = 44100
    hit = one_shot("kick_deep", VoiceSpec(name="kick_deep"), velocity=1.0, sample_rate=sr, tonic=5)
    tail = hit[int(0.15 * sr):int(0.5 * sr)]  # the settled body
    spectrum = np.abs(np.fft.rfft(tail, 1 << 16))
    peak_hz = np.argmax(spectrum) * sr / (1 << 16)
    assert round(69 + 12 * np.log2(peak_hz / 440.0)) % 12 in (5, 0)

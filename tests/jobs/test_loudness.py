"""Loudness and true peak against EBU Tech 3341/3342 cases synthesised from the spec."""

from __future__ import annotations

import numpy as np
import pyloudnorm
import pytest

from jobs.loudness import (
    integrated_loudness,
    loudness_range,
    true_peak_dbtp,
    true_peak_over_sample_peak_max_db,
)


def _sine(level_dbfs: float, seconds: float, *, freq_hz: float = 1000.0,
          sample_rate: int = 48000, phase: float = 0.0) -> np.ndarray:
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    x = 10 ** (level_dbfs / 20) * np.sin(2 * np.pi * freq_hz * t + phase)
    return np.tile(x, (2, 1)).astype(np.float32)


def _sequence(parts: list[tuple[float, float]], *, sample_rate: int = 48000) -> np.ndarray:
    return np.concatenate([_sine(db, s, sample_rate=sample_rate) for db, s in parts], axis=1)


# EBU Tech 3341 (2016) minimum requirements, cases 1–5: stereo 1 kHz sines, 48 kHz
TECH_3341 = {
    1: ([(-23.0, 20.0)], -23.0),
    2: ([(-33.0, 20.0)], -33.0),
    3: ([(-36.0, 10.0), (-23.0, 60.0), (-36.0, 10.0)], -23.0),
    4: ([(-72.0, 10.0), (-36.0, 10.0), (-23.0, 60.0), (-36.0, 10.0), (-72.0, 10.0)], -23.0),
    5: ([(-26.0, 20.0), (-20.0, 20.1), (-26.0, 20.0)], -23.0),
}


@pytest.mark.parametrize("case", sorted(TECH_3341))
def test_tech_3341_integrated_within_a_tenth_of_a_lu(case: int) -> None:
    parts, expected = TECH_3341[case]
    assert integrated_loudness(_sequence(parts), sample_rate=48000) == pytest.approx(
        expected, abs=0.1
    )


def test_44k1_reads_the_same_as_48k() -> None:
    audio = _sequence([(-23.0, 10.0)], sample_rate=44100)
    assert integrated_loudness(audio, sample_rate=44100) == pytest.approx(-23.0, abs=0.1)


def test_agrees_with_pyloudnorm_on_noise_music() -> None:
    rng = np.random.default_rng(1)
    audio = (0.1 * rng.standard_normal((2, 44100 * 8))).astype(np.float32)
    audio[:, 44100 * 3 : 44100 * 5] *= 0.2
    reference = pyloudnorm.Meter(44100).integrated_loudness(audio.T)
    assert integrated_loudness(audio, sample_rate=44100) == pytest.approx(reference, abs=0.1)


def test_silence_reads_the_floor() -> None:
    assert integrated_loudness(np.zeros((2, 48000), np.float32), sample_rate=48000) == -120.0


# EBU Tech 3341 true-peak cases 15–19 (synthesised: 48 kHz stereo sines at given phases)
TRUE_PEAK = [
    (12000.0, 0.0, -6.0, -6.0),  # case 15: fs/4, 0°
    (12000.0, np.pi / 4, -6.0, -6.0),  # case 16: fs/4, 45° (samples at -9 dBFS)
    (8000.0, np.pi / 3, -6.0, -6.0),  # case 17: fs/6, 60°
    (6000.0, 3 * np.pi / 8, -6.0, -6.0),  # case 18: fs/8, 67.5°
    (12000.0, np.pi / 4, 3.01, 3.0),  # case 19: samples at 0 dBFS, true peak +3 dBTP
]


@pytest.mark.parametrize(("freq", "phase", "level", "expected"), TRUE_PEAK)
def test_tech_3341_true_peak_cases(freq: float, phase: float, level: float, expected: float) -> None:
    reading = true_peak_dbtp(_sine(level, 1.0, freq_hz=freq, phase=phase), sample_rate=48000)
    assert expected - 0.4 <= reading <= expected + 0.2


def test_inter_sample_peaks_of_random_sines_at_44k1() -> None:
    rng = np.random.default_rng(3)
    for _ in range(40):
        freq, phase = rng.uniform(40.0, 18000.0), rng.uniform(0.0, 2 * np.pi)
        audio = _sine(-3.0, 0.25, freq_hz=freq, sample_rate=44100, phase=phase)
        reading = true_peak_dbtp(audio, sample_rate=44100)
        assert -3.4 <= reading <= -2.8, (freq, phase, reading)


def test_true_peak_sees_what_the_sample_peak_misses() -> None:
    audio = _sine(3.01, 1.0, freq_hz=12000.0, phase=np.pi / 4)
    sample_peak_db = 20 * np.log10(np.max(np.abs(audio)))
    assert sample_peak_db < 0.01
    assert true_peak_dbtp(audio, sample_rate=48000) > 2.8


def test_true_peak_never_reads_past_its_bound_over_the_sample_peak() -> None:
    """The bound the master relies on to skip measuring its input's true peak holds, and is
    reached by the worst case: ±1 samples whose signs match the filter's half-way phase."""
    from scipy.signal import firwin

    bound = true_peak_over_sample_peak_max_db()
    rng = np.random.default_rng(5)
    for _ in range(10):  # noise and clipped noise: far under the bound
        audio = np.clip(rng.standard_normal((2, 44100)), -1, 1).astype(np.float32)
        over = true_peak_dbtp(audio, sample_rate=44100) - 20 * np.log10(np.max(np.abs(audio)))
        assert 0.0 <= over < bound
    taps = firwin(81, 0.25, window=("kaiser", 8.0))[2::4]
    worst = np.zeros((1, 4410), dtype=np.float32)
    worst[0, 2000:2000 + taps.size] = np.sign(taps[::-1])
    assert true_peak_dbtp(worst, sample_rate=44100) == pytest.approx(bound, abs=0.05)


def test_true_peak_reads_what_resample_poly_oversampling_reads() -> None:
    """The four phases applied block by block are the 4× oversampling of
    ``scipy.signal.resample_poly`` (Kaiser β 8) on the end-tapered audio, to rounding."""
    from scipy.signal import resample_poly

    rng = np.random.default_rng(11)
    for n, rate in ((50_000, 44100), (70_001, 48000), (300, 44100)):
        audio = (0.3 * rng.standard_normal((2, n))).astype(np.float32)
        tapered = audio.copy()
        fade = min(round(0.002 * rate), n // 2)
        ramp = (0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, fade))).astype(np.float32)
        tapered[:, :fade] *= ramp
        tapered[:, -fade:] *= ramp[::-1]
        up = resample_poly(tapered, 4, 1, axis=-1, window=("kaiser", 8.0))
        expected = 20 * np.log10(max(np.max(np.abs(up)), np.max(np.abs(audio))))
        assert true_peak_dbtp(audio, sample_rate=rate, chunk_s=0.5) == pytest.approx(
            expected, abs=1e-4)


def test_loudness_range_tech_3342_case_1() -> None:
    # Tech 3342 case 1: 20 s at -20 dBFS then 20 s at -30 dBFS, 1 kHz stereo: LRA 10 LU ±1
    audio = _sequence([(-20.0, 20.0), (-30.0, 20.0)])
    assert loudness_range(audio, sample_rate=48000) == pytest.approx(10.0, abs=1.0)


def test_loudness_range_of_a_steady_tone_is_zero() -> None:
    assert loudness_range(_sine(-20.0, 10.0), sample_rate=48000) == pytest.approx(0.0, abs=0.1)

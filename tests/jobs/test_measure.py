"""Measurements read what a musician hears: level, ducking, brightness per bar, bands, width."""

from __future__ import annotations

import numpy as np
import pytest

from core.music import Key, Mode
from core.spec import ProductionSpec, Section
from jobs.measure import (
    BANDS_HZ,
    band_energy_db,
    band_levels_db,
    ducking_depth_db,
    low_end_db,
    measure_render,
    spectral_centroid_by_bar,
    spectral_centroid_hz,
    stereo_width,
    track_level_db,
)

SR = 44100


def _sine(freq_hz: float, seconds: float, *, level: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * SR)) / SR
    return np.tile(level * np.sin(2 * np.pi * freq_hz * t), (2, 1)).astype(np.float32)


def test_track_level_is_gated_so_silent_sections_do_not_count() -> None:
    tone = _sine(1000.0, 8.0, level=10 ** (-20 / 20))
    half_silent = np.concatenate([tone, np.zeros_like(tone)], axis=1)
    assert track_level_db(tone, sample_rate=SR) == pytest.approx(-20.0, abs=0.1)  # Tech 3341 case 1
    assert track_level_db(half_silent, sample_rate=SR) == pytest.approx(
        track_level_db(tone, sample_rate=SR), abs=0.1)
    assert track_level_db(0.5 * tone, sample_rate=SR) == pytest.approx(
        track_level_db(tone, sample_rate=SR) - 6.02, abs=0.05)


def test_ducking_depth_ignores_the_tracks_own_envelope_given_the_dry_render() -> None:
    rng = np.random.default_rng(0)
    n = 8 * SR
    hits = np.arange(0.0, 7.5, 0.5)
    # a plucky track whose own notes fall on the hits, ducked by a known 8 dB square dip
    pluck = np.zeros(n)
    for start in np.round(hits * SR).astype(int):
        pluck[start : start + SR // 2] += np.exp(-np.arange(min(SR // 2, n - start)) / (0.1 * SR))
    dry = np.tile(pluck * rng.standard_normal(n) * 0.2 + 0.01 * rng.standard_normal(n), (2, 1))
    gain = np.ones(n)
    for start in np.round(hits * SR).astype(int):
        gain[start + 200 : start + 200 + round(0.05 * SR)] = 10 ** (-8 / 20)
    ducked = (dry * gain).astype(np.float32)
    with_reference = ducking_depth_db(ducked, sample_rate=SR, hit_times_s=hits,
                                      reference=dry.astype(np.float32))
    assert with_reference == pytest.approx(8.0, abs=0.5)
    assert ducking_depth_db(dry.astype(np.float32), sample_rate=SR, hit_times_s=hits,
                            reference=dry.astype(np.float32)) == pytest.approx(0.0, abs=0.2)
    assert ducking_depth_db(ducked, sample_rate=SR, hit_times_s=hits[:1]) == 0.0


def test_centroid_by_bar_follows_the_pitch_of_each_bar() -> None:
    spec = ProductionSpec(title="t", genre="house", tempo_bpm=120,
                          key=Key(tonic=0, mode=Mode.MAJOR),
                          sections=[Section(name="a", kind="intro", bars=4)])
    bars = np.concatenate([_sine(f, 2.0) for f in (200.0, 400.0, 800.0, 1600.0)], axis=1)
    centroids = spectral_centroid_by_bar(bars, spec=spec, sample_rate=SR, bars=range(1, 6))
    for measured, expected in zip(centroids[:4], (200, 400, 800, 1600), strict=True):
        assert measured == pytest.approx(expected, rel=0.05)
    assert centroids[4] == 0.0  # past the end of the audio
    assert spectral_centroid_hz(_sine(3000.0, 1.0), sample_rate=SR) == pytest.approx(3000, rel=0.02)


def test_band_energies_put_a_tone_in_its_band() -> None:
    sub = _sine(45.0, 2.0, level=1.0)
    levels = band_levels_db(sub, sample_rate=SR)
    assert set(levels) == set(BANDS_HZ)
    assert levels["sub"] == pytest.approx(-3.0, abs=0.3)  # full-scale sine: mean power 1/2
    assert max(v for k, v in levels.items() if k != "sub") < levels["sub"] - 25
    assert low_end_db(sub, sample_rate=SR) == pytest.approx(levels["sub"], abs=0.1)
    assert band_energy_db(np.zeros((2, SR), dtype=np.float32), sample_rate=SR, low_hz=20,
                          high_hz=200) == -120.0


def test_stereo_width_reads_mono_as_zero_and_unrelated_channels_as_one() -> None:
    rng = np.random.default_rng(1)
    mono = np.tile(rng.standard_normal(SR), (2, 1)).astype(np.float32)
    wide = rng.standard_normal((2, SR)).astype(np.float32)
    assert stereo_width(mono) == 0.0
    assert stereo_width(wide) == pytest.approx(1.0, abs=0.05)


def test_measure_render_names_every_metric_the_change_card_reads() -> None:
    song = _sine(220.0, 4.0, level=0.3)
    bass = _sine(55.0, 4.0, level=0.3)
    numbers = measure_render(song, sample_rate=SR, tracks={"bass": bass},
                             hit_times_s=np.arange(0, 3.5, 0.5), unducked={"bass": bass})
    for key in ("integrated_lufs", "true_peak_dbtp", "loudness_range_lu", "spectral_centroid_hz",
                "low_end_db", "stereo_width", "bands_db", "tracks"):
        assert key in numbers
    assert numbers["true_peak_dbtp"] == pytest.approx(20 * np.log10(0.3), abs=0.1)
    track = numbers["tracks"]["bass"]  # type: ignore[index]
    assert set(track) == {"track_level_db", "spectral_centroid_hz", "low_end_db",
                          "ducking_depth_db"}
    assert track["ducking_depth_db"] == pytest.approx(0.0, abs=0.1)

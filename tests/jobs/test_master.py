"""Mastering lands on every destination's loudness under its true-peak ceiling, or says why not."""

from __future__ import annotations

import numpy as np
import pytest

from core.brief import DESTINATIONS
from core.spec import MasterSpec
from jobs.loudness import integrated_loudness, true_peak_dbtp
from jobs.master import master
from jobs.measure import spectral_centroid_hz, stereo_width
from jobs.synth import add_at, bass_note, drum_loop, midi_to_hz, progression

SR = 44100


def _song(seconds: float = 14.0, tempo_bpm: float = 124.0) -> np.ndarray:
    """House drum loop, an off-beat bass and a minor pad, mixed to peak at −6 dBFS."""
    bars = int(seconds * tempo_bpm / 240)
    drums = drum_loop(tempo_bpm=tempo_bpm, bars=bars, sample_rate=SR, pattern="house")
    n = drums.size
    beat_s = 60.0 / tempo_bpm
    bass = np.zeros(n, dtype=np.float32)
    for beat in range(bars * 4):
        note = bass_note(midi_to_hz(33 + (0, 3, 5, 7)[(beat // 4) % 4]), beat_s * 0.5,
                         sample_rate=SR)
        add_at(bass, note, round((beat + 0.5) * beat_s * SR), 0.5)
    pad = progression(tonic=9, name="i-VI-III-VII", sample_rate=SR, tempo_bpm=tempo_bpm,
                      repeats=max(1, bars // 4), with_bass=False)
    pad = np.pad(pad, (0, max(0, n - pad.size)))[:n] * 0.3
    mix = np.stack([drums + bass + 0.8 * pad, drums + bass + pad])
    return (0.5 * mix / np.max(np.abs(mix))).astype(np.float32)


def _pink_noise(seconds: float = 12.0) -> np.ndarray:
    rng = np.random.default_rng(3)
    n = round(seconds * SR)
    freqs = np.fft.rfftfreq(n, 1 / SR)
    freqs[0] = 1.0
    spectrum = np.fft.rfft(rng.standard_normal((2, n)), axis=1) / np.sqrt(freqs)
    pink = np.fft.irfft(spectrum, n, axis=1)
    return (0.05 * pink / np.std(pink)).astype(np.float32)


def _quiet_dynamic(seconds: float = 16.0) -> np.ndarray:
    """Sparse piano-like notes around −35 LUFS with accents 40 dB above the soft notes."""
    out = np.zeros(round(seconds * SR), dtype=np.float32)
    t = np.arange(2 * SR) / SR
    for i, start_s in enumerate(np.arange(0.0, seconds - 2.0, 0.5)):
        f = midi_to_hz(55 + (0, 4, 7, 12, 7, 4)[i % 6])
        level_db = -50.0 + 40.0 * (i % 8 == 0) + 10.0 * np.sin(i / 5)
        note = (np.sin(2 * np.pi * f * t) + 0.3 * np.sin(4 * np.pi * f * t)) * np.exp(-4 * t)
        add_at(out, (10 ** (level_db / 20) * note).astype(np.float32), round(start_s * SR))
    quiet = 0.03 * np.stack([out, 0.9 * out])
    return quiet.astype(np.float32)


MATERIALS = {"song": _song, "pink_noise": _pink_noise, "quiet_dynamic": _quiet_dynamic}
TARGETS = [(name, d.target_lufs, d.ceiling_dbtp) for name, d in DESTINATIONS.items()] + [
    ("explicit", -11.0, -0.5)]


@pytest.fixture(scope="module")
def materials() -> dict[str, np.ndarray]:
    return {name: make() for name, make in MATERIALS.items()}


def test_materials_are_what_the_cases_claim(materials: dict[str, np.ndarray]) -> None:
    assert integrated_loudness(materials["quiet_dynamic"], sample_rate=SR) < -30
    for audio in materials.values():
        assert true_peak_dbtp(audio, sample_rate=SR) < -1.0  # all start under every ceiling


@pytest.mark.parametrize("material", sorted(MATERIALS))
@pytest.mark.parametrize(("destination", "target_lufs", "ceiling_dbtp"), TARGETS)
def test_master_lands_on_target_loudness_under_the_ceiling(
    materials: dict[str, np.ndarray], material: str, destination: str, target_lufs: float,
    ceiling_dbtp: float,
) -> None:
    result = master(materials[material],
                    MasterSpec(target_lufs=target_lufs, ceiling_dbtp=ceiling_dbtp),
                    sample_rate=SR)
    lufs = integrated_loudness(result.audio, sample_rate=SR)
    peak = true_peak_dbtp(result.audio, sample_rate=SR)
    assert lufs == pytest.approx(target_lufs, abs=0.5), destination
    assert peak <= ceiling_dbtp + 0.1, destination
    assert result.reached and not result.note
    assert result.integrated_lufs == pytest.approx(lufs, abs=1e-6)
    assert result.true_peak_dbtp == pytest.approx(peak, abs=1e-6)
    assert np.all(np.isfinite(result.audio)) and result.audio.shape == materials[material].shape


def test_unreachable_target_is_said_and_the_peak_still_holds() -> None:
    clicks = np.zeros((2, 6 * SR), dtype=np.float32)
    clicks[:, ::SR] = 0.5  # one click a second: all peak, almost no loudness
    result = master(clicks, MasterSpec(target_lufs=-8, ceiling_dbtp=-1), sample_rate=SR)
    assert not result.reached
    assert "not -8.0" in result.note and "limiting" in result.note
    assert result.integrated_lufs < -20
    assert true_peak_dbtp(result.audio, sample_rate=SR) <= -1.0 + 0.1


def test_silence_is_returned_unchanged_with_a_sentence() -> None:
    silence = np.zeros((2, SR * 2), dtype=np.float32)
    result = master(silence, MasterSpec(), sample_rate=SR)
    assert not result.reached and "silent" in result.note
    assert not np.any(result.audio)


def test_tilt_and_width_shape_the_master(materials: dict[str, np.ndarray]) -> None:
    song = materials["song"]
    flat = master(song, MasterSpec(), sample_rate=SR).audio
    bright = master(song, MasterSpec(tilt_db=4), sample_rate=SR).audio
    dark = master(song, MasterSpec(tilt_db=-4), sample_rate=SR).audio
    centroid = {name: spectral_centroid_hz(a, sample_rate=SR)
                for name, a in (("flat", flat), ("bright", bright), ("dark", dark))}
    assert centroid["dark"] < centroid["flat"] < centroid["bright"]
    mono = master(song, MasterSpec(width=0), sample_rate=SR).audio
    wide = master(song, MasterSpec(width=2), sample_rate=SR).audio
    assert stereo_width(mono) < 0.01
    assert stereo_width(wide) > 1.5 * stereo_width(flat)

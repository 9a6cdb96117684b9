"""One typed report per song: tempo and bar grid, key, loudness and a coarse energy map.

This is the first thing the Maestro learns about an upload, and what every later step (the
stretch, the chops, the mix and the master) is measured against. Uncertain readings say so
(``ambiguous``, ``confidence``), so the Maestro asks instead of guessing.

Audio is float32 ``(channels, samples)`` at ``sample_rate`` Hz unless a docstring says otherwise.
"""

from __future__ import annotations

import itertools
import logging
import os

import numpy as np

from core.analysis import AnalysisReport, KeyEstimate, SectionEstimate, TempoEstimate
from jobs.audio_io import read_audio, to_mono, valid_audio
from jobs.key import Chroma, KeyResult, chroma_features, estimate_key
from jobs.loudness import integrated_loudness, loudness_range, true_peak_dbtp
from jobs.tempo import BeatGrid, estimate_beat_grid, onset_features

__all__ = ["analyze", "analyze_file", "energy_curve", "sections_from_energy", "spectral_tilt_db_per_oct",
           "tempo_and_key"]

logger = logging.getLogger(__name__)


def analyze_file(
    path: str | os.PathLike[str], *, max_duration_s: float, max_size_bytes: int
) -> AnalysisReport:
    """Check, decode and analyse an uploaded file (``vyke analyze FILE --json`` prints the result).

    Parameters
    ----------
    path : path-like
    max_duration_s : float > 0, seconds
        Longest audio accepted (checked from the header before decoding).
    max_size_bytes : int > 0, bytes
        Largest file accepted.

    Returns
    -------
    core.analysis.AnalysisReport

    Raises
    ------
    core.errors.AudioError
        A subclass with one sentence for the uploader when the file cannot be used.
    """
    decoded = read_audio(path, max_duration_s=max_duration_s, max_size_bytes=max_size_bytes)
    return analyze(decoded.audio, sample_rate=decoded.sample_rate)


def analyze(audio: np.ndarray, *, sample_rate: int,
            tempo_range_bpm: tuple[float, float] | None = None) -> AnalysisReport:
    """Tempo, beats, downbeats, key, loudness (BS.1770-4), true peak, LRA and sections.

    Parameters
    ----------
    tempo_range_bpm : (low, high), optional
        The genre's usual tempo range when the director named the song's genre: decides the
        tempo octave (see :func:`jobs.tempo.estimate_beat_grid`).

    Returns
    -------
    core.analysis.AnalysisReport

    Examples
    --------
    >>> import numpy as np
    >>> from jobs.synth import drum_loop
    >>> loop = drum_loop(tempo_bpm=120, bars=8, sample_rate=44100)
    >>> report = analyze(loop[np.newaxis, :], sample_rate=44100)
    >>> round(report.tempo.bpm)
    120
    """
    audio = valid_audio(audio)
    mono = to_mono(audio)
    grid, key = _grid_and_key(mono, sample_rate=sample_rate, tempo_range_bpm=tempo_range_bpm)
    curve = energy_curve(audio, sample_rate=sample_rate)
    return AnalysisReport(
        duration_s=round(audio.shape[1] / sample_rate, 3),
        sample_rate_hz=sample_rate,
        channels=audio.shape[0],
        tempo=_tempo_estimate(grid),
        key=_key_estimate(key),
        beat_times_s=[round(float(t), 4) for t in grid.beat_times_s],
        downbeat_times_s=[round(float(t), 4) for t in grid.downbeat_times_s],
        integrated_lufs=round(integrated_loudness(audio, sample_rate=sample_rate), 2),
        true_peak_dbtp=round(true_peak_dbtp(audio, sample_rate=sample_rate), 2),
        loudness_range_lu=round(loudness_range(audio, sample_rate=sample_rate), 2),
        sections=sections_from_energy(
            curve, downbeat_times_s=grid.downbeat_times_s, duration_s=audio.shape[1] / sample_rate
        ),
        energy_curve=[round(float(v), 3) for v in curve],
        spectral_tilt_db_per_oct=round(spectral_tilt_db_per_oct(mono, sample_rate=sample_rate), 2),
    )


def tempo_and_key(audio: np.ndarray, *, sample_rate: int) -> tuple[TempoEstimate, KeyEstimate]:
    """The tempo and key :func:`analyze` reads, without the rest of its report.

    What a render checks its master against the spec with: the loudness, true peak and
    loudness range the full report adds are measured by the render already, and the energy
    map, sections and spectral tilt are not read there (together they take longer than the
    tempo and key). The readings are :func:`analyze`'s own, from the same code.
    """
    grid, key = _grid_and_key(to_mono(valid_audio(audio)), sample_rate=sample_rate,
                              tempo_range_bpm=None)
    return _tempo_estimate(grid), _key_estimate(key)


def _grid_and_key(mono: np.ndarray, *, sample_rate: int,
                  tempo_range_bpm: tuple[float, float] | None) -> tuple[BeatGrid, KeyResult]:
    """The beat grid (``jobs.tempo``) and key reading (``jobs.key``) of a mono signal."""
    onsets = onset_features(mono, sample_rate=sample_rate)
    chroma = chroma_features(mono, sample_rate=sample_rate)
    grid = estimate_beat_grid(
        mono,
        sample_rate=sample_rate,
        features=onsets,
        chroma_novelty=_chroma_novelty(chroma, frames=onsets.full.size,
                                       frame_rate_hz=onsets.frame_rate_hz),
        range_bpm=tempo_range_bpm,
    )
    return grid, estimate_key(mono, sample_rate=sample_rate, chroma=chroma)


def _tempo_estimate(grid: BeatGrid) -> TempoEstimate:
    return TempoEstimate(bpm=grid.bpm, confidence=grid.confidence,
                         alternative_bpm=grid.alternative_bpm, ambiguous=grid.ambiguous)


def _key_estimate(key: KeyResult) -> KeyEstimate:
    return KeyEstimate(key=key.key, confidence=key.confidence, runner_up=key.runner_up,
                       ambiguous=key.ambiguous)


def spectral_tilt_db_per_oct(mono: np.ndarray, *, sample_rate: int) -> float:
    """Tonal balance as one number: the slope of the long-term spectrum in dB per octave.

    A straight line is fitted to the average power spectrum (Welch, 8192-point) in dB against
    log2 frequency over 100 Hz–10 kHz, with each octave weighted equally (so the many bins of
    the top octave do not dominate). Brighter mixes have a higher (less negative) slope.
    """
    from scipy.signal import welch

    if mono.ndim > 1:
        mono = mono.mean(axis=0)
    freqs, power = welch(mono, fs=sample_rate, nperseg=8192)
    band = (freqs >= 100.0) & (freqs <= 10_000.0)
    if not band.any() or float(np.max(power[band])) <= 0:
        return 0.0
    octaves = np.log2(freqs[band])
    level = 10.0 * np.log10(power[band] + 1e-20)
    weights = 1.0 / freqs[band]  # equal weight per octave
    slope, _ = np.polyfit(octaves, level, 1, w=np.sqrt(weights))
    return float(slope)


def _chroma_novelty(chroma: Chroma, *, frames: int, frame_rate_hz: float) -> np.ndarray:
    """Harmonic change per onset frame: how far the chroma moved since the previous frame."""
    diff = np.linalg.norm(np.diff(chroma.treble + chroma.bass, axis=1, prepend=0.0), axis=0)
    times = np.arange(frames) / frame_rate_hz
    chroma_times = np.arange(diff.size) / chroma.frame_rate_hz
    return np.interp(times, chroma_times, diff) if diff.size else np.zeros(frames)


def energy_curve(audio: np.ndarray, *, sample_rate: int, hop_s: float = 1.0) -> np.ndarray:
    """RMS level per ``hop_s`` seconds on a 0–1 scale (loudness in dB mapped over 30 dB).

    Parameters
    ----------
    hop_s : float > 0, seconds

    Returns
    -------
    np.ndarray, shape (ceil(duration / hop_s),), 1.0 = loudest stretch, 0.0 = 30 dB below it
    """
    hop = max(1, round(hop_s * sample_rate))
    n = audio.shape[1]
    count = max(1, -(-n // hop))
    padded = np.zeros((audio.shape[0], count * hop), dtype=np.float32)
    padded[:, :n] = audio
    rms = np.sqrt(np.mean(padded.reshape(audio.shape[0], count, hop) ** 2, axis=(0, 2)))
    db = 20.0 * np.log10(np.maximum(rms, 1e-9))
    return np.clip((db - db.max() + 30.0) / 30.0, 0.0, 1.0)


def sections_from_energy(
    curve: np.ndarray, *, downbeat_times_s: np.ndarray, duration_s: float, min_bars: int = 2
) -> list[SectionEstimate]:
    """Coarse sections: runs of bars at a similar energy level (low, mid, high).

    Bars come from the downbeats; each bar gets the mean of the energy curve over it, the
    levels are split at 1/3 and 2/3 of the song's own range, and runs shorter than
    ``min_bars`` join their neighbour. The first and last sections are called intro and
    outro when they are quieter than the peak level.

    Parameters
    ----------
    curve : np.ndarray, shape (seconds,)
        From :func:`energy_curve` (one value per second).
    downbeat_times_s : np.ndarray, seconds
    duration_s : float, seconds
    min_bars : int ≥ 1

    Returns
    -------
    list of core.analysis.SectionEstimate
    """
    bounds = [0.0, *[float(t) for t in downbeat_times_s if 0.5 < t < duration_s - 0.5], duration_s]
    if len(bounds) < 3 or curve.size == 0:
        return [SectionEstimate(start_s=0.0, end_s=round(duration_s, 3), energy=1.0, label="full")]
    bar_energy = np.array(
        [float(np.mean(curve[int(a) : max(int(a) + 1, int(np.ceil(b)))])) for a, b in
         itertools.pairwise(bounds)]
    )
    lo, hi = float(bar_energy.min()), float(bar_energy.max())
    span = max(hi - lo, 1e-6)
    levels = np.minimum(2, ((bar_energy - lo) / span * 3).astype(int)) if hi - lo > 0.05 else (
        np.full(bar_energy.size, 2)
    )
    runs: list[list[int]] = []  # [level, first bar, last bar]
    for i, level in enumerate(levels):
        if runs and runs[-1][0] == level:
            runs[-1][2] = i
        else:
            runs.append([int(level), i, i])
    merged: list[list[int]] = []
    for run in runs:
        if merged and run[2] - run[1] + 1 < min_bars:
            merged[-1][2] = run[2]
        else:
            merged.append(run)
    if len(merged) > 1 and merged[0][2] - merged[0][1] + 1 < min_bars:
        merged[1][1] = merged[0][1]
        merged.pop(0)
    names = {0: "low", 1: "mid", 2: "high"}
    sections = []
    for idx, (_, first, last) in enumerate(merged):
        energy = float(np.mean(bar_energy[first : last + 1]))
        level = min(2, int((energy - lo) / span * 3)) if hi - lo > 0.05 else 2
        label = names[level]
        if idx == 0 and len(merged) > 1 and level < 2:
            label = "intro"
        elif idx == len(merged) - 1 and len(merged) > 1 and level < 2:
            label = "outro"
        sections.append(
            SectionEstimate(
                start_s=round(bounds[first], 3),
                end_s=round(bounds[last + 1], 3),
                energy=round(float(np.clip(energy / max(hi, 1e-6), 0.0, 1.0)), 3),
                label=label,
            )
        )
    return sections

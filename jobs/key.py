"""Musical key and mode, with the evidence a musician would use, not only pitch statistics.

A plain key-profile match (Krumhansl–Kessler templates correlated with average chroma) sees
the notes but not where the music comes home. A song in A natural minor uses exactly the
notes of C major, so the plain method reads it as C major. This estimator adds what tells
them apart:

- **the bass**: how much of the low register sits on the candidate tonic;
- **the tonic chord**: how often the candidate's tonic triad is the chord sounding;
- **the frame**: songs start and, above all, end on the tonic chord;
- **the leading tone**: a raised seventh (G♯ in A minor) is strong evidence for minor.

The key score is the profile correlation plus these terms. Confidence is the margin to the
runner-up, which is usually the relative or parallel key; close calls are ``ambiguous``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import librosa
import numpy as np

from core.music import Key, Mode
from jobs.audio_io import resample

__all__ = [
    "KRUMHANSL_MAJOR",
    "KRUMHANSL_MINOR",
    "Chroma",
    "KeyResult",
    "baseline_key",
    "chroma_features",
    "estimate_key",
]

logger = logging.getLogger(__name__)

KRUMHANSL_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
"""Krumhansl–Kessler probe-tone ratings for a major key, tonic first (1982)."""

KRUMHANSL_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
"""Krumhansl–Kessler probe-tone ratings for a minor key, tonic first (1982)."""

_RATE = 22050
_HOP = 2048  # 93 ms frames: key evidence moves at the speed of chords
_BINS_PER_OCTAVE = 36
_FMIN_HZ = librosa.note_to_hz("C1")
_OCTAVES = 7
_BASS_MAX_HZ = 160.0
_AMBIGUITY_MARGIN = 0.08

# weights of the evidence terms (profile correlation is in [-1, 1])
_W_BASS = 0.6
_W_TONIC_CHORD = 0.8
_W_FRAME = 0.35
_W_LEADING_TONE = 0.6


@dataclass(frozen=True, slots=True)
class Chroma:
    """Pitch-class energy over time, split into the bass register and everything above."""

    treble: np.ndarray  #: shape (12, frames), C first, each frame summing to 1 (or 0)
    bass: np.ndarray  #: shape (12, frames), below ~160 Hz
    energy: np.ndarray  #: shape (frames,), relative loudness of each frame, 0–1
    frame_rate_hz: float


@dataclass(frozen=True, slots=True)
class KeyResult:
    """A key estimate with its runner-up and the scores of all 24 keys."""

    key: Key
    confidence: float  #: 0–1
    runner_up: Key
    ambiguous: bool
    scores: np.ndarray  #: shape (24,): index = tonic + 12 · (mode is minor)


def _keys() -> list[Key]:
    return [Key(tonic=t, mode=m) for m in (Mode.MAJOR, Mode.MINOR) for t in range(12)]


def chroma_features(mono: np.ndarray, *, sample_rate: int) -> Chroma:
    """Bass and treble chroma from a constant-Q transform (harmonic part only).

    Parameters
    ----------
    mono : np.ndarray, float32, shape (samples,)
    sample_rate : int > 0, Hz

    Returns
    -------
    Chroma
    """
    y = resample(mono[np.newaxis, :], sample_rate=sample_rate, target_rate=_RATE)[0]
    spec = np.abs(
        librosa.cqt(
            y, sr=_RATE, hop_length=_HOP, fmin=_FMIN_HZ,
            n_bins=_OCTAVES * _BINS_PER_OCTAVE, bins_per_octave=_BINS_PER_OCTAVE,
        )
    )
    # Median-filter along time to keep sustained (harmonic) energy and drop drum hits.
    spec = np.minimum(spec, _time_median(spec, width=5))
    freqs = librosa.cqt_frequencies(
        n_bins=spec.shape[0], fmin=_FMIN_HZ, bins_per_octave=_BINS_PER_OCTAVE
    )
    energy = spec.sum(axis=0)
    energy = energy / (energy.max() + 1e-12)
    log_spec = np.log1p(100.0 * spec / (spec.max() + 1e-12))
    pitch_class = (np.round(np.arange(spec.shape[0]) / (_BINS_PER_OCTAVE / 12)) % 12).astype(int)
    bass_rows = freqs < _BASS_MAX_HZ
    treble = _fold(log_spec[~bass_rows], pitch_class[~bass_rows])
    bass = _fold(log_spec[bass_rows], pitch_class[bass_rows])
    return Chroma(treble=treble, bass=bass, energy=energy, frame_rate_hz=_RATE / _HOP)


def _time_median(spec: np.ndarray, *, width: int) -> np.ndarray:
    """Running median over ``width`` frames (edges repeated)."""
    pad = width // 2
    padded = np.pad(spec, ((0, 0), (pad, pad)), mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, width, axis=1)
    return np.median(windows, axis=-1)


def _fold(rows: np.ndarray, pitch_class: np.ndarray) -> np.ndarray:
    """Sum rows per pitch class, then normalise each frame to sum 1."""
    out = np.zeros((12, rows.shape[1]))
    np.add.at(out, pitch_class, rows)
    total = out.sum(axis=0, keepdims=True)
    return np.divide(out, total, out=np.zeros_like(out), where=total > 1e-9)


def _profile_scores(mean_chroma: np.ndarray) -> np.ndarray:
    """Pearson correlation of a 12-bin chroma with the 24 rotated Krumhansl–Kessler profiles."""
    scores = np.zeros(24)
    for tonic in range(12):
        scores[tonic] = np.corrcoef(mean_chroma, np.roll(KRUMHANSL_MAJOR, tonic))[0, 1]
        scores[12 + tonic] = np.corrcoef(mean_chroma, np.roll(KRUMHANSL_MINOR, tonic))[0, 1]
    return np.nan_to_num(scores)


def _triad_templates() -> np.ndarray:
    """Binary templates of the 24 major/minor triads, shape (24, 12), each row norm 1."""
    templates = np.zeros((24, 12))
    for root in range(12):
        templates[root, [root, (root + 4) % 12, (root + 7) % 12]] = 1.0
        templates[12 + root, [root, (root + 3) % 12, (root + 7) % 12]] = 1.0
    return templates / np.linalg.norm(templates, axis=1, keepdims=True)


def _chord_sequence(chroma: Chroma) -> np.ndarray:
    """Best-matching triad (0–23, same indexing as keys) per frame; −1 for quiet frames."""
    templates = _triad_templates()
    combined = chroma.treble + 0.5 * chroma.bass
    norms = np.linalg.norm(combined, axis=0) + 1e-12
    match = templates @ (combined / norms)
    chords = np.argmax(match, axis=0)
    chords[chroma.energy < 0.05] = -1
    return chords


def estimate_key(mono: np.ndarray, *, sample_rate: int, chroma: Chroma | None = None) -> KeyResult:
    """Key and mode of a piece, with the runner-up and a confidence from their margin.

    Parameters
    ----------
    mono : np.ndarray, float32, shape (samples,)
    sample_rate : int > 0, Hz
    chroma : Chroma, optional
        Precomputed by :func:`chroma_features`.

    Returns
    -------
    KeyResult
    """
    ch = chroma if chroma is not None else chroma_features(mono, sample_rate=sample_rate)
    weights = ch.energy
    if ch.treble.shape[1] == 0 or weights.sum() <= 0:
        return KeyResult(Key(tonic=0, mode=Mode.MAJOR), 0.0, Key(tonic=9, mode=Mode.MINOR),
                         True, np.zeros(24))
    mean_treble = (ch.treble * weights).sum(axis=1) / weights.sum()
    mean_bass = (ch.bass * weights).sum(axis=1) / weights.sum()
    profile = _profile_scores(mean_treble + 0.5 * mean_bass)

    chords = _chord_sequence(ch)
    voiced = chords[chords >= 0]
    chord_share = np.bincount(voiced, minlength=24) / max(1, voiced.size)
    first, last = _boundary_chords(chords, frame_rate_hz=ch.frame_rate_hz)
    bass_share = mean_bass / (mean_bass.sum() + 1e-12)

    scores = profile.copy()
    for index in range(24):
        tonic, minor = index % 12, index >= 12
        scores[index] += _W_BASS * bass_share[tonic]
        scores[index] += _W_TONIC_CHORD * chord_share[index]
        scores[index] += _W_FRAME * (0.5 * (first == index) + (last == index))
        if minor:
            # the raised seventh against the natural seventh: harmonic-minor cadences
            leading = mean_treble[(tonic + 11) % 12] + mean_bass[(tonic + 11) % 12]
            natural = mean_treble[(tonic + 10) % 12] + mean_bass[(tonic + 10) % 12]
            dominant_major = chord_share[(tonic + 7) % 12]
            if leading > natural:
                scores[index] += _W_LEADING_TONE * dominant_major

    order = np.argsort(scores)[::-1]
    keys = _keys()
    margin = float(scores[order[0]] - scores[order[1]])
    confidence = float(np.clip(margin / 0.3, 0.0, 1.0))
    return KeyResult(
        key=keys[order[0]],
        confidence=round(confidence, 3),
        runner_up=keys[order[1]],
        ambiguous=margin < _AMBIGUITY_MARGIN,
        scores=scores,
    )


def _boundary_chords(chords: np.ndarray, *, frame_rate_hz: float) -> tuple[int, int]:
    """The chord heard most in the first and in the last two seconds of sound (−1 if none)."""
    voiced = np.flatnonzero(chords >= 0)
    if voiced.size == 0:
        return -1, -1
    span = max(1, int(2.0 * frame_rate_hz))
    head = chords[voiced[:span]]
    tail = chords[voiced[-span:]]
    return int(np.bincount(head, minlength=24).argmax()), int(np.bincount(tail, minlength=24).argmax())


def baseline_key(mono: np.ndarray, *, sample_rate: int) -> Key:
    """Plain Krumhansl–Kessler on librosa's ``chroma_cqt`` mean: the benchmark's baseline."""
    y = resample(mono[np.newaxis, :], sample_rate=sample_rate, target_rate=_RATE)[0]
    chroma = librosa.feature.chroma_cqt(y=y, sr=_RATE).mean(axis=1)
    return _keys()[int(np.argmax(_profile_scores(chroma)))]

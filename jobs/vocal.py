"""Vocal processing for remixes: key and tempo moves, stutters and chops, on the bar grid.

Pitch and tempo go through Rubber Band's R3 engine (``pedalboard.time_stretch``) with
formants preserved, so a voice moved up three semitones still sounds like the same singer
rather than a chipmunk. Large moves still sound processed: :func:`vocal_warnings` says so
before the render, and the Maestro turns that into a question.

All functions are pure: float32 ``(channels, samples)`` at ``sample_rate`` Hz in, the same out.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from core.music import Key
from jobs.audio_io import valid_audio

__all__ = [
    "MAX_COMFORTABLE_SEMITONES",
    "MAX_COMFORTABLE_TEMPO_CHANGE",
    "Chop",
    "chop",
    "grid_step_s",
    "pitch_shift",
    "semitones_between",
    "shift_and_stretch",
    "stretch_to_tempo",
    "stutter",
    "vocal_warnings",
]

logger = logging.getLogger(__name__)

MAX_COMFORTABLE_SEMITONES = 4
"""Beyond this shift (either way) a voice starts to sound processed even with formants kept."""

MAX_COMFORTABLE_TEMPO_CHANGE = 0.30
"""Beyond this relative tempo change (30 %) stretching smears consonants and breaths."""

Division = Literal[8, 16, 32]
_FADE_S = 0.002  # edge fade of every slice, seconds: no clicks, no audible softening


def semitones_between(source: Key, target: Key) -> int:
    """The shift (−6…+5 semitones) that puts a ``source`` vocal in ``target``'s notes (see
    :meth:`core.music.Key.transposition_to`: across modes it goes to the relative key)."""
    return source.transposition_to(target)


_PIECE_MIN_S = 30.0  # shorter audio is stretched in one pass
_PIECE_CONTEXT_S = 1.0  # audio each piece is stretched with past its cut, then dropped
_CROSSFADE_S = 0.02
_QUIET_WINDOW_S = 0.05


def _time_stretch(
    audio: np.ndarray, *, sample_rate: int, stretch_factor: float, semitones: float
) -> np.ndarray:
    """Rubber Band on ``audio``; a long vocal in pieces, one per core, cut where it is quiet.

    Rubber Band runs in native code outside the interpreter lock, so pieces on two cores
    halve the longest step of a first render. Each piece is stretched with a second of the
    audio beyond its cuts (the engine settles) and the pieces meet in a 20 ms crossfade at the
    quietest 50 ms near each even split: a breath between phrases, never mid-word.
    """
    from jobs.parallel import map_parallel, workers

    n = audio.shape[-1]
    count = min(workers(), int(n // round(_PIECE_MIN_S * sample_rate)))
    if count <= 1:
        return _stretch_whole(audio, sample_rate=sample_rate, stretch_factor=stretch_factor,
                              semitones=semitones)
    cuts = [0, *(_quiet_near(audio, round(n * i / count), sample_rate=sample_rate,
                             reach=round(0.1 * n / count)) for i in range(1, count)), n]
    context = round(_PIECE_CONTEXT_S * sample_rate)
    fade = round(_CROSSFADE_S * sample_rate)

    def piece(i: int) -> np.ndarray:
        lo, hi = max(0, cuts[i] - context), min(n, cuts[i + 1] + context)
        out = _stretch_whole(np.ascontiguousarray(audio[:, lo:hi]), sample_rate=sample_rate,
                             stretch_factor=stretch_factor, semitones=semitones)
        # the piece's own span (plus the crossfade after it), placed by the stretch ratio
        start = round((cuts[i] - lo) / stretch_factor)
        stop = round((cuts[i + 1] - lo) / stretch_factor) + (fade if i < count - 1 else 0)
        return _fit_length(out[:, start:], stop - start)

    pieces = map_parallel(piece, range(count))
    ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
    joined = pieces[0]
    for nxt in pieces[1:]:
        tail = joined[:, -fade:] * (1.0 - ramp) + nxt[:, :fade] * ramp
        joined = np.concatenate([joined[:, :-fade], tail, nxt[:, fade:]], axis=1)
    return joined.astype(np.float32)


def _stretch_whole(
    audio: np.ndarray, *, sample_rate: int, stretch_factor: float, semitones: float
) -> np.ndarray:
    import pedalboard

    return pedalboard.time_stretch(
        audio, float(sample_rate), stretch_factor=float(stretch_factor),
        pitch_shift_in_semitones=float(semitones), high_quality=True, preserve_formants=True,
    ).astype(np.float32)


_LEVEL_HOP_S = 0.01  # the level contour's step
_LEVEL_WINDOW_S = 0.04  # RMS window of each contour point: a syllable's body, not one cycle
_LEVEL_SMOOTH_S = 0.08  # the correction moves no faster than this (no pumping on consonants)
_RESTORE_DB = (-6.0, 12.0)  # the correction's range
_SUNG_BELOW_PEAK_DB = 45.0  # quieter than this under the loudest point: breath, left alone


def _kept_dynamics(source: np.ndarray, moved: np.ndarray, *, stretch_factor: float,
                   sample_rate: int) -> np.ndarray:
    """``moved`` with the level contour of ``source``, the same vocal before the move.

    Rubber Band's formant preservation loses level on shifted notes, the more the higher
    they go: on the demo vocal a +5 semitone move left the sung parts 7.6 dB quieter in the
    median (10 ms windows) and some notes 10–15 dB down, so high notes sank in the mix while
    the overall level barely moved. The source's contour, read at the moved time (the
    stretch is uniform), is put back with a smoothed gain within −6…+12 dB; breaths and
    silence are left as they are.
    """
    hop = max(1, round(_LEVEL_HOP_S * sample_rate))
    window = max(1, round(_LEVEL_WINDOW_S * sample_rate))

    def contour(x: np.ndarray) -> np.ndarray:
        power = np.square(x, dtype=np.float64).mean(axis=0)
        summed = np.concatenate([[0.0], np.cumsum(power)])
        starts = np.arange(0, max(1, power.size - window + 1), hop)
        ends = np.minimum(starts + window, power.size)
        mean = (summed[ends] - summed[starts]) / np.maximum(1, ends - starts)
        return np.asarray(10 * np.log10(np.maximum(mean, 1e-12)))

    before, after = contour(source), contour(moved)
    if before.size < 2 or after.size < 2:
        return moved
    centre_s = (np.arange(after.size) * hop + window / 2) / sample_rate
    before_at = np.interp(centre_s * stretch_factor,
                          (np.arange(before.size) * hop + window / 2) / sample_rate, before)
    sung = before_at > before.max() - _SUNG_BELOW_PEAK_DB
    gain_db = np.where(sung, np.clip(before_at - after, *_RESTORE_DB), 0.0)
    smooth = max(1, round(_LEVEL_SMOOTH_S / _LEVEL_HOP_S))
    gain_db = np.convolve(np.pad(gain_db, smooth // 2, mode="edge"), np.ones(smooth) / smooth,
                          mode="valid")[: after.size]
    per_sample = np.interp(np.arange(moved.shape[-1]), centre_s * sample_rate, gain_db)
    return (moved * np.power(10.0, per_sample / 20.0)).astype(np.float32)


def _quiet_near(audio: np.ndarray, at: int, *, sample_rate: int, reach: int) -> int:
    """The centre of the quietest 50 ms window within ``reach`` samples of ``at``."""
    window = max(1, round(_QUIET_WINDOW_S * sample_rate))
    lo, hi = max(0, at - reach), min(audio.shape[-1], at + reach)
    power = np.square(audio[:, lo:hi], dtype=np.float64).sum(axis=0)
    if power.size <= window:
        return at
    energy = np.convolve(power, np.ones(window), mode="valid")
    return lo + int(np.argmin(energy)) + window // 2


def _fit_length(audio: np.ndarray, length: int) -> np.ndarray:
    """Trim or zero-pad to exactly ``length`` samples."""
    if audio.shape[1] >= length:
        return np.ascontiguousarray(audio[:, :length])
    return np.pad(audio, ((0, 0), (0, length - audio.shape[1])))


def pitch_shift(audio: np.ndarray, *, sample_rate: int, semitones: float) -> np.ndarray:
    """Shift pitch by ``semitones`` keeping length and formants (the singer's character).

    Parameters
    ----------
    semitones : float, semitones
        Positive is up. ±4 or less sounds natural (see :func:`vocal_warnings`).

    Returns
    -------
    np.ndarray, float32, same shape as ``audio``
    """
    audio = valid_audio(audio)
    if semitones == 0:
        return audio.copy()
    out = _time_stretch(audio, sample_rate=sample_rate, stretch_factor=1.0, semitones=semitones)
    return _fit_length(out, audio.shape[1])


def stretch_to_tempo(
    audio: np.ndarray, *, sample_rate: int, source_bpm: float, target_bpm: float
) -> np.ndarray:
    """Change tempo from ``source_bpm`` to ``target_bpm`` without changing pitch.

    The result is exactly ``round(samples · source_bpm / target_bpm)`` samples long, so bar
    ``k`` of the source starts at bar ``k`` of the target grid.

    Parameters
    ----------
    source_bpm, target_bpm : float > 0, BPM

    Returns
    -------
    np.ndarray, float32, shape (channels, round(samples · source_bpm / target_bpm))
    """
    return shift_and_stretch(
        audio, sample_rate=sample_rate, semitones=0.0, source_bpm=source_bpm, target_bpm=target_bpm
    )


def shift_and_stretch(
    audio: np.ndarray,
    *,
    sample_rate: int,
    semitones: float,
    source_bpm: float,
    target_bpm: float,
) -> np.ndarray:
    """Move a vocal to a new key and tempo in one Rubber Band pass (better than two).

    Parameters
    ----------
    semitones : float, semitones
    source_bpm, target_bpm : float > 0, BPM

    Returns
    -------
    np.ndarray, float32, shape (channels, round(samples · source_bpm / target_bpm))

    Examples
    --------
    >>> import numpy as np
    >>> vocal = np.zeros((1, 44100), dtype=np.float32)
    >>> shift_and_stretch(vocal, sample_rate=44100, semitones=2,
    ...                   source_bpm=120, target_bpm=128).shape
    (1, 41344)
    """
    audio = valid_audio(audio)
    if source_bpm <= 0 or target_bpm <= 0:
        raise ValueError(f"tempi must be positive, got {source_bpm} and {target_bpm} BPM")
    factor = target_bpm / source_bpm  # pedalboard's factor is a speed: > 1 shortens
    length = round(audio.shape[1] / factor)
    if factor == 1.0 and semitones == 0:
        return audio.copy()
    out = _time_stretch(audio, sample_rate=sample_rate, stretch_factor=factor, semitones=semitones)
    if semitones != 0:
        out = _kept_dynamics(audio, out, stretch_factor=factor, sample_rate=sample_rate)
    return _fit_length(out, length)


def vocal_warnings(*, semitones: float, source_bpm: float, target_bpm: float) -> list[str]:
    """Sentences warning that a shift or stretch is large enough to sound processed.

    The parameters are :func:`shift_and_stretch`'s.

    Returns
    -------
    list of str
        Empty when the move is comfortable; otherwise one sentence per problem, which the
        Maestro turns into a question.
    """
    warnings = []
    if abs(semitones) > MAX_COMFORTABLE_SEMITONES:
        direction = "up" if semitones > 0 else "down"
        warnings.append(
            f"Moving the vocal {abs(semitones):g} semitones {direction} is more than "
            f"{MAX_COMFORTABLE_SEMITONES}, so it will sound noticeably processed."
        )
    change = target_bpm / source_bpm - 1.0
    if abs(change) > MAX_COMFORTABLE_TEMPO_CHANGE:
        word = "faster" if change > 0 else "slower"
        warnings.append(
            f"Going from {source_bpm:g} to {target_bpm:g} BPM makes the vocal "
            f"{abs(change):.0%} {word}, over {MAX_COMFORTABLE_TEMPO_CHANGE:.0%}, so consonants "
            "and breaths will smear; a half- or double-time feel may work better."
        )
    return warnings


def grid_step_s(*, tempo_bpm: float, division: Division) -> float:
    """Length of one grid step in seconds: a 1/``division`` note, ``240 / (tempo_bpm · division)``."""
    return 240.0 / (tempo_bpm * division)


def _faded(piece: np.ndarray, *, sample_rate: int) -> np.ndarray:
    """A copy of ``piece`` with 2 ms raised-cosine fades at both ends (no clicks)."""
    out = piece.copy()
    fade = min(int(_FADE_S * sample_rate), out.shape[1] // 2)
    if fade > 0:
        ramp = (0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, fade))).astype(np.float32)
        out[:, :fade] *= ramp
        out[:, -fade:] *= ramp[::-1]
    return out


def stutter(
    audio: np.ndarray,
    *,
    sample_rate: int,
    tempo_bpm: float,
    division: Division,
    bars: Sequence[tuple[int, int]],
    downbeat_s: float = 0.0,
    beats_per_bar: int = 4,
    repeat_beats: float = 1.0,
) -> np.ndarray:
    """The classic stutter: inside the chosen bars, each beat repeats its first grid slice.

    With ``division=16`` every beat becomes four copies of its first sixteenth note; with
    ``repeat_beats=0.5`` the repeat restarts every half beat. Slices start exactly on the
    1/``division`` grid anchored at ``downbeat_s``.

    Parameters
    ----------
    tempo_bpm : float > 0, BPM
    division : {8, 16, 32}
        Grid: eighth, sixteenth or thirty-second notes.
    bars : sequence of (first_bar, end_bar)
        Half-open bar ranges, counted from 0 at ``downbeat_s``.
    downbeat_s : float ≥ 0, seconds
        Time of the first downbeat (bar 0).
    beats_per_bar : int ≥ 1
    repeat_beats : float > 0, beats
        How often the repeated slice is re-captured.

    Returns
    -------
    np.ndarray, float32, same shape as ``audio``
    """
    audio = valid_audio(audio)
    out = audio.copy()
    beat_s = 60.0 / tempo_bpm
    step_s = grid_step_s(tempo_bpm=tempo_bpm, division=division)
    group_s = repeat_beats * beat_s
    steps_per_group = max(1, round(group_s / step_s))
    for first_bar, end_bar in bars:
        start_s = downbeat_s + first_bar * beats_per_bar * beat_s
        groups = round((end_bar - first_bar) * beats_per_bar * beat_s / group_s)
        for g in range(groups):
            group_start_s = start_s + g * group_s
            src = round(group_start_s * sample_rate)
            length = round(step_s * sample_rate)
            if src + length > audio.shape[1]:
                break
            piece = _faded(audio[:, src : src + length], sample_rate=sample_rate)
            for k in range(steps_per_group):
                dst = round((group_start_s + k * step_s) * sample_rate)
                end = min(out.shape[1], dst + length)
                out[:, dst:end] = piece[:, : end - dst]
    return out


@dataclass(frozen=True, slots=True)
class Chop:
    """One slice of a chop pattern: which phrase and where it lands."""

    slice_index: int  #: index into the onset-sliced phrases of the source
    start_s: float  #: where it starts in the result, seconds (on the grid)


def chop(
    audio: np.ndarray,
    *,
    sample_rate: int,
    tempo_bpm: float,
    division: Division = 16,
    pattern: Sequence[int | None] | None = None,
    steps: int = 32,
    seed: int = 0,
) -> tuple[np.ndarray, list[Chop]]:
    """Slice a vocal at its onsets and re-sequence the slices on the grid (a vocal chop).

    Each slice runs from one detected onset to the next (at most two grid steps, so chops
    stay tight) and is placed at the start of its grid step.

    Parameters
    ----------
    tempo_bpm : float > 0, BPM
        Tempo of the result's grid.
    division : {8, 16, 32}
    pattern : sequence of int or None, optional
        Slice index per grid step (``None`` = rest). Indices wrap around the slices found.
        When omitted a seeded pattern is drawn: the first slices, with rests and repeats.
    steps : int ≥ 1
        Length of the drawn pattern in grid steps (ignored when ``pattern`` is given).
    seed : int

    Returns
    -------
    (np.ndarray, list of Chop)
        Audio of ``len(pattern)`` grid steps, and where each slice landed.
    """
    import librosa

    audio = valid_audio(audio)
    mono = audio.mean(axis=0)
    onsets = librosa.onset.onset_detect(
        y=mono, sr=sample_rate, hop_length=256, backtrack=True, units="samples"
    )
    bounds = sorted({0, *[int(x) for x in onsets if 0 < x < mono.size]})
    step_s = grid_step_s(tempo_bpm=tempo_bpm, division=division)
    step = round(step_s * sample_rate)
    slices = []
    for i, start in enumerate(bounds):
        end = bounds[i + 1] if i + 1 < len(bounds) else mono.size
        end = min(end, start + 2 * step)
        if end - start > int(0.02 * sample_rate):
            slices.append((start, end))
    if not slices:
        slices = [(0, min(mono.size, 2 * step))]
    if pattern is None:
        rng = np.random.default_rng(seed)
        choices: list[int | None] = []
        for i in range(steps):
            if i % 4 == 3 and rng.random() < 0.5:
                choices.append(None)
            else:
                choices.append(int(rng.integers(min(len(slices), 8))))
        pattern = choices
    total = round(len(pattern) * step_s * sample_rate)
    out = np.zeros((audio.shape[0], total + 2 * step), dtype=np.float32)
    placed = []
    for i, index in enumerate(pattern):
        if index is None:
            continue
        start, end = slices[index % len(slices)]
        piece = _faded(audio[:, start:end], sample_rate=sample_rate)
        dst = round(i * step_s * sample_rate)
        out[:, dst : dst + piece.shape[1]] += piece
        placed.append(Chop(slice_index=index % len(slices), start_s=dst / sample_rate))
    return out[:, :total], placed

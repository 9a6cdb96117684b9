"""The key a sung line is in, read from its own notes: a vocal with no chords under it.

:func:`jobs.key.estimate_key` reads a mix by its chroma, its bass and its chords. A vocal alone
has none of those, and the chroma of a sung note also carries its overtones (the fifth of the
third harmonic, the third of the fifth), which pull a chroma reading a fifth up: a melody in
E minor reads as B minor, one in F♯ major as D♭. So a vocal is read the way a musician
transcribes it: its pitch, frame by frame (YIN, on the fundamental), the notes it holds (a
steady pitch, loud enough to be sung, not breath or bleed), and how long it sings each pitch
class, correlated with key profiles made for melodies (Aarden's, from the Essen folk-song
collection) and Krumhansl–Kessler's.

On the demo song's vocal (16 s) in six keys, major and minor (``tests/jobs/test_melody_key.py``;
ten while this was written), every reading is the exact key, leading the best key it does not
fit by 0.15–0.18; :func:`jobs.key.estimate_key` on the same ten vocals reads three of them
(D minor, A minor, C♯ minor) in the parallel major, outside the melody's notes. The reading also serves the vocal arrangement: which notes each beat of each bar
sings (:meth:`Melody.beats`), so two bars can be compared as music, not as loudness.
"""

from __future__ import annotations

from dataclasses import dataclass

import librosa
import numpy as np

from core.music import Key, Mode
from jobs.audio_io import resample

__all__ = ["Melody", "MelodyKey", "melody", "melody_key"]

_RATE = 16_000
_FRAME = 1024  # 64 ms: two periods of a 31 Hz fundamental, plenty for a voice
_HOP = 256  # 16 ms
_FMIN_HZ, _FMAX_HZ = 70.0, 1100.0  # a low bass voice to a high soprano
_TROUGH = 0.02
"""YIN's dip threshold. At librosa's 0.1 a bright vowel's third harmonic dips below it first
and the pitch reads an octave and a fifth high; at 0.02 every sung note of the demo's voice
(five vowels, E3 to C♯6) reads right."""
_SUNG_BELOW_PEAK_DB = 30.0  # frames quieter than the loudest by more than this are not sung
_STEADY_SEMITONES = 0.5  # a held note moves less than this between frames (vibrato included)

_AARDEN = (
    np.array([17.7661, 0.145624, 14.9265, 0.160186, 19.8049, 11.3587, 0.291248, 22.062,
              0.145624, 8.15494, 0.232998, 4.95122]),
    np.array([18.2648, 0.737619, 14.0499, 16.8599, 0.702494, 14.4362, 0.702494, 18.6161,
              4.56621, 1.93186, 7.37619, 1.75623]),
)
"""Aarden's key profiles (2003), from the melodies of the Essen folk-song collection: the
share of each scale degree in melodies of a major and a minor key, tonic first."""
_KRUMHANSL = (
    np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88]),
    np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17]),
)
_SCALE = {Mode.MAJOR: (0, 2, 4, 5, 7, 9, 11), Mode.MINOR: (0, 2, 3, 5, 7, 8, 10, 11)}
"""The notes that sit in a key, re its tonic: minor with both sevenths (natural and raised)."""


@dataclass(frozen=True, slots=True)
class Melody:
    """The notes a vocal sings, frame by frame."""

    midi: np.ndarray  #: shape (frames,): the sung pitch (MIDI, fractional), NaN where not sung
    frame_s: float  #: seconds per frame

    @property
    def sung(self) -> np.ndarray:
        """Pitch classes (0 = C) of the frames that are sung."""
        held = self.midi[~np.isnan(self.midi)]
        return np.round(held).astype(int) % 12

    def beats(self, *, start_s: float, beat_s: float, beats: int) -> np.ndarray:
        """Which pitch classes each of ``beats`` beats from ``start_s`` sings, as one vector.

        Returns
        -------
        np.ndarray, shape (beats · 12,)
            Frames per pitch class in each beat, beat after beat; all zero where nothing is
            sung. Two bars singing the same notes on the same beats point the same way.
        """
        out = np.zeros((beats, 12))
        for beat in range(beats):
            a = round((start_s + beat * beat_s) / self.frame_s)
            b = round((start_s + (beat + 1) * beat_s) / self.frame_s)
            held = self.midi[max(0, a):max(0, min(b, self.midi.size))]
            held = held[~np.isnan(held)]
            if held.size:
                out[beat] = np.bincount(np.round(held).astype(int) % 12, minlength=12)
        return out.reshape(-1)

    def height(self, *, start_s: float, seconds: float) -> float:
        """The mean sung pitch (MIDI) from ``start_s`` for ``seconds``; 0 where nothing is sung."""
        a = max(0, round(start_s / self.frame_s))
        b = max(a, min(self.midi.size, round((start_s + seconds) / self.frame_s)))
        held = self.midi[a:b]
        held = held[~np.isnan(held)]
        return float(held.mean()) if held.size else 0.0

    def median(self) -> float | None:
        """The median sung pitch (MIDI); ``None`` when nothing is sung."""
        held = self.midi[~np.isnan(self.midi)]
        return float(np.median(held)) if held.size else None

    def in_key_share(self, key: Key) -> float | None:
        """Share of the sung time on ``key``'s notes (minor: with its raised seventh); ``None``
        when nothing is sung."""
        sung = self.sung
        if sung.size == 0:
            return None
        notes = {(key.tonic + step) % 12 for step in _SCALE[key.mode]}
        return float(np.isin(sung, sorted(notes)).mean())


@dataclass(frozen=True, slots=True)
class MelodyKey:
    """A melody's key reading."""

    key: Key
    runner_up: Key  #: the best key that does not fit :attr:`key` (neither it nor its relative)
    margin: float  #: how far :attr:`key`'s score leads :attr:`runner_up`'s (0 = a tie)


def melody(audio: np.ndarray, *, sample_rate: int) -> Melody:
    """The sung pitch of ``audio`` (a vocal, mono or ``(channels, samples)``), frame by frame.

    Returns
    -------
    Melody
        Frames of :data:`_HOP` samples at 16 kHz (16 ms).
    """
    mono = audio.mean(axis=0) if audio.ndim == 2 else audio
    y = resample(mono[np.newaxis, :].astype(np.float32), sample_rate=sample_rate,
                 target_rate=_RATE)[0]
    if y.size < _FRAME:
        return Melody(midi=np.full(0, np.nan), frame_s=_HOP / _RATE)
    f0 = librosa.yin(y, fmin=_FMIN_HZ, fmax=_FMAX_HZ, sr=_RATE, frame_length=_FRAME,
                     hop_length=_HOP, trough_threshold=_TROUGH)
    rms = librosa.feature.rms(y=y, frame_length=_FRAME, hop_length=_HOP)[0]
    n = min(f0.size, rms.size)
    midi = librosa.hz_to_midi(f0[:n])
    level = 20 * np.log10(np.maximum(rms[:n], 1e-9))
    loud = level > max(float(level.max()) - _SUNG_BELOW_PEAK_DB, -60.0)
    step = np.abs(np.diff(midi, prepend=midi[:1]))
    after = np.abs(np.diff(midi, append=midi[-1:]))
    steady = np.minimum(step, after) < _STEADY_SEMITONES
    return Melody(midi=np.where(loud & steady, midi, np.nan), frame_s=_HOP / _RATE)


def melody_key(sung: Melody) -> MelodyKey | None:
    """The key ``sung`` is in, with the best key it does not fit; ``None`` when nothing is sung.

    The time on each pitch class is correlated with Aarden's and Krumhansl–Kessler's profiles
    of all 24 keys (the mean of the two); the top key wins.
    """
    classes = sung.sung
    if classes.size < 8:
        return None
    histogram = np.bincount(classes, minlength=12).astype(float)
    if np.count_nonzero(histogram) < 2:
        return None
    scores = np.zeros(24)
    for major, minor in (_AARDEN, _KRUMHANSL):
        for tonic in range(12):
            scores[tonic] += np.corrcoef(histogram, np.roll(major, tonic))[0, 1]
            scores[12 + tonic] += np.corrcoef(histogram, np.roll(minor, tonic))[0, 1]
    scores /= 2
    keys = [Key(tonic=t, mode=m) for m in (Mode.MAJOR, Mode.MINOR) for t in range(12)]
    order = np.argsort(scores)[::-1]
    best = keys[order[0]]
    other = next(i for i in order[1:] if not keys[i].fits(best))
    return MelodyKey(key=best, runner_up=keys[other],
                     margin=round(float(scores[order[0]] - scores[other]), 4))

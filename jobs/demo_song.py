"""A short original song, synthesised from nothing, so ``make demo`` has something to remix.

"Paper Lanterns" (the demo): C major, 118 BPM, 4/4 (any other key and mode on request: the
tests remix songs whose key they know). Intro on soft keys and hats, a verse over
I–V–vi–IV with a sung melody, a chorus over I–IV–V–I with four-on-the-floor drums and the
voice an octave-ish higher, and a short outro that lands on C. The voice is additive
synthesis shaped by vowel formants (see :func:`jobs.synth.sung_note`), so separation has a
real vocal-like stem to find. Deterministic for a given seed; NumPy only, no samples.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from core.music import Key, Mode
from jobs.audio_io import ENGINE_SAMPLE_RATE, write_wav
from jobs.synth import add_at, bass_note, chord_tone, hat, kick, midi_to_hz, snare, sung_note

__all__ = [
    "DEMO_KEY",
    "DEMO_TEMPO_BPM",
    "demo_sections",
    "make_demo_song",
    "render_demo_song",
    "render_demo_stems",
]

logger = logging.getLogger(__name__)

DEMO_TEMPO_BPM = 118.0
"""Tempo of the demo song, in BPM."""

DEMO_KEY = "C"
"""Key of the demo song (C major)."""

# chords by their root in C major (the triad's quality follows the key's scale); melody =
# (MIDI note in C major or None for a rest, beats)
_VERSE_CHORDS = (0, 7, 9, 5)  # I–V–vi–IV
_CHORUS_CHORDS = (0, 5, 7, 0)  # I–IV–V–I
_VERSE_MELODY = (
    ((64, 1.0), (67, 1.0), (69, 1.0), (67, 1.0)),
    ((67, 1.0), (65, 0.5), (64, 0.5), (62, 2.0)),
    ((64, 1.0), (72, 1.0), (71, 1.0), (69, 1.0)),
    ((69, 1.0), (67, 1.0), (65, 1.0), (None, 1.0)),
)
_CHORUS_MELODY = (
    ((72, 2.0), (71, 1.0), (72, 1.0)),
    ((69, 1.0), (72, 1.0), (74, 2.0)),
    ((74, 1.0), (72, 1.0), (71, 1.0), (67, 1.0)),
    ((72, 3.0), (None, 1.0)),
)
_VOWELS = ("a", "o", "e", "a", "i", "o", "u", "e")
_C_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_SCALES = {"major": _C_MAJOR, "minor": (0, 2, 3, 5, 7, 8, 11)}
"""Scale steps by mode, tonic first. Minor is harmonic minor: its dominant is a major chord
and the melody's leading tone over it fits, as in most minor-key pop."""


class _Mover:
    """Moves the song's C-major material (chord roots, melody notes) to another key and mode,
    degree by degree: the tune keeps its shape, its intervals follow the new scale."""

    def __init__(self, tonic: int, mode: str) -> None:
        if mode not in _SCALES:
            raise ValueError(f"mode must be major or minor, got {mode!r}")
        self.scale = _SCALES[mode]
        self.tonic = tonic % 12
        self.offset = self.tonic if self.tonic <= 6 else self.tonic - 12  # nearest register

    def note(self, midi: int) -> int:
        """A melody note of the C-major tune, in the new key."""
        octave, pitch_class = divmod(midi, 12)
        return 12 * octave + self.scale[_C_MAJOR.index(pitch_class)] + self.offset

    def chord(self, root: int) -> tuple[int, int, int]:
        """The triad on the C-major chord ``root``'s degree: (root pitch class, third, fifth)."""
        degree = _C_MAJOR.index(root)
        steps = [self.scale[(degree + k) % 7] for k in (0, 2, 4)]
        return ((steps[0] + self.tonic) % 12, (steps[1] - steps[0]) % 12,
                (steps[2] - steps[0]) % 12)


def demo_sections(duration_s: float = 48.0) -> dict[str, tuple[int, int]]:
    """Where the demo song's parts are: each part's first bar and the bar after its last,
    counted from 0 at its first downbeat (the chorus is its hook).

    >>> demo_sections(30.0)
    {'intro': (0, 2), 'verse': (2, 7), 'chorus': (7, 12), 'outro': (12, 14)}
    """
    bar_s = 240.0 / DEMO_TEMPO_BPM
    bars = max(6, int(duration_s / bar_s))
    intro = max(2, bars // 6)
    outro = max(2, bars // 8)
    verse = (bars - intro - outro) // 2
    return {"intro": (0, intro), "verse": (intro, intro + verse),
            "chorus": (intro + verse, bars - outro), "outro": (bars - outro, bars)}


def render_demo_song(
    *, seed: int = 7, duration_s: float = 48.0, sample_rate: int = ENGINE_SAMPLE_RATE,
    tonic: int = 0, mode: str = "major", vocal_db: float = 0.0,
) -> np.ndarray:
    """Synthesise the demo song as an array (the sum of :func:`render_demo_stems`).

    Parameters
    ----------
    seed : int
    duration_s : float ≥ 10, seconds
    sample_rate : int > 0, Hz
    tonic, mode, vocal_db
        The key (C major by default) and the voice's level, as in :func:`render_demo_stems`.

    Returns
    -------
    np.ndarray, float32, shape (2, round(duration_s · sample_rate)), peak −1 dBFS
    """
    stems = render_demo_stems(seed=seed, duration_s=duration_s, sample_rate=sample_rate,
                              tonic=tonic, mode=mode, vocal_db=vocal_db)
    return np.sum(list(stems.values()), axis=0).astype(np.float32)


def render_demo_stems(
    *, seed: int = 7, duration_s: float = 48.0, sample_rate: int = ENGINE_SAMPLE_RATE,
    tonic: int = 0, mode: str = "major", vocal_db: float = 0.0,
) -> dict[str, np.ndarray]:
    """Synthesise the demo song as its four stems (vocals, drums, bass, other).

    The stems are the separation benchmark's ground truth: their sum is the demo song.

    Parameters
    ----------
    seed : int
        Seeds the noise of the drums and breath and the small timing of velocities.
    duration_s : float ≥ 10, seconds
        Length of the result; the arrangement scales to it (about 24 bars at 48 s).
    sample_rate : int > 0, Hz
    tonic : int 0–11
        Pitch class of the key's tonic (0 = C). The tune moves to the nearest register
        (at most six semitones from C's).
    mode : ``"major"`` or ``"minor"``
        Minor plays the same tune degree by degree in harmonic minor (i–V–VI–iv in the verse).
    vocal_db : float, dB
        The voice's level in the mix re the demo's (which sings around −32 dBFS, low for a
        pop mix, whose vocal stem sings near −20 dBFS): +8 puts it up front.

    Returns
    -------
    dict of str to np.ndarray
        float32, shape (2, round(duration_s · sample_rate)) each; the mix peaks at −1 dBFS.
    """
    rng = np.random.default_rng(seed)
    mover = _Mover(tonic, mode)
    voice_gain = 0.16 * 10 ** (vocal_db / 20)
    beat_s = 60.0 / DEMO_TEMPO_BPM
    n = round(duration_s * sample_rate)
    stems = {name: np.zeros((2, n + int(2 * sample_rate)), dtype=np.float32)
             for name in ("vocals", "drums", "bass", "other")}
    parts = demo_sections(duration_s)
    n_bars = parts["outro"][1]
    intro, verse = parts["intro"][1], parts["verse"][1] - parts["verse"][0]
    body = parts["chorus"][1] - intro

    def at(bar: float, beat: float = 0.0) -> int:
        return round((bar * 4 + beat) * beat_s * sample_rate)

    def pan(mono: np.ndarray, position: float) -> np.ndarray:
        """Constant-power pan, ``position`` −1 (left) … +1 (right)."""
        angle = (position + 1.0) * np.pi / 4.0
        return np.stack([np.cos(angle) * mono, np.sin(angle) * mono])

    kicks = [kick(sample_rate=sample_rate, rng=rng) for _ in range(2)]
    snares = [snare(sample_rate=sample_rate, rng=rng) for _ in range(3)]
    hats = [hat(sample_rate=sample_rate, rng=rng) for _ in range(4)]
    open_hat = hat(sample_rate=sample_rate, rng=rng, open_=True)

    for bar in range(n_bars):
        part = ("intro" if bar < intro else "verse" if bar < intro + verse
                else "chorus" if bar < intro + body else "outro")
        bar_in_part = bar - {"intro": 0, "verse": intro, "chorus": intro + verse,
                             "outro": intro + body}[part]
        last_bar = bar == n_bars - 1
        chords = _CHORUS_CHORDS if part == "chorus" else _VERSE_CHORDS
        root = 0 if last_bar or part == "outro" else chords[bar_in_part % 4]
        if part == "intro" and bar_in_part == 0:
            root = 0
        root, third, fifth = mover.chord(root)
        # keys: chord struck on 1 and 3 (whole bar on the last one)
        base = 60 + root if root < 7 else 48 + root
        notes = [base, base + third, base + fifth, base + 12]
        strikes = ((0.0, 4.0),) if last_bar else ((0.0, 2.0), (2.0, 2.0))
        for beat, length in strikes:
            for i, note in enumerate(notes):
                tone = chord_tone(midi_to_hz(note), length * beat_s * (2.0 if last_bar else 1.0),
                                  sample_rate=sample_rate, brightness=1.4)
                add_at(stems["other"], pan(tone, -0.4 + 0.27 * i), at(bar, beat),
                       0.05 if part == "intro" else 0.09)
        # bass: root on 1, the "and" of 2, 3 and 4 (from the verse on)
        if part != "intro":
            bass_root = 36 + root
            pattern = ((0.0, 1.4), (1.5, 0.9), (2.0, 0.9), (3.0, 0.9)) if not last_bar else (
                (0.0, 3.5),)
            for beat, length in pattern:
                note = bass_note(midi_to_hz(bass_root), length * beat_s, sample_rate=sample_rate)
                add_at(stems["bass"], pan(note, 0.0), at(bar, beat), 0.32)
        # drums
        if part in ("verse", "chorus") or (part == "outro" and not last_bar):
            kick_steps = (0, 4, 8, 12) if part == "chorus" else (0, 8, 10)
            for step in kick_steps:
                add_at(stems["drums"], pan(kicks[step % 2], 0.0), at(bar, step / 4), 0.55)
            if part != "outro":
                for step in (4, 12):
                    sound = snares[int(rng.integers(3))]
                    add_at(stems["drums"], pan(sound, 0.05), at(bar, step / 4), 0.42)
        if part != "outro" or not last_bar:
            for step in range(0, 16, 2):
                if part == "chorus" and step % 4 == 2:
                    add_at(stems["drums"], pan(open_hat, 0.35), at(bar, step / 4), 0.3)
                else:
                    sound = hats[int(rng.integers(4))]
                    add_at(stems["drums"], pan(sound, 0.35), at(bar, step / 4), 0.3 * rng.uniform(0.7, 1.0))
        # voice
        if part in ("verse", "chorus") or (part == "outro" and last_bar):
            melody = _CHORUS_MELODY if part == "chorus" else _VERSE_MELODY
            phrase = ((72, 3.5),) if last_bar else melody[bar_in_part % 4]
            beat = 0.0
            for index, (note, length) in enumerate(phrase):
                if note is not None:
                    vowel = _VOWELS[(bar * 4 + index) % len(_VOWELS)]
                    following = _VOWELS[(bar * 4 + index + 1) % len(_VOWELS)]
                    voice = sung_note(
                        midi_to_hz(mover.note(note)), length * beat_s * 0.92, sample_rate=sample_rate,
                        vowel=vowel, next_vowel=following, rng=rng,
                    )
                    add_at(stems["vocals"], pan(voice, 0.0), at(bar, beat), voice_gain)
                beat += length

    fade = min(n // 4, int(1.0 * sample_rate))
    ramp = np.linspace(1.0, 0.0, fade, dtype=np.float32) ** 2
    for name in stems:
        stems[name] = stems[name][:, :n]
        stems[name][:, n - fade :] *= ramp
    peak = float(np.max(np.abs(sum(stems.values()))))
    gain = 10 ** (-1.0 / 20.0) / max(peak, 1e-9)
    return {name: (audio * gain).astype(np.float32) for name, audio in stems.items()}


def make_demo_song(
    path: str | os.PathLike[str], *, seed: int = 7, duration_s: float = 48.0,
    tonic: int = 0, mode: str = "major",
) -> Path:
    """Write the demo song as a stereo 44.1 kHz WAV (24-bit) and return its path.

    Parameters
    ----------
    path : path-like
        Destination ``.wav`` (parent folders are created).
    seed : int
    duration_s : float ≥ 10, seconds
    tonic, mode : int 0–11, ``"major"`` or ``"minor"``
        The key (C major by default), as in :func:`render_demo_stems`.

    Returns
    -------
    Path
    """
    audio = render_demo_song(seed=seed, duration_s=duration_s, tonic=tonic, mode=mode)
    out = write_wav(path, audio, sample_rate=ENGINE_SAMPLE_RATE, subtype="PCM_24")
    logger.info("wrote the demo song (%.0f s, %s, 118 BPM) to %s", duration_s,
                Key(tonic=tonic % 12, mode=Mode(mode)).long_name, out)
    return out

"""Small deterministic instruments in NumPy: drums, plucked and sustained tones, a sung voice.

They build the demo song and the generated test and benchmark material (drum loops, chord
progressions, mixtures of known stems), so nothing the engine is checked against comes from a
sample library. Every function returns float32 mono ``(samples,)`` at ``sample_rate`` and is
deterministic for a given ``rng``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "DRUM_PATTERNS",
    "MAJOR_PROGRESSIONS",
    "MINOR_PROGRESSIONS",
    "PROGRESSIONS",
    "VOWELS",
    "add_at",
    "bass_note",
    "chord_tone",
    "drum_loop",
    "hat",
    "key_progressions",
    "kick",
    "known_stems",
    "midi_to_hz",
    "progression",
    "snare",
    "sung_note",
    "tempo_loops",
]

VOWELS: dict[str, tuple[tuple[float, float, float], ...]] = {
    # (formant frequency Hz, bandwidth Hz, gain) for the first three formants of a sung vowel
    "a": ((800.0, 80.0, 1.0), (1150.0, 90.0, 0.5), (2900.0, 120.0, 0.25)),
    "e": ((400.0, 70.0, 1.0), (1700.0, 80.0, 0.4), (2600.0, 100.0, 0.25)),
    "i": ((300.0, 60.0, 1.0), (2200.0, 90.0, 0.3), (3000.0, 100.0, 0.25)),
    "o": ((450.0, 70.0, 1.0), (800.0, 80.0, 0.6), (2830.0, 100.0, 0.15)),
    "u": ((325.0, 50.0, 1.0), (700.0, 60.0, 0.3), (2530.0, 170.0, 0.1)),
}
"""Formants of five sung vowels (after Peterson & Barney and Sundberg's singer data)."""

DRUM_PATTERNS: dict[str, dict[str, tuple[int, ...]]] = {
    # steps of a 16-step bar (sixteenth notes) where each drum hits
    "rock": {"kick": (0, 8), "snare": (4, 12), "hat": (0, 2, 4, 6, 8, 10, 12, 14)},
    "house": {"kick": (0, 4, 8, 12), "snare": (4, 12), "hat": (2, 6, 10, 14)},
    "hiphop": {"kick": (0, 7, 10), "snare": (4, 12), "hat": (0, 2, 4, 6, 8, 10, 12, 14)},
    "breakbeat": {"kick": (0, 10), "snare": (4, 12), "hat": (0, 2, 4, 6, 8, 10, 12, 14)},
}
"""Four common one-bar grooves, as sixteenth-note steps per drum."""


def midi_to_hz(note: float) -> float:
    """Frequency of a MIDI note: ``440 * 2 ** ((note - 69) / 12)``."""
    return float(440.0 * 2.0 ** ((note - 69.0) / 12.0))


def add_at(track: np.ndarray, sound: np.ndarray, start: int, gain: float = 1.0) -> None:
    """Mix ``sound`` into ``track`` from sample ``start``, clipped to the track's end (in place)."""
    if start >= track.shape[-1] or start < 0:
        return
    end = min(track.shape[-1], start + sound.shape[-1])
    track[..., start:end] += gain * sound[..., : end - start]


def kick(*, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A punchy electronic kick: a sine swept from ~150 Hz down to 50 Hz with a short click."""
    n = int(0.35 * sample_rate)
    t = np.arange(n) / sample_rate
    freq = 50.0 + 100.0 * np.exp(-t / 0.035)
    body = np.sin(2 * np.pi * np.cumsum(freq) / sample_rate) * np.exp(-t / 0.16)
    click = rng.standard_normal(n) * np.exp(-t / 0.003) * 0.3
    return (0.9 * body + click).astype(np.float32)


def snare(*, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A snare: a 190 Hz shell tone under a bright noise burst (the wires)."""
    n = int(0.25 * sample_rate)
    t = np.arange(n) / sample_rate
    noise = rng.standard_normal(n)
    noise = np.diff(noise, prepend=0.0) * 0.6 + noise * 0.4  # tilt the noise towards the top
    wires = noise * np.exp(-t / 0.06)
    shell = np.sin(2 * np.pi * 190.0 * t) * np.exp(-t / 0.04)
    return (0.35 * wires + 0.5 * shell).astype(np.float32)


def hat(*, sample_rate: int, rng: np.random.Generator, open_: bool = False) -> np.ndarray:
    """A closed (or open) hi-hat: twice-differentiated noise, so only the top octaves remain."""
    n = int((0.25 if open_ else 0.06) * sample_rate)
    t = np.arange(n) / sample_rate
    noise = np.diff(rng.standard_normal(n + 2), n=2)
    return (0.12 * noise * np.exp(-t / (0.08 if open_ else 0.015))).astype(np.float32)


def chord_tone(
    freq_hz: float,
    duration_s: float,
    *,
    sample_rate: int,
    harmonics: int = 10,
    brightness: float = 1.2,
    decay_s: float = 1.5,
) -> np.ndarray:
    """A keyboard-like note: harmonics falling as ``1/k**brightness``, upper ones dying sooner.

    Parameters
    ----------
    freq_hz : float > 0, Hz
    duration_s : float > 0, seconds
        Sounding length; a 10 ms release follows inside it.
    sample_rate : int > 0, Hz
    harmonics : int ≥ 1
    brightness : float > 0
        Spectral tilt exponent; 1 is saw-like, 2 is mellow.
    decay_s : float > 0, seconds
        Time constant of the fundamental's decay.
    """
    n = max(1, int(duration_s * sample_rate))
    t = np.arange(n) / sample_rate
    out = np.zeros(n)
    for k in range(1, harmonics + 1):
        f = k * freq_hz
        if f >= 0.45 * sample_rate:
            break
        out += np.sin(2 * np.pi * f * t + 0.3 * k) * np.exp(-t * k / (decay_s * 2.0)) / k**brightness
    attack = np.minimum(1.0, t / 0.005)
    release = np.minimum(1.0, (duration_s - t) / 0.01).clip(0.0, 1.0)
    return (out * attack * release).astype(np.float32)


def bass_note(freq_hz: float, duration_s: float, *, sample_rate: int) -> np.ndarray:
    """A round synth bass: a few saw harmonics with a plucked envelope."""
    n = max(1, int(duration_s * sample_rate))
    t = np.arange(n) / sample_rate
    out = np.zeros(n)
    for k in range(1, 7):
        out += np.sin(2 * np.pi * k * freq_hz * t) / k**1.4
    env = np.minimum(1.0, t / 0.004) * (0.35 + 0.65 * np.exp(-t / 0.25))
    release = np.minimum(1.0, (duration_s - t) / 0.015).clip(0.0, 1.0)
    return (out * env * release).astype(np.float32)


def _formant_gain(freqs_hz: np.ndarray, vowel: str) -> np.ndarray:
    """Spectral envelope of a vowel at ``freqs_hz``: resonance peaks over a falling source tilt."""
    env = np.zeros_like(freqs_hz)
    for f0, bw, gain in VOWELS[vowel]:
        env += gain / (1.0 + ((freqs_hz - f0) / (bw / 2.0)) ** 2)
    return env + 0.02 * (300.0 / np.maximum(freqs_hz, 50.0))


def sung_note(
    freq_hz: float,
    duration_s: float,
    *,
    sample_rate: int,
    vowel: str = "a",
    next_vowel: str | None = None,
    vibrato_cents: float = 25.0,
    rng: np.random.Generator,
) -> np.ndarray:
    """One sung syllable: a glottal-like harmonic source shaped by vowel formants, with vibrato.

    The harmonics follow the pitch (including a 5.5 Hz vibrato that fades in) while their
    amplitudes follow the vowel's formant envelope, which is what makes a tone sound sung
    rather than played; the vowel glides towards ``next_vowel`` at the end of the note.

    Parameters
    ----------
    freq_hz : float > 0, Hz
        Sung pitch.
    duration_s : float > 0, seconds
    sample_rate : int > 0, Hz
    vowel, next_vowel : str
        Keys of :data:`VOWELS`.
    vibrato_cents : float ≥ 0, cents
        Vibrato depth (peak deviation).
    rng : numpy Generator
        Breath noise and vibrato phase.
    """
    n = max(1, int(duration_s * sample_rate))
    t = np.arange(n) / sample_rate
    depth = vibrato_cents / 1200.0 * np.minimum(1.0, t / 0.35)
    f0 = freq_hz * 2.0 ** (depth * np.sin(2 * np.pi * 5.5 * t + rng.uniform(0, 2 * np.pi)))
    f0 *= 2.0 ** (-0.4 / 12.0 * np.exp(-t / 0.04))  # a slight scoop into the note
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    glide = np.clip((t - 0.6 * duration_s) / max(0.4 * duration_s, 1e-3), 0.0, 1.0)
    out = np.zeros(n)
    for k in range(1, int(5000.0 / freq_hz) + 1):
        fk = np.array([k * freq_hz])
        gain = _formant_gain(fk, vowel)[0]
        if next_vowel is not None:
            gain = gain * (1.0 - glide) + _formant_gain(fk, next_vowel)[0] * glide
        out += gain * np.sin(k * phase) / k**0.5
    breath = rng.standard_normal(n)
    breath = np.diff(breath, prepend=0.0) * 0.004
    env = np.minimum(1.0, t / 0.03) * np.minimum(1.0, (duration_s - t) / 0.06).clip(0.0, 1.0)
    return ((out + breath) * env).astype(np.float32)


def drum_loop(
    *,
    tempo_bpm: float,
    bars: int,
    sample_rate: int,
    pattern: str | dict[str, Sequence[int]] = "rock",
    seed: int = 0,
) -> np.ndarray:
    """A mono drum loop of ``bars`` 4/4 bars at ``tempo_bpm`` from a 16-step pattern.

    Velocities vary slightly per hit, as a drummer's do.

    Parameters
    ----------
    tempo_bpm : float > 0, BPM
    bars : int ≥ 1
    sample_rate : int > 0, Hz
    pattern : str or dict
        A name from :data:`DRUM_PATTERNS` or a dict of drum name → steps.
    seed : int
        Seed of the noise and velocity variation.
    """
    rng = np.random.default_rng(seed)
    steps = DRUM_PATTERNS[pattern] if isinstance(pattern, str) else pattern
    step_s = 60.0 / tempo_bpm / 4.0
    n = round(bars * 16 * step_s * sample_rate) + int(0.4 * sample_rate)
    out = np.zeros(n, dtype=np.float32)
    sounds = {
        "kick": [kick(sample_rate=sample_rate, rng=rng) for _ in range(2)],
        "snare": [snare(sample_rate=sample_rate, rng=rng) for _ in range(3)],
        "hat": [hat(sample_rate=sample_rate, rng=rng) for _ in range(4)],
    }
    levels = {"kick": 1.0, "snare": 0.8, "hat": 0.5}
    for bar in range(bars):
        for drum, hits in steps.items():
            for step in hits:
                start = round((bar * 16 + step) * step_s * sample_rate)
                sound = sounds[drum][int(rng.integers(len(sounds[drum])))]
                add_at(out, sound, start, levels[drum] * rng.uniform(0.85, 1.0))
    return out[: round(bars * 16 * step_s * sample_rate)]


def known_stems(
    *, sample_rate: int, tempo_bpm: float = 120.0, bars: int = 4, seed: int = 0
) -> dict[str, np.ndarray]:
    """Four stereo stems of one short song whose mixture is their sum, to score separation.

    Drums in the centre, a bass line on the roots, keys spread left and right, and a sung
    melody in the centre, all at typical mix levels.

    Returns
    -------
    dict of str to np.ndarray
        ``vocals``, ``drums``, ``bass``, ``other``: float32, shape (2, samples).
    """
    rng = np.random.default_rng(seed)
    beat_s = 60.0 / tempo_bpm
    n = round(bars * 4 * beat_s * sample_rate)
    roots = (0, 7, 9, 5)
    drums = drum_loop(tempo_bpm=tempo_bpm, bars=bars, sample_rate=sample_rate, seed=seed)[:n]
    bass = np.zeros(n, dtype=np.float32)
    vocals = np.zeros(n, dtype=np.float32)
    for beat in range(bars * 4):
        root = roots[(beat // 4) % 4]
        start = round(beat * beat_s * sample_rate)
        add_at(bass, bass_note(midi_to_hz(36 + root), beat_s * 0.9, sample_rate=sample_rate),
               start, 0.45)
        if beat % 2 == 0:
            note = 60 + (root + (4, 7, 12)[beat // 2 % 3]) % 12
            add_at(vocals, sung_note(midi_to_hz(note), 2 * beat_s * 0.9, sample_rate=sample_rate,
                                     vowel="aoei"[beat // 2 % 4], rng=rng), start, 0.2)
    keys = progression(tonic=0, name="I-V-vi-IV", sample_rate=sample_rate,
                       tempo_bpm=tempo_bpm, repeats=max(1, bars // 4), with_bass=False, seed=seed)
    keys = np.pad(keys, (0, max(0, n - keys.size)))[:n] * 0.7
    stems = {
        "vocals": np.stack([vocals, vocals]),
        "drums": np.stack([drums, drums]),
        "bass": np.stack([bass, bass]),
        "other": np.stack([0.8 * keys, 0.45 * keys]) if seed % 2 == 0 else np.stack(
            [0.45 * keys, 0.8 * keys]),
    }
    return {name: audio.astype(np.float32) for name, audio in stems.items()}


PROGRESSIONS: dict[str, tuple[tuple[int, str], ...]] = {
    # (root as semitones above the tonic, triad quality) per chord, one bar each
    "I-IV-V-I": ((0, "maj"), (5, "maj"), (7, "maj"), (0, "maj")),
    "I-V-vi-IV": ((0, "maj"), (7, "maj"), (9, "min"), (5, "maj")),
    "I-vi-IV-V": ((0, "maj"), (9, "min"), (5, "maj"), (7, "maj")),
    "i-iv-v-i": ((0, "min"), (5, "min"), (7, "min"), (0, "min")),
    "i-VI-III-VII": ((0, "min"), (8, "maj"), (3, "maj"), (10, "maj")),
    "i-VII-VI-VII": ((0, "min"), (10, "maj"), (8, "maj"), (10, "maj")),
    "i-iv-V-i": ((0, "min"), (5, "min"), (7, "maj"), (0, "min")),
}
"""Common progressions. The minor ones except ``i-iv-V-i`` are natural minor (no raised 7th)."""


def progression(
    *,
    tonic: int,
    name: str,
    sample_rate: int,
    tempo_bpm: float = 100.0,
    repeats: int = 2,
    with_bass: bool = True,
    end_on_tonic: bool = True,
    seed: int = 0,
) -> np.ndarray:
    """A chord progression played on keys with a bass, by default ending on the tonic chord.

    Chords are voiced around middle C with the root doubled two octaves down in the bass;
    each chord lasts one 4/4 bar and is struck on beats 1 and 3.

    Parameters
    ----------
    tonic : int, 0–11
        Tonic pitch class (0 = C).
    name : str
        A key of :data:`PROGRESSIONS`.
    sample_rate : int > 0, Hz
    tempo_bpm : float > 0, BPM
    repeats : int ≥ 1
        How often the progression is played before the final tonic chord.
    with_bass : bool
        Whether the bass doubles the chord roots (off for mixtures of separate stems).
    end_on_tonic : bool
        Add a final tonic bar (a cadence); without it the clip is a bare loop, the harder
        case where nothing but the order of the chords marks the tonic.
    seed : int

    Returns
    -------
    np.ndarray, float32, shape (samples,)
    """
    rng = np.random.default_rng(seed)
    chords = list(PROGRESSIONS[name]) * repeats + ([PROGRESSIONS[name][0]] if end_on_tonic else [])
    bar_s = 4 * 60.0 / tempo_bpm
    n = int((len(chords) * bar_s + 1.0) * sample_rate)
    out = np.zeros(n, dtype=np.float32)
    for i, (root, quality) in enumerate(chords):
        root_pc = (tonic + root) % 12
        third = 4 if quality == "maj" else 3
        base = 60 + root_pc if root_pc < 7 else 48 + root_pc  # keep voicings near middle C
        notes = [base, base + third, base + 7]
        for half in range(2):
            start = int((i * bar_s + half * bar_s / 2) * sample_rate)
            for note in notes:
                tone = chord_tone(midi_to_hz(note), bar_s / 2, sample_rate=sample_rate)
                add_at(out, tone, start, 0.18 * rng.uniform(0.9, 1.0))
        if with_bass:
            bass = bass_note(midi_to_hz(36 + root_pc), bar_s * 0.95, sample_rate=sample_rate)
            add_at(out, bass, int(i * bar_s * sample_rate), 0.35)
    return out


def tempo_loops(
    *, count: int = 24, low_bpm: float = 70.0, high_bpm: float = 180.0, bars: int = 6,
    sample_rate: int, seed: int = 0,
) -> list[tuple[float, str, np.ndarray]]:
    """Drum loops at ``count`` tempi spread evenly over ``low_bpm``…``high_bpm``.

    The grooves cycle through :data:`DRUM_PATTERNS` so every groove meets slow and fast
    tempi. Returns ``(tempo_bpm, pattern, mono audio)`` triples.
    """
    names = list(DRUM_PATTERNS)
    loops = []
    for i, tempo in enumerate(np.linspace(low_bpm, high_bpm, count)):
        pattern = names[(i + seed) % len(names)]
        audio = drum_loop(tempo_bpm=float(tempo), bars=bars, sample_rate=sample_rate,
                          pattern=pattern, seed=1000 * seed + i)
        loops.append((float(tempo), pattern, audio))
    return loops


MAJOR_PROGRESSIONS = ("I-IV-V-I", "I-V-vi-IV", "I-vi-IV-V")
"""Progressions used for major keys in the key benchmark and tests."""

MINOR_PROGRESSIONS = ("i-iv-v-i", "i-VI-III-VII", "i-VII-VI-VII", "i-iv-V-i")
"""Progressions for minor keys: three natural minor (no raised 7th), one harmonic minor."""


def key_progressions(
    *, per_key: int = 2, sample_rate: int, tempo_bpm: float = 120.0, loop: bool = False
) -> list[tuple[int, str, str, np.ndarray]]:
    """Chord progressions in all 24 keys: ``(tonic, "major"|"minor", progression, audio)``.

    Each key gets ``per_key`` progressions, rotating through :data:`MAJOR_PROGRESSIONS` or
    :data:`MINOR_PROGRESSIONS`, so natural-minor progressions are three in four of the minor
    examples. ``loop=True`` gives bare two-pass loops with no final tonic chord.
    """
    items = []
    for mode, names in (("major", MAJOR_PROGRESSIONS), ("minor", MINOR_PROGRESSIONS)):
        for tonic in range(12):
            for j in range(per_key):
                name = names[(tonic + j) % len(names)]
                audio = progression(tonic=tonic, name=name, sample_rate=sample_rate,
                                    tempo_bpm=tempo_bpm, repeats=2 if loop else 1,
                                    end_on_tonic=not loop, seed=tonic * 7 + j)
                items.append((tonic, mode, name, audio))
    return items

"""The sound vault: every instrument the generated tracks play, synthesised, no samples.

Kicks, snares, hats, tribal percussion, bass voices, pads and keys, and the transition
effects are small NumPy functions of a few parameters, so a production never waits on a
download and renders the same on every machine. Each voice answers the three controls of
:class:`core.spec.VoiceSpec`, and each one measurably:

- ``brightness`` (−1 dark … +1 bright) moves the tone filter and the click, noise and
  harmonic content, so the spectral centroid follows it;
- ``decay`` (−1 short … +1 long) scales every envelope time constant by ``2 ** (1.25 · decay)``
  (0.42× … 2.4×), so the tail follows it;
- ``drive`` (0–1) is ``tanh`` saturation: more harmonics, a denser sound.

Audio is float32 mono ``(samples,)``; the instrument renderer pans and sums it. Everything is
deterministic: the noise of a one-shot comes from a seed derived from its name and variant.
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import signal

from core.spec import VoiceSpec
from jobs.synth import chord_tone, midi_to_hz

__all__ = [
    "BASS_VOICES",
    "FX_KINDS",
    "KICK_VOICES",
    "KIT_VOICES",
    "MUSIC_VOICES",
    "ONE_SHOTS",
    "fx",
    "one_shot",
    "one_shot_level",
    "tone",
    "tuned_hz",
]

logger = logging.getLogger(__name__)

KICK_VOICES = ("kick_deep", "kick_hard", "kick_house", "kick_punchy", "kick_soft")
"""Kick drums; a kick track's voice is one of these."""

BASS_VOICES = ("sub", "808", "reese", "pluck_bass", "log_drum")
"""Pitched bass voices for :func:`tone`."""

MUSIC_VOICES = ("pad", "keys", "lead", "pluck")
"""Pitched musical voices for :func:`tone` (chords, leads, plucks)."""

KIT_VOICES = ("drum_kit", "percussion_kit")
"""Voices that play GM drum notes with the vault's one-shots (see :mod:`jobs.instruments`)."""

FX_KINDS = ("riser", "impact", "downlifter", "fill", "reverse_cymbal")
"""Transition effects for :func:`fx`, the kinds of :class:`core.spec.Transition`."""


@dataclass(frozen=True, slots=True)
class _KickParams:
    f_start_hz: float  #: pitch at the hit
    f_end_hz: float  #: pitch the body settles on
    sweep_s: float  #: time constant of the pitch drop
    decay_s: float  #: time constant of the body
    click: float  #: level of the beater click
    drive: float  #: built-in saturation


_KICKS = {
    "kick_deep": _KickParams(110.0, 42.0, 0.050, 0.30, 0.12, 0.0),
    "kick_hard": _KickParams(230.0, 52.0, 0.028, 0.20, 0.50, 0.55),
    "kick_house": _KickParams(150.0, 50.0, 0.040, 0.22, 0.30, 0.15),
    "kick_punchy": _KickParams(185.0, 56.0, 0.025, 0.16, 0.45, 0.25),
    "kick_soft": _KickParams(95.0, 47.0, 0.060, 0.20, 0.04, 0.0),
}

# Six square-wave oscillators at the TR-808's inharmonic cymbal frequencies (Hz)
_METAL_HZ = (205.3, 304.4, 369.6, 522.7, 540.0, 800.0)

# pitched membranes: (fundamental Hz, pitch drop in semitones, decay s, slap level)
_MEMBRANES = {
    "conga_high": (330.0, 1.5, 0.16, 0.35),
    "conga_low": (220.0, 1.5, 0.20, 0.30),
    "bongo": (460.0, 1.0, 0.09, 0.40),
    "tom_high": (200.0, 4.0, 0.26, 0.20),
    "tom_mid": (150.0, 4.0, 0.30, 0.20),
    "tom_low": (105.0, 4.0, 0.34, 0.20),
    "tamborim": (640.0, 2.0, 0.05, 0.90),
    "surdo": (58.0, 3.0, 0.55, 0.15),
}

# bells: (fundamental Hz, decay s)
_BELLS = {"agogo_high": (930.0, 0.30), "agogo_low": (660.0, 0.32)}

ONE_SHOTS = (
    *KICK_VOICES,
    "snare", "clap", "rim", "clave", "hat_closed", "hat_pedal", "hat_open", "ride", "crash",
    "shaker", "tambourine", "cowbell", *_BELLS, *_MEMBRANES,
)
"""Every one-shot name :func:`one_shot` knows."""

# loudest sample of each one-shot at full velocity (the mixer sets the real gains)
_ONE_SHOT_LEVEL = {
    **dict.fromkeys(KICK_VOICES, 0.9), "snare": 0.7, "clap": 0.65, "rim": 0.5, "clave": 0.45,
    "hat_closed": 0.4, "hat_pedal": 0.3, "hat_open": 0.4, "ride": 0.35, "crash": 0.5,
    "shaker": 0.35, "tambourine": 0.4, "cowbell": 0.4, "agogo_high": 0.4, "agogo_low": 0.4,
    "conga_high": 0.55, "conga_low": 0.6, "bongo": 0.5, "tom_high": 0.65, "tom_mid": 0.65,
    "tom_low": 0.7, "tamborim": 0.5, "surdo": 0.6,
}
_TONE_LEVEL = {
    "sub": 0.7, "808": 0.7, "reese": 0.5, "pluck_bass": 0.55, "log_drum": 0.6,
    "pad": 0.22, "keys": 0.3, "lead": 0.35, "pluck": 0.35,
}
_FADE_S = 0.004


def _unknown(kind: str, name: str, known: tuple[str, ...]) -> ValueError:
    return ValueError(f"unknown {kind} {name!r}; the vault knows: {', '.join(known)}")


def _decay_scale(decay: float) -> float:
    """Envelope time multiplier of a ``decay`` control: ``2 ** (1.25 · decay)``."""
    return float(2.0 ** (1.25 * decay))


def _rng(*parts: object) -> np.random.Generator:
    """A generator seeded by a stable hash of ``parts`` (names and numbers)."""
    return np.random.default_rng(zlib.crc32(repr(parts).encode()))


@lru_cache(maxsize=256)
def _sos(kind: str, cutoff: tuple[float, ...], sample_rate: int, order: int) -> np.ndarray:
    nyquist = 0.5 * sample_rate
    edges = [min(max(c, 10.0), 0.95 * nyquist) for c in cutoff]
    band = edges if len(edges) > 1 else edges[0]
    return signal.butter(order, band, btype=kind, fs=sample_rate, output="sos")


def _filter(
    x: np.ndarray, kind: str, cutoff_hz: float | tuple[float, float], *, sample_rate: int,
    order: int = 2,
) -> np.ndarray:
    """Butterworth ``lowpass``/``highpass``/``bandpass`` (cutoffs clamped below Nyquist)."""
    cutoff = tuple(cutoff_hz) if isinstance(cutoff_hz, tuple) else (float(cutoff_hz),)
    if kind == "lowpass" and cutoff[0] >= 0.45 * sample_rate:
        return x
    return signal.sosfilt(_sos(kind, cutoff, sample_rate, order), x)


def _finish(
    x: np.ndarray, *, brightness: float, drive: float, level: float, tone_hz: float,
    sample_rate: int,
) -> np.ndarray:
    """Tone filter, presence, saturation, peak level and a click-free end: the voice controls.

    Darker closes a low-pass from ``tone_hz`` down two octaves; brighter adds the content above
    2 kHz back on top (up to +6 dB); drive is ``tanh`` with up to 7× gain into it.
    """
    if brightness < 0:
        x = _filter(x, "lowpass", tone_hz * 4.0**brightness, sample_rate=sample_rate)
    elif brightness > 0:
        x = x + brightness * _filter(x, "highpass", 2000.0, sample_rate=sample_rate)
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak <= 0:
        return x.astype(np.float32)
    x = x / peak
    if drive > 0:
        gain = 1.0 + 6.0 * drive
        x = np.tanh(gain * x) / np.tanh(gain)
    fade = min(x.size, max(1, int(_FADE_S * sample_rate)))
    x[-fade:] *= np.linspace(1.0, 0.0, fade)
    return (level * x).astype(np.float32)


def _time(duration_s: float, sample_rate: int) -> np.ndarray:
    return np.arange(max(1, int(duration_s * sample_rate))) / sample_rate


def _metal(t: np.ndarray, ratio: float) -> np.ndarray:
    """The 808's metallic cluster: six detuned square waves (hats, cymbals, cowbell)."""
    return np.sum([np.sign(np.sin(2 * np.pi * f * ratio * t + i))
                   for i, f in enumerate(_METAL_HZ)], axis=0)


def tuned_hz(freq_hz: float, tonic: int | None) -> float:
    """``freq_hz`` moved to the nearest tonic or fifth of the key (``tonic`` pitch class, C = 0).

    Producers tune the kick and pitched percussion to the song: an untuned kick's body is a
    steady low note that fights the bass and can pull the ear, and a key detector, off the key.
    ``None`` leaves the drum at its own pitch.
    """
    if tonic is None:
        return freq_hz
    note = 69.0 + 12.0 * np.log2(freq_hz / 440.0)
    candidates = [n for n in range(int(note) - 7, int(note) + 8) if n % 12 in (tonic % 12, (tonic + 7) % 12)]
    best = min(candidates, key=lambda n: abs(n - note))
    return float(midi_to_hz(best))


def _kick(name: str, voice: VoiceSpec, sample_rate: int, variant: int,
          tonic: int | None = None) -> np.ndarray:
    p = _KICKS[name]
    ratio = tuned_hz(p.f_end_hz, tonic) / p.f_end_hz
    p = _KickParams(p.f_start_hz * ratio, p.f_end_hz * ratio, p.sweep_s, p.decay_s, p.click, p.drive)
    ds = _decay_scale(voice.decay)
    b = voice.brightness
    t = _time(min(2.0, 5.0 * p.decay_s * ds + 0.05), sample_rate)
    f_start = p.f_start_hz * 1.25**b
    freq = p.f_end_hz + (f_start - p.f_end_hz) * np.exp(-t / p.sweep_s)
    body = np.sin(2 * np.pi * np.cumsum(freq) / sample_rate) * np.exp(-t / (p.decay_s * ds))
    noise = _rng(name, variant).standard_normal(t.size)
    click = _filter(noise, "highpass", 1500.0, sample_rate=sample_rate) * np.exp(-t / 0.004)
    x = body + p.click * 2.0 ** (1.5 * b) * click
    return _finish(x, brightness=b, drive=min(1.0, p.drive + voice.drive), level=0.9,
                   tone_hz=9000.0, sample_rate=sample_rate)


def _drum(name: str, voice: VoiceSpec, sample_rate: int, variant: int) -> np.ndarray:
    """Snares, claps, hats, cymbals, shakers and bells (everything but kicks and membranes)."""
    ds = _decay_scale(voice.decay)
    b = voice.brightness
    rng = _rng(name, variant)
    sr = sample_rate
    tone_hz = 12000.0
    if name == "snare":
        t = _time(0.45 * ds + 0.05, sr)
        wires = _filter(rng.standard_normal(t.size), "bandpass", (1500.0, 9000.0), sample_rate=sr)
        shell = np.sin(2 * np.pi * 185.0 * t) + 0.5 * np.sin(2 * np.pi * 330.0 * t)
        x = (0.6 * shell * np.exp(-t / (0.045 * ds))
             + 2.0 ** b * 1.6 * wires * np.exp(-t / (0.07 * ds)))
    elif name == "clap":
        t = _time(0.4 * ds + 0.08, sr)
        noise = _filter(rng.standard_normal(t.size), "bandpass", (900.0, 5500.0), sample_rate=sr)
        env = sum(np.where(t >= d, np.exp(-(t - d) / 0.004), 0.0) for d in (0.0, 0.011, 0.022))
        env = env + np.where(t >= 0.03, 0.8 * np.exp(-(t - 0.03) / (0.07 * ds)), 0.0)
        x = noise * env
        tone_hz = 8000.0
    elif name == "rim":
        t = _time(0.08 * ds + 0.03, sr)
        x = (np.sin(2 * np.pi * 1650.0 * t) * np.exp(-t / (0.012 * ds))
             + 0.8 * np.sin(2 * np.pi * 480.0 * t) * np.exp(-t / (0.02 * ds))
             + 0.5 * rng.standard_normal(t.size) * np.exp(-t / 0.002))
    elif name == "clave":
        t = _time(0.12 * ds + 0.02, sr)
        x = np.sin(2 * np.pi * 2500.0 * t) * np.exp(-t / (0.03 * ds))
    elif name in ("hat_closed", "hat_pedal", "hat_open"):
        tau, length = {"hat_closed": (0.028, 0.22), "hat_pedal": (0.014, 0.12),
                       "hat_open": (0.28, 1.0)}[name]
        t = _time(length * ds + 0.02, sr)
        raw = _metal(t, 1.0 + 0.01 * variant) + 1.5 * rng.standard_normal(t.size)
        x = _filter(raw, "highpass", 7000.0 * 1.3**b, sample_rate=sr, order=4)
        x = x * np.exp(-t / (tau * ds))
        tone_hz = 16000.0
    elif name in ("ride", "crash"):
        tau, length = (0.7, 2.2) if name == "ride" else (1.1, 3.0)
        t = _time(length * ds + 0.05, sr)
        raw = _metal(t, 1.47 if name == "ride" else 1.13) + (
            0.8 if name == "ride" else 2.5) * rng.standard_normal(t.size)
        x = _filter(raw, "highpass", 3500.0, sample_rate=sr, order=2) * np.exp(-t / (tau * ds))
        if name == "ride":  # the bell of the ride
            x = x + 2.0 * np.sin(2 * np.pi * 2350.0 * t) * np.exp(-t / (0.5 * ds))
        tone_hz = 16000.0
    elif name == "shaker":
        t = _time(0.16 * ds + 0.02, sr)
        noise = _filter(rng.standard_normal(t.size), "bandpass", (3500.0, 12000.0), sample_rate=sr)
        x = noise * np.minimum(1.0, t / 0.008) * np.exp(-t / (0.045 * ds))
    elif name == "tambourine":
        t = _time(0.35 * ds + 0.05, sr)
        jingles = sum(np.sin(2 * np.pi * f * t) for f in (4200.0, 6150.0, 7650.0, 9100.0))
        noise = _filter(rng.standard_normal(t.size), "highpass", 5500.0, sample_rate=sr)
        env = sum(np.where(t >= d, np.exp(-(t - d) / 0.01), 0.0) for d in (0.0, 0.007, 0.016))
        x = (0.4 * jingles + noise) * (env + 0.6 * np.exp(-t / (0.09 * ds)))
        tone_hz = 16000.0
    elif name == "cowbell":
        t = _time(0.5 * ds + 0.05, sr)
        raw = np.sign(np.sin(2 * np.pi * 540.0 * t)) + np.sign(np.sin(2 * np.pi * 800.0 * t))
        x = _filter(raw, "bandpass", (500.0, 3000.0), sample_rate=sr) * (
            0.7 * np.exp(-t / 0.015) + 0.5 * np.exp(-t / (0.12 * ds)))
    else:  # agogo bells: inharmonic partials of a struck bell
        f0, tau = _BELLS[name]
        t = _time(1.2 * tau * ds + 0.1, sr)
        x = sum(a * np.sin(2 * np.pi * f0 * r * t) * np.exp(-t / (tau * ds * d))
                for r, a, d in ((1.0, 1.0, 1.0), (2.76, 0.5, 0.45), (5.40, 0.25, 0.2)))
        x = x + 0.3 * rng.standard_normal(t.size) * np.exp(-t / 0.002)
    return _finish(x, brightness=b, drive=voice.drive, level=_ONE_SHOT_LEVEL[name],
                   tone_hz=tone_hz, sample_rate=sr)


def _membrane(name: str, voice: VoiceSpec, sample_rate: int, variant: int,
              tonic: int | None = None) -> np.ndarray:
    """Hand drums, toms, tamborim and surdo: a pitch-dropping membrane with its 1.59× mode."""
    f0, drop_st, decay_s, slap = _MEMBRANES[name]
    f0 = tuned_hz(f0, tonic)
    ds = _decay_scale(voice.decay)
    b = voice.brightness
    t = _time(5.0 * decay_s * ds + 0.03, sample_rate)
    freq = f0 * 2.0 ** (drop_st / 12.0 * np.exp(-t / 0.015))
    phase = 2 * np.pi * np.cumsum(freq) / sample_rate
    env = np.exp(-t / (decay_s * ds))
    body = (np.sin(phase) + 0.35 * 2.0**b * np.sin(1.59 * phase) * np.exp(-t / (0.4 * decay_s))) * env
    noise = _rng(name, variant).standard_normal(t.size)
    hit = _filter(noise, "bandpass", (1200.0, 6000.0), sample_rate=sample_rate)
    x = body + slap * 2.0 ** (1.5 * b) * 3.0 * hit * np.exp(-t / 0.006)
    return _finish(x, brightness=b, drive=voice.drive, level=_ONE_SHOT_LEVEL[name],
                   tone_hz=max(2000.0, 12.0 * f0), sample_rate=sample_rate)


@lru_cache(maxsize=512)
def _one_shot_cached(
    name: str, voice_key: tuple[str, float, float, float], sample_rate: int, variant: int,
    tonic: int | None = None,
) -> np.ndarray:
    voice = VoiceSpec(name=voice_key[0], brightness=voice_key[1], decay=voice_key[2],
                      drive=voice_key[3])
    if name in _KICKS:
        x = _kick(name, voice, sample_rate, variant, tonic)
    elif name in _MEMBRANES:
        x = _membrane(name, voice, sample_rate, variant, tonic)
    else:
        x = _drum(name, voice, sample_rate, variant)
    x.setflags(write=False)
    return x


def _voice_key(voice: VoiceSpec) -> tuple[str, float, float, float]:
    return (voice.name, round(voice.brightness, 3), round(voice.decay, 3), round(voice.drive, 3))


def one_shot_level(name: str) -> float:
    """Peak of the one-shot ``name`` at full velocity, so a sample standing in for it sits at the
    same level in the mix as the synthesised hit would.

    Examples
    --------
    >>> one_shot_level("snare")
    0.7
    """
    if name not in ONE_SHOTS:
        raise _unknown("one-shot", name, ONE_SHOTS)
    return _ONE_SHOT_LEVEL[name]


def one_shot(
    name: str, voice: VoiceSpec, *, velocity: float, sample_rate: int, variant: int = 0,
    tonic: int | None = None,
) -> np.ndarray:
    """One drum or percussion hit, shaped by the voice's brightness, decay and drive.

    Parameters
    ----------
    name : str
        One of :data:`ONE_SHOTS` (a kick voice, ``snare``, ``clap``, ``hat_closed``,
        ``conga_low``, ``tamborim``, ``surdo``, ``agogo_high`` …).
    voice : core.spec.VoiceSpec
        Its ``brightness``, ``decay`` and ``drive`` shape the hit; its name is not used.
    velocity : float, 0–1
        Linear level of the hit.
    sample_rate : int > 0, Hz
    variant : int ≥ 0
        Round-robin variant: another noise seed, so repeated hits are not identical.
    tonic : int 0–11, optional
        Tune kicks and pitched membranes to this key's tonic or fifth (see :func:`tuned_hz`).

    Returns
    -------
    np.ndarray, float32, shape (samples,)
        Peak at most ~0.9 · velocity.

    Raises
    ------
    ValueError
        For a name the vault does not know (the message lists the known ones).

    Examples
    --------
    >>> from core.spec import VoiceSpec
    >>> hit = one_shot("kick_deep", VoiceSpec(name="kick_deep"), velocity=1.0, sample_rate=44100)
    >>> hit.dtype.name, bool(0.8 < abs(hit).max() <= 0.9)
    ('float32', True)
    """
    if name not in ONE_SHOTS:
        raise _unknown("one-shot", name, ONE_SHOTS)
    velocity = float(np.clip(velocity, 0.0, 1.0))
    return velocity * _one_shot_cached(name, _voice_key(voice), sample_rate, variant, tonic)


_TABLE_SIZE = 4096


@lru_cache(maxsize=64)
def _saw_table(count: int, tilt: float) -> np.ndarray:
    """One period of a band-limited saw-like wave: harmonics 1…count at ``1 / k ** tilt``."""
    x = np.arange(_TABLE_SIZE + 1) / _TABLE_SIZE
    k = np.arange(1, count + 1)[:, np.newaxis]
    return (np.sin(2 * np.pi * k * x) / k**tilt).sum(axis=0)


def _saw(freq_hz: float, t: np.ndarray, *, sample_rate: int, tilt: float, max_harmonics: int,
         phase_offset: float = 0.0) -> np.ndarray:
    """A band-limited saw-like tone (harmonics below 0.45 · rate), read from a wavetable."""
    count = max(1, min(max_harmonics, int(0.45 * sample_rate / freq_hz)))
    cycles = (freq_hz * t + phase_offset / (2 * np.pi)) % 1.0
    return np.interp(cycles * _TABLE_SIZE, np.arange(_TABLE_SIZE + 1),
                     _saw_table(count, round(tilt, 3)))


def _gate(t: np.ndarray, held_s: float, *, attack_s: float, release_s: float) -> np.ndarray:
    """Attack ramp, hold for ``held_s``, then an exponential release (−60 dB at the end)."""
    attack = np.minimum(1.0, t / max(attack_s, 1e-4))
    after = np.maximum(0.0, t - held_s)
    return attack * np.exp(-after * 6.9 / max(release_s, 1e-3))


def _slide(t: np.ndarray, glide_st: float) -> np.ndarray:
    """Frequency ratio of a slide from ``glide_st`` semitones away onto the note (60 ms)."""
    if glide_st == 0:
        return np.ones_like(t)
    return 2.0 ** (glide_st / 12.0 * np.exp(-t / 0.06))


def _tone_raw(name: str, voice: VoiceSpec, freq: float, held_s: float, sample_rate: int,
              glide_st: float) -> tuple[np.ndarray, float]:
    """(signal, tone filter Hz) of one note before the shared voice controls."""
    ds = _decay_scale(voice.decay)
    b = voice.brightness
    sr = sample_rate
    if name == "sub":
        release = 0.04 * ds
        t = _time(held_s + release, sr)
        phase = 2 * np.pi * np.cumsum(freq * _slide(t, glide_st)) / sr
        x = np.sin(phase) + 0.12 * 2.0**b * np.sin(2 * phase)
        return x * _gate(t, held_s, attack_s=0.004, release_s=release), 2000.0
    if name == "808":
        release = 0.06 * ds
        t = _time(held_s + release, sr)
        punch = 3.0 * np.exp(-t / 0.025) if glide_st == 0 else 0.0
        bend = freq * 2.0 ** (punch / 12.0) * _slide(t, glide_st)
        phase = 2 * np.pi * np.cumsum(bend) / sr
        body = np.sin(phase) + 0.2 * 2.0**b * np.sin(2 * phase)
        env = np.exp(-t / (0.9 * ds)) * _gate(t, held_s, attack_s=0.002, release_s=release)
        return body * env, 3000.0
    if name == "reese":
        release = 0.05 * ds
        t = _time(held_s + release, sr)
        x = np.sum([_saw(freq * 2.0 ** (c / 1200.0), t, sample_rate=sr, tilt=1.0,
                         max_harmonics=40, phase_offset=i)
                    for i, c in enumerate((-14.0, 14.0))], axis=0)
        x = _filter(x, "lowpass", 520.0 * 3.0**b, sample_rate=sr)
        return x * _gate(t, held_s, attack_s=0.008, release_s=release), 8000.0
    if name == "pluck_bass":
        release = 0.03 * ds
        t = _time(held_s + release, sr)
        x = sum(np.sin(2 * np.pi * k * freq * t) * np.exp(-t * k / (1.2 * ds)) / k ** (1.3 - 0.4 * b)
                for k in range(1, 13) if k * freq < 0.45 * sr)
        env = (0.3 + 0.7 * np.exp(-t / (0.3 * ds))) * _gate(t, held_s, attack_s=0.003,
                                                             release_s=release)
        return x * env, 6000.0
    if name == "log_drum":
        t = _time(max(held_s, 0.9 * ds), sr)
        bend = freq * (1.0 + 0.12 * np.exp(-t / 0.03))
        phase = 2 * np.pi * np.cumsum(bend) / sr
        x = (np.sin(phase) + 0.6 * 2.0**b * np.sin(2 * phase) * np.exp(-t / 0.08)
             + 0.3 * 2.0**b * np.sin(3 * phase) * np.exp(-t / 0.04))
        knock = _filter(_rng(name).standard_normal(t.size), "bandpass", (600.0, 2400.0),
                        sample_rate=sr) * np.exp(-t / 0.008)
        return x * np.exp(-t / (0.28 * ds)) + 0.6 * knock, 5000.0
    if name == "pad":
        release = 0.45 * ds
        t = _time(held_s + release, sr)
        x = np.sum([_saw(freq * 2.0 ** (c / 1200.0), t, sample_rate=sr, tilt=1.6 - 0.5 * b,
                         max_harmonics=24, phase_offset=1.7 * i)
                    for i, c in enumerate((-9.0, 0.0, 9.0))], axis=0)
        x = _filter(x, "lowpass", 2600.0 * 3.0**b, sample_rate=sr)
        return x * _gate(t, held_s, attack_s=0.12 * ds, release_s=release), 12000.0
    if name in ("keys", "pluck"):
        release = (0.25 if name == "keys" else 0.08) * ds
        decay_s = (1.5 if name == "keys" else 0.3) * ds
        harmonics = 12 if name == "keys" else 18
        x = chord_tone(freq, held_s + release, sample_rate=sr, harmonics=harmonics,
                       brightness=max(0.6, 1.6 - 0.7 * b), decay_s=decay_s).astype(np.float64)
        t = _time(held_s + release, sr)[: x.size]
        return x * _gate(t, held_s, attack_s=0.002, release_s=release), 12000.0
    # lead: saw and square with a delayed vibrato
    release = 0.09 * ds
    t = _time(held_s + release, sr)
    vibrato = 2.0 ** (15.0 / 1200.0 * np.sin(2 * np.pi * 5.2 * t) * np.clip((t - 0.2) / 0.3, 0, 1))
    phase = 2 * np.pi * np.cumsum(freq * vibrato * _slide(t, glide_st)) / sr
    count = max(1, min(30, int(0.45 * sr / freq)))
    x = np.sum([np.sin(k * phase) / k * (1.0 if k % 2 else 0.55) for k in range(1, count + 1)],
               axis=0)
    x = _filter(x, "lowpass", 4000.0 * 3.0**b, sample_rate=sr)
    return x * _gate(t, held_s, attack_s=0.01, release_s=release), 14000.0


@lru_cache(maxsize=256)
def _tone_cached(
    voice_key: tuple[str, float, float, float], pitch: int, duration_s: float, sample_rate: int,
    glide_st: int,
) -> np.ndarray:
    voice = VoiceSpec(name=voice_key[0], brightness=voice_key[1], decay=voice_key[2],
                      drive=voice_key[3])
    x, tone_hz = _tone_raw(voice.name, voice, midi_to_hz(pitch), duration_s, sample_rate,
                           glide_st)
    drive = voice.drive + (0.2 if voice.name == "808" else 0.0)
    out = _finish(x, brightness=voice.brightness, drive=min(1.0, drive),
                  level=_TONE_LEVEL[voice.name], tone_hz=tone_hz, sample_rate=sample_rate)
    out.setflags(write=False)
    return out


def tone(
    voice: VoiceSpec, *, pitch: int, duration_s: float, velocity: float, sample_rate: int,
    glide_from: int | None = None,
) -> np.ndarray:
    """One note of a bass or musical voice, held ``duration_s`` and then released.

    Parameters
    ----------
    voice : core.spec.VoiceSpec
        Its name is one of :data:`BASS_VOICES` or :data:`MUSIC_VOICES`.
    pitch : int, MIDI note (60 = middle C)
    duration_s : float > 0, seconds
        How long the note is held; the release tail follows (its length grows with ``decay``).
        Percussive voices (``log_drum``) ring out on their own.
    velocity : float, 0–1
    sample_rate : int > 0, Hz
    glide_from : int, optional, MIDI note
        Slide into ``pitch`` from this note over the first ~60 ms (legato 808 lines); the
        ``sub``, ``808`` and ``lead`` voices slide, the others start on the pitch.

    Returns
    -------
    np.ndarray, float32, shape (samples,)

    Raises
    ------
    ValueError
        For a voice the vault does not know (the message lists the known ones).

    Examples
    --------
    >>> from core.spec import VoiceSpec
    >>> note = tone(VoiceSpec(name="sub"), pitch=36, duration_s=0.5, velocity=1.0,
    ...             sample_rate=44100)
    >>> note.shape[0] > 0.5 * 44100
    True
    """
    known = BASS_VOICES + MUSIC_VOICES
    if voice.name not in known:
        raise _unknown("tonal voice", voice.name, known)
    glide_st = 0 if glide_from is None else int(glide_from) - int(pitch)
    level = float(np.clip(velocity, 0.0, 1.0))
    return level * _tone_cached(_voice_key(voice), int(pitch), float(max(duration_s, 0.005)),
                                sample_rate, glide_st)


def _swept_noise(
    t: np.ndarray, center_hz: np.ndarray, *, sample_rate: int, rng: np.random.Generator,
    octaves: float = 1.0,
) -> np.ndarray:
    """Noise whose band follows ``center_hz`` over time (a Gaussian band, ``octaves`` wide)."""
    nperseg = 1024
    _, _, spec = signal.stft(rng.standard_normal(t.size), fs=sample_rate, nperseg=nperseg)
    freqs = np.fft.rfftfreq(nperseg, 1.0 / sample_rate)
    frames = np.linspace(0, t.size - 1, spec.shape[1]).astype(int)
    centers = center_hz[frames]
    octave_dist = np.log2(np.maximum(freqs[:, np.newaxis], 1.0) / centers[np.newaxis, :])
    spec = spec * np.exp(-0.5 * (octave_dist / (0.5 * octaves)) ** 2)
    _, out = signal.istft(spec, fs=sample_rate, nperseg=nperseg)
    out = np.pad(out, (0, max(0, t.size - out.size)))[: t.size]
    return out / (np.max(np.abs(out)) + 1e-12)


def fx(kind: str, *, duration_s: float, sample_rate: int, seed: int) -> np.ndarray:
    """A transition effect: riser, impact, downlifter, fill (a snare roll) or reverse cymbal.

    Parameters
    ----------
    kind : str
        One of :data:`FX_KINDS`.
    duration_s : float > 0, seconds
        Length of the effect; a riser, fill and reverse cymbal peak at its very end, an
        impact and a downlifter start at full level.
    sample_rate : int > 0, Hz
    seed : int
        Noise seed.

    Returns
    -------
    np.ndarray, float32, shape (round(duration_s · sample_rate),)
        Peak at most 0.6.

    Raises
    ------
    ValueError
        For an unknown kind.
    """
    if kind not in FX_KINDS:
        raise _unknown("effect", kind, FX_KINDS)
    sr = sample_rate
    n = max(1, round(duration_s * sr))
    t = np.arange(n) / sr
    rng = np.random.default_rng([seed, FX_KINDS.index(kind)])
    pos = t / max(duration_s, 1e-6)
    if kind in ("riser", "downlifter"):
        sweep = pos if kind == "riser" else 1.0 - pos
        center = 300.0 * (8000.0 / 300.0) ** sweep
        noise = _swept_noise(t, center, sample_rate=sr, rng=rng)
        pitch = 180.0 * 2.0 ** (3.0 * sweep)
        whine = np.sin(2 * np.pi * np.cumsum(pitch) / sr)
        level = sweep**2 if kind == "riser" else (1.0 - pos) ** 2 * np.minimum(1.0, t / 0.01)
        x = (noise + 0.25 * whine) * level
    elif kind == "impact":
        boom_hz = 35.0 + 30.0 * np.exp(-t / 0.08)
        boom = np.sin(2 * np.pi * np.cumsum(boom_hz) / sr) * np.exp(-t / 0.9)
        crack = _filter(rng.standard_normal(n), "lowpass", 3000.0, sample_rate=sr) * np.exp(-t / 0.3)
        tail = _filter(rng.standard_normal(n), "bandpass", (200.0, 4000.0), sample_rate=sr)
        x = boom + 0.5 * crack + 0.15 * tail * np.exp(-t / 1.5)
    elif kind == "reverse_cymbal":
        crash = one_shot("crash", VoiceSpec(name="crash", decay=0.6), velocity=1.0,
                         sample_rate=sr, variant=seed % 7)
        crash = np.pad(crash, (0, max(0, n - crash.size)))[:n]
        # the tail of a crash played backwards, swelling ~30 dB into the downbeat
        x = crash[::-1] * np.exp((pos - 1.0) * 3.5) * np.minimum(1.0, t / 0.05)
    else:  # fill: a snare roll that speeds up from eighths to 32nds and swells
        x = np.zeros(n)
        snare = one_shot("snare", VoiceSpec(name="snare", decay=-0.4), velocity=1.0,
                         sample_rate=sr)
        for start, stop, count in ((0.0, 0.5, 4), (0.5, 0.75, 4), (0.75, 1.0, 8)):
            for i in range(count):
                at = start + (stop - start) * i / count
                begin = int(at * n)
                seg = snare[: n - begin] * (0.35 + 0.65 * at)
                x[begin:begin + seg.size] += seg
    peak = float(np.max(np.abs(x))) + 1e-12
    return (0.6 * x / peak).astype(np.float32)

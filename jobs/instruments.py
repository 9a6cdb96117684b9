"""The instrument renderer: a generated MIDI part played on the sound vault, and the FX track.

Drum parts (voices ``drum_kit``, ``percussion_kit`` and the kick voices) map General MIDI drum
numbers to vault one-shots; every other voice plays each note with :func:`jobs.vault.tone`.
Each distinct sound is synthesised once per (voice, pitch, velocity step, length step) and then
only copied into place, so a three-minute part renders in about a second. Hits are placed in
the stereo field the way a producer would (hats and shakers off centre, kick and bass in the
middle, chord notes spread a little).

Output follows the engine convention: float32 ``(2, samples)``. Levels are those of the
vault; the mixer sets the track gains.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable

import numpy as np
import pretty_midi

from core.spec import ProductionSpec, VoiceSpec
from jobs.patterns import GM
from jobs.synth import add_at
from jobs.vault import BASS_VOICES, KICK_VOICES, KIT_VOICES, MUSIC_VOICES, fx, one_shot, tone

__all__ = ["DRUM_KIT", "PERCUSSION_KIT", "Sampler", "render_instrument", "render_transitions"]

logger = logging.getLogger(__name__)

DRUM_KIT: dict[int, str] = {
    35: "kick_punchy", GM.KICK: "kick_punchy", GM.RIM: "rim", GM.SNARE: "snare", 40: "snare",
    GM.CLAP: "clap", GM.FLOOR_TOM: "tom_low", 43: "tom_low", GM.TOM_LOW: "tom_low",
    GM.TOM_MID: "tom_mid", 48: "tom_mid", GM.TOM_HIGH: "tom_high", GM.HAT_CLOSED: "hat_closed",
    GM.HAT_PEDAL: "hat_pedal", GM.HAT_OPEN: "hat_open", GM.CRASH: "crash", 57: "crash",
    GM.RIDE: "ride", 53: "ride", 59: "ride", GM.TAMBOURINE: "tambourine",
    GM.COWBELL: "cowbell", GM.BONGO: "bongo", 61: "bongo", 62: "conga_high",
    GM.CONGA_HIGH: "conga_high", GM.CONGA_LOW: "conga_low", GM.TAMBORIM: "tamborim",
    66: "tamborim", GM.AGOGO_HIGH: "agogo_high", GM.AGOGO_LOW: "agogo_low", 69: "shaker",
    GM.SHAKER: "shaker", GM.CLAVE: "clave", 82: "shaker",
}
"""General MIDI drum number → vault one-shot for the ``drum_kit`` voice."""

PERCUSSION_KIT: dict[int, str] = {**DRUM_KIT, GM.FLOOR_TOM: "surdo", 43: "surdo"}
"""The ``percussion_kit``: the drum kit with the low floor toms played as a samba surdo."""

Sampler = Callable[[str, VoiceSpec, float, int], np.ndarray | None]
"""Plays a recorded hit for a one-shot name: ``(name, voice, velocity, variant)`` → stereo float32
``(2, samples)``, or ``None`` to use the synthesised vault (``jobs.sampler.Palette.hit``)."""

# pan of each one-shot, −1 left … +1 right
_PAN = {
    "hat_closed": 0.25, "hat_pedal": 0.2, "hat_open": 0.3, "ride": 0.3, "crash": -0.2,
    "shaker": -0.3, "tambourine": 0.35, "rim": -0.15, "clave": 0.3, "cowbell": 0.2,
    "conga_high": 0.35, "conga_low": -0.25, "bongo": 0.4, "tamborim": -0.35,
    "agogo_high": 0.45, "agogo_low": -0.45, "tom_high": 0.3, "tom_mid": 0.0, "tom_low": -0.3,
}
_VARIANTS = 3  # round-robin one-shot variants
_VELOCITY_STEPS = 16
_LENGTH_STEP_S = 0.01
_PEAK = 0.98


def _velocity_step(velocity: int) -> float:
    """MIDI velocity quantised to one of 16 steps, as a 0–1 level (the centre of its step)."""
    width = 128 / _VELOCITY_STEPS
    step = min(_VELOCITY_STEPS - 1, int(velocity / width))
    return min(1.0, (step + 0.5) * width / 127.0)


def _pan_gains(pan: float) -> tuple[float, float]:
    """Constant-power pan law: (left, right) gains, −3 dB each in the centre."""
    angle = (pan + 1.0) * np.pi / 4.0
    return float(np.cos(angle)), float(np.sin(angle))


def _kit(voice: VoiceSpec) -> dict[int, str] | None:
    """The drum map of a kit voice, or ``None`` for a tonal voice."""
    if voice.name == "percussion_kit":
        return PERCUSSION_KIT
    if voice.name == "drum_kit":
        return DRUM_KIT
    if voice.name in KICK_VOICES:
        return {**DRUM_KIT, 35: voice.name, GM.KICK: voice.name}
    return None


def render_instrument(
    instrument: pretty_midi.Instrument,
    voice: VoiceSpec,
    *,
    duration_s: float,
    sample_rate: int,
    seed: int = 0,
    tonic: int | None = None,
    sampler: Sampler | None = None,
) -> np.ndarray:
    """Play a MIDI part on a vault voice.

    Parameters
    ----------
    instrument : pretty_midi.Instrument
        Drum parts use General MIDI drum numbers; tonal parts use pitches.
    voice : core.spec.VoiceSpec
        ``drum_kit``, ``percussion_kit``, a kick voice, or a bass or musical voice.
    duration_s : float ≥ 0, seconds
        Length of the result; tails past it are cut.
    sample_rate : int > 0, Hz
    seed : int
        Picks the round-robin variant of each drum hit.
    tonic : int 0–11, optional
        The song's key: kicks and pitched percussion are tuned to its tonic or fifth.
    sampler : Sampler, optional
        Drum and percussion hits it answers are played from recorded samples (in stereo, panned
        like the synth hit); the ones it declines stay synthesised.

    Returns
    -------
    np.ndarray, float32, shape (2, round(duration_s · sample_rate))
        Peak below 0 dBFS.

    Raises
    ------
    ValueError
        For a voice the vault does not know.
    """
    n = round(duration_s * sample_rate)
    kit = _kit(voice)
    known = KIT_VOICES + KICK_VOICES + BASS_VOICES + MUSIC_VOICES
    if kit is None and voice.name not in BASS_VOICES + MUSIC_VOICES:
        raise ValueError(f"unknown voice {voice.name!r}; the vault knows: {', '.join(known)}")
    buses: dict[float, np.ndarray] = defaultdict(lambda: np.zeros(n, dtype=np.float32))
    out = np.zeros((2, n), dtype=np.float32)
    if kit is not None:
        _render_hits(instrument, voice, kit, buses, sample_rate=sample_rate, seed=seed,
                     tonic=tonic, sampler=sampler, stereo=out)
    else:
        _render_notes(instrument, voice, buses, sample_rate=sample_rate)
    for pan, bus in buses.items():
        left, right = _pan_gains(pan)
        out[0] += left * bus
        out[1] += right * bus
    peak = float(np.max(np.abs(out))) if out.size else 0.0
    if peak > _PEAK:
        logger.debug("%s peaked at %.2f; scaled to %.2f", instrument.name, peak, _PEAK)
        out *= _PEAK / peak
    return out


def _render_hits(
    instrument: pretty_midi.Instrument, voice: VoiceSpec, kit: dict[int, str],
    buses: dict[float, np.ndarray], *, sample_rate: int, seed: int, tonic: int | None = None,
    sampler: Sampler | None = None, stereo: np.ndarray | None = None,
) -> None:
    rng = np.random.default_rng([seed % 2**32, 7])
    skipped: set[int] = set()
    for note in instrument.notes:
        name = kit.get(note.pitch)
        if name is None:
            skipped.add(note.pitch)
            continue
        velocity, variant = _velocity_step(note.velocity), int(rng.integers(_VARIANTS))
        at = round(note.start * sample_rate)
        recorded = sampler(name, voice, velocity, variant) if sampler is not None else None
        if recorded is not None and stereo is not None:
            left, right = _pan_gains(_PAN.get(name, 0.0))
            add_at(stereo[0], recorded[0], at, left)
            add_at(stereo[1], recorded[1], at, right)
            continue
        sound = one_shot(name, voice, velocity=velocity, sample_rate=sample_rate,
                         variant=variant, tonic=tonic)
        add_at(buses[_PAN.get(name, 0.0)], sound, at)
    if skipped:
        logger.debug("%s: no vault sound for drum notes %s", instrument.name, sorted(skipped))


def _render_notes(
    instrument: pretty_midi.Instrument, voice: VoiceSpec, buses: dict[float, np.ndarray], *,
    sample_rate: int,
) -> None:
    notes = sorted(instrument.notes, key=lambda x: (x.start, x.pitch))
    mono = voice.name in BASS_VOICES  # a bass plays one note at a time; the next cuts it
    for i, note in enumerate(notes):
        end = note.end
        glide_from = None
        if mono and i + 1 < len(notes):
            end = min(end, max(note.start + 0.01, notes[i + 1].start))
        if mono and voice.name == "808" and i > 0 and notes[i - 1].end > note.start + 0.001:
            glide_from = notes[i - 1].pitch  # legato 808 notes slide into each other
        held = max(_LENGTH_STEP_S, round((end - note.start) / _LENGTH_STEP_S) * _LENGTH_STEP_S)
        sound = tone(voice, pitch=note.pitch, duration_s=held,
                     velocity=_velocity_step(note.velocity), sample_rate=sample_rate,
                     glide_from=glide_from)
        pan = 0.0 if mono else round(((note.pitch * 7) % 5 - 2) * 0.12, 2)
        add_at(buses[pan], sound, round(note.start * sample_rate))


def render_transitions(spec: ProductionSpec, *, sample_rate: int) -> np.ndarray:
    """The FX track: every transition of the spec at its bars, as long as the song.

    A riser and a reverse cymbal swell over their bars and peak on the downbeat just after
    them (where the next section starts); an impact hits the downbeat of its start bar and
    rings on; a downlifter falls away from its start bar; a fill rolls over its bars.

    Returns
    -------
    np.ndarray, float32, shape (2, round(song length · sample_rate))
    """
    bar_s = spec.bar_s
    n = round(spec.total_bars * bar_s * sample_rate)
    out = np.zeros((2, n), dtype=np.float32)
    for i, transition in enumerate(spec.transitions):
        seed = spec.seed * 31 + i
        span_s = transition.bars * bar_s
        start_s = (transition.start_bar - 1) * bar_s
        if transition.kind == "impact":
            span_s = max(span_s, 2.5)
        elif transition.kind == "reverse_cymbal":
            span_s = min(span_s, 4.0)
            start_s = (transition.start_bar - 1 + transition.bars) * bar_s - span_s
        wide = transition.kind in ("riser", "downlifter", "reverse_cymbal")
        left = fx(transition.kind, duration_s=span_s, sample_rate=sample_rate, seed=seed)
        right = (fx(transition.kind, duration_s=span_s, sample_rate=sample_rate, seed=seed + 7919)
                 if wide else left)
        at = round(start_s * sample_rate)
        add_at(out[0], left, at)
        add_at(out[1], right, at)
    peak = float(np.max(np.abs(out))) if out.size else 0.0
    if peak > _PEAK:
        out *= _PEAK / peak
    return out

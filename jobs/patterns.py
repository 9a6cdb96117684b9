"""The pattern generator: drum grammars, percussion figures, bass lines and chords as MIDI.

A :class:`core.spec.PatternSpec` names a style; this module turns it into notes for every bar of
every section whose ``layers`` include the track, at the spec's tempo and time signature (bar 1
starts at 0 s). The grooves are written as 16-step grids (one character per sixteenth note:
``X`` accent, ``x`` normal, ``o`` soft, ``g`` ghost, ``.`` rest), so a musician can read them.

Humanisation follows the PatternSpec and is deterministic for its seed:

- ``swing`` delays every off-beat sixteenth (the odd steps) by ``swing`` sixteenths;
- ``timing_humanize_ms`` nudges each hit (normal, σ = half of it, clipped to ±it);
- ``velocity_humanize`` scales each velocity by ``1 + N(0, velocity_humanize / 2)``;
- ``density`` (raised in high-energy sections, lowered in quiet ones) decides which of the
  optional layers (ghost notes, extra hats, pickups) play in each bar.

Drum tracks get a fill in the last bar of each section (toms and snare over the last beat, or
the last two beats when the groove is dense) and a crash on the first beat of the next one.
Bass lines and chords follow :func:`chord_plan`: one diatonic chord per bar that establishes
the spec's key (natural minor included) and ends the song on the tonic.
"""

from __future__ import annotations

import logging
import tomllib
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pretty_midi

from core.music import Mode
from core.spec import PatternSpec, ProductionSpec, Section, TrackRole, TrackSpec

__all__ = [
    "BASS_STYLES",
    "DRUM_GRAMMARS",
    "GM",
    "PERCUSSION_STYLES",
    "TELECOTECO_STEPS",
    "TOMS",
    "Chord",
    "all_styles",
    "chord_plan",
    "generate_midi",
    "generate_track",
    "kick_times",
    "steps_per_bar",
]

logger = logging.getLogger(__name__)


class GM:
    """General MIDI drum note numbers the grammars use (tamborim borrows the high timbale)."""

    KICK = 36
    RIM = 37
    SNARE = 38
    CLAP = 39
    FLOOR_TOM = 41  #: the surdo in the percussion kit
    HAT_CLOSED = 42
    HAT_PEDAL = 44
    TOM_LOW = 45
    HAT_OPEN = 46
    TOM_MID = 47
    CRASH = 49
    TOM_HIGH = 50
    RIDE = 51
    TAMBOURINE = 54
    COWBELL = 56
    BONGO = 60
    CONGA_HIGH = 63
    CONGA_LOW = 64
    TAMBORIM = 65
    AGOGO_HIGH = 67
    AGOGO_LOW = 68
    SHAKER = 70  #: maracas
    CLAVE = 75


TOMS = (GM.FLOOR_TOM, GM.TOM_LOW, GM.TOM_MID, GM.TOM_HIGH)
"""The toms every drum fill ends on."""

_VELOCITY = {"X": 1.0, "x": 0.8, "o": 0.6, "g": 0.35}


@dataclass(frozen=True, slots=True)
class _Layer:
    """One drum's grid of 16-step bars; a grid of several bars cycles through them."""

    note: int
    grid: str
    min_density: float = 0.0  #: optional layers play when the density reaches this


def _l(note: int, grid: str, min_density: float = 0.0) -> _Layer:
    grid = grid.replace(" ", "")
    if len(grid) % 16 or set(grid) - set(_VELOCITY) - {"."}:
        raise ValueError(f"bad grid {grid!r}")
    return _Layer(note, grid, min_density)


_GROOVES_FILE = Path(__file__).with_name("grooves.toml")


def _grooves() -> dict[str, dict[str, tuple[_Layer, ...]]]:
    """The figures of ``grooves.toml`` by table and style, every grid checked (:func:`_l`).

    The figures are data a producer edits, kept out of the code that plays them.
    """
    with open(_GROOVES_FILE, "rb") as fh:
        tables = tomllib.load(fh)
    return {table: {style: tuple(_l(getattr(GM, drum), *rest) for drum, *rest in layers)
                    for style, layers in styles.items()}
            for table, styles in tables.items()}


_GROOVES = _grooves()
DRUM_GRAMMARS: dict[str, tuple[_Layer, ...]] = _GROOVES["drums"]
"""The drums track of each genre (snare, claps, hats, tribal drums); the kick has its own track."""

_KICKS: dict[str, tuple[_Layer, ...]] = _GROOVES["kicks"]

PERCUSSION_STYLES: dict[str, tuple[_Layer, ...]] = _GROOVES["percussion"]
"""Percussion figures: the percussion track's styles."""


TELECOTECO_STEPS = (0, 3, 5, 7, 10, 12, 14)
"""The samba tamborim figure (two 2/4 samba bars laid over one 4/4 bar): x..x.x.x..x.x.x."""

_ROLLING = frozenset({"trap", "hat_rolls"})  # styles that add hi-hat rolls

Degree = Literal["1", "3", "5", "7", "8", "a"]
# (step, length in steps, chord degree, velocity, min density); "a" approaches the next root
_BassNote = tuple[float, float, Degree, float, float]

_ARPEGGIO: tuple[Degree, ...] = ("1", "8", "5", "8", "3", "8", "5", "8")

BASS_STYLES: dict[str, tuple[_BassNote, ...]] = {
    "offbeat": ((2, 2, "1", 1.0, 0), (6, 2, "1", 0.9, 0), (10, 2, "1", 1.0, 0),
                (14, 2, "1", 0.9, 0), (15, 1, "8", 0.6, 0.75)),
    "rolling_offbeat": ((2, 1, "1", 1.0, 0), (3, 1, "1", 0.7, 0), (6, 1, "1", 0.95, 0),
                        (7, 1, "8", 0.7, 0.4), (10, 1, "1", 1.0, 0), (11, 1, "1", 0.7, 0),
                        (14, 1, "5", 0.9, 0), (15, 1, "1", 0.7, 0.4)),
    "log_drum": ((3, 2, "1", 1.0, 0), (6, 2, "8", 0.85, 0), (10, 1, "1", 0.9, 0),
                 (11, 2, "5", 0.8, 0.4), (14, 2, "8", 0.9, 0.6)),
    "warm_syncopated": ((0, 3, "1", 1.0, 0), (3, 2, "1", 0.8, 0), (6, 3, "5", 0.85, 0),
                        (10, 3, "1", 0.9, 0), (14, 2, "8", 0.7, 0.5)),
    "reese_rolling": ((0, 8, "1", 1.0, 0), (8, 2, "8", 0.8, 0.5), (10, 6, "1", 0.9, 0)),
    "wobble": ((0, 3, "1", 1.0, 0), (3, 3, "1", 0.9, 0), (6, 2, "8", 0.8, 0),
               (8, 4, "1", 1.0, 0), (12, 2, "5", 0.85, 0.4), (14, 2, "8", 0.8, 0.6)),
    "round_walking": ((0, 3.5, "1", 1.0, 0), (4, 3.5, "3", 0.85, 0), (8, 3.5, "5", 0.9, 0),
                      (12, 3.5, "a", 0.85, 0)),
    "arpeggiated": tuple((float(s), 1.0, d, 0.7 if s % 4 else 1.0, 0.0 if s % 2 == 0 else 0.3)
                         for s, d in enumerate(_ARPEGGIO * 2)),
    "octave_disco": ((0, 1.5, "1", 1.0, 0), (2, 1.5, "8", 0.8, 0), (4, 1.5, "1", 1.0, 0),
                     (6, 1.5, "8", 0.8, 0), (8, 1.5, "1", 1.0, 0), (10, 1.5, "8", 0.8, 0),
                     (12, 1.5, "1", 1.0, 0), (14, 1, "8", 0.8, 0), (15, 1, "8", 0.6, 0.6)),
    "root_eighths": tuple((s, 1.8, "1", 1.0 if s % 4 == 0 else 0.8, 0) for s in range(0, 16, 2)),
    "808_glide": ((0, 7, "1", 1.0, 0), (7, 3, "1", 0.9, 0), (10, 6, "8", 1.0, 0),
                  (14, 2, "5", 0.85, 0.6)),
    "rumble": tuple((s, 1, "1", 0.9 - 0.2 * (s % 4), 0) for s in range(16) if s % 4),
    "wobble_offbeat": ((2, 2, "1", 1.0, 0), (6, 1, "8", 0.85, 0), (7, 1, "1", 0.8, 0),
                       (10, 2, "1", 1.0, 0), (13, 1, "5", 0.8, 0.4), (14, 2, "1", 0.9, 0)),
}
"""Bass lines as (step, length in steps, chord degree, velocity, min density) per bar."""

_BASS_GLIDE = frozenset({"808_glide"})  # legato lines: each note runs into the next

_MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
_MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10)
# progressions as scale degrees (0 = tonic); every one starts on the tonic and returns to it
# or to the chord that leads home, so the key is heard from the first bar
_PROGRESSIONS: dict[Mode, tuple[tuple[int, ...], ...]] = {
    Mode.MAJOR: ((0, 4, 5, 3), (0, 5, 3, 4), (0, 3, 0, 4), (0, 3, 4, 0)),
    Mode.MINOR: ((0, 5, 6, 0), (0, 3, 0, 6), (0, 5, 3, 4), (0, 6, 5, 6)),
}
_NUMERALS = ("I", "II", "III", "IV", "V", "VI", "VII")


@dataclass(frozen=True, slots=True)
class Chord:
    """One bar's chord: a diatonic triad of the key."""

    root: int  #: pitch class, 0 = C
    quality: Literal["maj", "min", "dim"]
    numeral: str  #: roman numeral in the key, upper case major (``VI``), lower case minor (``i``)

    @property
    def pitch_classes(self) -> tuple[int, int, int]:
        """Root, third and fifth."""
        third = 4 if self.quality == "maj" else 3
        fifth = 6 if self.quality == "dim" else 7
        return self.root, (self.root + third) % 12, (self.root + fifth) % 12


def _triad(key_tonic: int, scale: tuple[int, ...], degree: int) -> Chord:
    root = scale[degree % 7]
    third = (scale[(degree + 2) % 7] - root) % 12
    fifth = (scale[(degree + 4) % 7] - root) % 12
    quality: Literal["maj", "min", "dim"] = (
        "dim" if fifth == 6 else "maj" if third == 4 else "min"
    )
    numeral = _NUMERALS[degree % 7]
    numeral = numeral if quality == "maj" else numeral.lower() + ("°" if quality == "dim" else "")
    return Chord(root=(key_tonic + root) % 12, quality=quality, numeral=numeral)


def chord_plan(spec: ProductionSpec) -> list[Chord]:
    """One chord per bar: a diatonic progression in ``spec.key``, restarting at each section.

    The progression (four bars, chosen by ``spec.seed``) starts on the tonic chord and the
    last bar of the song is the tonic, so the key is clear by ear and to the key detector,
    natural minor included (no raised seventh).

    Returns
    -------
    list of Chord, length ``spec.total_bars``
    """
    scale = _MINOR_SCALE if spec.key.mode is Mode.MINOR else _MAJOR_SCALE
    options = _PROGRESSIONS[spec.key.mode]
    degrees = options[spec.seed % len(options)]
    plan: list[Chord] = []
    for section in spec.sections:
        plan.extend(_triad(spec.key.tonic, scale, degrees[i % len(degrees)])
                    for i in range(section.bars))
    if plan:
        plan[-1] = _triad(spec.key.tonic, scale, 0)
    return plan


def steps_per_bar(spec: ProductionSpec) -> int:
    """Sixteenth-note steps in one bar of the spec's time signature (16 in 4/4, 12 in 6/8)."""
    numerator, denominator = spec.time_signature
    return max(1, numerator * 16 // denominator)


def _step_s(spec: ProductionSpec) -> float:
    """Length of a sixteenth note in seconds (the tempo counts quarter notes)."""
    return 60.0 / spec.tempo_bpm / 4.0


def all_styles() -> dict[str, str]:
    """Every style name this module generates, with its family (drums, kick, percussion …)."""
    styles = dict.fromkeys(DRUM_GRAMMARS, "drums")
    styles.update({f"{name}_kick": "kick" for name in _KICKS})
    styles.update(dict.fromkeys(PERCUSSION_STYLES, "percussion"))
    styles.update(dict.fromkeys(BASS_STYLES, "bass"))
    styles["chords"] = "chords"
    return styles


def _family(style: str) -> str:
    family = all_styles().get(style)
    if family is None:
        known = ", ".join(sorted(all_styles()))
        raise ValueError(f"unknown pattern style {style!r}; known styles: {known}")
    return family


@dataclass(frozen=True, slots=True)
class _Bar:
    index: int  #: 0-based bar of the song
    in_section: int  #: 0-based bar within its section
    section: Section
    last: bool  #: the section's last bar
    first: bool  #: the section's first bar


def _bars(spec: ProductionSpec, track: TrackSpec) -> list[_Bar]:
    """The bars in which ``track`` plays: those of sections whose layers name it."""
    out: list[_Bar] = []
    for section, first, last in spec.section_bars():
        if track.name not in section.layers:
            continue
        for bar in range(first, last + 1):
            out.append(_Bar(bar - 1, bar - first, section, bar == last, bar == first))
    return out


def _density(pattern: PatternSpec, section: Section) -> float:
    """The pattern's density, raised in high-energy sections and lowered in quiet ones."""
    return float(np.clip(pattern.density + 0.4 * (section.energy - 0.5), 0.0, 1.0))


def _plays(rng: np.random.Generator, min_density: float, density: float) -> bool:
    """Whether an optional layer plays this bar: certain a quarter above its threshold."""
    if min_density <= 0:
        return True
    return bool(rng.random() < np.clip(0.5 + 2.0 * (density - min_density), 0.0, 1.0))


# (step offset from the fill's start, drum, velocity); every fill ends on the toms
_FILLS_ONE_BEAT = (
    ((0, GM.SNARE, 0.6), (1, GM.SNARE, 0.7), (2, GM.TOM_MID, 0.85), (3, GM.TOM_LOW, 1.0)),
    ((0, GM.TOM_HIGH, 0.7), (1, GM.TOM_HIGH, 0.75), (2, GM.TOM_MID, 0.85), (3, GM.FLOOR_TOM, 1.0)),
    ((0, GM.SNARE, 0.7), (0.5, GM.SNARE, 0.5), (1, GM.SNARE, 0.75), (2, GM.TOM_HIGH, 0.85),
     (3, GM.TOM_LOW, 1.0)),
)
_FILLS_TWO_BEATS = (
    ((0, GM.SNARE, 0.5), (1, GM.SNARE, 0.55), (2, GM.SNARE, 0.6), (3, GM.SNARE, 0.65),
     (4, GM.TOM_HIGH, 0.75), (5, GM.TOM_HIGH, 0.8), (6, GM.TOM_MID, 0.9), (7, GM.TOM_LOW, 1.0)),
    ((0, GM.TOM_HIGH, 0.6), (2, GM.TOM_HIGH, 0.65), (3, GM.TOM_MID, 0.7), (4, GM.SNARE, 0.8),
     (5, GM.SNARE, 0.85), (6, GM.FLOOR_TOM, 0.95), (7, GM.TOM_LOW, 1.0)),
)


def _fill(rng: np.random.Generator, steps: int, density: float) -> tuple[int, list[tuple[float, int, float]]]:
    """(first step of the fill, hits) for a section's last bar."""
    two = density >= 0.7 and steps >= 8
    figures = _FILLS_TWO_BEATS if two else _FILLS_ONE_BEAT
    figure = figures[int(rng.integers(len(figures)))]
    start = steps - (8 if two else 4)
    return start, [(start + offset, note, vel) for offset, note, vel in figure]


def _rolls(rng: np.random.Generator, steps: int, density: float) -> list[tuple[float, int, float]]:
    """Trap hi-hat rolls: one or two eighths of the bar split into 3, 4 or 6 quick hits."""
    count = 1 + int(density >= 0.6)
    eighths = [s for s in range(4, steps - 1, 2)]
    if not eighths:
        return []
    chosen = rng.choice(eighths, size=min(count, len(eighths)), replace=False)
    hits: list[tuple[float, int, float]] = []
    for start in sorted(int(s) for s in chosen):
        split = int(rng.choice([3, 4, 6]))
        for i in range(split):
            hits.append((start + 2.0 * i / split, GM.HAT_CLOSED, 0.45 + 0.4 * i / split))
    return hits


def _grid_hits(layers: tuple[_Layer, ...], bar: _Bar, steps: int, rng: np.random.Generator,
               density: float) -> list[tuple[float, int, float]]:
    hits: list[tuple[float, int, float]] = []
    for layer in layers:
        if not _plays(rng, layer.min_density, density):
            continue
        offset = (bar.in_section % (len(layer.grid) // 16)) * 16
        for step in range(steps):  # a bar longer than 16 steps repeats the grid's bar
            char = layer.grid[offset + step % 16]
            if char != ".":
                hits.append((float(step), layer.note, _VELOCITY[char]))
    return hits


def _drum_bar(style: str, family: str, bar: _Bar, steps: int, rng: np.random.Generator,
              density: float, *, with_fills: bool) -> list[tuple[float, int, float]]:
    """The hits of one bar of a drum, kick or percussion style."""
    if family == "kick":
        layers = _KICKS[style.removesuffix("_kick")]
    elif family == "drums":
        layers = DRUM_GRAMMARS[style]
    else:
        layers = PERCUSSION_STYLES[style]
    hits = _grid_hits(layers, bar, steps, rng, density)
    if style in _ROLLING:
        rolls = _rolls(rng, steps, density)
        rolled = {int(step) for step, _, _ in rolls}
        hits = [h for h in hits if not (h[1] == GM.HAT_CLOSED and int(h[0]) in rolled)] + rolls
        if style == "hat_rolls":
            hits = [(s, GM.HAT_PEDAL if n == GM.HAT_CLOSED else n, v) for s, n, v in hits]
    if with_fills and bar.first and bar.index > 0 and density >= 0.3:
        hits.append((0.0, GM.CRASH, 0.8))
    if with_fills and bar.last:
        start, fill = _fill(rng, steps, density)
        hits = [h for h in hits if h[0] < start or h[1] == GM.CRASH] + fill
    return hits


def _bass_pitch(chord: Chord, next_chord: Chord, degree: Degree, scale_pcs: list[int]) -> int:
    """The bass note of ``degree`` over ``chord``, roots between A1 (33) and G#2 (44)."""
    root = 33 + (chord.root - 9) % 12
    pcs = chord.pitch_classes
    if degree == "1":
        return root
    if degree == "3":
        return root + (pcs[1] - pcs[0]) % 12
    if degree == "5":
        return root + (pcs[2] - pcs[0]) % 12
    if degree == "8":
        return root + 12
    if degree == "7":
        return root + (scale_pcs[(scale_pcs.index(chord.root) + 6) % 7] - chord.root) % 12
    # approach: the scale note just below the next chord's root (a step up into it)
    target = 33 + (next_chord.root - 9) % 12
    below = scale_pcs[(scale_pcs.index(next_chord.root) - 1) % 7]
    return target - ((next_chord.root - below) % 12)


def _voicing(chord: Chord, previous: list[int] | None) -> list[int]:
    """A close triad between F3 and F5 that moves as little as possible from ``previous``."""
    candidates = []
    for low in range(53, 68):
        if low % 12 not in chord.pitch_classes:
            continue
        rest = sorted(p for p in range(low + 1, low + 12) if p % 12 in chord.pitch_classes)
        candidates.append([low, *rest[:2]])
    if previous is None:  # root position around middle C
        return next(c for c in candidates if c[0] % 12 == chord.root and c[0] >= 55)
    return min(candidates, key=lambda c: sum(abs(a - b) for a, b in zip(c, previous, strict=True)))


def _humanised(
    rng: np.random.Generator, pattern: PatternSpec, *, step: float, bar_start_s: float,
    step_s: float, velocity: float,
) -> tuple[float, int]:
    """(start in seconds, MIDI velocity) after swing and humanisation."""
    offset = step * step_s
    if float(step).is_integer() and int(step) % 2 == 1:
        offset += pattern.swing * step_s
    jitter_s = pattern.timing_humanize_ms / 1000.0
    if jitter_s > 0:
        offset += float(np.clip(rng.normal(0.0, jitter_s / 2.0), -jitter_s, jitter_s))
    vel = velocity * (1.0 + rng.normal(0.0, pattern.velocity_humanize / 2.0))
    return max(0.0, bar_start_s + offset), int(np.clip(round(vel * 127), 1, 127))


_PROGRAMS = {"sub": 38, "808": 38, "reese": 39, "pluck_bass": 33, "log_drum": 116,
             "pad": 89, "keys": 4, "lead": 81, "pluck": 45}


def generate_track(spec: ProductionSpec, track: TrackSpec) -> pretty_midi.Instrument:
    """The MIDI of one pattern track, in the bars where its sections' layers name it.

    Parameters
    ----------
    spec : core.spec.ProductionSpec
    track : core.spec.TrackSpec
        ``source == "pattern"`` with a :class:`~core.spec.PatternSpec`.

    Returns
    -------
    pretty_midi.Instrument
        Named after the track; drum, kick and percussion styles are ``is_drum`` with General
        MIDI drum numbers (:class:`GM`).

    Raises
    ------
    ValueError
        For a track without a pattern or an unknown style (the message lists the styles).
    """
    if track.pattern is None:
        raise ValueError(f"track {track.name!r} has no pattern to generate")
    pattern = track.pattern
    family = _family(pattern.style)
    is_drum = family in ("drums", "kick", "percussion")
    voice = track.voice.name if track.voice else ""
    instrument = pretty_midi.Instrument(program=0 if is_drum else _PROGRAMS.get(voice, 38),
                                        is_drum=is_drum, name=track.name)
    rng = np.random.default_rng([pattern.seed % 2**32, zlib.crc32(pattern.style.encode())])
    steps = steps_per_bar(spec)
    step_s = _step_s(spec)
    bar_s = steps * step_s
    plan = chord_plan(spec) if family in ("bass", "chords") else []
    scale = _MINOR_SCALE if spec.key.mode is Mode.MINOR else _MAJOR_SCALE
    scale_pcs = [(spec.key.tonic + s) % 12 for s in scale]
    previous: list[int] | None = None
    for bar in _bars(spec, track):
        density = _density(pattern, bar.section)
        start_s = bar.index * bar_s
        if is_drum:
            hits = _drum_bar(pattern.style, family, bar, steps, rng, density,
                             with_fills=track.role is TrackRole.DRUMS and family == "drums")
            for step, note, velocity in sorted(hits):
                at, vel = _humanised(rng, pattern, step=step, bar_start_s=start_s,
                                     step_s=step_s, velocity=velocity)
                instrument.notes.append(pretty_midi.Note(vel, note, at, at + min(step_s, 0.1)))
        elif family == "bass":
            chord = plan[bar.index]
            next_chord = plan[min(bar.index + 1, len(plan) - 1)]
            legato = 1.05 if pattern.style in _BASS_GLIDE else 0.92
            for step, length, degree, velocity, min_density in BASS_STYLES[pattern.style]:
                if step >= steps or not _plays(rng, min_density, density):
                    continue
                at, vel = _humanised(rng, pattern, step=step, bar_start_s=start_s,
                                     step_s=step_s, velocity=velocity)
                pitch = _bass_pitch(chord, next_chord, degree, scale_pcs)
                end = min(at + length * step_s * legato, start_s + bar_s * 1.02)
                instrument.notes.append(pretty_midi.Note(vel, pitch, at, end))
        else:  # chords: the bar's triad, re-struck on the half bar when the groove is busy
            chord = plan[bar.index]
            voicing = _voicing(chord, previous)
            previous = voicing
            strikes = (0.0, steps / 2) if density >= 0.75 else (0.0,)
            length = bar_s / len(strikes)
            for strike in strikes:
                for pitch in voicing:
                    at, vel = _humanised(rng, pattern, step=strike, bar_start_s=start_s,
                                         step_s=step_s, velocity=0.8)
                    instrument.notes.append(pretty_midi.Note(vel, pitch, at, at + 0.98 * length))
    instrument.notes.sort(key=lambda n: (n.start, n.pitch))
    return instrument


def generate_midi(spec: ProductionSpec) -> pretty_midi.PrettyMIDI:
    """Every pattern track of the spec as one MIDI file, with its tempo and time signature.

    Returns
    -------
    pretty_midi.PrettyMIDI
        One instrument per pattern track, in the spec's track order.
    """
    midi = pretty_midi.PrettyMIDI(initial_tempo=float(spec.tempo_bpm))
    numerator, denominator = spec.time_signature
    midi.time_signature_changes.append(pretty_midi.TimeSignature(numerator, denominator, 0.0))
    for track in spec.tracks:
        if track.source == "pattern" and track.pattern is not None:
            midi.instruments.append(generate_track(spec, track))
    return midi


def kick_times(spec: ProductionSpec) -> np.ndarray:
    """Seconds of every kick hit, from the first track with role KICK (for sidechain ducking).

    Returns
    -------
    np.ndarray, float64, shape (hits,), sorted; empty when the spec has no kick pattern
    """
    for track in spec.tracks_with_role(TrackRole.KICK):
        if track.pattern is not None:
            notes = generate_track(spec, track).notes
            return np.array(sorted(n.start for n in notes if n.pitch == GM.KICK), dtype=float)
    return np.zeros(0)

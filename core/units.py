"""Unit conversions, each a small ``x_to_y`` function with its formula, used everywhere.

Names carry their units (``_s``, ``_ms``, ``_hz``, ``_db``, ``_lufs``, ``_bpm``, ``_bars``);
values are normalised once, on entry, with these functions.
"""

from __future__ import annotations

import math

__all__ = [
    "bar_seconds",
    "bars_to_beats",
    "bars_to_seconds",
    "beats_to_seconds",
    "db_to_gain",
    "gain_to_db",
    "hz_to_midi",
    "midi_to_hz",
    "seconds_to_bars",
    "seconds_to_timestamp",
    "semitones_to_ratio",
]

_MIN_GAIN = 1e-12


def db_to_gain(db: float) -> float:
    """Linear amplitude gain of a level in decibels: ``10 ** (db / 20)``."""
    return float(10.0 ** (db / 20.0))


def gain_to_db(gain: float) -> float:
    """Level in decibels of a linear amplitude gain: ``20 * log10(gain)`` (floored at -240 dB)."""
    return float(20.0 * math.log10(max(abs(gain), _MIN_GAIN)))


def beats_to_seconds(beats: float, *, tempo_bpm: float) -> float:
    """Duration of ``beats`` quarter-note beats: ``beats * 60 / tempo_bpm``."""
    return beats * 60.0 / tempo_bpm


def bars_to_beats(bars: float, *, beats_per_bar: int = 4) -> float:
    """Beats in ``bars`` bars: ``bars * beats_per_bar``."""
    return bars * beats_per_bar


def bars_to_seconds(bars: float, *, tempo_bpm: float, beats_per_bar: int = 4) -> float:
    """Duration of ``bars`` bars: ``bars * beats_per_bar * 60 / tempo_bpm``.

    >>> bars_to_seconds(1, tempo_bpm=120)
    2.0
    """
    return beats_to_seconds(bars_to_beats(bars, beats_per_bar=beats_per_bar), tempo_bpm=tempo_bpm)


def bar_seconds(tempo_bpm: float, time_signature: tuple[int, int] = (4, 4)) -> float:
    """Length of one bar in seconds: the one rule every bar position in the product uses.

    The tempo counts quarter notes; a bar holds ``numerator`` notes of ``1/denominator``, so a
    4/4 bar is ``240 / tempo_bpm`` and a 6/8 bar ``180 / tempo_bpm``.

    >>> bar_seconds(120)
    2.0
    >>> bar_seconds(120, (6, 8))
    1.5
    """
    numerator, denominator = time_signature
    return bars_to_seconds(1, tempo_bpm=tempo_bpm * denominator / 4, beats_per_bar=numerator)


def seconds_to_bars(seconds: float, *, tempo_bpm: float, beats_per_bar: int = 4) -> float:
    """Bars in ``seconds``: ``seconds * tempo_bpm / (60 * beats_per_bar)``."""
    return seconds * tempo_bpm / (60.0 * beats_per_bar)


def seconds_to_timestamp(seconds: float) -> str:
    """A ``m:ss`` timestamp a musician reads, e.g. ``90 -> "1:30"``."""
    total = max(0, round(seconds))
    return f"{total // 60}:{total % 60:02d}"


def semitones_to_ratio(semitones: float) -> float:
    """Frequency ratio of an interval: ``2 ** (semitones / 12)``."""
    return float(2.0 ** (semitones / 12.0))


def midi_to_hz(note: float) -> float:
    """Frequency of a MIDI note number: ``440 * 2 ** ((note - 69) / 12)``. Inverse: ``hz_to_midi``."""
    return 440.0 * semitones_to_ratio(note - 69.0)


def hz_to_midi(hz: float) -> float:
    """MIDI note number of a frequency: ``69 + 12 * log2(hz / 440)``. Inverse: ``midi_to_hz``."""
    return 69.0 + 12.0 * math.log2(hz / 440.0)

"""The change card: what a patch was meant to do, checked against what the new render measures.

The Maestro never claims a change it did not measure. Each :class:`core.patch.ExpectedEffect`
of a version's patch is looked up in the parent's and the new version's measurements (written
by the render job) and becomes one :class:`CardLine` with both numbers and a verdict.

A level or tone change is checked on the master as well as on the track: "bass −3 dB" comes
with the master's bass region between the kicks (``low_between_kicks_db``), so the card says
both what the fader did and what a listener hears.
"""

from __future__ import annotations

import itertools

from pydantic import BaseModel

from core.measurements import Measurements
from core.patch import ExpectedEffect

__all__ = ["CardLine", "card_lines", "metric_value"]

_UNITS = {"track_level_db": "dB", "ducking_depth_db": "dB", "integrated_lufs": "LUFS",
          "spectral_centroid_hz": "Hz", "low_end_db": "dB", "tempo_bpm": "BPM",
          "stereo_width": "", "low_between_kicks_db": "dB"}

_TOLERANCE = {"track_level_db": 1.0, "ducking_depth_db": 1.0, "integrated_lufs": 0.5,
              "tempo_bpm": 0.5, "low_end_db": 1.0, "low_between_kicks_db": 1.0}
"""How far a measured change may be from the intended one and still count as on target."""


class CardLine(BaseModel):
    """One measured change: before, after, and whether it did what was intended."""

    text: str  #: what was intended, in the Chef's words ("bass −3 dB")
    metric: str
    track: str = ""
    before: float | None = None
    after: float | None = None
    unit: str = ""
    met: bool | None = None  #: None when it could not be measured
    detail: str = ""  #: e.g. "centroid 310 Hz (bar 33) → 7.9 kHz (bar 48)"


def metric_value(measurements: Measurements, metric: str, track: str = "") -> float | None:
    """A metric from a render's measurements: per track when ``track`` is given, else the master's."""
    return measurements.value(metric, track)


def _rises(values: list[float]) -> bool:
    """Rising bar by bar, allowing a tiny wobble between neighbours (5 %)."""
    return len(values) >= 2 and values[-1] > values[0] and all(
        b >= a * 0.95 for a, b in itertools.pairwise(values))


def _met(effect: ExpectedEffect, before: float | None, after: float) -> bool:
    if before is None:
        return True
    delta = after - before
    if effect.change:
        tolerance = _TOLERANCE.get(effect.metric, abs(effect.change) * 0.5)
        if effect.metric == "ducking_depth_db" and effect.change > 0:
            # deeper is what was asked; landing deeper than planned is still on target
            return delta >= effect.change - tolerance
        return abs(delta - effect.change) <= tolerance
    return delta > 0 if effect.direction == "up" else delta < 0


def card_lines(expected: list[ExpectedEffect], *, before: Measurements,
               after: Measurements) -> list[CardLine]:
    """Every expected effect checked against the two renders' measurements.

    Measurements read from a render's ``measurements.json`` (a mapping) are validated first.
    """
    before, after = Measurements.model_validate(before), Measurements.model_validate(after)
    lines = []
    for effect in expected:
        unit = _UNITS.get(effect.metric, "")
        if effect.direction == "rises_across_bars":
            values = [float(v) for v in after.centroid_by_bar.get(effect.track, [])]
            # relative to the track without the sweep when measured: the chords' own changes
            # cancel out, so "rises bar by bar" is about the sweep alone
            relative = [float(v) for v in after.brightness_by_bar.get(effect.track, [])]
            line = CardLine(text=effect.text, metric=effect.metric, track=effect.track, unit=unit)
            if values:
                line.before, line.after = values[0], values[-1]
                line.met = _rises(relative or values)
                line.detail = (f"brightness {_hz(values[0])} at the first bar → "
                               f"{_hz(values[-1])} at the last")
            lines.append(line)
            continue
        b = metric_value(before, effect.metric, effect.track)
        a = metric_value(after, effect.metric, effect.track)
        line = CardLine(text=effect.text, metric=effect.metric, track=effect.track,
                        before=b, after=a, unit=unit)
        if a is not None:
            line.met = _met(effect, b, a)
        lines.append(line)
    return lines


def _hz(value: float) -> str:
    return f"{value / 1000:.1f} kHz" if value >= 1000 else f"{value:.0f} Hz"

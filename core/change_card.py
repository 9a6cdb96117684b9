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
import math

from pydantic import BaseModel

from core.measurements import Measurements
from core.patch import ExpectedEffect

__all__ = ["DB_TOLERANCE", "SHARE_TOLERANCE", "CardLine", "card_lines", "metric_value", "tolerance"]

_UNITS = {"track_level_db": "dB", "ducking_depth_db": "dB", "integrated_lufs": "LUFS",
          "spectral_centroid_hz": "Hz", "low_end_db": "dB", "tempo_bpm": "BPM",
          "stereo_width": "", "low_between_kicks_db": "dB", "reverb_wet_db": "dB",
          "delay_wet_db": "dB", "side_mid_ratio": "", "swing_16ths": "16ths",
          "level_by_bar_db": "dB", "onsets_by_bar": "onsets per bar",
          "hook_by_bar": "of the bars", "in_key_share": "of the sung time",
          "sung_pitch": "semitones"}

DB_TOLERANCE = 0.5
"""How far (dB or LU) a measured level change may be from the one asked and still be on target."""

SHARE_TOLERANCE = 0.25
"""Likewise for a change in any other unit, as a share of the change asked (±25 %)."""

_TOLERANCE = {"tempo_bpm": 0.5, "ducking_depth_db": 1.0}
"""Metrics judged by their own absolute tolerance: tempo as the render checks its own, ±0.5 BPM;
ducking depth ±1 dB, because the render's dip reads about two thirds of a depth change (3 dB
deeper measures 2.0–2.1 dB: the epoch-averaged dip is shallower than the envelope's), so ±0.5 dB
would mark every honest sidechain change missed until that measure is fixed."""


def tolerance(effect: ExpectedEffect) -> float:
    """How far the measured change may miss ``effect.change`` in the metric's unit: ±0.5 dB for a
    level, ±25 % of the change for anything else (a swing, a width, a number of onsets)."""
    if effect.metric in _TOLERANCE:
        return _TOLERANCE[effect.metric]
    if _UNITS.get(effect.metric) in ("dB", "LUFS"):
        return DB_TOLERANCE
    return abs(effect.change) * SHARE_TOLERANCE


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
        within = tolerance(effect)
        if effect.metric == "ducking_depth_db" and effect.change > 0:
            # deeper is what was asked; landing deeper than planned is still on target
            return delta >= effect.change - within
        return abs(delta - effect.change) <= within
    return delta > 0 if effect.direction == "up" else delta < 0


def card_lines(expected: list[ExpectedEffect], *, before: Measurements,
               after: Measurements) -> list[CardLine]:
    """Every expected effect checked against the two renders' measurements.

    Measurements read from a render's ``measurements.json`` (a mapping) are validated first.
    """
    before, after = Measurements.model_validate(before), Measurements.model_validate(after)
    lines = []
    for effect in _combined(expected):
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
        if effect.start_bar:
            b, a = (_over_bars(m, effect) for m in (before, after))
        else:
            b = metric_value(before, effect.metric, effect.track)
            a = metric_value(after, effect.metric, effect.track)
        line = CardLine(text=effect.text, metric=effect.metric, track=effect.track,
                        before=b, after=a, unit=unit, detail=_detail(effect, b, a))
        if a is not None:
            line.met = _met(effect, b, a)
        lines.append(line)
    return lines


def _combined(expected: list[ExpectedEffect]) -> list[ExpectedEffect]:
    """Effects on the same number (metric, track, bars) as one: two operations of one message
    moving the same send by +5 dB each are one measured +10 dB, checked once."""
    out: list[ExpectedEffect] = []
    for effect in expected:
        same = next((e for e in out if (e.metric, e.track, e.start_bar, e.end_bar)
                     == (effect.metric, effect.track, effect.start_bar, effect.end_bar)
                     and "rises_across_bars" not in (e.direction, effect.direction)), None)
        if same is None:
            out.append(effect)
            continue
        change = same.change + effect.change if same.change and effect.change else 0.0
        direction = ("up" if change > 0 else "down") if change else effect.direction
        out[out.index(same)] = same.model_copy(update={
            "change": change, "direction": direction, "text": f"{same.text}; {effect.text}"})
    return out


def _over_bars(measurements: Measurements, effect: ExpectedEffect) -> float | None:
    """A per-bar metric over the effect's bars: levels as their power mean, counts per bar."""
    values = measurements.over_bars(effect.metric, effect.track, start_bar=effect.start_bar,
                                    end_bar=effect.end_bar or effect.start_bar)
    if not values:
        return None
    if _UNITS.get(effect.metric) == "dB":
        return 10.0 * math.log10(max(sum(10 ** (v / 10) for v in values) / len(values), 1e-12))
    return sum(values) / len(values)


def _detail(effect: ExpectedEffect, before: float | None, after: float | None) -> str:
    """Before → after at the precision the metric needs (a swing of 0.08 → 0.14 is not
    "0.1 → 0.1"), with the bars it was read over and the aim when a number was asked."""
    if before is not None and after is not None and effect.metric in _SHARES:
        return f"{_SHARES[effect.metric]} {before:.0%} → {after:.0%} {_UNITS[effect.metric]}"
    if effect.metric not in ("side_mid_ratio", "swing_16ths", "onsets_by_bar", "level_by_bar_db",
                             "reverb_wet_db", "delay_wet_db") or before is None or after is None:
        return ""
    unit = _UNITS[effect.metric]
    digits = 2 if effect.metric in ("side_mid_ratio", "swing_16ths") else 1
    what = {"side_mid_ratio": "side/mid", "swing_16ths": "swing", "onsets_by_bar": "",
            "level_by_bar_db": "level", "reverb_wet_db": "reverb re dry",
            "delay_wet_db": "delay re dry"}[effect.metric]
    where = ""
    if effect.start_bar:
        end = effect.end_bar or effect.start_bar
        where = (f" over bars {effect.start_bar}–{end}" if end > effect.start_bar
                 else f" in bar {effect.start_bar}")
    text = (f"{what} {before:.{digits}f} → {after:.{digits}f} {unit}".strip() + where
            + f" ({after - before:+.{digits}f})")
    if effect.change:
        text += f", aim {effect.change:+.{digits}f} ± {tolerance(effect):.{digits}f}"
    return text.replace("  ", " ").strip()


_SHARES = {"hook_by_bar": "the hook sung in", "in_key_share": "in the key's notes for"}
"""Metrics that are shares (0–1), said as percentages."""


def _hz(value: float) -> str:
    return f"{value / 1000:.1f} kHz" if value >= 1000 else f"{value:.0f} Hz"

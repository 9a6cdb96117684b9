"""The arrangement picture posted with every render: what plays where, at a glance in chat.

Sections run along the bar axis with their names and first bars; each track has a lane that
is filled where the render measured it sounding (:func:`lane_activity`: silence is drawn as
silence, whatever the plan said), with the bars its sections plan for it outlined over it;
transitions are marked on the bar they start, automation is drawn
over its lane as a labelled ramp; an energy curve and the short-term loudness run above. The
image is 1200×630 (a chat link-preview thumbnail), dark, with big type, so it reads on a phone.
matplotlib is imported only when a picture is drawn, with the Agg backend (no display).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.artifacts import atomic_target
from core.spec import Automation, ProductionSpec
from core.tonal import BAND_LABELS, OCTAVE_CENTRES_HZ, TonalTarget

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["HEARD_ABOVE_DB", "PICTURE_SIZE_PX", "arrangement_png", "lane_activity", "tonal_png"]

PICTURE_SIZE_PX = (1200, 630)
"""Width and height of the picture in pixels."""

HEARD_ABOVE_DB = -60.0
"""A bar of a track is drawn as sounding when its level is above this (dBFS) and within
:data:`_HEARD_WITHIN_DB` of the track's loudest bar; a silent bar measures −120 dB."""
_HEARD_WITHIN_DB = 50.0

_DPI = 100
_BACKGROUND = "#101216"
_FOREGROUND = "#f2f2f2"
_MUTED = "#6b7280"
_SECTION_COLOURS = {
    "intro": "#3b82f6", "build": "#f59e0b", "drop": "#ef4444", "breakdown": "#8b5cf6",
    "outro": "#3b82f6", "verse": "#10b981", "chorus": "#ec4899", "bridge": "#14b8a6",
}
_ROLE_COLOURS = {
    "vocals": "#f472b6", "kick": "#f87171", "drums": "#fb923c", "percussion": "#facc15",
    "bass": "#60a5fa", "music": "#34d399", "fx": "#c084fc",
}
_AUTOMATION_LABELS = {
    "filter_cutoff_hz": "filter", "highpass_hz": "HPF", "gain_db": "gain",
    "reverb_send_db": "verb",
}


def lane_activity(spec: ProductionSpec,
                  levels: Mapping[str, Sequence[float]]) -> dict[str, list[bool]]:
    """Which bars each track is heard in, from its measured level in each bar.

    Parameters
    ----------
    levels : mapping of track name to dB per bar
        ``level_by_bar_db`` of each track as rendered (``measurements["tracks"]``).

    Returns
    -------
    dict of track name to list of bool
        One flag per bar of the arrangement, for the tracks of ``spec`` that were measured.
    """
    out = {}
    for track in spec.tracks:
        values = list(levels.get(track.name) or [])
        if not values:
            continue
        values = (values + [-120.0] * spec.total_bars)[:spec.total_bars]
        loudest = max(values)
        out[track.name] = [v > HEARD_ABOVE_DB and v > loudest - _HEARD_WITHIN_DB for v in values]
    return out


def arrangement_png(
    spec: ProductionSpec,
    path: str | os.PathLike[str],
    *,
    energy: Sequence[float] | None = None,
    loudness: tuple[np.ndarray, np.ndarray] | None = None,
    activity: Mapping[str, Sequence[bool]] | None = None,
) -> Path:
    """Draw the arrangement of ``spec`` to a PNG at ``path`` (written atomically).

    Parameters
    ----------
    spec : core.spec.ProductionSpec
    path : path-like
        Destination ``.png``; its folder is created.
    energy : sequence of float in [0, 1], optional
        Energy per bar (``total_bars`` values) or per section; the sections' own ``energy``
        when omitted.
    loudness : (times_s, lufs), optional
        Short-term loudness of the render (:func:`jobs.loudness.short_term_loudness` and its
        window times in seconds), drawn against the bars.
    activity : mapping of track name to one flag per bar, optional
        Where each track was heard (:func:`lane_activity`); its lane is filled there and its
        planned bars are outlined. A track without it is filled where its sections plan it.

    Returns
    -------
    Path
        The written file, :data:`PICTURE_SIZE_PX` pixels.
    """
    from matplotlib import pyplot as plt

    total = max(1, spec.total_bars)
    lanes = max(1, len(spec.tracks))
    fig = _canvas()
    grid = fig.add_gridspec(2, 1, height_ratios=[1.0, max(2.0, 0.45 * lanes)], hspace=0.05,
                            left=0.15, right=0.93, top=0.84, bottom=0.08)
    top = _styled(fig.add_subplot(grid[0]))
    lanes_ax = _styled(fig.add_subplot(grid[1], sharex=top))
    fig.suptitle(f"{spec.title} · {spec.tempo_bpm:g} BPM · {spec.key}", color=_FOREGROUND,
                 fontsize=22, fontweight="bold", x=0.02, ha="left", y=0.97)
    _draw_sections(top, lanes_ax, spec)
    _draw_curves(top, spec, energy=energy, loudness=loudness, total=total)
    _draw_lanes(lanes_ax, spec, activity or {})
    _draw_transitions(lanes_ax, spec, lanes=lanes)
    lanes_ax.set_xlim(1, total + 1)
    ticks = [first for _, first, _ in spec.section_bars()] or [1]
    lanes_ax.set_xticks(ticks)
    lanes_ax.set_xticklabels([str(t) for t in ticks])
    lanes_ax.set_xlabel("bar", color=_FOREGROUND, fontsize=14, labelpad=2)
    plt.setp(top.get_xticklabels(), visible=False)
    return _save_png(fig, Path(path))


def tonal_png(
    octaves_db: dict[int, float],
    target: TonalTarget,
    path: str | os.PathLike[str],
    *,
    title: str,
    side_mid: float | None = None,
    low_correlation: float | None = None,
) -> Path:
    """Draw the master's tonal balance against the genre's range to a PNG at ``path``.

    One column per octave (63 Hz … 8 kHz): the genre's target range as a shaded bar with its
    centre marked, the master's level as a dot, green inside the range and red outside, with
    the number beside it. The stereo width and the low end's correlation are written under the
    title. Same size and look as :func:`arrangement_png`, so the two sit side by side in chat.

    Parameters
    ----------
    octaves_db : dict of octave centre (Hz) to dB re 1 kHz
        The master's octave levels (``measurements["octaves_db"]``).
    target : core.tonal.TonalTarget
    path : path-like
        Destination ``.png``; its folder is created.
    title : str
    side_mid, low_correlation : float, optional
        The master's side/mid ratio and correlation below 120 Hz.

    Returns
    -------
    Path
        The written file, :data:`PICTURE_SIZE_PX` pixels.
    """
    fig = _canvas()
    ax = _styled(fig.add_axes((0.1, 0.12, 0.86, 0.68)))
    xs = np.arange(len(OCTAVE_CENTRES_HZ))
    lows = [target.low_db(c) for c in OCTAVE_CENTRES_HZ]
    highs = [target.high_db(c) for c in OCTAVE_CENTRES_HZ]
    ax.bar(xs, np.subtract(highs, lows), bottom=lows, width=0.6, color="#374151",
           label="genre's range")
    ax.scatter(xs, [target.bands_db[c] for c in OCTAVE_CENTRES_HZ], marker="_", s=900,
               color=_MUTED, zorder=3)
    misses = target.out_of_range(octaves_db)
    for x, centre in zip(xs, OCTAVE_CENTRES_HZ, strict=True):
        level = octaves_db.get(centre)
        if level is None:
            continue
        colour = "#ef4444" if centre in misses else "#34d399"
        ax.scatter([x], [level], s=220, color=colour, zorder=4)
        ax.text(x + 0.18, level, f"{level:+.1f}", color=colour, fontsize=14, va="center",
                fontweight="bold")
    ax.axhline(0, color=_MUTED, linewidth=1, linestyle=":")
    ax.set_xticks(xs)
    ax.set_xticklabels(list(BAND_LABELS))
    ax.set_ylabel("dB re 1 kHz (mid)", color=_FOREGROUND, fontsize=14)
    ax.grid(axis="y", color="#1f2937")
    verdict = "every octave in range" if not misses else \
        f"{len(misses)} octave{'s' if len(misses) > 1 else ''} out of range"
    fig.suptitle(f"{title} · tonal balance", color=_FOREGROUND, fontsize=22,
                 fontweight="bold", x=0.02, ha="left", y=0.97)
    extra = [verdict]
    if side_mid is not None:
        extra.append(f"side/mid {side_mid:.2f} (range {target.side_mid_min:g}–"
                     f"{target.side_mid_max:g})")
    if low_correlation is not None:
        extra.append(f"low end < 120 Hz correlation {low_correlation:.2f}")
    fig.text(0.02, 0.86, " · ".join(extra), color=_FOREGROUND, fontsize=15, ha="left")
    return _save_png(fig, Path(path))


def _canvas() -> Figure:
    """An empty figure of :data:`PICTURE_SIZE_PX` on the dark background (Agg, no display)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    width, height = PICTURE_SIZE_PX
    return plt.figure(figsize=(width / _DPI, height / _DPI), dpi=_DPI, facecolor=_BACKGROUND)


def _styled(ax: Axes) -> Axes:
    """``ax`` without spines, with light ticks big enough to read on a phone."""
    ax.set_facecolor(_BACKGROUND)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.tick_params(colors=_FOREGROUND, labelsize=14, length=0)
    return ax


def _save_png(fig: Figure, path: Path) -> Path:
    """Write ``fig`` to ``path`` atomically (its folder is created) and close it either way."""
    from matplotlib import pyplot as plt

    try:
        with atomic_target(path, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=_DPI, facecolor=_BACKGROUND, format="png")
    finally:
        plt.close(fig)
    return path


def _draw_sections(top: Axes, lanes_ax: Axes, spec: ProductionSpec) -> None:
    """Tinted section bands behind both panels, named above the curves."""
    for section, first, last in spec.section_bars():
        colour = _SECTION_COLOURS.get(section.kind, _MUTED)
        for ax in (top, lanes_ax):
            ax.axvspan(first, last + 1, color=colour, alpha=0.16, linewidth=0)
            ax.axvline(first, color=colour, alpha=0.8, linewidth=1.5)
        top.text((first + last + 1) / 2, 1.04, section.name, transform=top.get_xaxis_transform(),
                 ha="center", va="bottom", color=colour, fontsize=15, fontweight="bold",
                 clip_on=False)


def _per_bar_energy(spec: ProductionSpec, energy: Sequence[float] | None, total: int) -> np.ndarray:
    """Energy for each bar from per-bar values, per-section values or the sections' own."""
    spans = spec.section_bars()
    if energy is not None and len(energy) == total:
        return np.asarray(energy, dtype=float)
    values = list(energy) if energy is not None and len(energy) == len(spans) else \
        [section.energy for section, _, _ in spans]
    out = np.zeros(total)
    for value, (_, first, last) in zip(values, spans, strict=True):
        out[first - 1 : last] = value
    return out


def _draw_curves(
    top: Axes,
    spec: ProductionSpec,
    *,
    energy: Sequence[float] | None,
    loudness: tuple[np.ndarray, np.ndarray] | None,
    total: int,
) -> None:
    """Energy (0–1, left) as a filled step curve; short-term loudness (LUFS, right) as a line."""
    bars = np.arange(1, total + 2)
    per_bar = _per_bar_energy(spec, energy, total)
    top.fill_between(bars, np.append(per_bar, per_bar[-1:]), step="post", color="#fbbf24",
                     alpha=0.35, linewidth=0)
    top.step(bars, np.append(per_bar, per_bar[-1:]), where="post", color="#fbbf24", linewidth=2.5,
             label="energy")
    top.set_ylim(0, 1.08)
    top.set_yticks([])
    top.set_ylabel("energy", color="#fbbf24", fontsize=14)
    if loudness is not None and len(loudness[0]):
        times_s, lufs = (np.asarray(v, dtype=float) for v in loudness)
        bar_s = spec.bar_s
        right = top.twinx()
        right.plot(1 + times_s / bar_s, lufs, color="#22d3ee", linewidth=2.5)
        right.set_ylim(max(-40.0, float(np.min(lufs)) - 2), float(np.max(lufs)) + 2)
        right.tick_params(colors="#22d3ee", labelsize=12, length=0)
        right.set_ylabel("LUFS", color="#22d3ee", fontsize=14)
        for spine in right.spines.values():
            spine.set_visible(False)


def _runs(flags: Sequence[bool]) -> list[tuple[int, int]]:
    """``(first bar, bars)`` of each run of set flags (bars 1-based)."""
    runs: list[tuple[int, int]] = []
    for bar, on in enumerate(flags, start=1):
        if on and runs and runs[-1][0] + runs[-1][1] == bar:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        elif on:
            runs.append((bar, 1))
    return runs


def _draw_lanes(ax: Axes, spec: ProductionSpec, activity: Mapping[str, Sequence[bool]]) -> None:
    """One row per track: filled where it was heard (or, unmeasured, where its sections list
    it), its planned bars outlined, automation drawn on top."""
    names = [t.name for t in spec.tracks]
    for row, track in enumerate(spec.tracks):
        y = len(names) - 1 - row
        colour = _MUTED if track.muted else _ROLE_COLOURS.get(track.role.value, _FOREGROUND)
        planned = [(first, last - first + 1) for section, first, last in spec.section_bars()
                   if track.name in section.layers]
        heard = activity.get(track.name)
        if heard is None:
            ax.broken_barh(planned, (y - 0.34, 0.68), facecolors=colour,
                           alpha=0.45 if track.muted else 0.9)
        else:
            ax.broken_barh(_runs(heard), (y - 0.34, 0.68), facecolors=colour,
                           alpha=0.45 if track.muted else 0.9)
            ax.broken_barh(planned, (y - 0.42, 0.84), facecolors="none", edgecolors=colour,
                           linewidth=1.5, linestyle=(0, (4, 3)), alpha=0.8)
        for move in track.automation:
            _draw_automation(ax, move, y=y)
    ax.set_ylim(-0.6, len(names) - 0.4)
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels([f"{n} (muted)" if t.muted else n
                        for n, t in zip(reversed(names), reversed(spec.tracks), strict=True)],
                       fontsize=15, color=_FOREGROUND)


def _draw_automation(ax: Axes, move: Automation, *, y: float) -> None:
    """A white ramp over the automated bars, rising or falling with the value, and a label."""
    x0, x1 = move.start_bar, move.end_bar + 1
    rising = move.end_value >= move.start_value
    ys = (y - 0.3, y + 0.3) if rising else (y + 0.3, y - 0.3)
    ax.plot([x0, x1], ys, color=_FOREGROUND, linewidth=3)
    ax.plot([x0, x0], [y - 0.34, y + 0.34], color=_FOREGROUND, linewidth=1.5)
    ax.plot([x1, x1], [y - 0.34, y + 0.34], color=_FOREGROUND, linewidth=1.5)
    label = _AUTOMATION_LABELS.get(move.parameter, move.parameter)
    ax.text(x0 + 0.3, y + 0.02, f"{label} {'↗' if rising else '↘'}", color=_FOREGROUND,
            fontsize=12, fontweight="bold", va="center", ha="left")


def _draw_transitions(ax: Axes, spec: ProductionSpec, *, lanes: int) -> None:
    """A dashed line and a label at each transition's first bar."""
    for i, transition in enumerate(sorted(spec.transitions, key=lambda t: t.start_bar)):
        ax.axvline(transition.start_bar, color="#fde047", linestyle="--", linewidth=2)
        ax.text(transition.start_bar, lanes - 0.45 - 0.5 * (i % 2), transition.kind.replace("_", " "),
                color="#fde047", fontsize=12, fontweight="bold", ha="center", va="bottom",
                bbox={"facecolor": _BACKGROUND, "edgecolor": "none", "pad": 1.0})

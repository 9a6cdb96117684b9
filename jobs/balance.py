"""Gain staging by measurement: set track levels so the mix already sits in the genre's range.

Each track's contribution to the mix is measured as the power of its mid signal in every octave
(63 Hz … 8 kHz, :func:`jobs.measure.octave_powers`), at the level the production was designed
with (:data:`core.planner.DESIGN_GAIN_DB`). Uncorrelated tracks add in power, so the mix's
octave levels re 1 kHz are a smooth function of the track gains; :func:`stage_gains` finds the
gains (dB, on top of each fader) and the gentle tilts (dB per octave around 1 kHz: a pad that
gives up some of its low mids, hats a little less fizz) that bring those levels closest to the
genre's target (:class:`core.tonal.TonalTarget`), staying near the designed sound where the
target allows. A level alone cannot fix a mix whose every part crowds the same octaves; a tilt
of at most ±3 dB/octave per track can, without changing what the part is.

Kick and bass share the low end and are balanced as a pair: their contributions are measured
after the sidechain (the bass's ducking is part of what it contributes), and the solve keeps the
bass's share of the 63 and 125 Hz octaves close to the kick's, so neither owns the low end and a
level change on either one is heard on the master.

Because the gains are solved on the designed levels and applied to the tracks as the director
set them, a level change ("bass too loud": −3 dB) passes through to the mix unchanged instead of
being balanced away.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from core.tonal import OCTAVE_CENTRES_HZ, TonalTarget
from jobs.measure import OCTAVES_HZ

__all__ = ["PAIR", "Staging", "apply_staging", "stage_gains"]

logger = logging.getLogger(__name__)

PAIR = ("kick", "bass")
"""The tracks balanced as a pair in the low end."""

_LOW = [OCTAVES_HZ.index(c) for c in (63, 125)]
_REF = OCTAVES_HZ.index(1000)
_BOUNDS_DB = (-24.0, 12.0)
_VOCAL_BOUNDS_DB = (-6.0, 6.0)  # a vocal's level is set by the song, not the spectrum
_STAY_WEIGHT = 0.015  # per dB² of moving a track from its designed level
_PAIR_WEIGHT = 0.03  # per dB² of the bass's low-end share away from the kick's
_WIDTH_WEIGHT = 0.2  # per dB² of side/mid outside the target's range
_WIDTH_MARGIN = 1.4  # aim this far inside the width range: the master's mono bass narrows it
_TILT_BOUND = 3.0  # dB per octave
_TILT_WEIGHT = 0.1  # per (dB/octave)² of tilt
_OCTAVES_FROM_1K = np.log2(np.array(OCTAVES_HZ, dtype=np.float64) / 1000.0)


@dataclass(frozen=True, slots=True)
class Staging:
    """What gain staging does to one track: a level and a tilt around 1 kHz."""

    gain_db: float = 0.0
    tilt_db_per_oct: float = 0.0  #: + brighter, − darker; 0 at 1 kHz

    def band_gains_db(self) -> dict[int, float]:
        """The tilt as gains per octave centre (Hz), for :func:`jobs.master.octave_eq_sos`."""
        return {c: self.tilt_db_per_oct * math.log2(c / 1000.0) for c in OCTAVE_CENTRES_HZ}


def apply_staging(audio: np.ndarray, staging: Staging, *, sample_rate: int) -> np.ndarray:
    """``audio`` (float32, shape (2, samples)) with the staging's tilt and gain applied."""
    from scipy.signal import sosfilt

    from jobs.master import octave_eq_sos

    out = np.asarray(audio, dtype=np.float32)
    if staging.tilt_db_per_oct:  # single precision: the tilt's error stays below -120 dB
        sos = octave_eq_sos(staging.band_gains_db(), sample_rate=sample_rate)
        out = sosfilt(sos.astype(np.float32), out, axis=-1)
    return (out * np.float32(10.0 ** (staging.gain_db / 20.0))).astype(np.float32)


def stage_gains(
    contributions: Mapping[str, np.ndarray],
    *,
    target: TonalTarget,
    fixed: frozenset[str] = frozenset(),
    vocals: frozenset[str] = frozenset(),
    sides: Mapping[str, np.ndarray] | None = None,
) -> dict[str, Staging]:
    """Level and tilt per track that bring the sum of ``contributions`` closest to ``target``.

    Parameters
    ----------
    contributions : mapping of track name to np.ndarray, shape (8,)
        Each track's octave powers (:func:`jobs.measure.octave_powers`, linear) at its designed
        level.
    target : core.tonal.TonalTarget
    fixed : frozenset of str
        Tracks that keep their level (the transitions' FX); they still count in the sum.
    vocals : frozenset of str
        Tracks kept within ±6 dB of their designed level and never tilted.
    sides : mapping of track name to np.ndarray, shape (8,), optional
        Each track's octave powers of its side signal ``(L − R) / 2``. With them the mix's
        side/mid ratio is predicted too and kept inside the target's width range, so a
        balance is never bought by turning the stereo parts down until the mix is mono.

    Returns
    -------
    dict of str to Staging
        For every track in ``contributions`` (no change for ``fixed`` ones).

    Examples
    --------
    >>> import numpy as np
    >>> from chefs.genre import genre_by_id
    >>> boomy = np.array([1e3, 1e2, 10, 1, 1, 0.5, 0.1, 0.01])
    >>> bright = np.array([1e-3, 1e-2, 0.1, 1, 1, 1, 1, 1])
    >>> gains = stage_gains({"bass": boomy, "music": bright}, target=genre_by_id("house").tonal)
    >>> gains["bass"].gain_db < gains["music"].gain_db
    True
    """
    names = [n for n in contributions if n not in fixed]
    if not names:
        return {n: Staging() for n in contributions}
    base = np.zeros(len(OCTAVES_HZ))
    for name in fixed:
        if name in contributions:
            base = base + np.asarray(contributions[name], dtype=np.float64)
    powers = np.array([np.asarray(contributions[n], dtype=np.float64) for n in names])
    scale = float(np.max(powers[:, _REF])) or float(np.max(powers)) or 1.0
    powers, base = powers / scale, base / scale
    centres = [OCTAVES_HZ.index(c) for c in OCTAVE_CENTRES_HZ]
    wanted = np.array([target.bands_db[c] for c in OCTAVE_CENTRES_HZ])
    weights = np.array([1.0 / target.tolerance_db[c] ** 2 for c in OCTAVE_CENTRES_HZ])
    pair = [names.index(n) for n in PAIR if n in names]
    count = len(names)
    side = None
    side_base = 0.0
    if sides is not None:
        side = np.array([np.asarray(sides.get(n, np.zeros(len(OCTAVES_HZ))), dtype=np.float64)
                         for n in names]) / scale
        side_base = float(sum(np.sum(sides[n]) for n in fixed if n in sides)) / scale

    def cost(x: np.ndarray) -> float:
        gains, tilts = x[:count], x[count:]
        shaped = powers * 10.0 ** ((gains[:, np.newaxis] + tilts[:, np.newaxis]
                                    * _OCTAVES_FROM_1K[np.newaxis, :]) / 10.0)
        mix = base + np.sum(shaped, axis=0)
        levels = 10.0 * np.log10(np.maximum(mix[centres], 1e-20) / max(mix[_REF], 1e-20))
        total = (float(np.sum(weights * (levels - wanted) ** 2)) + _STAY_WEIGHT * float(gains @ gains)
                 + _TILT_WEIGHT * float(tilts @ tilts))
        if side is not None:
            side_shaped = side * 10.0 ** ((gains[:, np.newaxis] + tilts[:, np.newaxis]
                                           * _OCTAVES_FROM_1K[np.newaxis, :]) / 10.0)
            ratio = math.sqrt((side_base + float(np.sum(side_shaped)))
                              / max(float(np.sum(mix)), 1e-20))
            low, high = target.side_mid_min * _WIDTH_MARGIN, target.side_mid_max / _WIDTH_MARGIN
            if ratio < low:
                total += _WIDTH_WEIGHT * (20.0 * math.log10(low / max(ratio, 1e-6))) ** 2
            elif ratio > high:
                total += _WIDTH_WEIGHT * (20.0 * math.log10(ratio / high)) ** 2
        if len(pair) == 2:
            kick, bass = (float(np.sum(shaped[i, _LOW])) for i in pair)
            if kick > 0 and bass > 0:
                total += _PAIR_WEIGHT * (10.0 * math.log10(bass / kick)) ** 2
        return total

    bounds = [_VOCAL_BOUNDS_DB if n in vocals else _BOUNDS_DB for n in names]
    bounds += [(0.0, 0.0) if n in vocals else (-_TILT_BOUND, _TILT_BOUND) for n in names]
    result = minimize(cost, np.zeros(2 * count), method="L-BFGS-B", bounds=bounds)
    staged = {n: Staging(gain_db=round(float(result.x[i]), 2),
                         tilt_db_per_oct=round(float(result.x[count + i]), 2))
              for i, n in enumerate(names)}
    logger.debug("gain staging: %s (cost %.3f)", staged, float(result.fun))
    return {n: staged.get(n, Staging()) for n in contributions}

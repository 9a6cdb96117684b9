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
after the sidechain (the bass's ducking is part of what it contributes). The kick owns the hits
and the bass the space between them, so a bass change is heard on the master ("bass too loud":
the master's 40–160 Hz band between the kicks moves 2–4 dB for a 3 dB fader move):

- the bass's power in the 63 and 125 Hz octaves is kept :data:`_BASS_OVER_KICK_DB` over the
  kick's (a kick's long tail would otherwise fill the gaps as much as the bass);
- every other part (drums, percussion, music) whose low end competes with the bass's is
  high-passed at :data:`LOW_CUT_HZ` (a techno rumble tom, a surdo, a pad's low notes), the
  usual mixing practice of leaving the bottom octaves to kick and bass;
- the bass is never brightened and stays a modest part of the mids
  (:data:`_BASS_MID_SHARE`): a bass that carried the mix's 1 kHz octave would move the whole
  master, not its bass region, when turned down.

Because the gains are solved on the designed levels and applied to the tracks as the director
set them, a level change ("bass too loud": −3 dB) passes through to the mix unchanged instead of
being balanced away.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from core.tonal import OCTAVE_CENTRES_HZ, TonalTarget
from jobs.measure import OCTAVES_HZ

__all__ = ["LOW_CUT_HZ", "PAIR", "Staging", "apply_staging", "band_power_between_kicks",
           "share_of", "stage_gains"]

logger = logging.getLogger(__name__)

PAIR = ("kick", "bass")
"""The tracks balanced as a pair in the low end."""

_LOW = [OCTAVES_HZ.index(c) for c in (63, 125)]
_REF = OCTAVES_HZ.index(1000)
_BOUNDS_DB = (-24.0, 12.0)
_VOCAL_BOUNDS_DB = (-6.0, 6.0)  # a vocal's level is set by the song, not the spectrum
_STAY_WEIGHT = 0.015  # per dB² of moving a track from its designed level
_PAIR_WEIGHT = 0.1  # per dB² of the bass's low-end share away from its aim over the kick's
_WIDTH_WEIGHT = 0.2  # per dB² of side/mid outside the target's range
_WIDTH_MARGIN = 1.4  # aim this far inside the width range: the master's mono bass narrows it
_TILT_BOUND = 3.0  # dB per octave
_TILT_WEIGHT = 0.1  # per (dB/octave)² of tilt
_OCTAVES_FROM_1K = np.log2(np.array(OCTAVES_HZ, dtype=np.float64) / 1000.0)
_BASS_OVER_KICK_DB = 6.0  # the bass's 63+125 Hz power over the kick's: between the kicks the
# kick's tail is then well under the bass (a tail reads 4-7 dB under its whole-song power)
_COMPETING_DB = 15.0  # a part whose 63+125 Hz power is within this of the bass's is low-cut
_OTHERS_UNDER_DB = 12.0  # every other part's 63+125 Hz power at least this far under the bass's
_OTHERS_WEIGHT = 0.1  # per dB² of a part's low end over that
_BASS_MID_SHARE = 0.25  # most share of the mix's 500 Hz-2 kHz octaves the bass may carry
_MID = [OCTAVES_HZ.index(c) for c in (500, 1000, 2000)]
_SHARE_WEIGHT = 2.0  # per dB² of the bass's mid share over its limit

LOW_CUT_HZ = 140.0
"""Corner of the high-pass (4th-order Butterworth) that leaves the low end to kick and bass."""
_LOW_CUT_ORDER = 4


def _low_cut_sos(sample_rate: int) -> np.ndarray:
    from scipy.signal import butter

    return np.asarray(butter(_LOW_CUT_ORDER, LOW_CUT_HZ, btype="highpass", fs=sample_rate,
                             output="sos"))


def _low_cut_power_gains() -> np.ndarray:
    """The low cut's power gain in each octave of :data:`OCTAVES_HZ` (white noise through it)."""
    from scipy.signal import sosfreqz

    sr = 44100
    out = []
    for centre in OCTAVES_HZ:
        freqs = np.geomspace(centre / math.sqrt(2.0), centre * math.sqrt(2.0), 64)
        _, h = sosfreqz(_low_cut_sos(sr), worN=freqs, fs=sr)
        out.append(float(np.mean(np.abs(h) ** 2)))
    return np.array(out)


@dataclass(frozen=True, slots=True)
class Staging:
    """What gain staging does to one track: a level and a tilt around 1 kHz."""

    gain_db: float = 0.0
    tilt_db_per_oct: float = 0.0  #: + brighter, − darker; 0 at 1 kHz
    low_cut: bool = False  #: high-passed at :data:`LOW_CUT_HZ` (the low end is kick and bass's)

    @property
    def shapes(self) -> bool:
        """Whether the track is filtered (a tilt or a low cut), not only turned up or down."""
        return bool(self.tilt_db_per_oct) or self.low_cut

    def band_gains_db(self) -> dict[int, float]:
        """The tilt as gains per octave centre (Hz), for :func:`jobs.master.octave_eq_sos`."""
        return {c: self.tilt_db_per_oct * math.log2(c / 1000.0) for c in OCTAVE_CENTRES_HZ}


def apply_staging(audio: np.ndarray, staging: Staging, *, sample_rate: int) -> np.ndarray:
    """``audio`` (float32, shape (2, samples)) with the staging's tilt and gain applied."""
    from scipy.signal import sosfilt

    from jobs.master import octave_eq_sos

    out = np.asarray(audio, dtype=np.float32)
    if staging.low_cut:
        out = sosfilt(_low_cut_sos(sample_rate).astype(np.float32), out, axis=-1)
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
        Tracks that keep their level (the transitions' FX); they still count in the sum and
        may only be darkened (a tilt of at most 3 dB/octave down, 0 at 1 kHz): risers and
        impacts are bright noise, and as the other parts are staged down they would otherwise
        fill the top octave past the genre's range.
    vocals : frozenset of str
        Tracks kept within ±6 dB of their designed level and never tilted.
    sides : mapping of track name to np.ndarray, shape (8,), optional
        Each track's octave powers of its side signal ``(L − R) / 2``. With them the mix's
        side/mid ratio is predicted too and kept inside the target's width range, so a
        balance is never bought by turning the stereo parts down until the mix is mono.

    Returns
    -------
    dict of str to Staging
        For every track in ``contributions`` (``fixed`` ones: a tilt at most).

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
    movable = [n for n in contributions if n not in fixed]
    if not movable:
        return {n: Staging() for n in contributions}
    names = movable + [n for n in contributions if n in fixed]
    cut = _competing(contributions, movable, vocals)
    if cut:  # predicted through the low cut: its octave gains apply to mid and side alike
        gains_cut = _low_cut_power_gains()
        contributions = {n: (np.asarray(p, dtype=np.float64) * gains_cut if n in cut else p)
                         for n, p in contributions.items()}
        if sides is not None:
            sides = {n: (np.asarray(p, dtype=np.float64) * gains_cut if n in cut else p)
                     for n, p in sides.items()}
    powers = np.array([np.asarray(contributions[n], dtype=np.float64) for n in names])
    scale = (float(np.max(powers[: len(movable), _REF])) or float(np.max(powers[: len(movable)]))
             or 1.0)
    powers = powers / scale
    centres = [OCTAVES_HZ.index(c) for c in OCTAVE_CENTRES_HZ]
    wanted = np.array([target.bands_db[c] for c in OCTAVE_CENTRES_HZ])
    weights = np.array([1.0 / target.tolerance_db[c] ** 2 for c in OCTAVE_CENTRES_HZ])
    pair = [names.index(n) for n in PAIR if n in names]
    count = len(names)
    side = None
    if sides is not None:
        side = np.array([np.asarray(sides.get(n, np.zeros(len(OCTAVES_HZ))), dtype=np.float64)
                         for n in names]) / scale

    def cost(x: np.ndarray) -> float:
        gains, tilts = x[:count], x[count:]
        shaped = powers * 10.0 ** ((gains[:, np.newaxis] + tilts[:, np.newaxis]
                                    * _OCTAVES_FROM_1K[np.newaxis, :]) / 10.0)
        mix = np.sum(shaped, axis=0)
        levels = 10.0 * np.log10(np.maximum(mix[centres], 1e-20) / max(mix[_REF], 1e-20))
        total = (float(np.sum(weights * (levels - wanted) ** 2)) + _STAY_WEIGHT * float(gains @ gains)
                 + _TILT_WEIGHT * float(tilts @ tilts))
        if side is not None:
            side_shaped = side * 10.0 ** ((gains[:, np.newaxis] + tilts[:, np.newaxis]
                                           * _OCTAVES_FROM_1K[np.newaxis, :]) / 10.0)
            ratio = math.sqrt(float(np.sum(side_shaped))
                              / max(float(np.sum(mix)), 1e-20))
            low, high = target.side_mid_min * _WIDTH_MARGIN, target.side_mid_max / _WIDTH_MARGIN
            if ratio < low:
                total += _WIDTH_WEIGHT * (20.0 * math.log10(low / max(ratio, 1e-6))) ** 2
            elif ratio > high:
                total += _WIDTH_WEIGHT * (20.0 * math.log10(ratio / high)) ** 2
        if len(pair) == 2:
            kick, bass = (float(np.sum(shaped[i, _LOW])) for i in pair)
            if kick > 0 and bass > 0:
                total += _PAIR_WEIGHT * (10.0 * math.log10(bass / kick) - _BASS_OVER_KICK_DB) ** 2
        if bass_index is not None:
            ceiling = float(np.sum(shaped[bass_index, _LOW])) * 10.0 ** (-_OTHERS_UNDER_DB / 10.0)
            for i in others:
                over = float(np.sum(shaped[i, _LOW])) / max(ceiling, 1e-30)
                if over > 1.0:
                    total += _OTHERS_WEIGHT * (10.0 * math.log10(over)) ** 2
            mids = float(np.sum(mix[_MID]))
            share = float(np.sum(shaped[bass_index, _MID])) / max(mids, 1e-20)
            if share > _BASS_MID_SHARE:
                total += _SHARE_WEIGHT * (10.0 * math.log10(share / _BASS_MID_SHARE)) ** 2
        return total

    bass_index = names.index(PAIR[1]) if PAIR[1] in names else None
    others = [i for i, n in enumerate(names) if n not in PAIR and n not in vocals
              and n not in fixed]
    bounds = [(0.0, 0.0) if n in fixed else _VOCAL_BOUNDS_DB if n in vocals else _BOUNDS_DB
              for n in names]
    # a bass is never brightened (its part is the low end, not the mids), nor is a fixed part
    bounds += [(0.0, 0.0) if n in vocals else (-_TILT_BOUND, 0.0) if n == PAIR[1] or n in fixed
               else (-_TILT_BOUND, _TILT_BOUND) for n in names]
    result = minimize(cost, np.zeros(2 * count), method="L-BFGS-B", bounds=bounds)
    staged = {n: Staging(gain_db=round(float(result.x[i]), 2),
                         tilt_db_per_oct=round(float(result.x[count + i]), 2), low_cut=n in cut)
              for i, n in enumerate(names)}
    logger.debug("gain staging: %s (cost %.3f)", staged, float(result.fun))
    return {n: staged.get(n, Staging()) for n in contributions}


def _competing(contributions: Mapping[str, np.ndarray], names: list[str],
               vocals: frozenset[str]) -> frozenset[str]:
    """The parts (not kick, bass or a vocal) whose 63+125 Hz power at the designed levels is
    within :data:`_COMPETING_DB` of the bass's: they are low-cut so the bass owns the band
    between the kicks. None without a bass."""
    bass = PAIR[1]
    if bass not in contributions:
        return frozenset()
    floor = float(np.sum(np.asarray(contributions[bass], dtype=np.float64)[_LOW]))
    floor *= 10.0 ** (-_COMPETING_DB / 10.0)
    return frozenset(n for n in names if n not in PAIR and n not in vocals
                     and float(np.sum(np.asarray(contributions[n], dtype=np.float64)[_LOW]))
                     > floor)


def share_of(powers: Mapping[str, float | None], name: str) -> float | None:
    """``name``'s share of the summed ``powers`` (``None`` when it has none or all are 0).

    With :func:`band_power_between_kicks` per track: the bass's share of the mix's 40–160 Hz
    power between the kicks, which the Mixing Chef reads to size a bass change the master will
    carry (a bass with 60 % of that band moves it only 1.5 dB for 3 dB on its fader);
    uncorrelated parts add in power.
    """
    if powers.get(name) is None:
        return None
    total = sum(p for p in powers.values() if p is not None)
    return None if total <= 0 else float(powers[name] or 0.0) / total


def band_power_between_kicks(audio: np.ndarray, *, sample_rate: int,
                             hit_times_s: np.ndarray) -> float | None:
    """One track's 40–160 Hz mid power over the second half of every gap between the kicks.

    Linear in power: a track turned up by ``g`` (amplitude) has ``g²`` times as much, so a
    render keeps this per track and rescales it when only the level changed. ``None`` when
    no gap between the hits is measurable.
    """
    from scipy.signal import butter, sosfilt

    from jobs.measure import LOW_BETWEEN_KICKS_HZ

    x = np.asarray(audio)
    size = x.shape[-1]
    hits = np.sort(np.round(np.asarray(hit_times_s, dtype=np.float64) * sample_rate))
    hits = hits[(hits >= 0) & (hits < size)].astype(np.int64)
    spans = [(int(a) + int(b - a) // 2, int(b)) for a, b in itertools.pairwise(hits)
             if 8 <= b - a <= sample_rate]
    if not spans:
        return None
    sos = butter(4, LOW_BETWEEN_KICKS_HZ, btype="bandpass", fs=sample_rate, output="sos")
    keep = np.zeros(size, dtype=bool)
    for start, stop in spans:
        keep[start:stop] = True
    mid = x.mean(axis=0, dtype=np.float32) if x.ndim == 2 else np.asarray(x, dtype=np.float32)
    band = sosfilt(sos.astype(np.float32), mid)
    return float(np.sum(np.square(band[keep], dtype=np.float64)))

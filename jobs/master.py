"""Mastering: tonal balance, glue, width, then a soft clipper and a true-peak limiter to a target.

The chain, in order:

0. the tonal stage: a graphic EQ (a low shelf for the 63 Hz octave, peaks at 125 Hz–4 kHz, a
   high shelf for 8 kHz) that moves each octave at most :data:`MAX_TONAL_CORRECTION_DB` toward
   the genre's target (:class:`core.tonal.TonalTarget`). Gain staging has already put the mix
   near its range; this stage corrects only what is left, and :attr:`MasterResult.tonal_note`
   names any band it could not bring into range;
1. tilt EQ around 1 kHz (``tilt_db``: + brighter, − darker), two gentle pedalboard shelves;
2. glue compression (pedalboard ``Compressor``). Its threshold is meant for a mix at
   :data:`GLUE_REFERENCE_LUFS`, so the mix is brought there first and the same spec glues a
   quiet mix as much as a hot one;
3. width in mid/side (``width``: 0 mono, 1 as mixed, 2 twice the side), with the side signal
   high-passed at :data:`core.tonal.LOW_MONO_HZ` so the low end is mono on every system;
4. drive gain, a soft clipper that rounds the few highest peaks, and pedalboard's
   ``BrickwallLimiter`` with lookahead and a 4×-oversampled (true-peak) sidechain.

Loudness after a limiter is not a straight line in the drive (and past a point it falls), so
the drive is searched: measure the integrated loudness, adjust, re-limit, until it is within
:data:`TOLERANCE_LU` of the target. The true peak is measured at the end with
:func:`jobs.loudness.true_peak_dbtp`; an overshoot lowers the limiter's ceiling and the search
runs again. When the target would need more than ``max_limiting_db`` of peak reduction, or the
loudness stops rising with more drive, the master stops at the loudest clean result and says so.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace

import numpy as np
from pedalboard import (
    BrickwallLimiter,
    Compressor,
    HighShelfFilter,
    LowShelfFilter,
    Pedalboard,
    Plugin,
)
from scipy.signal import butter, sosfilt, sosfreqz

from core.spec import MasterSpec
from core.tonal import LOW_MONO_HZ, OCTAVE_CENTRES_HZ, TonalTarget, band_label
from core.units import db_to_gain, gain_to_db
from jobs.audio_io import valid_audio
from jobs.loudness import integrated_loudness, true_peak_dbtp, true_peak_over_sample_peak_max_db
from jobs.measure import OCTAVES_HZ, mid_spectrum
from jobs.parallel import by_channel, in_pieces

__all__ = [
    "GLUE_REFERENCE_LUFS",
    "MAX_LIMITING_DB",
    "MAX_TONAL_CORRECTION_DB",
    "TOLERANCE_LU",
    "MasterResult",
    "master",
    "octave_eq_sos",
    "tonal_correction",
]

logger = logging.getLogger(__name__)

GLUE_REFERENCE_LUFS = -18.0
"""Loudness the mix is brought to before glue compression: the level its threshold assumes."""

MAX_LIMITING_DB = 14.0
"""Most drive (dB) past the point where the peaks touch the ceiling, before drums flatten."""

MAX_TONAL_CORRECTION_DB = 4.0
"""Most the tonal stage moves an octave band: more would mean the mix, not the master, is wrong."""

TOLERANCE_LU = 0.1
"""How close to the target the drive search aims (the promise to the director is ±0.5 LU)."""

_LIMITER_MARGIN_DB = 0.3  # limiter ceiling below the target ceiling; the true-peak detector
# of pedalboard's limiter lets about 0.03 dB through (measured), the rest is safety
_RELEASE_MS = 60.0
_LOOKAHEAD_MS = 5.0
_CLIP_KNEE_DB = -4.0  # the soft clipper is linear up to this far below its ceiling
_MAX_ITERATIONS = 14
_SILENT_LUFS = -70.0


@dataclass(frozen=True, slots=True)
class MasterResult:
    """The mastered audio and what it measures, with a sentence when the target was not reached."""

    audio: np.ndarray  #: float32, shape (2, samples)
    integrated_lufs: float  #: measured on ``audio``
    true_peak_dbtp: float  #: measured on ``audio`` (4× oversampled)
    gain_db: float  #: drive into the clipper and limiter, relative to the glued, widened mix
    target_lufs: float
    ceiling_dbtp: float
    reached: bool  #: loudness within 0.5 LU of the target and true peak under the ceiling
    note: str = ""  #: why the target was not reached, for the change card
    iterations: int = 0  #: limiter passes the search took
    tonal_gains_db: dict[int, float] | None = None  #: the tonal stage's EQ gain per octave
    tonal_note: str = ""  #: bands the tonal stage could not bring into range, for the card

    @property
    def loudness_error_lu(self) -> float:
        """Measured minus target loudness, in LU."""
        return self.integrated_lufs - self.target_lufs


def master(
    mix: np.ndarray,
    spec: MasterSpec,
    *,
    sample_rate: int,
    max_limiting_db: float = MAX_LIMITING_DB,
    tonal_gains_db: dict[int, float] | None = None,
) -> MasterResult:
    """Master a mix to ``spec.target_lufs`` with its true peak at or under ``spec.ceiling_dbtp``.

    Parameters
    ----------
    mix : np.ndarray, float32, shape (2, samples) or (1, samples)
        The summed mix (mono is copied to both channels).
    spec : core.spec.MasterSpec
    sample_rate : int > 0, Hz
    max_limiting_db : float ≥ 0, dB
        Most drive past the point where the peaks reach the ceiling.
    tonal_gains_db : dict of octave centre (Hz) to dB, optional
        The tonal stage's EQ, from :func:`tonal_correction`; ``None`` leaves the tone alone.

    Returns
    -------
    MasterResult
        ``reached`` is False with a ``note`` when the target is out of reach without wrecking
        the music; the audio is then the loudest clean master, still under the ceiling.

    Examples
    --------
    >>> import numpy as np
    >>> from core.spec import MasterSpec
    >>> rng = np.random.default_rng(0)
    >>> noise = (0.05 * rng.standard_normal((2, 44100 * 5))).astype(np.float32)
    >>> result = master(noise, MasterSpec(target_lufs=-14), sample_rate=44100)
    >>> abs(result.integrated_lufs + 14) <= 0.5, result.true_peak_dbtp <= -0.9
    (True, True)
    """
    x = valid_audio(mix)
    if x.shape[0] == 1:
        x = np.repeat(x, 2, axis=0)
    loudness = integrated_loudness(x, sample_rate=sample_rate)
    if loudness <= _SILENT_LUFS:
        return MasterResult(audio=x, integrated_lufs=loudness,
                            true_peak_dbtp=true_peak_dbtp(x, sample_rate=sample_rate),
                            gain_db=0.0, target_lufs=spec.target_lufs,
                            ceiling_dbtp=spec.ceiling_dbtp, reached=False,
                            note="The mix is silent, so there is nothing to master.")
    if tonal_gains_db:
        x = _graphic_eq(x, tonal_gains_db, sample_rate=sample_rate)
    x = _tone_and_glue(x * db_to_gain(GLUE_REFERENCE_LUFS - loudness), spec,
                       sample_rate=sample_rate)
    x = _width(x, spec.width, sample_rate=sample_rate)
    result = _limit_to_target(x, spec, sample_rate=sample_rate, max_limiting_db=max_limiting_db)
    if tonal_gains_db:
        result = replace(result, tonal_gains_db=dict(tonal_gains_db))
    return result


def _biquad(kind: str, centre_hz: float, gain_db: float, *, sample_rate: int) -> np.ndarray:
    """One RBJ-cookbook biquad (peak Q √2 = one octave, or a shelf of slope 1) as an SOS row."""
    a = 10.0 ** (gain_db / 40.0)
    w0 = 2.0 * math.pi * centre_hz / sample_rate
    cos_w0, sin_w0 = math.cos(w0), math.sin(w0)
    if kind == "peak":
        alpha = sin_w0 / (2.0 * math.sqrt(2.0))
        b = [1 + alpha * a, -2 * cos_w0, 1 - alpha * a]
        den = [1 + alpha / a, -2 * cos_w0, 1 - alpha / a]
    else:
        alpha = sin_w0 / 2.0 * math.sqrt(2.0)
        k = 2.0 * math.sqrt(a) * alpha
        if kind == "low_shelf":
            b = [a * ((a + 1) - (a - 1) * cos_w0 + k), 2 * a * ((a - 1) - (a + 1) * cos_w0),
                 a * ((a + 1) - (a - 1) * cos_w0 - k)]
            den = [(a + 1) + (a - 1) * cos_w0 + k, -2 * ((a - 1) + (a + 1) * cos_w0),
                   (a + 1) + (a - 1) * cos_w0 - k]
        else:
            b = [a * ((a + 1) + (a - 1) * cos_w0 + k), -2 * a * ((a - 1) + (a + 1) * cos_w0),
                 a * ((a + 1) + (a - 1) * cos_w0 - k)]
            den = [(a + 1) - (a - 1) * cos_w0 + k, 2 * ((a - 1) - (a + 1) * cos_w0),
                   (a + 1) - (a - 1) * cos_w0 - k]
    return np.array([*(v / den[0] for v in b), 1.0, den[1] / den[0], den[2] / den[0]])


def octave_eq_sos(gains_db: dict[int, float], *, sample_rate: int) -> np.ndarray:
    """A graphic EQ by octave: low shelf at 88 Hz (63 Hz octave), peaks (Q √2), high shelf at 5.7 kHz.

    Parameters
    ----------
    gains_db : dict of octave centre (Hz, of :data:`core.tonal.OCTAVE_CENTRES_HZ`) to dB
    sample_rate : int > 0, Hz

    Returns
    -------
    np.ndarray, shape (7, 6): second-order sections for ``scipy.signal.sosfilt``
    """
    rows = []
    for centre in OCTAVE_CENTRES_HZ:
        gain = gains_db.get(centre, 0.0)
        if centre == 63:
            rows.append(_biquad("low_shelf", 88.0, gain, sample_rate=sample_rate))
        elif centre == 8000:
            rows.append(_biquad("high_shelf", 5657.0, gain, sample_rate=sample_rate))
        else:
            rows.append(_biquad("peak", float(centre), gain, sample_rate=sample_rate))
    return np.array(rows)


def _graphic_eq(x: np.ndarray, gains_db: dict[int, float], *, sample_rate: int) -> np.ndarray:
    sos = octave_eq_sos(gains_db, sample_rate=sample_rate).astype(np.float32)
    # single precision: half the time of double, with the filters' error below -120 dB
    return by_channel(lambda row: sosfilt(sos, row), np.asarray(x, dtype=np.float32))


def tonal_correction(
    mix: np.ndarray, target: TonalTarget, *, sample_rate: int
) -> tuple[dict[int, float], dict[int, float], str]:
    """The tonal stage for ``mix``: EQ gains, the octave levels they give, and what stays out.

    The EQ is solved on the mix's measured spectrum (the filters' exact responses applied to
    it), so the octave levels it predicts are what the stage does to this mix. Each band moves
    toward the centre of its target range by at most :data:`MAX_TONAL_CORRECTION_DB`.

    Parameters
    ----------
    mix : np.ndarray, float32, shape (2, samples)
    target : core.tonal.TonalTarget
    sample_rate : int > 0, Hz

    Returns
    -------
    (gains_db, levels_db, note)
        EQ gain per octave centre (Hz), the predicted octave levels re 1 kHz after it, and a
        sentence naming the bands still out of range ("" when none).
    """
    freqs, power = mid_spectrum(mix, sample_rate=sample_rate)
    edges = [(c / math.sqrt(2.0), c * math.sqrt(2.0)) for c in OCTAVES_HZ]
    masks = [(freqs >= lo) & (freqs < hi) for lo, hi in edges]
    reference = OCTAVES_HZ.index(1000)

    def levels(response: np.ndarray) -> dict[int, float]:
        bands = [max(float(np.sum(power[m] * response[m])), 1e-30) for m in masks]
        return {c: 10.0 * math.log10(bands[OCTAVES_HZ.index(c)] / bands[reference])
                for c in OCTAVE_CENTRES_HZ}

    def response(gains: dict[int, float]) -> np.ndarray:
        _, h = sosfreqz(octave_eq_sos(gains, sample_rate=sample_rate), worN=freqs, fs=sample_rate)
        return np.abs(h) ** 2

    before = levels(np.ones_like(power))
    limit = MAX_TONAL_CORRECTION_DB
    wanted = {c: float(np.clip(target.bands_db[c] - before[c], -limit, limit))
              for c in OCTAVE_CENTRES_HZ}
    gains = dict(wanted)
    for _ in range(8):  # neighbouring filters overlap: correct the gains by what each band got
        now = levels(response(gains))
        for c in OCTAVE_CENTRES_HZ:
            got = now[c] - before[c]
            gains[c] = float(np.clip(gains[c] + wanted[c] - got, -1.5 * limit, 1.5 * limit))
    after = levels(response(gains))
    gains = {c: round(g, 2) for c, g in gains.items()}
    misses = target.out_of_range(after)
    note = ""
    if misses:
        parts = [f"{band_label(c)} {'+' if d > 0 else '−'}{abs(d):.1f} dB "
                 f"{'over' if d > 0 else 'under'} its range" for c, d in misses.items()]
        note = ("The tonal stage could not bring every band into the genre's range within "
                f"±{limit:g} dB: " + ", ".join(parts) + ".")
    return gains, after, note


def _tone_and_glue(x: np.ndarray, spec: MasterSpec, *, sample_rate: int) -> np.ndarray:
    """Tilt EQ (shelves at 1 kHz, each half the tilt) then glue compression."""
    glue = spec.glue

    def board(piece: np.ndarray) -> np.ndarray:  # a board per piece: plugins keep state
        plugins: list[Plugin] = []
        if spec.tilt_db:
            plugins += [LowShelfFilter(cutoff_frequency_hz=1000, gain_db=-spec.tilt_db / 2,
                                       q=0.5),
                        HighShelfFilter(cutoff_frequency_hz=1000, gain_db=spec.tilt_db / 2,
                                        q=0.5)]
        plugins.append(Compressor(threshold_db=glue.threshold_db, ratio=glue.ratio,
                                  attack_ms=glue.attack_ms, release_ms=glue.release_ms))
        return Pedalboard(plugins)(piece, sample_rate)

    # the compressor's state settles within a few releases (at most 1 s each)
    return in_pieces(board, np.asarray(x, dtype=np.float32), sample_rate=sample_rate,
                     run_in_s=max(2.0, 5 * glue.release_ms / 1000))


def _width(x: np.ndarray, width: float, *, sample_rate: int) -> np.ndarray:
    """Scale the side signal (0 folds to mono, 1 as mixed, 2 doubles it); no side below 120 Hz.

    The side signal is high-passed at :data:`core.tonal.LOW_MONO_HZ` (4th-order Butterworth):
    bass that differs between the speakers cancels on a mono club system and smears the kick.
    """
    mid, side = (x[0] + x[1]) / 2.0, (x[0] - x[1]) / 2.0 * width
    if width > 0:
        sos = butter(4, LOW_MONO_HZ, btype="highpass", fs=sample_rate, output="sos")
        side = sosfilt(sos.astype(np.float32), np.asarray(side, dtype=np.float32))
    out = np.empty((2, mid.shape[-1]), dtype=np.float32)  # written in place: no stacked copy
    np.add(mid, side, out=out[0])
    np.subtract(mid, side, out=out[1])
    return out


def _soft_clip(x: np.ndarray, *, ceiling_db: float) -> np.ndarray:
    """Linear below the knee, then a tanh curve that never exceeds ``ceiling_db``.

    The curve meets the straight line with the same slope at the knee, so quiet material
    passes untouched and only the tips of the loudest transients are rounded.
    """
    ceiling = db_to_gain(ceiling_db)
    knee = ceiling * db_to_gain(_CLIP_KNEE_DB)
    room = ceiling - knee
    magnitude = np.abs(x)
    over = magnitude > knee
    if not np.any(over):
        return x
    out = x.copy()
    out[over] = np.sign(x[over]) * (knee + room * np.tanh((magnitude[over] - knee) / room))
    return out


def _drive(
    x: np.ndarray, gain_db: float, *, limiter_ceiling_db: float, sample_rate: int
) -> np.ndarray:
    """Drive gain, soft clipper (0.5 dB over the limiter's ceiling), true-peak limiter."""
    def drive(piece: np.ndarray) -> np.ndarray:  # a limiter per piece: it keeps state
        limiter = BrickwallLimiter(ceiling_db=limiter_ceiling_db, release_ms=_RELEASE_MS,
                                   lookahead_ms=_LOOKAHEAD_MS, true_peak=True)
        driven = _soft_clip(piece * db_to_gain(gain_db), ceiling_db=limiter_ceiling_db + 0.5)
        return limiter(driven.astype(np.float32), sample_rate)

    # released within 1 s, looking 5 ms ahead: the pieces' seams cannot be heard
    return in_pieces(drive, x, sample_rate=sample_rate, run_in_s=1.0,
                     run_out_s=max(0.05, 4 * _LOOKAHEAD_MS / 1000))


def _limit_to_target(
    x: np.ndarray, spec: MasterSpec, *, sample_rate: int, max_limiting_db: float
) -> MasterResult:
    """Search the drive for the target loudness; re-run with a lower ceiling on a peak overshoot."""
    target, ceiling = spec.target_lufs, spec.ceiling_dbtp
    limiter_ceiling = ceiling - _LIMITER_MARGIN_DB
    iterations = 0
    base = integrated_loudness(x, sample_rate=sample_rate)
    # the input's true peak only bounds the drive (how much limiting is allowed). The first
    # search is bounded by the sample peak (a looser bound, as the true peak is never below
    # it); the true peak is measured only when that search drove so far that it could have
    # passed the true bound (it never reads more than a known few dB over the sample peak),
    # and the search runs again in the rare case it did
    peak_db = gain_to_db(float(np.max(np.abs(x))))
    true_peak_known = False

    def search(peak: float) -> tuple[float, np.ndarray, float, int, float]:
        return _search_drive(
            x, target=target, first_guess=target - base,
            max_gain_db=(limiter_ceiling - peak) + max_limiting_db,
            limiter_ceiling_db=limiter_ceiling, sample_rate=sample_rate)

    for _ in range(3):  # true-peak passes: rarely more than one
        gain, out, lufs, passes, tried = search(peak_db)
        if not true_peak_known:
            lowest_bound = (limiter_ceiling - peak_db - true_peak_over_sample_peak_max_db()
                            + max_limiting_db)
            if tried > lowest_bound:
                peak_db, true_peak_known = true_peak_dbtp(x, sample_rate=sample_rate), True
                if tried > (limiter_ceiling - peak_db) + max_limiting_db + 1e-9:
                    iterations += passes
                    gain, out, lufs, passes, tried = search(peak_db)
        iterations += passes
        tp = true_peak_dbtp(out, sample_rate=sample_rate)
        if tp <= ceiling:
            break
        limiter_ceiling -= tp - ceiling + 0.05
        logger.debug("true peak %.2f over ceiling %.2f; limiter ceiling now %.2f",
                     tp, ceiling, limiter_ceiling)
    if tp > ceiling:  # still over after three passes: trim the remainder with plain gain
        out = out * db_to_gain(ceiling - tp)
        lufs = integrated_loudness(out, sample_rate=sample_rate)
        tp = true_peak_dbtp(out, sample_rate=sample_rate)
    reached = abs(lufs - target) <= 0.5 and tp <= ceiling + 0.1
    note = "" if reached else _unreached_note(lufs, target=target, ceiling=ceiling,
                                              max_limiting_db=max_limiting_db)
    logger.info("master: %.2f LUFS (target %.1f), %.2f dBTP, drive %+.2f dB, %d passes",
                lufs, target, tp, gain, iterations)
    return MasterResult(audio=out.astype(np.float32), integrated_lufs=lufs, true_peak_dbtp=tp,
                        gain_db=gain, target_lufs=target, ceiling_dbtp=ceiling, reached=reached,
                        note=note, iterations=iterations)


def _search_drive(
    x: np.ndarray,
    *,
    target: float,
    first_guess: float,
    max_gain_db: float,
    limiter_ceiling_db: float,
    sample_rate: int,
) -> tuple[float, np.ndarray, float, int, float]:
    """Find the drive whose limited output reads ``target`` LUFS: a bracketed secant search.

    Returns ``(gain_db, audio, lufs, passes, most_tried_db)``; when the target is out of
    reach, the loudest result found at or below ``max_gain_db``. ``most_tried_db`` is the
    most drive any pass used.
    """
    below: tuple[float, float] | None = None  # loudest (gain, lufs) found under the target
    above: tuple[float, float] | None = None  # quietest (gain, lufs) found over it
    best: tuple[float, np.ndarray, float] | None = None
    gain = min(first_guess, max_gain_db)
    passes, most = 0, -math.inf
    while passes < _MAX_ITERATIONS:
        passes += 1
        most = max(most, gain)
        out = _drive(x, gain, limiter_ceiling_db=limiter_ceiling_db, sample_rate=sample_rate)
        lufs = integrated_loudness(out, sample_rate=sample_rate)
        error = lufs - target
        if best is None or abs(error) < abs(best[2] - target):
            best = (gain, out, lufs)
        if abs(error) <= TOLERANCE_LU:
            break
        if error > 0:
            above = (gain, lufs) if above is None or gain < above[0] else above
        else:
            if below is not None and gain > below[0] and lufs <= below[1] + 0.01:
                break  # more drive no longer makes it louder: past the limiter's maximum
            slope = 1.0
            if below is not None and gain > below[0]:
                slope = (lufs - below[1]) / (gain - below[0])
            below = (gain, lufs)
        if below is not None and above is not None:
            (g0, l0), (g1, l1) = below, above
            step = (target - l0) * (g1 - g0) / max(l1 - l0, 1e-6)
            # stay inside the bracket, away from its ends, so it always shrinks
            gain = g0 + float(np.clip(step, 0.1 * (g1 - g0), 0.9 * (g1 - g0)))
        elif error > 0:
            gain -= error
        elif gain >= max_gain_db:
            break
        else:  # limiting eats part of each dB of drive: step by the loss the last step showed
            gain = min(max_gain_db, gain - error / float(np.clip(slope, 0.2, 1.0)))
    assert best is not None
    return best[0], best[1], best[2], passes, most


def _unreached_note(lufs: float, *, target: float, ceiling: float, max_limiting_db: float) -> str:
    """One sentence for the change card on why the master is not at its target."""
    if lufs < target:
        return (f"The master reached {lufs:.1f} LUFS, not {target:.1f}: getting louder under a "
                f"{ceiling:.1f} dBTP ceiling would take more than {max_limiting_db:.0f} dB of "
                "limiting, which would crush its transients.")
    return f"The master reads {lufs:.1f} LUFS against a target of {target:.1f}."

"""Measurements taken on every render, so the change card reports numbers, not intentions.

Each function takes audio as float32 ``(channels, samples)`` (at ``sample_rate`` Hz where it
asks for one) and answers one question a director asks: how loud is the bass, how deep does
the pad duck on the kick, did the filter sweep open bar by bar, is there more low end.
:func:`measure_render` gathers them under the metric names :class:`core.patch.ExpectedEffect`
uses.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping

import numpy as np
from scipy.signal import get_window

from core.spec import ProductionSpec
from core.tonal import LOW_MONO_HZ, OCTAVE_CENTRES_HZ
from jobs.audio_io import ENGINE_SAMPLE_RATE, valid_audio
from jobs.loudness import integrated_loudness, loudness_range, loudness_range_of, true_peak_dbtp
from jobs.parallel import by_channel

__all__ = [
    "BANDS_HZ",
    "LOW_BETWEEN_KICKS_HZ",
    "LOW_END_HZ",
    "MEASURE_VERSION",
    "OCTAVES_HZ",
    "band_energy_db",
    "band_levels_db",
    "between_hits_band_db",
    "ducking_depth_db",
    "level_by_bar_db",
    "levels_from_powers",
    "low_band_correlation",
    "low_end_db",
    "measure_render",
    "measure_track",
    "mid_spectrum",
    "octave_levels_db",
    "octave_levels_of_spectrum",
    "octave_powers",
    "onsets_by_bar",
    "plr_db",
    "power_share_below",
    "return_levels",
    "side_mid_ratio",
    "side_octave_powers",
    "spectral_centroid_by_bar",
    "spectral_centroid_hz",
    "stereo_width",
    "swing_16ths",
    "track_level_db",
]

BANDS_HZ: dict[str, tuple[float, float]] = {
    "sub": (20.0, 60.0),
    "bass": (60.0, 250.0),
    "low_mid": (250.0, 500.0),  #: where "mud" lives
    "mid": (500.0, 2000.0),
    "presence": (2000.0, 6000.0),  #: where "harsh" lives
    "air": (6000.0, 20000.0),
}
"""The bands a musician names, with their edges in Hz."""

LOW_END_HZ = (20.0, 500.0)
"""The band of "more bass", "thin" and "muddy": sub, bass and low mids together."""

_FLOOR_DB = -120.0
_NPERSEG = 4096  # Welch segment: 10.8 Hz resolution at 44.1 kHz, fine enough for a sub


def track_level_db(audio: np.ndarray, *, sample_rate: int = ENGINE_SAMPLE_RATE) -> float:
    """Level of a track as integrated loudness (LUFS, BS.1770 gated).

    The gate ignores the sections where the track is silent, so a bass that plays in half the
    song reads the level it plays at; a gain change of −3 dB reads −3 LU.

    Returns
    -------
    float
        LUFS; −120.0 for silence.
    """
    return integrated_loudness(valid_audio(audio), sample_rate=sample_rate)


def ducking_depth_db(
    ducked: np.ndarray,
    *,
    sample_rate: int,
    hit_times_s: np.ndarray,
    reference: np.ndarray | None = None,
    window_ms: float = 3.0,
) -> float:
    """How far a track dips on the kick hits compared with between them, in dB (≥ 0).

    The power of the track is averaged over all hits, aligned on each hit (an epoch average),
    so the track's own notes and chord changes average out. The depth is the ratio of the
    level in the last quarter of the gap between hits (recovered) to the lowest point of that
    average, smoothed over ``window_ms``. Given the same
    track rendered without ducking (``reference``), the average is divided by the reference's
    first, which removes the track's envelope exactly; without it, measure sustained material.
    A release longer than the gap between kicks never recovers fully, and reads shallower.

    Parameters
    ----------
    ducked : np.ndarray, float32, shape (channels, samples)
    sample_rate : int > 0, Hz
    hit_times_s : np.ndarray, shape (hits,), seconds
        Kick onsets.
    reference : np.ndarray or None, same shape as ``ducked``
    window_ms : float > 0, milliseconds

    Returns
    -------
    float
        dB; 0.0 when there are fewer than two hits inside the audio.
    """
    x = valid_audio(ducked)
    hits = np.sort(np.round(np.asarray(hit_times_s, dtype=np.float64) * sample_rate))
    hits = hits[(hits >= 0) & (hits < x.shape[1])].astype(np.int64)
    if hits.size < 2:
        return 0.0
    # the typical gap between hits (a fill's quick double kick would cut every window short);
    # only hits followed by at least that gap show the full dip and recovery
    gaps = np.diff(hits)
    span = int(min(np.median(gaps), sample_rate))
    keep = np.append(gaps >= 0.95 * span, True)
    starts = hits[keep & (hits + span <= x.shape[1])]
    if starts.size == 0 or span < 4:
        return 0.0
    width = max(1, round(window_ms * 1e-3 * sample_rate))
    kernel = np.ones(width) / width
    power = np.convolve(_epoch_power(x, starts, span), kernel, mode="valid")
    if reference is not None:
        ref = np.convolve(_epoch_power(valid_audio(reference), starts, span), kernel, mode="valid")
        # where the track is silent in both (a rest on every hit) the ratio says nothing
        audible = ref > 1e-4 * float(np.max(ref)) if ref.size and np.max(ref) > 0 else ref > 0
        if not audible.any():
            return 0.0
        power = np.where(audible, power / np.maximum(ref, 1e-20), np.nan)
    if power.size == 0 or np.all(np.isnan(power)):
        return 0.0
    tail = power[-max(1, power.size // 4) :]  # the recovered level just before the next hit
    between = float(np.nanmean(tail)) if not np.all(np.isnan(tail)) else float(np.nanmax(power))
    lowest = float(np.nanmin(power))
    if between <= 0:
        return 0.0
    return float(max(0.0, 10.0 * np.log10(between / max(lowest, 1e-20))))


def _epoch_power(x: np.ndarray, starts: np.ndarray, span: int) -> np.ndarray:
    """Mean channel-summed power over ``span`` samples after each start, aligned on the start."""
    power = np.einsum("cn,cn->n", x, x, dtype=np.float64)  # squared and summed in double
    total = np.zeros(span, dtype=np.float64)
    for start in starts:  # the epochs added in turn: no (hits × span) copy of the song
        total += power[start:start + span]
    return total / starts.size


def _spectrum(audio: np.ndarray, *, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Welch power spectrum of the channel mix: (frequencies Hz, power per bin, summing to the mean square)."""
    mono = valid_audio(audio).mean(axis=0, dtype=np.float64)  # no double-precision copy first
    nperseg = min(_NPERSEG, mono.size)
    if nperseg < 16:
        return np.zeros(1), np.zeros(1)
    return _welch_power(mono, sample_rate=sample_rate, nperseg=nperseg)


_FRAMES_PER_BATCH = 256  # 256 × 8192 float64 samples: 16 MB of frames transformed at once


def _welch_power(x: np.ndarray, *, sample_rate: int, nperseg: int) -> tuple[np.ndarray, np.ndarray]:
    """Welch's averaged periodogram as power per bin: (frequencies Hz, power summing to the
    mean square).

    What ``scipy.signal.welch(x, fs, nperseg=nperseg, scaling="density", detrend=False)``
    returns, times the bin width (the same numbers to 1e-14), with the frames transformed in
    batches instead of one FFT call per frame, the batches shared between the job's cores:
    several times faster on a whole song, which a render measures dozens of times. Hann
    window, half-overlapping frames; no per-frame
    detrend, since audio carries no DC worth removing and that only touches the bins below
    ~15 Hz that no measure reads.
    """
    from jobs.parallel import map_parallel, workers

    window = get_window("hann", nperseg)
    step = nperseg - nperseg // 2
    count = 1 + (x.size - nperseg) // step
    frames = np.lib.stride_tricks.sliding_window_view(x, nperseg)[::step][:count]
    edges = np.linspace(0, count, workers() + 1).round().astype(int)

    def summed(part: int) -> np.ndarray:  # a share of the frames, on one core
        total = np.zeros(nperseg // 2 + 1)
        for start in range(int(edges[part]), int(edges[part + 1]), _FRAMES_PER_BATCH):
            stop = min(int(edges[part + 1]), start + _FRAMES_PER_BATCH)
            spectrum = np.fft.rfft(frames[start:stop] * window, axis=-1)
            total += np.sum(spectrum.real**2 + spectrum.imag**2, axis=0)
        return total

    total = np.sum(map_parallel(summed, range(len(edges) - 1)), axis=0)
    # density × bin width; one-sided: every bin but DC and Nyquist counts twice
    power = total / (count * float(np.sum(window**2)) * nperseg)
    power[1:-1 if nperseg % 2 == 0 else None] *= 2.0
    return np.fft.rfftfreq(nperseg, 1.0 / sample_rate), power


def spectral_centroid_hz(audio: np.ndarray, *, sample_rate: int) -> float:
    """Brightness: the power-weighted mean frequency of the whole signal, in Hz (0 if silent)."""
    return _centroid(*_spectrum(audio, sample_rate=sample_rate))


def _centroid(freqs: np.ndarray, power: np.ndarray) -> float:
    total = float(np.sum(power))
    return float(np.sum(freqs * power) / total) if total > 1e-20 else 0.0


def spectral_centroid_by_bar(
    audio: np.ndarray, *, spec: ProductionSpec, sample_rate: int, bars: range
) -> list[float]:
    """Brightness of each bar in ``bars`` (1-based), in Hz: shows a filter sweep opening.

    Parameters
    ----------
    audio : np.ndarray, float32, shape (channels, samples)
    spec : core.spec.ProductionSpec
        Tempo and time signature place the bars.
    sample_rate : int > 0, Hz
    bars : range of int ≥ 1

    Returns
    -------
    list of float
        One centroid per bar; 0.0 for a silent bar or one past the end of the audio.
    """
    out = []
    for bar in bars:
        start = round(spec.bar_start_s(bar) * sample_rate)
        stop = round(spec.bar_start_s(bar + 1) * sample_rate)
        segment = audio[:, start:stop] if audio.ndim == 2 else audio[start:stop]
        out.append(spectral_centroid_hz(segment, sample_rate=sample_rate)
                   if segment.shape[-1] >= 16 else 0.0)
    return out


def band_energy_db(
    audio: np.ndarray, *, sample_rate: int, low_hz: float, high_hz: float
) -> float:
    """Mean power of the signal between ``low_hz`` and ``high_hz``, in dB relative to full scale.

    Parameters
    ----------
    low_hz, high_hz : float, Hz, ``0 ≤ low_hz < high_hz``

    Returns
    -------
    float
        dB; a full-scale sine inside the band reads about −3 dB. −120.0 for silence.
    """
    return _band_db(*_spectrum(audio, sample_rate=sample_rate), low_hz, high_hz)


def _band_db(freqs: np.ndarray, power: np.ndarray, low_hz: float, high_hz: float) -> float:
    band = float(np.sum(power[(freqs >= low_hz) & (freqs < high_hz)]))
    return 10.0 * math.log10(band) if band > 1e-12 else _FLOOR_DB


def band_levels_db(audio: np.ndarray, *, sample_rate: int) -> dict[str, float]:
    """Energy (dB) in each of :data:`BANDS_HZ`: the "more bass, less mud" numbers."""
    return _bands_db(*_spectrum(audio, sample_rate=sample_rate))


def _bands_db(freqs: np.ndarray, power: np.ndarray) -> dict[str, float]:
    return {name: _band_db(freqs, power, lo, hi) for name, (lo, hi) in BANDS_HZ.items()}


def low_end_db(audio: np.ndarray, *, sample_rate: int) -> float:
    """Energy (dB) below 500 Hz (:data:`LOW_END_HZ`): rises with "more bass", falls with "less mud"."""
    return band_energy_db(audio, sample_rate=sample_rate, low_hz=LOW_END_HZ[0],
                          high_hz=LOW_END_HZ[1])


def stereo_width(audio: np.ndarray) -> float:
    """Side-to-mid RMS ratio: 0 for mono, about 1 for unrelated left and right, above 1 when wide.

    Parameters
    ----------
    audio : np.ndarray, float32, shape (2, samples)
    """
    x = np.asarray(valid_audio(audio), dtype=np.float32)
    if x.shape[0] < 2:
        return 0.0
    mid, side = x[0] + x[1], x[0] - x[1]  # the halves cancel in the ratio
    mid_power = float(np.dot(mid, mid))
    return math.sqrt(float(np.dot(side, side)) / mid_power) if mid_power > 1e-20 else 0.0


OCTAVES_HZ: tuple[int, ...] = (63, 125, 250, 500, 1000, 2000, 4000, 8000)
"""Octave centres measured, the 1 kHz reference included (edges at centre/√2 and centre·√2)."""

_OCTAVE_NPERSEG = 8192  # 5.4 Hz bins at 44.1 kHz: the 63 Hz octave (44–89 Hz) gets 8 of them


def mid_spectrum(audio: np.ndarray, *, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Welch power per bin of the mid signal ``(L + R) / 2`` (mono audio is its own mid)."""
    mid = valid_audio(audio).mean(axis=0, dtype=np.float64)  # no double-precision copy first
    nperseg = min(_OCTAVE_NPERSEG, mid.size)
    if nperseg < 16:
        return np.zeros(1), np.zeros(1)
    return _welch_power(mid, sample_rate=sample_rate, nperseg=nperseg)


def octave_powers(audio: np.ndarray, *, sample_rate: int) -> np.ndarray:
    """Mean power of the mid signal in each octave of :data:`OCTAVES_HZ` (linear, not dB).

    Linear powers add when uncorrelated tracks are summed, which is what gain staging needs to
    predict a mix from its tracks.

    Returns
    -------
    np.ndarray, float64, shape (8,)
    """
    return _octave_powers(*mid_spectrum(audio, sample_rate=sample_rate))


def _octave_powers(freqs: np.ndarray, power: np.ndarray) -> np.ndarray:
    edges = [(c / math.sqrt(2.0), c * math.sqrt(2.0)) for c in OCTAVES_HZ]
    return np.array([float(np.sum(power[(freqs >= lo) & (freqs < hi)])) for lo, hi in edges])


def side_octave_powers(audio: np.ndarray, *, sample_rate: int) -> np.ndarray:
    """Like :func:`octave_powers`, for the side signal ``(L − R) / 2``: where the width lives."""
    x = np.asarray(valid_audio(audio), dtype=np.float64)
    if x.shape[0] < 2:
        return np.zeros(len(OCTAVES_HZ))
    return octave_powers(((x[0] - x[1]) / 2.0)[np.newaxis, :], sample_rate=sample_rate)


def octave_levels_db(audio: np.ndarray, *, sample_rate: int) -> dict[int, float]:
    """Tonal balance: octave-band power of the mid signal re the 1 kHz octave, in dB.

    The definition of Elowsson & Friberg's commercial mean (see :mod:`core.tonal`), over the
    whole signal: compare a master with its genre's :class:`core.tonal.TonalTarget`.

    Returns
    -------
    dict of int to float
        Octave centre (Hz) in :data:`core.tonal.OCTAVE_CENTRES_HZ` → dB re 1 kHz; all −120.0
        when the 1 kHz octave is silent.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> pink_ish = rng.standard_normal((2, 44100 * 4)).astype(np.float32)  # white: +3 dB/octave
    >>> round(octave_levels_db(pink_ish, sample_rate=44100)[2000])
    3
    """
    return levels_from_powers(octave_powers(audio, sample_rate=sample_rate))


def octave_levels_of_spectrum(freqs: np.ndarray, power: np.ndarray) -> dict[int, float]:
    """:func:`octave_levels_db` from a :func:`mid_spectrum` already taken."""
    return levels_from_powers(_octave_powers(freqs, power))


def levels_from_powers(powers: np.ndarray) -> dict[int, float]:
    """Octave powers of :func:`octave_powers` as dB re the 1 kHz octave."""
    reference = float(powers[OCTAVES_HZ.index(1000)])
    if reference <= 1e-20:
        return {c: _FLOOR_DB for c in OCTAVE_CENTRES_HZ}
    return {c: 10.0 * math.log10(max(float(powers[OCTAVES_HZ.index(c)]), 1e-20) / reference)
            for c in OCTAVE_CENTRES_HZ}


def side_mid_ratio(audio: np.ndarray) -> float:
    """Width: side/mid RMS amplitude ratio, √((1 − r)/(1 + r)) for equal channels of correlation r.

    0 is mono; 0.16 is a correlation of 0.95, 0.23 of 0.9. The same number as
    :func:`stereo_width`, under the name the tonal targets use.
    """
    return stereo_width(audio)


_CORRELATION_BLOCK = 1 << 18  # samples summed at a time in double precision (2 MB a channel)


def low_band_correlation(
    audio: np.ndarray, *, sample_rate: int, cutoff_hz: float = LOW_MONO_HZ
) -> float:
    """Correlation of left and right below ``cutoff_hz``: 1 is a mono low end, 0 unrelated.

    A low end that is not mono loses bass when summed to mono (club systems, phones) and
    wanders between the speakers. Silence or mono audio reads 1.0.

    Parameters
    ----------
    audio : np.ndarray, float32, shape (2, samples)
    sample_rate : int > 0, Hz
    cutoff_hz : float > 0, Hz
        Fourth-order Butterworth low-pass before the correlation.
    """
    from scipy.signal import butter, sosfilt

    x = np.asarray(valid_audio(audio), dtype=np.float32)
    if x.shape[0] < 2 or x.shape[1] < 16:
        return 1.0
    sos = butter(4, cutoff_hz, btype="lowpass", fs=sample_rate, output="sos").astype(np.float32)
    # each channel on its own core, filtered in single precision and summed in double, a
    # block at a time (no song-long double-precision copies)
    low = by_channel(lambda row: sosfilt(sos, row), x)
    means = [float(low[0].mean(dtype=np.float64)), float(low[1].mean(dtype=np.float64))]
    ll = rr = lr = 0.0
    for start in range(0, low.shape[1], _CORRELATION_BLOCK):
        left = low[0, start:start + _CORRELATION_BLOCK].astype(np.float64) - means[0]
        right = low[1, start:start + _CORRELATION_BLOCK].astype(np.float64) - means[1]
        ll, rr, lr = (ll + float(np.dot(left, left)), rr + float(np.dot(right, right)),
                      lr + float(np.dot(left, right)))
    norm = math.sqrt(ll * rr)
    return lr / norm if norm > 1e-12 else 1.0


def plr_db(audio: np.ndarray, *, sample_rate: int) -> float:
    """Peak-to-loudness ratio: true peak (dBTP) minus integrated loudness (LUFS), in dB.

    How much punch the limiter left: about 13 dB for a gentle −14 LUFS master, 6 dB or less for
    a crushed one.
    """
    x = valid_audio(audio)
    return true_peak_dbtp(x, sample_rate=sample_rate) - integrated_loudness(x, sample_rate=sample_rate)


_SUB_HZ = 80.0  # the master's "share below" reads the sub below this


def power_share_below(audio: np.ndarray, *, sample_rate: int, cutoff_hz: float = _SUB_HZ) -> float:
    """Share (0–1) of the mid signal's power below ``cutoff_hz``: 0.75 means the sub is all you hear.

    The mean commercial track has about 1 % below 60 Hz (Elowsson & Friberg 2017).
    """
    return _share_below(*mid_spectrum(audio, sample_rate=sample_rate), cutoff_hz)


def _share_below(freqs: np.ndarray, power: np.ndarray, cutoff_hz: float) -> float:
    total = float(np.sum(power[freqs >= 20.0]))
    low = float(np.sum(power[(freqs >= 20.0) & (freqs < cutoff_hz)]))
    return low / total if total > 1e-20 else 0.0


LOW_BETWEEN_KICKS_HZ = (40.0, 160.0)
"""The bass region a "bass too loud" is heard in, measured between the kicks."""


def between_hits_band_db(
    audio: np.ndarray,
    *,
    sample_rate: int,
    hit_times_s: np.ndarray,
    low_hz: float = LOW_BETWEEN_KICKS_HZ[0],
    high_hz: float = LOW_BETWEEN_KICKS_HZ[1],
    loudness_lufs: float | None = None,
) -> float | None:
    """Level of a band between the kick hits, relative to the whole signal's loudness, in dB.

    The kick owns the low end while it sounds; between the hits is where a bass change is
    heard. The mid signal is band-passed (4th-order Butterworth), its power averaged over the
    second half of every gap between hits (the kick's tail has died away by then; gaps longer
    than a second are skipped), and given in dB relative to the integrated loudness (LUFS) of
    ``audio``: a master is limited to a loudness target, so only the band's share of it says
    whether a listener hears the change.

    Parameters
    ----------
    hit_times_s : np.ndarray, shape (hits,), seconds
    low_hz, high_hz : float, Hz
    loudness_lufs : float, optional
        The integrated loudness of ``audio`` when it is known (a master knows its own).

    Returns
    -------
    float or None
        dB (band power in dBFS minus LUFS); ``None`` with fewer than two hits or silence.
    """
    from scipy.signal import butter, sosfilt

    x = valid_audio(audio)
    hits = np.sort(np.round(np.asarray(hit_times_s, dtype=np.float64) * sample_rate))
    hits = hits[(hits >= 0) & (hits < x.shape[1])].astype(np.int64)
    if hits.size < 2:
        return None
    sos = butter(4, (low_hz, high_hz), btype="bandpass", fs=sample_rate, output="sos")
    # single precision, summed in double: the band's level moves by far less than 0.01 dB
    band = np.square(sosfilt(sos.astype(np.float32), x.mean(axis=0, dtype=np.float32)),
                     dtype=np.float64)
    total, count = 0.0, 0
    for start, stop in itertools.pairwise(hits):
        gap = int(stop - start)
        if gap < 8 or gap > sample_rate:
            continue
        segment = band[start + gap // 2 : stop]
        total += float(np.sum(segment))
        count += segment.size
    loudness = (integrated_loudness(x, sample_rate=sample_rate) if loudness_lufs is None
                else loudness_lufs)
    if count == 0 or total <= 0 or loudness <= -70:
        return None
    return 10.0 * math.log10(total / count) - loudness


def measure_render(
    master: np.ndarray,
    *,
    sample_rate: int,
    tracks: Mapping[str, np.ndarray] | None = None,
    hit_times_s: np.ndarray | None = None,
    unducked: Mapping[str, np.ndarray] | None = None,
    spec: ProductionSpec | None = None,
    known_lufs: float | None = None,
    known_true_peak_dbtp: float | None = None,
    known_short_term_lufs: np.ndarray | None = None,
    known_mid_spectrum: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, object]:
    """Every number the change card and the Chefs read, under ExpectedEffect's metric names.

    Parameters
    ----------
    master : np.ndarray, float32, shape (2, samples)
        The mastered song.
    sample_rate : int > 0, Hz
    tracks : mapping of track name to (2, samples) audio, optional
        Each track after its chain (``ProcessedTrack.dry``).
    hit_times_s : np.ndarray, optional, seconds
        Kick hits, for ``ducking_depth_db`` of the tracks in ``unducked``.
    unducked : mapping of track name to that track rendered without ducking, optional
    spec : core.spec.ProductionSpec, optional
        Its bar grid gives ``level_by_bar_db`` (where a riser or a downlifter is heard) and the
        tracks' grid numbers (:func:`measure_track`).
    known_lufs, known_true_peak_dbtp : float, optional
        The master's loudness and true peak when the caller measured this very audio already
        (the mastering stage does, to land on its target): the two slowest readings here.
    known_short_term_lufs : np.ndarray, optional
        The master's :func:`jobs.loudness.short_term_loudness` (100 ms hop), when the caller
        has it (a render draws it): the loudness range is read from it.
    known_mid_spectrum : (frequencies, power), optional
        The master's :func:`mid_spectrum`, when the caller took it already.

    Returns
    -------
    dict
        ``integrated_lufs``, ``true_peak_dbtp``, ``loudness_range_lu``, ``spectral_centroid_hz``,
        ``low_end_db``, ``stereo_width``, ``bands_db``, ``octaves_db`` (octave levels re 1 kHz,
        keyed by centre in Hz as a string), ``side_mid_ratio``, ``low_band_correlation``,
        ``share_below_80_hz``, ``plr_db``, with ``spec`` ``level_by_bar_db``, and ``tracks``:
        name → :func:`measure_track`'s numbers.
    """
    freqs, power = _spectrum(master, sample_rate=sample_rate)
    mid_freqs, mid_power = (mid_spectrum(master, sample_rate=sample_rate)  # octaves, sub share
                            if known_mid_spectrum is None else known_mid_spectrum)
    result: dict[str, object] = {
        "integrated_lufs": integrated_loudness(master, sample_rate=sample_rate)
        if known_lufs is None else known_lufs,
        "true_peak_dbtp": true_peak_dbtp(master, sample_rate=sample_rate)
        if known_true_peak_dbtp is None else known_true_peak_dbtp,
        "loudness_range_lu": loudness_range(master, sample_rate=sample_rate)
        if known_short_term_lufs is None else loudness_range_of(known_short_term_lufs),
        # one spectrum of the master serves its brightness, low end and bands
        "spectral_centroid_hz": _centroid(freqs, power),
        "low_end_db": _band_db(freqs, power, *LOW_END_HZ),
        "stereo_width": (width := stereo_width(master)),
        "bands_db": _bands_db(freqs, power),
        "octaves_db": {str(c): v for c, v in
                       levels_from_powers(_octave_powers(mid_freqs, mid_power)).items()},
        "side_mid_ratio": width,  # the same number under the tonal targets' name
        "low_band_correlation": low_band_correlation(master, sample_rate=sample_rate),
        "share_below_80_hz": _share_below(mid_freqs, mid_power, _SUB_HZ),
    }
    result["plr_db"] = float(result["true_peak_dbtp"]) - float(result["integrated_lufs"])  # type: ignore[arg-type]
    if spec is not None:
        result["level_by_bar_db"] = level_by_bar_db(master, spec=spec, sample_rate=sample_rate)
    result["tracks"] = {
        name: measure_track(audio, sample_rate=sample_rate, hit_times_s=hit_times_s,
                            unducked=(unducked or {}).get(name), spec=spec)
        for name, audio in (tracks or {}).items()}
    return result


MEASURE_VERSION = "m3"
"""Bumped when :func:`measure_track` measures something new, so numbers kept with a cached
chain are taken again rather than served without it."""


def measure_track(audio: np.ndarray, *, sample_rate: int, hit_times_s: np.ndarray | None = None,
                  unducked: np.ndarray | None = None, sends: Mapping[str, np.ndarray] | None = None,
                  spec: ProductionSpec | None = None) -> dict[str, float | list[float]]:
    """One track's numbers after its chain: level, brightness, low end and, when ducked, the dip.

    Given the spec (the bar grid and the delay's time), also its share of the reverb and delay
    returns and the width it is heard at (:func:`return_levels`, from ``sends``), the swing of
    its off-beat sixteenths (:func:`swing_16ths`, when it has any) and its onsets per bar
    (:func:`onsets_by_bar`). One envelope serves the last two and one spectrum the rest.

    A function of the track alone, so a render can keep it with the track's cached chain and
    re-measure only the tracks a change touched.
    """
    # checked and made contiguous once (a mono track read from the cache is a broadcast view,
    # which every reading below would otherwise copy again)
    audio = valid_audio(audio)
    unducked = None if unducked is None else valid_audio(unducked)
    freqs, power = _spectrum(audio, sample_rate=sample_rate)
    numbers: dict[str, float | list[float]] = {
        "track_level_db": track_level_db(audio, sample_rate=sample_rate),
        "spectral_centroid_hz": _centroid(freqs, power),
        "low_end_db": _band_db(freqs, power, *LOW_END_HZ),
    }
    if unducked is not None and hit_times_s is not None:
        numbers["ducking_depth_db"] = ducking_depth_db(
            audio, sample_rate=sample_rate, hit_times_s=hit_times_s, reference=unducked)
    if spec is not None:
        numbers.update(return_levels(audio, sends or {}, spec=spec, sample_rate=sample_rate,
                                     spectrum=(freqs, power)))
        envelope = _envelope(audio, _HOP)
        swing = swing_16ths(audio, spec=spec, sample_rate=sample_rate, envelope=envelope)
        if swing is not None:
            numbers["swing_16ths"] = swing
        numbers["onsets_by_bar"] = onsets_by_bar(audio, spec=spec, sample_rate=sample_rate,
                                                 envelope=envelope)
        numbers["level_by_bar_db"] = level_by_bar_db(audio, spec=spec, sample_rate=sample_rate,
                                                     envelope=envelope)
    return {k: v if isinstance(v, list) else float(v) for k, v in numbers.items()}


def swept_centroid_by_bar(
    swept: np.ndarray, unswept: np.ndarray, *, spec: ProductionSpec, sample_rate: int, bars: range
) -> list[float]:
    """The centroid each bar's filter gives the track's average sound, in Hz.

    A sweep on music whose chords change every bar: the plain centroid also follows the chords.
    Here each bar's filter response is measured (the swept bar's spectrum over the same bar
    without the sweep) and applied to the track's average spectrum over ``bars``, so the result
    moves with the filter alone and rises bar by bar as it opens.
    """
    spectra = []
    for bar in bars:
        a = round(spec.bar_start_s(bar) * sample_rate)
        b = round(spec.bar_start_s(bar + 1) * sample_rate)
        freqs, wet = _spectrum(swept[:, a:b], sample_rate=sample_rate)
        _, dry = _spectrum(unswept[:, a:b], sample_rate=sample_rate)
        spectra.append((freqs, wet, dry))
    if not spectra or spectra[0][0].size < 2:
        return [0.0 for _ in bars]
    freqs = spectra[0][0]
    average = np.mean([dry for _, _, dry in spectra if dry.size == freqs.size], axis=0)
    audible = average > 1e-6 * float(np.max(average)) if float(np.max(average)) > 0 else average > 0
    out = []
    for bar_freqs, wet, dry in spectra:
        if bar_freqs.size != freqs.size:
            out.append(0.0)
            continue
        response = np.where(audible & (dry > 1e-20), np.minimum(wet / np.maximum(dry, 1e-20), 1.0), 0.0)
        weighted = response * average
        total = float(np.sum(weighted))
        out.append(float(np.sum(freqs * weighted) / total) if total > 1e-20 else 0.0)
    return out


# --- what a send, a groove, a transition or a chop does, as a listener hears it -------------

_IR_S = {"reverb": 6.0}  # the reverb's tail is 60 dB down well within this (room 0.7)
_ECHOES = 14  # the delay's 14th echo is 64 dB down (feedback 0.35)
_responses: dict[tuple[str, float, int, int], np.ndarray] = {}


def _return_response(name: str, *, spec: ProductionSpec, sample_rate: int,
                     nperseg: int) -> np.ndarray:
    """How a return shapes what is sent to it, per bin of a ``nperseg`` Welch spectrum.

    Rows: mid → mid, mid → side, side → mid, side → side power gain. Read once per return
    (and per tempo for the delay) from its impulse response through the very chain the mix
    uses (``jobs.mix``), then averaged over each Welch bin's band.
    """
    from jobs.mix import DELAY_BEATS, _return_chain

    tempo = spec.tempo_bpm if name == "delay" else 0.0
    key = (name, tempo, sample_rate, nperseg)
    if key in _responses:
        return _responses[key]
    seconds = _IR_S.get(name) or _ECHOES * DELAY_BEATS * 60.0 / spec.tempo_bpm + 0.1
    n = round(seconds * sample_rate)
    size = 1 << (n - 1).bit_length()
    fine = np.fft.rfftfreq(size, 1.0 / sample_rate)
    coarse = np.rint(fine / (sample_rate / nperseg)).astype(np.int64)
    counts = np.bincount(coarse, minlength=nperseg // 2 + 1)
    rows = []
    for sign in (1.0, -1.0):  # a unit impulse in the mid, then in the side
        impulse = np.zeros((2, n), dtype=np.float32)
        impulse[0, 0], impulse[1, 0] = 1.0, sign
        out = np.asarray(_return_chain(name, spec=spec)(impulse, sample_rate), dtype=np.float64)
        for part in ((out[0] + out[1]) / 2.0, (out[0] - out[1]) / 2.0):
            power = np.abs(np.fft.rfft(part, size)) ** 2
            rows.append(np.bincount(coarse, weights=power, minlength=counts.size)
                        / np.maximum(counts, 1))
    _responses[key] = np.array(rows)[:, : nperseg // 2 + 1]
    return _responses[key]


def _mid_side_power(x: np.ndarray) -> tuple[float, float]:
    """Mean power of the mid ``(L + R) / 2`` and the side ``(L − R) / 2`` (three dot products)."""
    if x.shape[0] < 2:
        return float(np.dot(x[0], x[0])) / max(1, x.shape[1]), 0.0
    left, right = x[0], x[1]
    ll, rr, lr = (float(np.dot(a, b)) for a, b in ((left, left), (right, right), (left, right)))
    n = max(1, x.shape[1])
    return max(0.0, ll + rr + 2 * lr) / (4 * n), max(0.0, ll + rr - 2 * lr) / (4 * n)


def return_levels(dry: np.ndarray, sends: Mapping[str, np.ndarray], *, spec: ProductionSpec,
                  sample_rate: int, spectrum: tuple[np.ndarray, np.ndarray] | None = None
                  ) -> dict[str, float]:
    """How much of a track's reverb and delay the mix carries, and how wide it makes the track.

    A return is linear, so a track's share of it is its send through the return's response:
    the send's measured mid and side power, shaped by the dry track's spectrum (a send is the
    dry signal times its level) and by :func:`_return_response`. No reverb is run per track.

    Parameters
    ----------
    dry : np.ndarray, float32, shape (2, samples)
        The track after its chain.
    sends : mapping of return name to (2, samples) audio
        What the track sends to each return (``ProcessedTrack.sends``).
    spec : core.spec.ProductionSpec
        The delay's time follows the tempo.
    spectrum : (frequencies, power), optional
        ``dry``'s Welch spectrum (:func:`_spectrum`) when already taken.

    Returns
    -------
    dict
        ``reverb_wet_db`` and ``delay_wet_db``: the return's power re the dry track's, in dB
        (−120 when the track sends nothing); ``side_mid_ratio``: side/mid RMS of the track with
        its returns, the width a listener hears (0 mono, 1 unrelated channels).
    """
    x = valid_audio(dry)
    _, power = spectrum if spectrum is not None else _spectrum(x, sample_rate=sample_rate)
    mid, side = _mid_side_power(x)
    total = float(np.sum(power))
    shape = power / total if total > 1e-20 else np.zeros_like(power)
    out: dict[str, float] = {}
    wet_mid = wet_side = 0.0
    for name in ("reverb", "delay"):
        send = sends.get(name)
        wet = 0.0
        if send is not None and shape.size > 1:
            response = _return_response(name, spec=spec, sample_rate=sample_rate,
                                        nperseg=2 * (shape.size - 1))
            gains = response @ shape  # mid→mid, mid→side, side→mid, side→side
            send_mid, send_side = _mid_side_power(valid_audio(send))
            to_mid = send_mid * gains[0] + send_side * gains[2]
            to_side = send_mid * gains[1] + send_side * gains[3]
            wet_mid, wet_side, wet = wet_mid + to_mid, wet_side + to_side, to_mid + to_side
        out[f"{name}_wet_db"] = (10.0 * math.log10(wet / (mid + side))
                                 if wet > 1e-20 and mid + side > 1e-20 else _FLOOR_DB)
    heard_mid = mid + wet_mid
    out["side_mid_ratio"] = math.sqrt((side + wet_side) / heard_mid) if heard_mid > 1e-20 else 0.0
    return out


_HOP = 32  # 0.73 ms envelope frames at 44.1 kHz: a 0.06-sixteenth swing step is ten of them


def _envelope(audio: np.ndarray, hop: int) -> np.ndarray:
    """Power of the channel sum in frames of ``hop`` samples."""
    x = valid_audio(audio)
    mono = x[0] + x[1] if x.shape[0] > 1 else x[0]
    frames = mono.size // hop
    return np.einsum("ij,ij->i", *(2 * (mono[: frames * hop].reshape(frames, hop),)),
                     dtype=np.float64) / hop


def swing_16ths(audio: np.ndarray, *, spec: ProductionSpec, sample_rate: int,
                envelope: np.ndarray | None = None) -> float | None:
    """How late the off-beat sixteenths land, in sixteenths: the swing a listener hears.

    The track's onset strength (the rise of its level in dB over 2 ms, so a quiet shaker on an
    open hat's tail counts as much as the hat) is folded onto one beat: averaged over every
    beat of the song, so single hits and humanised timing average out. Each sixteenth's onset
    is the peak of that average near it, and the swing is the off-beat sixteenths' delay
    beyond the on-beat ones', so a sample's own attack time cancels out: 0 is straight, 0.5 a
    heavy shuffle, on :class:`core.spec.PatternSpec`'s ``swing`` scale.

    Returns
    -------
    float or None
        ``None`` when no off-beat (or on-beat) onset stands out. A part whose off-beats carry
        only other hits' tails can read a constant that no swing moves: the change card then
        reports the swing as missed, which is what a listener hears.
    """
    env = _envelope(audio, _HOP) if envelope is None else envelope
    if env.size < 8 or float(np.max(env)) <= 1e-20:
        return None
    frame_s = _HOP / sample_rate
    level = 10.0 * np.log10(np.maximum(np.convolve(env, np.ones(2) / 2, mode="same"),
                                       float(np.max(env)) * 1e-6))
    lag = max(1, round(0.002 / frame_s))
    strength = np.maximum(0.0, level[lag:] - level[:-lag])
    beat_s = spec.bar_s / spec.time_signature[0]
    bins = max(8, math.ceil(beat_s / frame_s))
    at = (np.arange(strength.size) + lag + 0.5) * frame_s
    phase = np.minimum(np.floor((at % beat_s) / frame_s).astype(np.int64), bins - 1)
    folded = np.bincount(phase, weights=strength, minlength=bins)
    folded = np.convolve(np.concatenate([folded[-1:], folded, folded[:1]]), np.ones(3) / 3,
                         mode="valid")
    sixteenth = bins / 4.0
    floor = float(np.median(folded))
    onsets, standing = [], []
    for slot in range(4):  # an off-beat lands 0 to 0.5 of a 16th late, give or take the jitter
        lo = round((slot - 0.15) * sixteenth)
        hi = round((slot + (0.6 if slot % 2 else 0.15)) * sixteenth)
        window = folded[np.arange(lo, hi) % bins]
        best = int(np.argmax(window))
        shift = 0.0
        if 0 < best < window.size - 1:  # the peak between frames (a parabola through three)
            a, b, c = window[best - 1], window[best], window[best + 1]
            shift = 0.5 * (a - c) / (a - 2 * b + c) if a - 2 * b + c < 0 else 0.0
        onsets.append((lo + best + shift - slot * sixteenth) / sixteenth)
        standing.append(float(window[best]))
    # only sixteenths with hits of their own are timed (an open hat's tail is not a hit): an
    # onset stands twice over the beat's median and at a tenth of the strongest on-beat
    least = max(2.0 * floor, 0.1 * max(standing[0], standing[2]))
    off = [onsets[s] for s in (1, 3) if standing[s] > least]
    on = [onsets[s] for s in (0, 2) if standing[s] > least]
    if not off or not on:
        return None
    return float(np.mean(off) - np.mean(on))


_ONSET_HOP = 256  # 5.8 ms frames for counting onsets
_ONSET_RISE_DB = 6.0  # a rise this steep within 20 ms is a new note or slice
_ONSET_GAP_S = 0.05
_ONSET_FLOOR_DB = 40.0  # quieter than the track's loudest frame by more than this is not heard


def onsets_by_bar(audio: np.ndarray, *, spec: ProductionSpec, sample_rate: int,
                  envelope: np.ndarray | None = None) -> list[float]:
    """How many notes or slices start in each bar: the density a listener hears (chops, stutter).

    An onset is where the track's level jumps by 6 dB within 20 ms, at most one per 50 ms,
    and no more than 40 dB under the track's loudest moment.

    Returns
    -------
    list of float
        One count per bar of the arrangement (``spec.total_bars``).
    """
    env = (_envelope(audio, _ONSET_HOP) if envelope is None
           else _frames(envelope, _ONSET_HOP // _HOP))
    frame_s = _ONSET_HOP / sample_rate
    counts = [0.0] * spec.total_bars
    if env.size < 5 or float(np.max(env)) <= 1e-20:
        return counts
    level = 10.0 * np.log10(np.maximum(env, float(np.max(env)) * 1e-8))
    lag = max(1, round(0.02 / frame_s))
    jump = level[lag:] - level[:-lag]
    loud = level[lag:] > float(np.max(level)) - _ONSET_FLOOR_DB
    candidates = np.flatnonzero((jump >= _ONSET_RISE_DB) & loud) + lag
    last = -math.inf
    for frame in candidates:
        at = frame * frame_s
        if at - last < _ONSET_GAP_S:
            continue
        last = at
        bar = int(at // spec.bar_s)
        if bar < len(counts):
            counts[bar] += 1.0
    return counts


def _frames(envelope: np.ndarray, factor: int) -> np.ndarray:
    """A fine power envelope summed into frames ``factor`` times longer (mean power)."""
    frames = envelope.size // factor
    return envelope[: frames * factor].reshape(frames, factor).mean(axis=1)


def level_by_bar_db(audio: np.ndarray, *, spec: ProductionSpec, sample_rate: int,
                    envelope: np.ndarray | None = None) -> list[float]:
    """The level of each bar (mean power of the mid, dBFS): where a riser or a drop is heard,
    where a track sounds and where it is silent (the arrangement picture's lanes).

    Returns
    -------
    list of float
        One level per bar of the arrangement; −120.0 for a silent bar.
    """
    env = (_envelope(audio, _ONSET_HOP) if envelope is None
           else _frames(envelope, _ONSET_HOP // _HOP)) / 4.0  # the channel sum's power → mid's
    frame_s = _ONSET_HOP / sample_rate
    out = []
    for bar in range(spec.total_bars):
        a = round(bar * spec.bar_s / frame_s)
        b = min(env.size, round((bar + 1) * spec.bar_s / frame_s))
        power = float(np.mean(env[a:b])) if b > a else 0.0
        out.append(10.0 * math.log10(power) if power > 1e-12 else _FLOOR_DB)
    return out

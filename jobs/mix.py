"""Mixing: each track's chain, sidechain ducking, automation, the send returns and the mix bus.

A track runs through, in order:

1. high-pass (``highpass_hz``, or its automation), a 12 dB/octave Butterworth;
2. EQ bands, compression and saturation (pedalboard);
   chords and pads arrive as stereo voices (:func:`stereo_unison`, applied when the render
   plays their part); the master keeps everything below 120 Hz mono;
3. low-pass sweeps (``filter_cutoff_hz`` automation), a 24 dB/octave Butterworth;
4. fader: ``gain_db`` plus its automation, times the sidechain ducking envelope;
5. pan (constant power, unity in the centre);
6. post-fader sends to the reverb and the tempo-synced delay returns.

The high- and low-pass filters are Butterworth sections from SciPy rather than pedalboard's,
because pedalboard's are first order (6 dB/octave): too gentle to clear rumble or to make a
build-up sweep sound like one. Moving filters are processed in 256-sample blocks whose filter
state carries over, and they cross-fade in and out over 10 ms at the edges of their bar range,
so a sweep neither clicks nor touches the bars outside it.

Bars are 1-based and inclusive everywhere, as in :class:`core.spec.Automation`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from pedalboard import (
    Chorus,
    Compressor,
    Delay,
    Distortion,
    Gain,
    HighpassFilter,
    HighShelfFilter,
    LowpassFilter,
    LowShelfFilter,
    PeakFilter,
    Pedalboard,
    Plugin,
    Reverb,
)
from scipy.signal import butter, sosfilt, sosfilt_zi

from core.spec import Automation, AutomationParameter, ProductionSpec, Sidechain, TrackSpec
from core.units import beats_to_seconds, db_to_gain, gain_to_db
from jobs.audio_io import valid_audio

__all__ = [
    "DELAY_BEATS",
    "MIX_PEAK_DBFS",
    "RETURNS",
    "MixResult",
    "ProcessedTrack",
    "automation_values",
    "bar_duration_s",
    "mix_down",
    "process_track",
    "returns_of",
    "sidechain_gain",
    "stereo_unison",
    "summed",
    "trimmed_bus",
]

logger = logging.getLogger(__name__)

MIX_PEAK_DBFS = -6.0
"""Highest sample peak (dBFS) of the summed mix: 6 dB of headroom for the master chain."""

RETURNS: tuple[Literal["reverb", "delay"], ...] = ("reverb", "delay")
"""The send returns every production has, in the order they are summed."""

DELAY_BEATS = 0.75
"""Delay time of the delay return in beats: a dotted eighth, the classic groove-locked echo."""

_BLOCK = 256  # samples per coefficient update of a moving filter (5.8 ms at 44.1 kHz)
_XFADE_S = 0.010  # cross-fade where a moving filter starts or stops
_PREROLL_S = 0.050  # filter run-in before a cross-fade, so its state has settled
_SMOOTH_S = 0.005  # smoothing of gain and send envelopes: no zipper noise at range edges
_SILENT_DB = -120.0
_HIGHPASS_ORDER = 2
_LOWPASS_ORDER = 4


@dataclass(frozen=True, slots=True)
class ProcessedTrack:
    """A track after its chain: the dry signal for the bus and how much of it each return gets.

    Sends are post-fader, so a send is the dry signal times its level curve. Keeping the curve
    instead of a second stereo signal per return halves what the render cache stores and
    reads, and a gain or tilt applied to the dry signal (gain staging) reaches the sends
    without being applied again.
    """

    dry: np.ndarray  #: float32, shape (2, samples), post-fader and panned
    #: return name -> linear send level, float32, shape (samples,), or (1,) when constant
    send_levels: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def sends(self) -> dict[str, np.ndarray]:
        """What the track sends to each return, float32, shape (2, samples)."""
        return {name: self.dry * level for name, level in self.send_levels.items()}


@dataclass(frozen=True, slots=True)
class MixResult:
    """The summed mix, ready for the master, with the gain staging that was applied."""

    audio: np.ndarray  #: float32, shape (2, samples)
    trim_db: float  #: gain applied to the whole bus (≤ 0) to keep the peak at MIX_PEAK_DBFS
    peak_dbfs: float  #: sample peak of ``audio``, after the trim
    peak_before_trim_dbfs: float


def bar_duration_s(spec: ProductionSpec) -> float:
    """Length of one bar in seconds: :attr:`core.spec.ProductionSpec.bar_s`, by its older name."""
    return spec.bar_s


def sidechain_gain(
    n: int, *, sample_rate: int, hit_times_s: np.ndarray, sidechain: Sidechain
) -> np.ndarray:
    """Linear gain envelope that ducks a track on each kick hit: the house "pump".

    On every hit the gain falls by ``depth_db`` over ``attack_ms`` (evenly in dB), then
    recovers over ``release_ms`` along ``1 - u ** curve`` (``u`` from 0 to 1): a ``curve``
    above 1 holds the dip longer and snaps back late, below 1 recovers early. Overlapping
    hits keep the deeper of their envelopes, so fast kicks never make the gain jump.

    Parameters
    ----------
    n : int ≥ 0, samples
    sample_rate : int > 0, Hz
    hit_times_s : np.ndarray, float, shape (hits,), seconds
        Kick onsets, from the kick pattern's MIDI.
    sidechain : core.spec.Sidechain

    Returns
    -------
    np.ndarray, float32, shape (n,), values in (0, 1]
    """
    depth = float(sidechain.depth_db)
    hits = np.asarray(hit_times_s, dtype=np.float64).ravel()
    if depth <= 0 or hits.size == 0 or n == 0:
        return np.ones(n, dtype=np.float32)
    attack = max(1, round(sidechain.attack_ms * 1e-3 * sample_rate))
    release = max(1, round(sidechain.release_ms * 1e-3 * sample_rate))
    down = -depth * np.arange(1, attack + 1) / attack
    up = -depth * (1.0 - (np.arange(1, release + 1) / release) ** sidechain.curve)
    # one dip's envelope, linear: the deeper of two overlapping dips is the lower gain in dB
    # and linear alike, so the song-long envelope needs no conversion of its own
    shape = 10.0 ** (np.concatenate([down, up]) / 20.0)
    gain = np.ones(n, dtype=np.float64)
    for start in np.round(hits * sample_rate).astype(np.int64):
        lo, hi = max(int(start), 0), min(int(start) + shape.size, n)
        if lo >= hi:
            continue
        np.minimum(gain[lo:hi], shape[lo - start : hi - start], out=gain[lo:hi])
    return gain.astype(np.float32)


def automation_values(
    automation: Automation, *, spec: ProductionSpec, sample_rate: int, n: int
) -> tuple[int, int, np.ndarray]:
    """Sample range an automation covers and its value on every sample of that range.

    The range runs from the start of ``start_bar`` to the end of ``end_bar``. Frequencies
    (``*_hz``) on an ``exponential`` curve move by equal ratios per bar, as the ear hears pitch;
    on ``linear`` by equal steps in Hz. Levels (``*_db``) on ``exponential`` move evenly in dB
    (exponential in amplitude); on ``linear``, evenly in amplitude.

    Parameters
    ----------
    automation : core.spec.Automation
    spec : core.spec.ProductionSpec
        Gives tempo and time signature.
    sample_rate : int > 0, Hz
    n : int ≥ 0, samples
        Length of the track; the range is clipped to it.

    Returns
    -------
    (start, stop, values)
        Sample indices ``[start, stop)`` and float64 values of shape ``(stop - start,)``.
    """
    first = round(spec.bar_start_s(automation.start_bar) * sample_rate)
    last = round(spec.bar_start_s(automation.end_bar + 1) * sample_rate)
    start, stop = min(max(first, 0), n), min(max(last, 0), n)
    frac = (np.arange(start, stop) - first) / max(1, last - first)
    v0, v1 = automation.start_value, automation.end_value
    if automation.parameter.endswith("_db"):
        if automation.curve == "linear":
            g0, g1 = db_to_gain(v0), db_to_gain(v1)
            values = 20.0 * np.log10(np.maximum(g0 + (g1 - g0) * frac, 1e-6))
        else:
            values = v0 + (v1 - v0) * frac
    elif automation.curve == "exponential" and v0 > 0 and v1 > 0:
        values = v0 * (v1 / v0) ** frac
    else:
        values = v0 + (v1 - v0) * frac
    return start, stop, values


def process_track(
    audio: np.ndarray,
    track: TrackSpec,
    *,
    spec: ProductionSpec,
    sample_rate: int,
    sidechain_hits_s: np.ndarray | None = None,
) -> ProcessedTrack:
    """Run one track through its chain (see the module docstring for the order).

    Parameters
    ----------
    audio : np.ndarray, float32, shape (2, samples) or (1, samples)
        The track's rendered audio; mono is copied to both channels.
    track : core.spec.TrackSpec
    spec : core.spec.ProductionSpec
        Tempo and time signature place automation and the delay time.
    sample_rate : int > 0, Hz
    sidechain_hits_s : np.ndarray or None, seconds
        Hit times of the track named by ``track.sidechain.source``; ``None`` leaves the track
        unducked even when it has a sidechain.

    Returns
    -------
    ProcessedTrack
        Silence with no sends when the track is muted.
    """
    x = valid_audio(audio)
    n = x.shape[1]
    if track.muted:
        return ProcessedTrack(dry=np.zeros((2, n), dtype=np.float32))
    # a mono part (a kick, a bass: both channels equal) runs through the chain once: every
    # stage before the pan treats the channels alike and apart, so the other channel would
    # come out the same
    if x.shape[0] == 2 and np.array_equal(x[0], x[1]):
        x = x[:1]
    x = _moving_filter(x, _cutoffs(track, "highpass_hz", spec=spec, sample_rate=sample_rate, n=n),
                       btype="highpass", order=_HIGHPASS_ORDER, sample_rate=sample_rate)
    board = _insert_chain(track)
    if len(board):
        x = board(x, sample_rate)
    x = _moving_filter(x, _cutoffs(track, "filter_cutoff_hz", spec=spec, sample_rate=sample_rate,
                                   n=n),
                       btype="lowpass", order=_LOWPASS_ORDER, sample_rate=sample_rate)
    fader = _level_curve(track.gain_db, track.automation, "gain_db", offset=True,
                         spec=spec, sample_rate=sample_rate, n=n)
    if track.sidechain is not None:
        if sidechain_hits_s is None:
            logger.warning("%s has a sidechain from %s but no hit times were given; not ducked",
                           track.name, track.sidechain.source)
        else:
            duck = sidechain_gain(n, sample_rate=sample_rate, hit_times_s=sidechain_hits_s,
                                  sidechain=track.sidechain)
            fader = fader * duck
    x = _pan(x * fader, track.pan)
    if x.shape[0] == 1:  # centred mono: both channels the same samples
        x = np.repeat(x, 2, axis=0)
    levels: dict[str, np.ndarray] = {}
    for name in RETURNS:
        base = track.sends_db.get(name)
        parameter: AutomationParameter | None = "reverb_send_db" if name == "reverb" else None
        has_automation = any(a.parameter == parameter for a in track.automation)
        if base is None and not has_automation:
            continue
        level = np.atleast_1d(_level_curve(_SILENT_DB if base is None else base, track.automation,
                                        parameter, offset=False, spec=spec,
                                        sample_rate=sample_rate, n=n)).astype(np.float32)
        levels[name] = level[:1].copy() if np.all(level == level[0]) else level
    return ProcessedTrack(dry=x.astype(np.float32), send_levels=levels)


_CHORUS = ((0.43, 7.0), (0.61, 11.0))  # (rate Hz, centre delay ms) of the left and right voice


def stereo_unison(x: np.ndarray, *, sample_rate: int) -> np.ndarray:
    """A chord or pad part as a wide unison: a chorus with its own rate and delay on each side.

    The two sides drift apart by a few cents and milliseconds, so the part sounds like two
    detuned players left and right instead of one voice in the middle; summed to mono it is
    the same part with a gentle chorus.

    Parameters
    ----------
    x : np.ndarray, float32, shape (2, samples)
    sample_rate : int > 0, Hz

    Returns
    -------
    np.ndarray, float32, shape (2, samples)
    """
    x = valid_audio(x)
    if x.shape[0] == 1:
        x = np.repeat(x, 2, axis=0)
    if x.shape[1] == 0:
        return x
    sides = []
    for channel, (rate_hz, delay_ms) in enumerate(_CHORUS):
        chorus = Chorus(rate_hz=rate_hz, depth=0.3, centre_delay_ms=delay_ms, feedback=0.0,
                        mix=0.5)
        sides.append(chorus(np.ascontiguousarray(x[channel : channel + 1], dtype=np.float32),
                            sample_rate)[0])
    return np.stack(sides).astype(np.float32)


def mix_down(
    tracks: Mapping[str, ProcessedTrack], *, spec: ProductionSpec, sample_rate: int
) -> MixResult:
    """Sum the tracks and the returns, then trim the bus so its peak is at most MIX_PEAK_DBFS.

    The trim only ever lowers the level: a quiet mix stays as it is and the master brings it
    to the loudness target. Muted tracks (by the spec) contribute nothing.

    Parameters
    ----------
    tracks : mapping of track name to ProcessedTrack
    spec : core.spec.ProductionSpec
    sample_rate : int > 0, Hz

    Returns
    -------
    MixResult
    """
    playing = {name: t for name, t in tracks.items()
               if not ((ts := spec.track(name)) is not None and ts.muted)}
    n = max((t.dry.shape[1] for t in playing.values()), default=0)
    # float32 sums: a handful of tracks lose nothing audible, and it halves the memory traffic
    bus = np.zeros((2, n), dtype=np.float32)
    for t in playing.values():
        bus[:, : t.dry.shape[1]] += t.dry
    wet = returns_of(playing, scale={}, spec=spec, sample_rate=sample_rate)
    if wet is not None:
        bus += wet
    logger.debug("mix: %d tracks", len(playing))
    return trimmed_bus(bus)


def returns_of(tracks: Mapping[str, ProcessedTrack], *, scale: Mapping[str, float],
               spec: ProductionSpec, sample_rate: int) -> np.ndarray | None:
    """What the returns (reverb, delay) give back for the tracks' sends, float32 (2, samples).

    Each track's dry signal is taken times ``scale[name]`` (1 when absent) before its send
    levels. ``None`` when no track sends anything. The returns are linear, so this is the
    part of the bus a render can keep while only tracks without sends change.
    """
    from jobs.parallel import map_parallel

    n = max((t.dry.shape[1] for t in tracks.values()), default=0)

    def returned(return_name: str) -> np.ndarray:
        """One return's output for every track's send to it."""
        send = np.zeros((2, n), dtype=np.float32)
        for name, t in tracks.items():
            level = t.send_levels.get(return_name)
            if level is not None:
                g = np.float32(scale.get(name, 1.0))
                send[:, : t.dry.shape[1]] += t.dry * (level * g)
        return np.asarray(_return_chain(return_name, spec=spec)(send, sample_rate))

    # the returns are independent: each on its own core (the effects release the interpreter lock)
    used = [name for name in RETURNS if any(name in t.send_levels for t in tracks.values())]
    wet: np.ndarray | None = None
    for out in map_parallel(returned, used):
        wet = out if wet is None else wet + out
    return None if wet is None else np.asarray(wet, dtype=np.float32)


_SUM_CHUNK = 1 << 15  # samples per block of the bus: two channels of it stay in the CPU cache


def summed(parts: Sequence[tuple[np.ndarray, float]], *, length: int) -> np.ndarray:
    """The bus: ``Σ gain · audio`` over ``parts`` as float32 ``(2, length)``.

    The same sums, sample by sample and in the same order, as adding each scaled track to the
    whole bus in turn, done block by block so a block of the bus is summed in the CPU cache
    instead of streaming the song-long bus through memory once per track, and the blocks are
    spread over the job's cores (numpy's arithmetic releases the interpreter lock). A part
    shorter than ``length`` counts as silence after its end.

    Parameters
    ----------
    parts : sequence of (np.ndarray of shape (2, samples), float)
        Each track (or return) and its linear gain.
    length : int ≥ 0, samples
    """
    from jobs.parallel import map_parallel, workers

    bus = np.zeros((2, length), dtype=np.float32)
    gains = [np.float32(gain) for _, gain in parts]
    edges = np.linspace(0, length, workers() + 1).round().astype(int)

    def add(span: int) -> None:
        for start in range(int(edges[span]), int(edges[span + 1]), _SUM_CHUNK):
            stop = min(int(edges[span + 1]), start + _SUM_CHUNK)
            block = bus[:, start:stop]
            for (audio, _), gain in zip(parts, gains, strict=True):
                end = min(stop, audio.shape[1])
                if end > start:
                    block[:, : end - start] += audio[:, start:end] * gain

    map_parallel(add, range(len(edges) - 1))
    return bus


def trimmed_bus(bus: np.ndarray) -> MixResult:
    """The summed bus turned down (never up) so its sample peak is at most MIX_PEAK_DBFS."""
    peak = float(np.max(np.abs(bus))) if bus.shape[-1] else 0.0
    peak_db = gain_to_db(peak)
    trim_db = min(0.0, MIX_PEAK_DBFS - peak_db) if peak > 0 else 0.0
    # the bus itself when nothing is trimmed, else one scaled copy (never a second one)
    audio = bus if trim_db == 0 else bus * np.float32(db_to_gain(trim_db))
    audio = np.asarray(audio, dtype=np.float32)
    return MixResult(audio=audio, trim_db=trim_db, peak_dbfs=peak_db + trim_db,
                     peak_before_trim_dbfs=peak_db)


def _pan(x: np.ndarray, pan: float) -> np.ndarray:
    """Constant-power pan: unity in the centre, +3 dB on the one side when panned hard."""
    if pan == 0:
        return x
    angle = (pan + 1.0) * math.pi / 4.0
    gains = np.array([[math.cos(angle)], [math.sin(angle)]]) * math.sqrt(2.0)
    return x * gains


def _insert_chain(track: TrackSpec) -> Pedalboard:
    """EQ bands, then compression, then saturation (tanh drive with the drive gain taken back)."""
    plugins: list[Plugin] = []
    kinds = {"low_shelf": LowShelfFilter, "high_shelf": HighShelfFilter, "peak": PeakFilter}
    for band in track.eq:
        plugins.append(kinds[band.kind](cutoff_frequency_hz=band.freq_hz, gain_db=band.gain_db,
                                        q=band.q))
    if track.compression is not None:
        c = track.compression
        plugins.append(Compressor(threshold_db=c.threshold_db, ratio=c.ratio,
                                  attack_ms=c.attack_ms, release_ms=c.release_ms))
    if track.saturation_db > 0:
        plugins += [Distortion(drive_db=track.saturation_db), Gain(gain_db=-track.saturation_db)]
    return Pedalboard(plugins)


def _return_chain(name: str, *, spec: ProductionSpec) -> Pedalboard:
    """The return effect, fully wet; both returns are high-passed so they never muddy the lows."""
    if name == "reverb":
        effect: Plugin = Reverb(room_size=0.7, damping=0.5, wet_level=1.0, dry_level=0.0,
                                width=1.0)
        return Pedalboard([HighpassFilter(cutoff_frequency_hz=250), effect])
    delay_s = beats_to_seconds(DELAY_BEATS, tempo_bpm=spec.tempo_bpm)
    return Pedalboard([HighpassFilter(cutoff_frequency_hz=300),
                       LowpassFilter(cutoff_frequency_hz=6000),
                       Delay(delay_seconds=delay_s, feedback=0.35, mix=1.0)])


def _cutoffs(
    track: TrackSpec, parameter: AutomationParameter, *, spec: ProductionSpec, sample_rate: int,
    n: int,
) -> np.ndarray | None:
    """Per-sample cutoff (Hz) of a filter, NaN where it is out of the chain; None if never in."""
    static = track.highpass_hz if parameter == "highpass_hz" else 0.0
    moves = [a for a in track.automation if a.parameter == parameter]
    if static <= 0 and not moves:
        return None
    out = np.full(n, static if static > 0 else math.nan)
    for move in moves:
        start, stop, values = automation_values(move, spec=spec, sample_rate=sample_rate, n=n)
        out[start:stop] = values
    return out


def _level_curve(
    base_db: float,
    automation: list[Automation],
    parameter: AutomationParameter | None,
    *,
    offset: bool,
    spec: ProductionSpec,
    sample_rate: int,
    n: int,
) -> np.ndarray | float:
    """Linear gain from a dB level and its automation (added when ``offset``, else replacing).

    A plain float when nothing moves; otherwise a per-sample array smoothed over 5 ms.
    """
    moves = [a for a in automation if a.parameter == parameter]
    if not moves:
        return db_to_gain(base_db)
    level_db = np.full(n, base_db if not offset else 0.0)
    for move in moves:
        start, stop, values = automation_values(move, spec=spec, sample_rate=sample_rate, n=n)
        level_db[start:stop] = values
    if offset:
        level_db += base_db
    gain = 10.0 ** (np.maximum(level_db, _SILENT_DB) / 20.0)
    width = max(1, round(_SMOOTH_S * sample_rate))
    padded = np.pad(gain, (width // 2, width - 1 - width // 2), mode="edge")
    return np.convolve(padded, np.ones(width) / width, mode="valid")


def _moving_filter(
    x: np.ndarray, cutoffs: np.ndarray | None, *, btype: str, order: int, sample_rate: int
) -> np.ndarray:
    """Filter where ``cutoffs`` is set, cross-fading in and out of the unfiltered signal."""
    if cutoffs is None:
        return x
    n = x.shape[1]
    out = x.astype(np.float64)
    xfade = round(_XFADE_S * sample_rate)
    preroll = round(_PREROLL_S * sample_rate)
    active = ~np.isnan(cutoffs)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], active.astype(np.int8), [0]])))
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        lo = 0 if start == 0 else max(0, start - preroll)
        hi = min(n, stop + xfade)
        local = cutoffs[lo:hi].copy()
        local[: start - lo] = cutoffs[start]
        local[stop - lo :] = cutoffs[stop - 1]
        y = _filter_blocks(x[:, lo:hi], local, btype=btype, order=order, sample_rate=sample_rate)
        # the filter fades in just before its first bar, so it is fully on at the downbeat
        begin = max(lo, start - xfade) if start > 0 else start
        fade = np.ones(stop - begin)
        if start > 0:
            k = start - begin
            fade[:k] = 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, k))
        out[:, begin:stop] = out[:, begin:stop] * (1 - fade) + y[:, begin - lo : stop - lo] * fade
        if hi > stop:
            ramp = 0.5 + 0.5 * np.cos(np.linspace(0.0, np.pi, hi - stop))
            out[:, stop:hi] = out[:, stop:hi] * (1 - ramp) + y[:, stop - lo :] * ramp
    return out.astype(np.float32)


def _filter_blocks(
    x: np.ndarray, cutoff_per_sample: np.ndarray, *, btype: str, order: int, sample_rate: int
) -> np.ndarray:
    """Butterworth filter whose cutoff may change every block, with the state carried over."""
    n = x.shape[1]
    nyquist_safe = 0.45 * sample_rate
    y = np.empty_like(x, dtype=np.float64)
    zi: np.ndarray | None = None
    pos = 0
    while pos < n:
        end = min(n, pos + _BLOCK)
        cut = float(np.clip(cutoff_per_sample[pos], 10.0, nyquist_safe))
        # merge following blocks with the same cutoff into one call
        while end < n and cutoff_per_sample[end] == cutoff_per_sample[pos]:
            end = min(n, end + _BLOCK)
        sos = butter(order, cut, btype=btype, fs=sample_rate, output="sos")
        if zi is None:  # start settled on the first sample, as if it had always been there
            zi = sosfilt_zi(sos)[:, np.newaxis, :] * x[np.newaxis, :, 0, np.newaxis]
        y[:, pos:end], zi = sosfilt(sos, x[:, pos:end], axis=-1, zi=zi)
        pos = end
    return y

"""The preview MP3 posted into the thread, sized to fit the platform's upload limit.

The bitrate is chosen from the song's length so the file fits ``max_bytes`` (Discord's
10 MiB for a server without boosts): the highest of 320 … 96 kbps stereo that fits. A song too
long for 96 kbps stereo is encoded in mono at 64 kbps; one too long even for that becomes an
excerpt around its loudest part at 128 kbps, and the result says so. The file is written
atomically, so the bot never uploads half an MP3.

LAME runs at algorithm quality 5, not the near-best 3: the preview is encoded while a
re-render waits for it, and quality 5 takes about a quarter less time (1.6 s instead of 2.1 s
of one core for a 3-minute song). The cost, measured on the render benchmark's 3-minute
master, a first-render master and the demo song at 320 kbps (decoded, aligned, and the coding
noise's power compared with the music's in each octave band, 63 Hz–16 kHz): the noise rises
by 0.2–0.7 dB on average over the song and by at most 1.3 dB in the loudest 1 % of frames,
staying 41–50 dB under the music below 1 kHz, 31 dB at 2 kHz and 26 dB at 4 kHz. Quality 7
(no psychoacoustic model) was faster still but let the noise up by 3–5 dB at 1–4 kHz and by
13 dB around 250 Hz in its worst frames, so it is not used.

A song of a minute or more is encoded in one piece per core and the pieces joined into one
stream (:mod:`jobs.mp3`): on two cores the encoder's wait halves, and the joined stream
decodes to a one-pass encode's samples but for a few granules after each join, where its
coding noise is a one-pass encode's within a decibel (``tests/jobs/test_mp3.py``).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.artifacts import atomic_target
from core.units import seconds_to_timestamp
from jobs.audio_io import valid_audio
from jobs.loudness import short_term_loudness
from jobs.mp3 import encode_mp3

__all__ = [
    "DISCORD_MAX_BYTES",
    "STEREO_BITRATES_KBPS",
    "PreviewResult",
    "faded",
    "preview_mp3",
]

logger = logging.getLogger(__name__)

DISCORD_MAX_BYTES = 10 * 1024 * 1024
"""Discord's upload limit for a server without boosts."""

STEREO_BITRATES_KBPS = (320, 256, 224, 192, 160, 128, 112, 96)
"""Stereo bitrates tried, best first."""

_MONO_KBPS = 64
_EXCERPT_KBPS = 128
_FADE_S = 1.0
_SAFETY = 0.97  # of max_bytes: LAME's frame padding and the last partial frame
_QUALITY = 5  # LAME's algorithm quality: 2 best … 7 fast (why 5: the module's docstring)


@dataclass(frozen=True, slots=True)
class PreviewResult:
    """The written preview and how it was made to fit."""

    path: Path
    size_bytes: int
    bitrate_kbps: int
    channels: int  #: 2, or 1 when mono was needed to fit
    duration_s: float  #: of the encoded audio (shorter than the song for an excerpt)
    excerpt_start_s: float | None = None  #: where the excerpt starts in the song, if one
    note: str = ""  #: one sentence when the preview is mono or an excerpt

    @property
    def is_excerpt(self) -> bool:
        return self.excerpt_start_s is not None


def preview_mp3(
    audio: np.ndarray,
    *,
    sample_rate: int,
    path: str | os.PathLike[str],
    max_bytes: int = DISCORD_MAX_BYTES,
) -> PreviewResult:
    """Encode ``audio`` to an MP3 at ``path`` that is at most ``max_bytes`` long.

    Parameters
    ----------
    audio : np.ndarray, float32, shape (channels, samples)
        The mastered song, at most 0 dBFS (samples beyond are clipped).
    sample_rate : int > 0, Hz
        A rate MP3 supports (44100 or 48000 for the engine's audio).
    path : path-like
        Destination ``.mp3``; its folder is created.
    max_bytes : int > 0, bytes

    Returns
    -------
    PreviewResult
    """
    x = valid_audio(audio)
    if x.shape[0] == 1:
        x = np.repeat(x, 2, axis=0)
    duration_s = x.shape[1] / sample_rate
    budget = max_bytes * _SAFETY
    for kbps in STEREO_BITRATES_KBPS:
        if _estimated_bytes(kbps, duration_s) <= budget:
            data = _encode(x, sample_rate=sample_rate, kbps=kbps)
            if len(data) <= max_bytes:
                return _write(path, data, kbps=kbps, channels=2, duration_s=duration_s)
    if _estimated_bytes(_MONO_KBPS, duration_s) <= budget:
        data = _encode(x.mean(axis=0, keepdims=True), sample_rate=sample_rate, kbps=_MONO_KBPS)
        if len(data) <= max_bytes:
            return _write(path, data, kbps=_MONO_KBPS, channels=1, duration_s=duration_s,
                          note=f"The preview is mono at {_MONO_KBPS} kbps so the whole "
                               f"{seconds_to_timestamp(duration_s)} song fits the upload limit.")
    excerpt_s = max(1.0, budget * 8 / (_EXCERPT_KBPS * 1000) - 1.0)
    start_s = _loudest_start(x, sample_rate=sample_rate, length_s=excerpt_s)
    start = round(start_s * sample_rate)
    clip = faded(x[:, start : start + round(excerpt_s * sample_rate)], sample_rate=sample_rate)
    data = _encode(clip, sample_rate=sample_rate, kbps=_EXCERPT_KBPS)
    return _write(path, data, kbps=_EXCERPT_KBPS, channels=2,
                  duration_s=clip.shape[1] / sample_rate, excerpt_start_s=start_s,
                  note=f"The preview is a {seconds_to_timestamp(excerpt_s)} excerpt from "
                       f"{seconds_to_timestamp(start_s)}: the whole song does not fit the upload limit; "
                       "the download link has all of it.")


def _estimated_bytes(kbps: int, duration_s: float) -> float:
    """CBR size: bitrate × duration, plus one frame of slack for the encoder's delay."""
    return kbps * 1000 / 8 * (duration_s + 0.1) + 1024


def _encode(x: np.ndarray, *, sample_rate: int, kbps: int) -> bytes:
    """Constant-bitrate MP3 of float audio (1 or 2 channels), via LAME, in one piece per core
    (:mod:`jobs.mp3`)."""
    from jobs.parallel import workers

    return encode_mp3(x, sample_rate=sample_rate, kbps=kbps, quality=_QUALITY,
                      pieces=workers())


def _loudest_start(x: np.ndarray, *, sample_rate: int, length_s: float) -> float:
    """Start (s) of the ``length_s`` window with the highest mean short-term loudness."""
    total_s = x.shape[1] / sample_rate
    if length_s >= total_s:
        return 0.0
    hop_s = 0.5
    levels = short_term_loudness(x, sample_rate=sample_rate, hop_s=hop_s)
    if levels.size == 0:
        return 0.0
    power = 10.0 ** (levels / 10.0)
    window = max(1, int(length_s / hop_s) - 5)  # short-term windows are 3 s long
    sums = np.convolve(power, np.ones(window), mode="valid")
    return float(min(np.argmax(sums) * hop_s, total_s - length_s))


def faded(x: np.ndarray, *, sample_rate: int, fade_s: float = _FADE_S) -> np.ndarray:
    """A copy with a fade in and out, so a clip cut from a song neither starts nor ends on a
    click."""
    out = x.copy()
    k = min(round(fade_s * sample_rate), out.shape[1] // 2)
    if k > 0:
        ramp = np.linspace(0.0, 1.0, k, dtype=np.float32)
        out[:, :k] *= ramp
        out[:, -k:] *= ramp[::-1]
    return out


def _write(
    path: str | os.PathLike[str],
    data: bytes,
    *,
    kbps: int,
    channels: int,
    duration_s: float,
    excerpt_start_s: float | None = None,
    note: str = "",
) -> PreviewResult:
    """Write ``data`` atomically (temporary file in the same folder, then rename)."""
    target = Path(path)
    with atomic_target(target, suffix=".mp3") as tmp:
        tmp.write_bytes(data)
    logger.debug("preview %s: %d bytes, %d kbps, %d ch", target.name, len(data), kbps, channels)
    return PreviewResult(path=target, size_bytes=len(data), bitrate_kbps=kbps, channels=channels,
                         duration_s=duration_s, excerpt_start_s=excerpt_start_s, note=note)

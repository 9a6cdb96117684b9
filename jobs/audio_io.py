"""The one place that reads and writes audio files: intake checks, decoding, resampling, writing.

Every other module in ``jobs`` takes arrays. Audio here follows one convention: float32,
shape ``(channels, samples)``, with the sample rate passed by keyword. Uploaded files are
checked in the order that costs least first, so a 2 GB file or a 3-hour recording is refused
from its size or header before anything is decoded:

1. size on disk (zero bytes, over the size limit),
2. the first bytes (what the file really is, whatever its name says),
3. the header (frame count, rate, channels: empty, over the duration limit),
4. the decode itself (truncated or damaged data),
5. the decoded samples (silence).

Decoder exceptions are translated into :class:`core.errors.AudioError` subclasses here,
each a sentence for the person who uploaded the file.

Audio is float32 ``(channels, samples)`` at ``sample_rate`` Hz unless a docstring says otherwise.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import shutil
import struct
import subprocess
from dataclasses import dataclass
from math import gcd
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from core.artifacts import atomic_target
from core.errors import (
    AudioTooLarge,
    AudioTooLong,
    CorruptAudio,
    EmptyAudio,
    NotAudio,
    SilentAudio,
    UnsupportedFormat,
)

__all__ = [
    "ENGINE_SAMPLE_RATE",
    "SILENCE_DBFS",
    "DecodedAudio",
    "downmix_to_stereo",
    "file_sha256",
    "fits_flac",
    "publish_file",
    "read_audio",
    "resample",
    "sniff_format",
    "stored_audio_is_whole",
    "to_mono",
    "valid_audio",
    "write_flac",
    "write_json_atomic",
    "write_wav",
]

logger = logging.getLogger(__name__)

ENGINE_SAMPLE_RATE = 44100
"""The rate (Hz) the whole engine works at: Demucs was trained at it and exports expect it."""

SILENCE_DBFS = -60.0
"""Peak level (dBFS) below which an upload counts as silent: nothing usable to remix."""

_FFMPEG_FORMATS = {"m4a", "aac", "mp4"}
_TRUNCATION_TOLERANCE = 0.99  # a decode shorter than 99 % of the header's frame count is cut short


@dataclass(frozen=True, slots=True)
class DecodedAudio:
    """Audio decoded from a file, at the engine rate, with what the file said about itself."""

    audio: np.ndarray  #: float32, shape (channels, samples), channels 1 or 2
    sample_rate: int  #: Hz, always :data:`ENGINE_SAMPLE_RATE`
    source_sample_rate: int  #: Hz, as stored in the file
    source_channels: int  #: as stored in the file (6 for 5.1)
    format_name: str  #: ``wav``, ``flac``, ``mp3``, ``ogg``, ``aiff``, ``m4a``, ``aac``

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return self.audio.shape[1] / self.sample_rate


def valid_audio(audio: np.ndarray) -> np.ndarray:
    """Check the engine's audio convention and return the array as float32 ``(channels, samples)``.

    Parameters
    ----------
    audio : np.ndarray, shape (samples,) or (channels, samples)
        Floating-point audio; a 1-D array is taken as mono.

    Returns
    -------
    np.ndarray, float32, shape (channels, samples)

    Raises
    ------
    ValueError
        If the array is not floating point, has more than two dimensions, more channels
        than samples (a transposed array), or holds NaN or infinity. These are bugs in the
        caller, not the user's fault, so they are not :class:`~core.errors.AudioError`.
    """
    arr = np.asarray(audio)
    if not np.issubdtype(arr.dtype, np.floating):
        raise ValueError(f"audio must be floating point, got dtype {arr.dtype}")
    if arr.ndim == 1:
        arr = arr[np.newaxis, :]
    if arr.ndim != 2:
        raise ValueError(f"audio must have shape (channels, samples), got {arr.shape}")
    if arr.shape[0] > 16 or (arr.shape[0] > arr.shape[1] and arr.shape[1] > 0):
        raise ValueError(f"audio looks transposed: shape {arr.shape}, expected (channels, samples)")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"audio of shape {arr.shape} holds NaN or infinite values")
    return np.ascontiguousarray(arr, dtype=np.float32)


def to_mono(audio: np.ndarray) -> np.ndarray:
    """Average the channels: float32 ``(samples,)``. Used where only the content matters."""
    return np.asarray(audio, dtype=np.float32).mean(axis=0)


def downmix_to_stereo(audio: np.ndarray) -> np.ndarray:
    """Fold multichannel audio to stereo the way ITU-R BS.775 does; mono and stereo pass through.

    A 5.1 file (WAV order L, R, C, LFE, Ls, Rs) becomes ``L + 0.707·C + 0.707·Ls`` and
    ``R + 0.707·C + 0.707·Rs``; the LFE channel is dropped, as the standard downmix does.
    Quad (L, R, Ls, Rs) and 3.0 (L, R, C) fold the same way; any other layout alternates
    its channels between left and right. The result is scaled down only if it would clip.

    Parameters
    ----------
    audio : np.ndarray, float32, shape (channels, samples)

    Returns
    -------
    np.ndarray, float32, shape (1 or 2, samples)
    """
    channels = audio.shape[0]
    if channels <= 2:
        return audio
    c = 0.7071
    if channels in (6, 8):  # 5.1 / 7.1: L R C LFE Ls Rs [Lb Rb]
        left = audio[0] + c * audio[2] + c * audio[4]
        right = audio[1] + c * audio[2] + c * audio[5]
        if channels == 8:
            left = left + c * audio[6]
            right = right + c * audio[7]
    elif channels == 4:  # quad: L R Ls Rs
        left = audio[0] + c * audio[2]
        right = audio[1] + c * audio[3]
    elif channels == 3:  # 3.0: L R C
        left = audio[0] + c * audio[2]
        right = audio[1] + c * audio[2]
    else:
        left = audio[0::2].sum(axis=0)
        right = audio[1::2].sum(axis=0)
    out = np.stack([left, right]).astype(np.float32)
    peak = float(np.max(np.abs(out))) if out.size else 0.0
    if peak > 1.0:
        out /= peak
    return out


def resample(audio: np.ndarray, *, sample_rate: int, target_rate: int) -> np.ndarray:
    """Resample with a polyphase FIR (scipy ``resample_poly``): exact ratio, no drift.

    Parameters
    ----------
    target_rate : int > 0, Hz

    Returns
    -------
    np.ndarray, float32, shape (channels, round(samples · target_rate / sample_rate))
    """
    if sample_rate == target_rate:
        return audio
    g = gcd(int(sample_rate), int(target_rate))
    up, down = target_rate // g, sample_rate // g
    out = resample_poly(audio, up, down, axis=-1)
    return np.ascontiguousarray(out, dtype=np.float32)


def sniff_format(head: bytes) -> str | None:
    """What a file really is, from its first bytes; ``None`` when it is not a known audio format.

    Parameters
    ----------
    head : bytes
        At least the first 12 bytes of the file.

    Returns
    -------
    str or None
        One of ``wav``, ``flac``, ``ogg``, ``aiff``, ``mp3``, ``aac`` (ADTS), ``m4a`` (MP4).
    """
    if len(head) < 4:
        return None
    if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head[:3] == b"ID3":
        return "mp3"
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return "m4a"
    if head[0] == 0xFF and (head[1] & 0xE0) == 0xE0:
        layer = (head[1] >> 1) & 0x03
        return "aac" if layer == 0 else "mp3"  # ADTS has layer 00; MPEG audio layer III is 01
    return None


def read_audio(
    path: str | os.PathLike[str],
    *,
    max_duration_s: float,
    max_size_bytes: int,
    target_rate: int = ENGINE_SAMPLE_RATE,
    ffmpeg: str | None = "auto",
) -> DecodedAudio:
    """Check and decode an uploaded file to float32 ``(channels, samples)`` at the engine rate.

    Parameters
    ----------
    path : path-like
        The uploaded file; its name is only used in messages, its bytes decide the format.
    max_duration_s : float > 0, seconds
        Longest audio accepted, checked from the header before decoding.
    max_size_bytes : int > 0, bytes
        Largest file accepted, checked before the file is opened.
    target_rate : int > 0, Hz
        Rate of the returned audio.
    ffmpeg : str or None
        The ffmpeg executable for M4A/AAC; ``"auto"`` looks it up on ``PATH``, ``None``
        means there is none (M4A/AAC are then refused with a sentence).

    Returns
    -------
    DecodedAudio
        Mono stays mono; stereo stays stereo; more channels are folded to stereo.

    Raises
    ------
    core.errors.EmptyAudio, core.errors.AudioTooLarge, core.errors.NotAudio,
    core.errors.UnsupportedFormat, core.errors.AudioTooLong, core.errors.CorruptAudio,
    core.errors.SilentAudio
        Each with one sentence for the uploader, in that order of checking.
    """
    path = Path(path)
    name = path.name
    size = path.stat().st_size
    if size == 0:
        raise EmptyAudio(filename=name)
    if size > max_size_bytes:
        raise AudioTooLarge(filename=name, size_bytes=size, max_size_bytes=max_size_bytes)
    with path.open("rb") as fh:
        head = fh.read(64)
    fmt = sniff_format(head)
    if fmt is None:
        raise NotAudio(filename=name)
    if fmt in _FFMPEG_FORMATS:
        exe = shutil.which("ffmpeg") if ffmpeg == "auto" else ffmpeg
        if not exe:
            raise UnsupportedFormat(
                filename=name, format_name=fmt.upper(), reason="the ffmpeg decoder is not installed"
            )
        audio, rate, channels = _decode_ffmpeg(path, exe=exe, max_duration_s=max_duration_s)
    else:
        audio, rate, channels = _decode_soundfile(path, fmt=fmt, max_duration_s=max_duration_s)
    if not np.all(np.isfinite(audio)):
        raise CorruptAudio(filename=name, detail="decoded samples are not finite")
    audio = downmix_to_stereo(audio)
    audio = resample(audio, sample_rate=rate, target_rate=target_rate)
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    peak_dbfs = 20.0 * np.log10(max(peak, 1e-12))
    if peak_dbfs < SILENCE_DBFS:
        raise SilentAudio(filename=name, peak_dbfs=max(peak_dbfs, -240.0))
    logger.debug("decoded %s: %s, %d Hz, %d ch -> %s", name, fmt, rate, channels, audio.shape)
    return DecodedAudio(
        audio=audio,
        sample_rate=target_rate,
        source_sample_rate=rate,
        source_channels=channels,
        format_name=fmt,
    )


def _decode_soundfile(
    path: Path, *, fmt: str, max_duration_s: float
) -> tuple[np.ndarray, int, int]:
    """Header check, then a full decode with libsndfile; returns (audio, rate, channels)."""
    name = path.name
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise CorruptAudio(filename=name, detail=str(exc)) from exc
    if info.frames <= 0 or info.samplerate <= 0:
        raise EmptyAudio(filename=name)
    duration_s = info.frames / info.samplerate
    if duration_s > max_duration_s:
        raise AudioTooLong(filename=name, duration_s=duration_s, max_duration_s=max_duration_s)
    if fmt == "wav" and _wav_is_truncated(path):
        raise CorruptAudio(filename=name, detail="data chunk shorter than its header says")
    if fmt == "ogg" and not _ogg_has_end(path):
        raise CorruptAudio(filename=name, detail="no end-of-stream page")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise CorruptAudio(filename=name, detail=str(exc)) from exc
    if data.shape[0] == 0:
        raise EmptyAudio(filename=name)
    if data.shape[0] < _TRUNCATION_TOLERANCE * info.frames:
        raise CorruptAudio(
            filename=name, detail=f"decoded {data.shape[0]} of {info.frames} frames"
        )
    return np.ascontiguousarray(data.T), int(rate), int(info.channels)


def _wav_is_truncated(path: Path) -> bool:
    """True when a RIFF WAV's data chunk declares more bytes than the file holds.

    libsndfile quietly reads what is there, so a WAV cut off mid-upload would otherwise
    pass as a shorter song. Streaming writers that leave the size at 0 or 0xFFFFFFFF are
    not flagged (the size is unknown, not wrong).
    """
    size = path.stat().st_size
    with path.open("rb") as fh:
        if fh.read(12)[:4] != b"RIFF":
            return False  # RF64 keeps sizes elsewhere; trust libsndfile's frame count
        pos = 12
        while pos + 8 <= size:
            fh.seek(pos)
            chunk = fh.read(8)
            if len(chunk) < 8:
                return False
            chunk_id, chunk_size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if chunk_id == b"data":
                if chunk_size in (0, 0xFFFFFFFF):
                    return False
                return pos + 8 + chunk_size > size
            pos += 8 + chunk_size + (chunk_size & 1)
    return True  # no data chunk before the end of the file


def stored_audio_is_whole(path: Path) -> bool:
    """Whether one of our own WAV or FLAC files holds every frame its header promises.

    A WAV's data chunk is checked against the file's size; a FLAC's last frame is read (its
    header is at the start, so a file cut short still reports its full length until then).
    """
    if path.suffix.lower() == ".wav":
        return not _wav_is_truncated(path)
    try:
        with sf.SoundFile(str(path)) as audio:
            if audio.frames <= 0:
                return False
            audio.seek(audio.frames - 1)
            return len(audio.read(1, dtype="float32")) == 1
    except (sf.LibsndfileError, RuntimeError, ValueError):
        return False


def _ogg_has_end(path: Path) -> bool:
    """True when the last Ogg page carries the end-of-stream flag (a cut-off file lacks it)."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        fh.seek(max(0, size - 65536))
        tail = fh.read()
    idx = tail.rfind(b"OggS")
    if idx < 0 or idx + 6 > len(tail):
        return False
    return bool(tail[idx + 5] & 0x04)


def _decode_ffmpeg(path: Path, *, exe: str, max_duration_s: float) -> tuple[np.ndarray, int, int]:
    """Decode M4A/AAC with ffmpeg to 32-bit float stereo at the engine rate.

    The duration is checked with ffprobe first when it is installed; the decode itself is
    capped at just over the limit, so a mislabelled long file cannot fill memory.
    """
    name = path.name
    probe = shutil.which("ffprobe", path=str(Path(exe).parent)) or shutil.which("ffprobe")
    if probe:
        result = subprocess.run(
            [probe, "-v", "error", "-show_entries", "format=duration:stream=channels",
             "-of", "json", str(path)],
            capture_output=True, timeout=60, check=False,
        )
        if result.returncode != 0:
            raise CorruptAudio(filename=name, detail=result.stderr.decode(errors="replace")[-200:])
        meta = json.loads(result.stdout or b"{}")
        duration = float(meta.get("format", {}).get("duration") or 0.0)
        if duration > max_duration_s:
            raise AudioTooLong(filename=name, duration_s=duration, max_duration_s=max_duration_s)
    rate = ENGINE_SAMPLE_RATE
    result = subprocess.run(
        [exe, "-v", "error", "-nostdin", "-i", str(path), "-t", f"{max_duration_s + 1:.3f}",
         "-vn", "-f", "f32le", "-acodec", "pcm_f32le", "-ac", "2", "-ar", str(rate), "-"],
        capture_output=True, timeout=600, check=False,
    )
    if result.returncode != 0:
        raise CorruptAudio(filename=name, detail=result.stderr.decode(errors="replace")[-200:])
    samples = np.frombuffer(result.stdout, dtype="<f4")
    if samples.size < 2:
        raise EmptyAudio(filename=name)
    audio = samples[: samples.size - samples.size % 2].reshape(-1, 2).T
    if audio.shape[1] / rate > max_duration_s:
        raise AudioTooLong(
            filename=name, duration_s=audio.shape[1] / rate, max_duration_s=max_duration_s
        )
    return np.ascontiguousarray(audio, dtype=np.float32), rate, 2


def write_wav(
    path: str | os.PathLike[str],
    audio: np.ndarray,
    *,
    sample_rate: int,
    subtype: str = "FLOAT",
) -> Path:
    """Write audio to a WAV file atomically (a temporary file in the same folder, then rename).

    A reader never sees a half-written file, and a crash leaves the previous file intact.

    Parameters
    ----------
    path : path-like
        Destination ``.wav``.
    subtype : str
        libsndfile subtype; ``FLOAT`` keeps levels above 0 dBFS (stems may exceed it).

    Returns
    -------
    Path
        The written file.
    """
    return _write_sound(Path(path), audio, sample_rate=sample_rate, subtype=subtype,
                        format_name="WAV")


def write_flac(path: str | os.PathLike[str], audio: np.ndarray, *, sample_rate: int) -> Path:
    """Write audio to a 24-bit FLAC file atomically: lossless, about a third of a WAV's size.

    FLAC holds integers, so a sample past full scale would wrap: callers keep audio louder
    than that in a float WAV (:func:`fits_flac`). Live 11+, DAWproject hosts and every
    reader here (libsndfile) open FLAC.
    """
    return _write_sound(Path(path), audio, sample_rate=sample_rate, subtype="PCM_24",
                        format_name="FLAC")


_FLAC_PEAK = 0.999
"""Peaks below this fit 24-bit integers with room for rounding (libsndfile wraps past full
scale instead of clipping)."""


def fits_flac(audio: np.ndarray) -> bool:
    """Whether 24-bit FLAC holds ``audio`` without clipping (every sample below full scale)."""
    return float(np.max(np.abs(audio), initial=0.0)) < _FLAC_PEAK


def _write_sound(path: Path, audio: np.ndarray, *, sample_rate: int, subtype: str,
                 format_name: str) -> Path:
    audio = valid_audio(audio)
    try:
        with atomic_target(path, suffix=f".{format_name.lower()}") as tmp:
            sf.write(tmp, audio.T, sample_rate, subtype=subtype, format=format_name)
    except sf.LibsndfileError as exc:
        # libsndfile reports a full disk as "System error."; say what it is, so the job's
        # sentence tells the thread the disk is full instead of "failed unexpectedly"
        if shutil.disk_usage(path.parent).free < audio.nbytes:
            raise OSError(errno.ENOSPC, "no space left on the device", str(path)) from exc
        raise
    return path


def publish_file(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> Path:
    """Place a cached file at ``target`` atomically: a hard link when possible, else a copy.

    A version's folder then shares its bytes with the cache, and a reader never sees half a file.
    """
    import shutil

    target = Path(target)
    with atomic_target(target) as tmp:
        tmp.unlink()  # a link needs a free name
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copy2(source, tmp)
    return target


def write_json_atomic(path: str | os.PathLike[str], data: Any) -> Path:
    """Write JSON atomically (temporary file, then rename); returns the path."""
    path = Path(path)
    with atomic_target(path, suffix=".json") as tmp, open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1, sort_keys=True)
    return path


def file_sha256(path: str | os.PathLike[str], *, chunk_bytes: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks: the cache key of an upload."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while chunk := fh.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()

"""Intake: every format we promise decodes, and every bad upload gets its own sentence."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from core.errors import (
    AudioError,
    AudioTooLarge,
    AudioTooLong,
    CorruptAudio,
    EmptyAudio,
    NotAudio,
    SilentAudio,
    UnsupportedFormat,
)
from jobs import audio_io
from jobs.audio_io import ENGINE_SAMPLE_RATE, downmix_to_stereo, read_audio, sniff_format, write_wav

LIMITS = {"max_duration_s": 600.0, "max_size_bytes": 50_000_000}


def _music(seconds: float = 2.0, sample_rate: int = 44100, channels: int = 2) -> np.ndarray:
    """(samples, channels) for soundfile: a chord with a little noise, clearly not silence."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    tone = sum(0.15 * np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6))
    rng = np.random.default_rng(0)
    cols = [tone + 0.01 * rng.standard_normal(t.size) for _ in range(channels)]
    return np.stack(cols, axis=1).astype(np.float32)


@pytest.mark.parametrize(
    ("ext", "fmt", "subtype"),
    [("wav", "WAV", "PCM_16"), ("flac", "FLAC", "PCM_24"), ("ogg", "OGG", "VORBIS"),
     ("mp3", "MP3", None), ("aiff", "AIFF", "PCM_16")],
)
def test_each_promised_format_decodes_to_the_engine_convention(
    tmp_path: Path, ext: str, fmt: str, subtype: str | None
) -> None:
    path = tmp_path / f"song.{ext}"
    sf.write(path, _music(), 44100, format=fmt, subtype=subtype)
    decoded = read_audio(path, **LIMITS)
    assert decoded.audio.dtype == np.float32
    assert decoded.audio.shape[0] == 2
    assert decoded.sample_rate == ENGINE_SAMPLE_RATE
    assert decoded.duration_s == pytest.approx(2.0, abs=0.06)  # MP3 adds encoder padding
    assert decoded.format_name == ext


def test_48k_is_resampled_without_drift(tmp_path: Path) -> None:
    path = tmp_path / "song48.wav"
    sf.write(path, _music(seconds=3.0, sample_rate=48000), 48000)
    decoded = read_audio(path, **LIMITS)
    assert decoded.source_sample_rate == 48000
    assert decoded.audio.shape[1] == 3 * ENGINE_SAMPLE_RATE


def test_mono_stays_mono(tmp_path: Path) -> None:
    path = tmp_path / "mono.wav"
    sf.write(path, _music(channels=1), 44100)
    assert read_audio(path, **LIMITS).audio.shape[0] == 1


def test_5_1_folds_down_with_centre_in_both_sides_and_lfe_dropped(tmp_path: Path) -> None:
    n = 44100
    data = np.zeros((n, 6), dtype=np.float32)
    t = np.arange(n) / 44100
    data[:, 2] = 0.3 * np.sin(2 * np.pi * 440 * t)  # centre: dialogue / lead vocal
    data[:, 3] = 0.9 * np.sin(2 * np.pi * 40 * t)  # LFE
    path = tmp_path / "surround.wav"
    sf.write(path, data, 44100)
    decoded = read_audio(path, **LIMITS)
    assert decoded.source_channels == 6
    assert decoded.audio.shape[0] == 2
    left, right = decoded.audio
    assert np.max(np.abs(left)) == pytest.approx(0.3 * 0.7071, rel=0.02)
    np.testing.assert_allclose(left, right)


def test_downmix_never_clips() -> None:
    loud = np.ones((6, 100), dtype=np.float32)
    assert np.max(np.abs(downmix_to_stereo(loud))) <= 1.0


def test_sniffing_reads_bytes_not_names() -> None:
    assert sniff_format(b"RIFF\x00\x00\x00\x00WAVEfmt ") == "wav"
    assert sniff_format(b"ID3\x04\x00\x00\x00\x00\x00\x00\x00\x00") == "mp3"
    assert sniff_format(b"\xff\xfb\x90\x44" + bytes(8)) == "mp3"
    assert sniff_format(b"\xff\xf1\x50\x80" + bytes(8)) == "aac"
    assert sniff_format(b"\x00\x00\x00\x20ftypM4A ") == "m4a"
    assert sniff_format(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3") is None


# --- every bad upload gets its sentence ---------------------------------------------------


def _expect(error_type: type[AudioError], path: Path, **limits: float) -> str:
    with pytest.raises(error_type) as info:
        read_audio(path, **{**LIMITS, **limits})
    message = str(info.value)
    assert path.name in message
    assert message.endswith(".") and "\n" not in message and "Traceback" not in message
    return message


REFUSED: list[tuple[str, Callable[[Path], object], type[AudioError], str]] = [
    ("empty.wav", lambda p: p.write_bytes(b""), EmptyAudio, "is empty"),
    ("noframes.wav", lambda p: sf.write(p, np.zeros((0, 2), dtype=np.float32), 44100),
     EmptyAudio, "is empty"),
    ("song.mp3", lambda p: p.write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 40), NotAudio,
     "not an audio file"),  # a PDF renamed
    ("silence.wav", lambda p: sf.write(p, np.zeros((44100, 2), dtype=np.float32), 44100),
     SilentAudio, "is silent"),
]
"""Uploads refused with a sentence: the file name, how it is written, the error, its words."""


@pytest.mark.parametrize(("name", "write", "error", "words"), REFUSED,
                         ids=["zero_length_file", "wav_header_without_frames",
                              "pdf_renamed_to_mp3", "silence"])
def test_a_refused_upload_says_why(tmp_path: Path, name: str, write: Callable[[Path], object],
                                   error: type[AudioError], words: str) -> None:
    path = tmp_path / name
    write(path)
    assert words in _expect(error, path)


@pytest.mark.parametrize(("ext", "fmt", "subtype"),
                         [("wav", "WAV", "PCM_16"), ("flac", "FLAC", "PCM_16"),
                          ("mp3", "MP3", None), ("ogg", "OGG", "VORBIS")])
def test_truncated_upload(tmp_path: Path, ext: str, fmt: str, subtype: str | None) -> None:
    whole = tmp_path / f"whole.{ext}"
    sf.write(whole, _music(seconds=3.0), 44100, format=fmt, subtype=subtype)
    data = whole.read_bytes()
    cut = tmp_path / f"cut.{ext}"
    cut.write_bytes(data[: len(data) // 2])
    assert "damaged or cut short" in _expect(CorruptAudio, cut)


def test_over_the_size_limit_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "big.wav"
    sf.write(path, _music(seconds=1.0), 44100)
    message = _expect(AudioTooLarge, path, max_size_bytes=1000)
    assert "MB limit" in message


def test_over_the_duration_limit_is_refused_from_the_header(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "long.flac"
    sf.write(path, _music(seconds=3.0), 44100, format="FLAC")

    def no_decode(*args: object, **kwargs: object) -> None:
        raise AssertionError("decoded a file that the header already showed was too long")

    monkeypatch.setattr(audio_io.sf, "read", no_decode)
    message = _expect(AudioTooLong, path, max_duration_s=2.0)
    assert "0:03 min long, over the 0:02 min limit" in message


def test_m4a_without_ffmpeg_says_what_to_send(tmp_path: Path) -> None:
    path = tmp_path / "voice memo.m4a"
    path.write_bytes(b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00" + bytes(2000))
    with pytest.raises(UnsupportedFormat) as info:
        read_audio(path, ffmpeg=None, **LIMITS)
    assert "M4A" in str(info.value) and "WAV, FLAC, MP3 or OGG" in str(info.value)


def test_write_wav_is_atomic_and_round_trips(tmp_path: Path) -> None:
    audio = _music(seconds=0.5).T.copy()
    path = write_wav(tmp_path / "out" / "stem.wav", audio, sample_rate=44100)
    assert [p.name for p in path.parent.iterdir()] == ["stem.wav"]  # no temp file left
    back, rate = sf.read(path, dtype="float32", always_2d=True)
    assert rate == 44100
    np.testing.assert_array_equal(back.T, audio)

"""Bad uploads and bad text through the real Maestro, SQLite and inline job queue, into a
production that already has v1: each gets its own sentence, the worker carries on with the
next good job, and v1 is kept. Then property-based fuzzing of the audio intake and of the
RuleBrain's understanding applied to a real production."""

from __future__ import annotations

import asyncio
import io
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import AudioError, AudioTooLong, CorruptAudio, EmptyAudio, NotAudio
from core.spec import ProductionSpec
from jobs.audio_io import read_audio
from tests.core.test_maestro import make_maestro
from tests.reliability.harness import Thread, open_app, settings_for, words

PLAN = "Make a deep house track in Am at 122 BPM"


def _tone(seconds: float, rate: int, channels: int, level: float = 0.3) -> np.ndarray:
    """(samples, channels): a chord with a beat, clearly music, for soundfile."""
    t = np.arange(int(seconds * rate)) / rate
    chord = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)) / 3
    beat = (np.sin(2 * np.pi * 2.0 * t) > 0.9).astype(float) * np.sin(2 * np.pi * 60 * t)
    mono = level * (chord + beat)
    return np.stack([mono] * channels, axis=1).astype(np.float32)


def _png() -> bytes:
    """A real 2x2 PNG image."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("song.wav", b"RIFF" + bytes(100))
    return buffer.getvalue()


def _random_bytes(size: int) -> bytes:
    data = bytearray(np.random.default_rng(11).integers(0, 256, size, dtype=np.uint8).tobytes())
    data[0] = 0x42  # no frame sync or magic number by chance: plainly not audio
    return bytes(data)


def _wav_claiming_hours(path: Path) -> None:
    """A tiny WAV whose header says it holds three hours (a lying or cut-off file)."""
    rate, channels, frames = 44100, 2, 3 * 3600 * 44100
    size = frames * channels * 2
    fmt = struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * channels * 2, channels * 2, 16)
    body = (_tone(0.5, rate, channels) * 32767).astype("<i2").tobytes()
    path.write_bytes(b"RIFF" + struct.pack("<I", 36 + size) + b"WAVE" + b"fmt " + fmt
                     + b"data" + struct.pack("<I", size) + body)


def _truncated(path: Path) -> None:
    whole = path.with_name("whole.wav")
    sf.write(whole, _tone(3.0, 44100, 2), 44100, subtype="PCM_16")
    path.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])


# name -> (how to make it, the sentence the thread must read, or None when it must work)
Maker = Callable[[Path], None]
BAD: dict[str, tuple[Maker, str]] = {
    "truncated.wav": (_truncated, str(CorruptAudio(filename="truncated.wav"))),
    "empty.wav": (lambda p: p.write_bytes(b""), str(EmptyAudio(filename="empty.wav"))),
    "noise.wav": (lambda p: p.write_bytes(_random_bytes(30_000)),
                  str(NotAudio(filename="noise.wav"))),
    "noise.mp3": (lambda p: p.write_bytes(_random_bytes(30_000)),
                  str(NotAudio(filename="noise.mp3"))),
    "cover.wav": (lambda p: p.write_bytes(_png()), str(NotAudio(filename="cover.wav"))),
    "stems.mp3": (lambda p: p.write_bytes(_zip()), str(NotAudio(filename="stems.mp3"))),
    "three-hours.wav": (_wav_claiming_hours, str(CorruptAudio(filename="three-hours.wav"))),
    "silence.wav": (lambda p: sf.write(p, np.zeros((44100, 2), np.float32), 44100),
                    "'silence.wav' is silent (its loudest moment is"),
}
GOOD: dict[str, Maker] = {
    "phone-8k.wav": lambda p: sf.write(p, _tone(4.0, 8000, 1), 8000, subtype="PCM_16"),
    "studio-192k.wav": lambda p: sf.write(p, _tone(4.0, 192000, 2), 192000, subtype="PCM_24"),
    "clipped.wav": lambda p: sf.write(p, np.clip(_tone(4.0, 44100, 2, level=3.0), -1, 1), 44100,
                                      subtype="PCM_16"),
    "mono.flac": lambda p: sf.write(p, _tone(4.0, 44100, 1), 44100, format="FLAC"),
    "surround-5.1.wav": lambda p: sf.write(p, _tone(4.0, 48000, 6), 48000, subtype="PCM_16"),
}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data folder for the module: the analysis cache is shared, as on a real server."""
    return tmp_path_factory.mktemp("data")


async def _with_v1(thread: Thread) -> ProductionSpec:
    """Plan v1 (its render stopped, to keep the test short), then start over for a song."""
    assert "Plan v1" in words(await thread.say(PLAN, wait=False))
    await thread.say("stop")
    await thread.say("start over")
    production = await thread.production()
    assert [v.number for v in production.versions] == [1]
    return production.versions[0].spec


async def _assert_v1_kept(thread: Thread, spec: ProductionSpec) -> None:
    production = await thread.production()
    assert [v.number for v in production.versions] == [1]
    assert production.versions[0].spec == spec


@pytest.mark.parametrize("name", sorted(BAD))
async def test_bad_upload_gets_its_sentence_and_keeps_the_production(
        name: str, data_dir: Path, tmp_path: Path, song: Path) -> None:
    make, sentence = BAD[name]
    path = tmp_path / name
    make(path)
    async with open_app(settings_for(data_dir)) as app:
        thread = Thread(app, f"local:bad-{name}")
        v1 = await _with_v1(thread)
        said = words(await thread.say("Remix this to Afro Circuit", audio=path))
        assert sentence in said
        assert "Send another file" in said and "Traceback" not in said
        await _assert_v1_kept(thread, v1)
        assert (await thread.production()).source is None  # the bad file is not kept as the song
        # the worker survived: the next good file is analysed in the same thread
        said = words(await thread.say("here it is", audio=song))
        assert "Analysed the song" in said
        await _assert_v1_kept(thread, v1)


async def test_song_over_the_duration_limit(tmp_path: Path, song: Path) -> None:
    # its own data folder: a cached analysis of this song would be served without the check
    async with open_app(settings_for(tmp_path / "data", max_song_minutes=0.05)) as app:
        thread = Thread(app, "local:too-long")
        v1 = await _with_v1(thread)
        said = words(await thread.say("Remix this to Afro Circuit", audio=song))
        await _assert_v1_kept(thread, v1)
    expected = AudioTooLong(filename=song.name, duration_s=6.0, max_duration_s=3.0)
    assert str(expected) in said


@pytest.mark.parametrize("name", sorted(GOOD))
async def test_unusual_but_good_upload_works(name: str, data_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / name
    GOOD[name](path)
    async with open_app(settings_for(data_dir)) as app:
        thread = Thread(app, f"local:good-{name}")
        v1 = await _with_v1(thread)
        said = words(await thread.say("Remix this to Afro Circuit", audio=path))
        production = await thread.production()
        await _assert_v1_kept(thread, v1)
    assert "Analysed the song" in said and "0:04 long" in said
    assert production.analysis is not None and production.source is not None
    assert production.analysis.tempo.bpm > 0


BAD_TEXT = {
    "empty": "",
    "ten thousand characters": "bass " * 2000,
    "control characters": "bass\x00 too\x07 loud\x1b[31m\r\n\x7f\u202e",
    "japanese": "ベースの音が大きすぎます。サイドチェインをもっと強くしてください。",
    "arabic": "الباص عالي جدا، أريد المزيد من الضغط الجانبي",
    "emoji only": "🔥🔥🎛️🥁💯",
}


@pytest.mark.parametrize("label", list(BAD_TEXT))
async def test_bad_text_gets_a_sentence(label: str, data_dir: Path) -> None:
    async with open_app(settings_for(data_dir)) as app:
        fresh = Thread(app, f"local:text-new-{label.replace(' ', '-')}")
        first = await fresh.say(BAD_TEXT[label])
        working = Thread(app, f"local:text-v1-{label.replace(' ', '-')}")
        v1 = await _with_v1(working)
        later = await working.say(BAD_TEXT[label])
        await _assert_v1_kept(working, v1)
    for replies in (first, later):
        said = words(replies)
        assert said.strip() and "Traceback" not in said
        assert all(len(line) < 2000 for line in said.splitlines())  # never echoes 10 000 chars


# --- properties ---------------------------------------------------------------------------

_MAGIC = [b"", b"RIFF\x00\x00\x00\x00WAVEfmt ", b"RF64\xff\xff\xff\xffWAVEds64", b"fLaC",
          b"OggS\x00\x02", b"FORM\x00\x00\x00\x00AIFFCOMM", b"ID3\x04\x00\x00\x00\x00\x00\x00",
          b"\xff\xfb\x90\x44", b"\xff\xf1\x50\x80", b"\x00\x00\x00\x20ftypM4A "]


def _wav_header(channels: int, rate: int, bits: int, fmt_tag: int, data_size: int) -> bytes:
    block = max(1, channels * bits // 8) & 0xFFFF
    fmt = struct.pack("<IHHIIHH", 16, fmt_tag, channels, rate, (rate * block) & 0xFFFFFFFF,
                      block, bits)
    return (b"RIFF" + struct.pack("<I", (36 + data_size) & 0xFFFFFFFF) + b"WAVE" + b"fmt "
            + fmt + b"data" + struct.pack("<I", data_size))


def _intake(data: bytes, name: str = "upload.wav") -> None:
    """Only AudioError may escape reading ``data`` as an upload."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        try:
            read_audio(path, max_duration_s=60.0, max_size_bytes=5_000_000, ffmpeg=None)
        except AudioError as error:
            message = str(error)
            assert name in message and "\n" not in message


@settings(max_examples=150, deadline=None)
@given(magic=st.sampled_from(_MAGIC), rest=st.binary(max_size=2000))
def test_intake_of_random_bytes_raises_only_audio_errors(magic: bytes, rest: bytes) -> None:
    _intake(magic + rest)


@settings(max_examples=150, deadline=None)
@given(channels=st.integers(0, 70), rate=st.sampled_from([0, 1, 7, 8000, 44100, 192000,
                                                          384000, 2**31 - 1, 2**32 - 1]),
       bits=st.sampled_from([0, 8, 16, 24, 32, 64, 13]), fmt_tag=st.sampled_from([1, 3, 0, 0xFFFE]),
       data_size=st.integers(0, 2**32 - 1), payload=st.binary(max_size=4000))
def test_intake_of_random_wav_headers_raises_only_audio_errors(
        channels: int, rate: int, bits: int, fmt_tag: int, data_size: int, payload: bytes) -> None:
    _intake(_wav_header(channels, rate, bits, fmt_tag, data_size) + payload)


_HOSTILE_WORDS = st.sampled_from(
    ["bass", "kick", "vocals", "master", "too", "loud", "quiet", "louder", "more", "less",
     "sidechain", "reverb", "gain", "set", "to", "1000", "-1000", "1e308", "nan", "inf", "db",
     "bpm", "9999", "0", "lufs", "bars", "0-99999", "99999-1", "v0", "v999", "in", "Zb",
     "key", "half", "time", "double", "tempo", "filter", "sweep", "on", "build", "drop"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(words_=st.lists(_HOSTILE_WORDS, min_size=1, max_size=10))
def test_any_feedback_keeps_every_version_valid(words_: list[str]) -> None:
    """Extends the parser fuzzing of tests/core/test_rule_brain.py past the parser: whatever the
    RuleBrain makes of the words, the Maestro's typed operations keep every spec valid."""
    asyncio.run(_feedback_keeps_versions(" ".join(words_)))


async def _feedback_keeps_versions(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        maestro, store = await make_maestro(Path(folder) / "vyke.sqlite")
        try:
            from core.conversation import Author, Turn

            dee = Author(id="u-dee", name="Dee")
            for line in (PLAN, text, text):
                await maestro.handle(Turn(conversation_id="local:f", author=dee, text=line))
            production = await store.get("local:f")
            assert production is not None and production.versions
            assert production.versions[0].number == 1
            for version in production.versions:
                ProductionSpec.model_validate(version.spec.model_dump())
        finally:
            await store.close()

"""An MP3 encoded in pieces side by side decodes like one encoded in one pass."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

import jobs.mp3
from jobs.demo_song import render_demo_song
from jobs.mp3 import FRAME_SAMPLES, encode_mp3

SR = 44100
DELAY = 1105  # LAME's encoder delay and the decoder's, in samples


@pytest.fixture(scope="module")
def song() -> np.ndarray:
    audio = render_demo_song(duration_s=95.0)
    return audio if audio.ndim == 2 else audio[np.newaxis, :]


def _decoded(stream: bytes) -> np.ndarray:
    audio, rate = sf.read(io.BytesIO(stream), dtype="float64", always_2d=True)
    assert rate == SR
    return audio.T


def _splices(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The song frames where the pieces were joined, as the encoder chooses them."""
    found: list[int] = []
    choose = jobs.mp3._splice_frame

    def spy(*args: object, **kwargs: object) -> int:
        frame = choose(*args, **kwargs)  # type: ignore[arg-type]
        found.append(frame)
        return frame

    monkeypatch.setattr(jobs.mp3, "_splice_frame", spy)
    return found


@pytest.mark.parametrize(("channels", "kbps", "pieces"), [(2, 320, 2), (2, 320, 3), (1, 64, 2)])
def test_pieces_join_without_a_trace(song: np.ndarray, monkeypatch: pytest.MonkeyPatch,
                                     channels: int, kbps: int, pieces: int) -> None:
    """Frame for frame the same length; the first piece decodes to the very samples of a one-pass
    encode; around each join the coding noise is the one-pass encode's, give or take a
    decibel, with no click; over the song the noise is the same."""
    audio = song if channels == 2 else song.mean(axis=0, keepdims=True)
    audio = audio[:, : round(30.0 * pieces * SR) + 12345]  # long enough for every piece
    splices = _splices(monkeypatch)
    joined = encode_mp3(audio, sample_rate=SR, kbps=kbps, quality=5, pieces=pieces)
    whole = encode_mp3(audio, sample_rate=SR, kbps=kbps, quality=5, pieces=1)
    assert len(splices) == pieces - 1
    assert abs(len(joined) - len(whole)) <= pieces  # a padding byte more or less per piece
    a, b = _decoded(joined), _decoded(whole)
    assert a.shape == b.shape
    source = np.clip(audio, -1.0, 1.0 - 1.0 / 32768).astype(np.float64)
    n = source.shape[1]
    noise_joined = a[:, DELAY:DELAY + n] - source
    noise_whole = b[:, DELAY:DELAY + n] - source
    first = splices[0] * FRAME_SAMPLES - 2 * FRAME_SAMPLES
    assert np.array_equal(a[:, :first], b[:, :first])

    def ratio_db(noise: np.ndarray, lo: int, hi: int) -> float:
        return float(10 * np.log10(np.sum(noise[:, lo:hi] ** 2) / np.sum(source[:, lo:hi] ** 2)))

    for frame in splices:
        at = frame * FRAME_SAMPLES - 576  # where the later piece's first granule starts
        lo, hi = at - SR // 4, at + SR // 2
        assert ratio_db(noise_joined, lo, hi) <= ratio_db(noise_whole, lo, hi) + 1.0
        for granule in range(lo, hi, 576):  # no granule is garbled (a bad join reads ~0 dB)
            assert ratio_db(noise_joined, granule, granule + 576) <= ratio_db(
                noise_whole, granule, granule + 576) + 6.0
        click = float(np.max(np.abs(noise_joined[:, lo:hi])))
        assert click <= 1.5 * float(np.max(np.abs(noise_whole[:, lo:hi])))
    assert ratio_db(noise_joined, 0, n) == pytest.approx(ratio_db(noise_whole, 0, n), abs=0.1)


def test_short_audio_or_no_place_to_join_is_encoded_in_one_pass(
        song: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    short = song[:, : 40 * SR]  # under 30 s a piece: one pass
    assert encode_mp3(short, sample_rate=SR, kbps=320, quality=5, pieces=2) == encode_mp3(
        short, sample_rate=SR, kbps=320, quality=5, pieces=1)

    def nowhere(*args: object, **kwargs: object) -> int:
        raise jobs.mp3._Unspliceable("no frame in the overlap can take the splice")

    monkeypatch.setattr(jobs.mp3, "_splice_frame", nowhere)
    audio = song[:, : 65 * SR]
    assert encode_mp3(audio, sample_rate=SR, kbps=320, quality=5, pieces=2) == encode_mp3(
        audio, sample_rate=SR, kbps=320, quality=5, pieces=1)

"""The preview MP3 fits the upload limit, decodes, and says when it had to be mono or an excerpt."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from jobs.preview import DISCORD_MAX_BYTES, preview_mp3

pytestmark = pytest.mark.slow  # encodes minutes of audio

SR = 44100


def _song(minutes: float) -> np.ndarray:
    """A chord over noise, louder in the middle third (the part an excerpt should pick)."""
    n = round(minutes * 60 * SR)
    t = np.arange(n) / SR
    rng = np.random.default_rng(0)
    level = np.where((t > t[-1] / 3) & (t < 2 * t[-1] / 3), 0.5, 0.1)
    left = level * (np.sin(2 * np.pi * 220 * t) + 0.2 * rng.standard_normal(n))
    right = level * (np.sin(2 * np.pi * 330 * t) + 0.2 * rng.standard_normal(n))
    return (0.6 * np.stack([left, right])).astype(np.float32)


@pytest.mark.parametrize(("minutes", "kbps"), [(3.0, 320), (10.0, 128)])
def test_preview_fits_discord_and_decodes_to_the_song_length(
    tmp_path: Path, minutes: float, kbps: int
) -> None:
    path = tmp_path / "preview.mp3"
    result = preview_mp3(_song(minutes), sample_rate=SR, path=path)
    assert path.stat().st_size == result.size_bytes <= DISCORD_MAX_BYTES
    assert result.bitrate_kbps == kbps and result.channels == 2 and not result.is_excerpt
    assert not result.note
    info = sf.info(str(path))
    assert info.samplerate == SR and info.channels == 2
    assert info.duration == pytest.approx(minutes * 60, abs=2.0)
    assert not list(tmp_path.glob(".*tmp*"))


def test_preview_goes_mono_then_excerpt_as_the_limit_shrinks(tmp_path: Path) -> None:
    song = _song(1.0)
    mono = preview_mp3(song, sample_rate=SR, path=tmp_path / "mono.mp3", max_bytes=700_000)
    assert mono.channels == 1 and mono.size_bytes <= 700_000 and "mono" in mono.note
    assert sf.info(str(mono.path)).duration == pytest.approx(60.0, abs=1.0)
    excerpt = preview_mp3(song, sample_rate=SR, path=tmp_path / "cut.mp3", max_bytes=300_000)
    assert excerpt.is_excerpt and excerpt.size_bytes <= 300_000 and "excerpt" in excerpt.note
    decoded, rate = sf.read(str(excerpt.path), dtype="float32")
    assert decoded.shape[0] / rate == pytest.approx(excerpt.duration_s, abs=0.5)
    assert excerpt.duration_s < 30
    # the excerpt comes from the loud middle third (20-40 s), not the quiet start
    assert excerpt.excerpt_start_s is not None
    assert 20.0 - 1.0 <= excerpt.excerpt_start_s <= 40.0 - excerpt.duration_s + 1.0


def test_the_preview_codes_the_music_with_its_noise_far_under_it(tmp_path: Path) -> None:
    """At 320 kbps the coding noise stays well under the music in every band a listener
    judges a mix by (the levels the encoder's quality setting was chosen on, with margin)."""
    from scipy.signal import welch

    from jobs.demo_song import render_demo_song

    song = render_demo_song(duration_s=20.0)
    song = song if song.ndim == 2 else song[np.newaxis, :]
    result = preview_mp3(song, sample_rate=SR, path=tmp_path / "preview.mp3")
    assert result.bitrate_kbps == 320
    decoded, _ = sf.read(str(result.path), dtype="float64", always_2d=True)
    delay = 1105  # LAME's encoder delay plus the decoder's, in samples
    n = song.shape[1]
    assert decoded.shape[0] >= delay + n
    source = np.clip(song, -1.0, 1.0 - 1.0 / 32768).astype(np.float64).mean(axis=0)
    noise = decoded[delay:delay + n].T.mean(axis=0) - source
    freqs, music_power = welch(source, SR, nperseg=8192)
    _, noise_power = welch(noise, SR, nperseg=8192)
    limits_db = {63: -42.0, 125: -42.0, 250: -42.0, 500: -42.0, 1000: -36.0, 2000: -29.0,
                 4000: -21.0}
    for centre, limit in limits_db.items():
        band = (freqs >= centre / np.sqrt(2)) & (freqs < centre * np.sqrt(2))
        ratio_db = 10 * np.log10(noise_power[band].sum() / music_power[band].sum())
        assert ratio_db <= limit, (centre, ratio_db)

"""The demo song: deterministic, stereo, the promised length and level."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from jobs.demo_song import render_demo_song, render_demo_stems


def test_same_seed_same_song_other_seed_other_song() -> None:
    a = render_demo_song(seed=3, duration_s=12.0)
    b = render_demo_song(seed=3, duration_s=12.0)
    c = render_demo_song(seed=4, duration_s=12.0)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_written_file_is_stereo_44k1_at_the_requested_length(demo_song: Path) -> None:
    info = sf.info(demo_song)
    assert (info.samplerate, info.channels) == (44100, 2)
    assert info.frames == 48 * 44100
    audio, _ = sf.read(demo_song, dtype="float32")
    assert 20 * np.log10(np.max(np.abs(audio))) <= -0.9


def test_vocal_is_clearly_pitched_in_the_mid_range_and_in_c_major() -> None:
    import librosa

    sr = 44100
    stems = render_demo_stems(duration_s=16.0)
    np.testing.assert_allclose(sum(stems.values()), render_demo_song(duration_s=16.0), atol=1e-5)
    vocal = stems["vocals"].mean(axis=0)[sr * 4 : sr * 14]
    f0, voiced, _ = librosa.pyin(vocal, fmin=150, fmax=700, sr=sr, frame_length=4096)
    sung = f0[voiced]
    assert voiced.mean() > 0.5  # pitched most of the time it sings
    assert 250 < np.median(sung) < 600  # around middle C to C5
    pitch_classes = np.round(librosa.hz_to_midi(sung)) % 12
    in_scale = np.isin(pitch_classes, [0, 2, 4, 5, 7, 9, 11])
    assert in_scale.mean() > 0.9

"""Separation: the real Demucs code path (tiny built-in model) and the labelled DSP fallback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from jobs.separation import (
    STEM_NAMES,
    WeightsUnavailable,
    _demucs_chunks,
    load_model,
    separate,
    separate_dsp,
    si_sdr,
    weights_available,
)
from jobs.synth import known_stems

SR = 44100


@pytest.fixture(scope="module")
def stems() -> dict[str, np.ndarray]:
    return known_stems(sample_rate=SR, bars=4, seed=0)


@pytest.mark.parametrize("channels", [1, 2])
def test_demucs_path_gives_four_stems_of_the_input_length(
    stems: dict[str, np.ndarray], channels: int
) -> None:
    mix = sum(stems.values())[:channels, : 3 * SR + 17]
    result = separate(mix, sample_rate=SR, model="demucs_unittest", shifts=0, overlap=0.1)
    assert not result.fallback and result.model == "demucs_unittest"
    assert set(result.stems) == set(STEM_NAMES)
    for audio in result.stems.values():
        assert audio.shape == mix.shape and audio.dtype == np.float32
        assert np.all(np.isfinite(audio))


def test_outer_chunks_cross_fade_to_exactly_the_input_length(stems: dict) -> None:
    mix = sum(stems.values())[:, : 5 * SR + 5]
    model = load_model("demucs_unittest")
    pieces = list(_demucs_chunks(model, mix, sample_rate=SR, segment_s=None, overlap=0.1,
                                 shifts=0, device="cpu", progress=None, chunk_s=2.0,
                                 crossfade_s=0.5))
    assert len(pieces) == 3
    total = sum(piece["drums"].shape[1] for piece in pieces)
    assert total == mix.shape[1]


def test_missing_weights_fall_back_to_dsp_and_say_so(tmp_path: Path, stems: dict) -> None:
    assert not weights_available("htdemucs", weights_dir=tmp_path)
    with pytest.raises(WeightsUnavailable, match="vyke models fetch"):
        load_model("htdemucs", weights_dir=tmp_path)
    mix = sum(stems.values())[:, : 2 * SR]
    result = separate(mix, sample_rate=SR, model="htdemucs", weights_dir=tmp_path)
    assert result.fallback and result.model == "dsp-fallback"


def test_dsp_fallback_improves_drums_and_bass_over_the_mixture(stems: dict) -> None:
    mix = sum(stems.values())
    estimate = separate_dsp(mix, sample_rate=SR)
    np.testing.assert_allclose(sum(estimate.values()), mix, atol=2e-3)  # nothing is lost
    for name in ("drums", "bass"):
        gain = si_sdr(estimate[name], stems[name]) - si_sdr(mix, stems[name])
        assert gain > 1.5, (name, gain)


def test_si_sdr_is_scale_invariant() -> None:
    rng = np.random.default_rng(0)
    reference = rng.standard_normal(1000)
    noisy = reference + 0.1 * rng.standard_normal(1000)
    assert si_sdr(3.0 * noisy, reference) == pytest.approx(si_sdr(noisy, reference))
    assert si_sdr(noisy, reference) == pytest.approx(20.0, abs=1.5)

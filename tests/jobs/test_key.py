"""Key and mode on chord progressions in all 24 keys, natural minor included."""

from __future__ import annotations

import mir_eval
import numpy as np
import pytest

from core.music import Key, Mode
from jobs.key import estimate_key
from jobs.synth import key_progressions, progression

SR = 44100
_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def _label(key: Key) -> str:
    return f"{_NAMES[key.tonic]} {key.mode.value}"


@pytest.fixture(scope="module")
def results() -> list[tuple[str, str, str]]:
    """(reference, estimate, progression) for two progressions in each of the 24 keys."""
    out = []
    for tonic, mode, name, audio in key_progressions(sample_rate=SR):
        estimate = estimate_key(audio, sample_rate=SR)
        out.append((f"{_NAMES[tonic]} {mode}", _label(estimate.key), name))
    return out


def test_mirex_weighted_score_at_least_0_85(results: list) -> None:
    scores = [mir_eval.key.weighted_score(ref, est) for ref, est, _ in results]
    assert len({ref for ref, _, _ in results}) == 24
    assert np.mean(scores) >= 0.85


def test_natural_minor_is_not_read_as_the_relative_major(results: list) -> None:
    natural = [(ref, est) for ref, est, name in results if name != "i-iv-V-i" and "minor" in ref]
    assert len(natural) >= 12
    exact = np.mean([ref == est for ref, est in natural])
    assert exact >= 0.85, [(r, e) for r, e in natural if r != e]


def test_runner_up_and_confidence_are_reported() -> None:
    audio = progression(tonic=9, name="i-VI-III-VII", sample_rate=SR, repeats=1, tempo_bpm=120)
    result = estimate_key(audio, sample_rate=SR)
    assert result.key == Key(tonic=9, mode=Mode.MINOR)
    assert result.runner_up != result.key
    assert 0.0 <= result.confidence <= 1.0

"""Key and mode on chord progressions in all 24 keys, natural minor included."""

from __future__ import annotations

import mir_eval
import numpy as np
import pytest

from core.music import Key, Mode
from jobs.key import estimate_key
from jobs.synth import key_progressions, progression

pytestmark = pytest.mark.slow  # the MIREX corpus is synthesised

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


def _dorian_vamp(tonic: int) -> np.ndarray:
    """i–i–IV–i in Dorian (E minor with A major: the notes of D major), bass on the roots.

    Recorded songs in such keys were read as the major key a whole tone below (E minor as
    D major): the pitch set is that key's, only the bass and the minor third say otherwise.
    This clean synthetic vamp guards the case (the earlier estimator passed it too; the
    recorded failures came with vocals and denser mixes).
    """
    from jobs.synth import add_at, bass_note, chord_tone, midi_to_hz

    bar_s = 2.0
    out = np.zeros(int(8 * bar_s * SR) + SR, dtype=np.float32)
    for bar in range(8):
        four = bar % 4 == 2
        root = tonic + 5 if four else tonic
        third = 4 if four else 3  # i is minor, IV major (the Dorian raised sixth)
        start = int(bar * bar_s * SR)
        for offset in (0, third, 7):
            add_at(out, chord_tone(midi_to_hz(60 + (root + offset - 60) % 12), bar_s,
                                   sample_rate=SR).astype(np.float32), start, 0.25)
        add_at(out, bass_note(midi_to_hz(36 + root % 12), bar_s, sample_rate=SR), start, 0.5)
    return out


@pytest.mark.parametrize("tonic", [4, 7, 8])  # E, G, G# minor: the misreadings
def test_dorian_minor_is_not_read_as_the_major_key_a_tone_below(tonic: int) -> None:
    result = estimate_key(_dorian_vamp(tonic), sample_rate=SR)
    assert result.key == Key(tonic=tonic, mode=Mode.MINOR), _label(result.key)

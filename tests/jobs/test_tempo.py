"""Tempo and bar grid on generated drum loops: right tempo, and honest about octave doubt."""

from __future__ import annotations

import numpy as np
import pytest

from jobs.synth import drum_loop, tempo_loops
from jobs.tempo import estimate_beat_grid

SR = 44100


@pytest.fixture(scope="module")
def readings() -> list[tuple[float, str, float, bool, float | None]]:
    """48 loops (two sets of 24, 70–180 BPM, four grooves) and what the estimator read."""
    out = []
    for seed in (0, 1):
        for tempo, pattern, audio in tempo_loops(sample_rate=SR, seed=seed):
            grid = estimate_beat_grid(audio, sample_rate=SR)
            out.append((tempo, pattern, grid.bpm, grid.ambiguous, grid.alternative_bpm))
    return out


def test_at_least_95_percent_within_4_percent(readings: list) -> None:
    hits = [abs(bpm / tempo - 1) <= 0.04 for tempo, _, bpm, _, _ in readings]
    assert len(readings) >= 24
    assert np.mean(hits) >= 0.95, [r for r, hit in zip(readings, hits, strict=True) if not hit]


def test_every_octave_error_is_flagged_and_offers_the_right_tempo(readings: list) -> None:
    for tempo, pattern, bpm, ambiguous, alternative in readings:
        if abs(bpm / tempo - 1) > 0.04:
            assert ambiguous, (tempo, pattern, bpm)
            assert alternative is not None and abs(alternative / tempo - 1) <= 0.04


def test_beats_fall_on_the_hits_and_downbeats_start_bars() -> None:
    tempo = 124.0
    # a breakbeat (kicks on 1 and the "and" of 3) has only one way to be read as bars
    audio = drum_loop(tempo_bpm=tempo, bars=8, sample_rate=SR, pattern="breakbeat")
    grid = estimate_beat_grid(audio, sample_rate=SR)
    beat_s = 60.0 / tempo
    truth = np.arange(0, 8 * 4 + 1) * beat_s
    inside = grid.beat_times_s[grid.beat_times_s < truth[-1] - 0.3]  # the tracker's last beat
    assert inside.size >= 30  # may be placed past the final hit
    for t in inside:
        assert np.min(np.abs(truth - t)) < 0.03
    bar_starts = np.arange(0, 8) * 4 * beat_s
    for t in grid.downbeat_times_s[grid.downbeat_times_s < truth[-1] - 0.3]:
        assert np.min(np.abs(bar_starts - t)) < 0.03
    assert grid.bpm == pytest.approx(tempo, rel=0.01)


HALF_TIME = {"kick": (0, 10), "snare": (8,), "hat": (0, 2, 4, 6, 8, 10, 12, 14)}
"""Kick on 1 and the "and" of 3, one snare on 3, hats in eighths: drum & bass's half-time feel."""


@pytest.mark.parametrize("tempo", [164.0, 174.0])
def test_a_half_time_groove_offers_both_readings_and_is_flagged(tempo: float) -> None:
    audio = drum_loop(tempo_bpm=tempo, bars=12, sample_rate=SR, pattern=HALF_TIME)
    grid = estimate_beat_grid(audio, sample_rate=SR)
    assert grid.alternative_bpm is not None
    readings = sorted([grid.bpm, grid.alternative_bpm])
    assert readings == [pytest.approx(tempo / 2, rel=0.02), pytest.approx(tempo, rel=0.02)]
    assert grid.ambiguous  # both readings are plausible: the Maestro asks


def test_a_half_time_groove_with_the_genre_named_reads_fast() -> None:
    audio = drum_loop(tempo_bpm=174.0, bars=12, sample_rate=SR, pattern=HALF_TIME)
    grid = estimate_beat_grid(audio, sample_rate=SR, range_bpm=(160.0, 180.0))
    assert grid.bpm == pytest.approx(174.0, rel=0.02)


def test_a_plain_groove_is_not_taken_for_half_time() -> None:
    audio = drum_loop(tempo_bpm=87.0, bars=8, sample_rate=SR, pattern="rock")
    grid = estimate_beat_grid(audio, sample_rate=SR)
    assert grid.bpm == pytest.approx(87.0, rel=0.02)


def test_the_genre_range_picks_the_octave_inside_it() -> None:
    audio = drum_loop(tempo_bpm=87.0, bars=8, sample_rate=SR, pattern="rock")
    grid = estimate_beat_grid(audio, sample_rate=SR, range_bpm=(160.0, 180.0))
    assert grid.bpm == pytest.approx(174.0, rel=0.02)
    assert grid.alternative_bpm == pytest.approx(87.0, rel=0.02)


def test_confidence_is_a_probability_and_a_clear_groove_is_sure() -> None:
    audio = drum_loop(tempo_bpm=124.0, bars=8, sample_rate=SR, pattern="house")
    grid = estimate_beat_grid(audio, sample_rate=SR)
    assert 0.0 <= grid.confidence <= 1.0
    assert grid.confidence >= 0.8 and not grid.ambiguous

"""The analysis report on the demo song and on edge cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.analysis import ASK_BELOW_CONFIDENCE, AnalysisReport
from core.music import Key, Mode
from jobs.analysis import analyze, analyze_file, tempo_and_key


@pytest.fixture(scope="module")
def report(demo_song: Path) -> AnalysisReport:
    return analyze_file(demo_song, max_duration_s=600, max_size_bytes=100_000_000)


def test_demo_song_reads_c_major_at_118(report: AnalysisReport) -> None:
    assert report.key.key == Key(tonic=0, mode=Mode.MAJOR)
    assert report.tempo.bpm == pytest.approx(118.0, rel=0.01)
    assert report.sample_rate_hz == 44100 and report.channels == 2


def test_demo_song_is_read_surely_so_the_seed_conversation_asks_nothing_extra(
        report: AnalysisReport) -> None:
    # below the asking threshold the Maestro would ask which key or tempo the song is in
    assert not report.key.ambiguous and not report.tempo.ambiguous
    assert report.key.confidence >= ASK_BELOW_CONFIDENCE
    assert report.tempo.confidence >= ASK_BELOW_CONFIDENCE


def test_tempo_and_key_alone_read_what_the_report_reads(demo_song: Path,
                                                       report: AnalysisReport) -> None:
    """A render checks its master with the report's tempo and key, without the rest of it."""
    from jobs.audio_io import read_audio

    decoded = read_audio(demo_song, max_duration_s=600, max_size_bytes=100_000_000)
    tempo, key = tempo_and_key(decoded.audio, sample_rate=decoded.sample_rate)
    assert tempo == report.tempo and key == report.key


def test_bar_grid_is_regular(report: AnalysisReport) -> None:
    bar_s = 4 * 60.0 / 118.0
    spacing = np.diff(report.downbeat_times_s)
    assert np.median(spacing) == pytest.approx(bar_s, rel=0.01)
    assert report.downbeat_times_s[0] == pytest.approx(0.0, abs=0.05)  # the song starts on 1
    assert len(report.beat_times_s) >= 4 * (len(report.downbeat_times_s) - 1)


def test_loudness_and_sections_are_plausible(report: AnalysisReport) -> None:
    assert -25.0 < report.integrated_lufs < -8.0
    assert report.true_peak_dbtp >= -1.2  # the demo is peak-normalised to -1 dBFS
    assert report.sections[0].label == "intro"  # soft keys and hats before the verse
    assert report.sections[-1].end_s == pytest.approx(report.duration_s, abs=0.01)
    assert len(report.energy_curve) == int(np.ceil(report.duration_s))


def test_report_round_trips_as_json(report: AnalysisReport) -> None:
    assert AnalysisReport.model_validate_json(report.model_dump_json()) == report


def test_mono_array_and_a_very_short_clip() -> None:
    t = np.arange(22050) / 44100
    clip = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[np.newaxis, :]
    short = analyze(clip, sample_rate=44100)
    assert short.channels == 1
    assert short.duration_s == pytest.approx(0.5)
    assert short.tempo.ambiguous  # half a second of a tone says nothing about tempo

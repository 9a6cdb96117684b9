"""Vocal moves a musician can hear: in tune after a shift, on tempo after a stretch, on grid."""

from __future__ import annotations

import librosa
import numpy as np
import pytest

from core.music import Key, Mode
from jobs.synth import sung_note
from jobs.vocal import (
    chop,
    grid_step_s,
    pitch_shift,
    semitones_between,
    shift_and_stretch,
    stretch_to_tempo,
    stutter,
    vocal_warnings,
)

SR = 44100


def _voice(freq_hz: float = 220.0, seconds: float = 2.0) -> np.ndarray:
    note = sung_note(freq_hz, seconds, sample_rate=SR, vibrato_cents=0.0,
                     rng=np.random.default_rng(0))
    return note[np.newaxis, :]


def _median_f0(audio: np.ndarray) -> float:
    mono = audio.mean(axis=0)[int(0.3 * SR) : -int(0.3 * SR)]
    f0 = librosa.yin(mono, fmin=80, fmax=1000, sr=SR, frame_length=4096)
    return float(np.median(f0))


@pytest.mark.parametrize("semitones", [-5, -2, 3, 7])
def test_pitch_shift_lands_within_10_cents(semitones: int) -> None:
    voice = _voice()
    shifted = pitch_shift(voice, sample_rate=SR, semitones=semitones)
    assert shifted.shape == voice.shape
    cents = 1200 * np.log2(_median_f0(shifted) / _median_f0(voice))
    assert cents == pytest.approx(100 * semitones, abs=10)


@pytest.mark.parametrize(("source", "target"), [(120.0, 128.0), (100.0, 87.0), (140.0, 174.0)])
def test_stretch_length_within_1_ms_per_minute_and_pitch_kept(source: float, target: float) -> None:
    voice = _voice(seconds=3.0)
    stretched = stretch_to_tempo(voice, sample_rate=SR, source_bpm=source, target_bpm=target)
    expected_s = voice.shape[1] / SR * source / target
    error_ms = abs(stretched.shape[1] / SR - expected_s) * 1000
    assert error_ms <= 1.0 * expected_s / 60.0 + 1000 / SR  # 1 ms per minute (+ one sample)
    assert 1200 * np.log2(_median_f0(stretched) / 220.0) == pytest.approx(0, abs=10)


def test_stretched_clicks_land_on_the_new_grid() -> None:
    source, target = 120.0, 126.0
    clicks = np.zeros((1, 4 * SR), dtype=np.float32)
    for beat in range(8):
        start = round(beat * 60 / source * SR)
        clicks[0, start : start + 200] = np.hanning(200)
    out = stretch_to_tempo(clicks, sample_rate=SR, source_bpm=source, target_bpm=target)
    onsets = librosa.onset.onset_detect(y=out[0], sr=SR, hop_length=128, units="time",
                                        backtrack=False)
    grid = np.arange(8) * 60 / target
    for t in grid[1:-1]:
        assert np.min(np.abs(onsets - t)) < 0.012


def test_shift_and_stretch_together() -> None:
    out = shift_and_stretch(_voice(seconds=2.0), sample_rate=SR, semitones=2, source_bpm=120,
                            target_bpm=110)
    assert out.shape[1] == round(2.0 * SR * 120 / 110)
    assert 1200 * np.log2(_median_f0(out) / 220.0) == pytest.approx(200, abs=10)


@pytest.mark.parametrize("division", [8, 16, 32])
def test_stutter_slices_start_on_the_grid_within_5_ms(division: int) -> None:
    tempo = 120.0
    beat_s = 60 / tempo
    # a click at the start of each beat and a soft tone after it: each repeated slice
    # carries the click, so the stutter's slice starts are audible as clicks
    audio = np.zeros((1, int(4 * 4 * beat_s * SR)), dtype=np.float32)
    for beat in range(16):
        start = round(beat * beat_s * SR)
        audio[0, start : start + 64] = 1.0
    out = stutter(audio, sample_rate=SR, tempo_bpm=tempo, division=division, bars=[(1, 3)])
    np.testing.assert_array_equal(out[:, : round(4 * beat_s * SR)],
                                  audio[:, : round(4 * beat_s * SR)])  # bar 0 untouched
    step_s = grid_step_s(tempo_bpm=tempo, division=division)
    region = out[0, round(4 * beat_s * SR) : round(12 * beat_s * SR)]
    peaks = np.flatnonzero((region[1:] > 0.5) & (region[:-1] <= 0.5)) / SR
    expected = np.arange(0, 8 * beat_s - 1e-9, step_s)
    assert len(peaks) == len(expected)
    assert np.max(np.abs(peaks - expected)) < 0.005


def test_chops_land_on_the_grid() -> None:
    phrase = np.concatenate([_voice(f, 0.3)[0] for f in (220.0, 262.0, 330.0, 294.0)])
    audio = phrase[np.newaxis, :]
    out, placed = chop(audio, sample_rate=SR, tempo_bpm=125.0, division=16,
                       pattern=[0, None, 1, 1, 2, None, 3, 0])
    step = grid_step_s(tempo_bpm=125.0, division=16)
    assert out.shape[1] == round(8 * step * SR)
    assert [c.start_s for c in placed] == pytest.approx([i * step for i in (0, 2, 3, 4, 6, 7)],
                                                        abs=1 / SR)
    assert len({c.slice_index for c in placed}) >= 3  # the onsets split the phrase


def test_warnings_for_big_moves_only() -> None:
    assert vocal_warnings(semitones=3, source_bpm=120, target_bpm=128) == []
    big = vocal_warnings(semitones=-5, source_bpm=90, target_bpm=128)
    assert len(big) == 2
    assert "5 semitones down" in big[0] and "42% faster" in big[1]


def test_smallest_interval_to_the_target_key() -> None:
    assert semitones_between(Key(tonic=0, mode=Mode.MAJOR), Key(tonic=5, mode=Mode.MINOR)) == -4
    assert semitones_between(Key(tonic=0, mode=Mode.MAJOR), Key(tonic=7, mode=Mode.MAJOR)) == -5


def test_a_long_vocal_stretched_in_pieces_stays_on_the_grid_and_in_tune(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A long vocal is stretched in pieces on two cores: across the seam every beat still
    lands on the new grid, the length is exact and the pitch is kept."""
    import jobs.parallel
    import jobs.vocal

    monkeypatch.setattr(jobs.parallel, "workers", lambda: 2)
    monkeypatch.setattr(jobs.vocal, "_PIECE_MIN_S", 3.0)  # pieces on 8 s instead of a minute
    passes: list[int] = []
    whole = jobs.vocal._stretch_whole

    def counted(audio: np.ndarray, **kwargs: float) -> np.ndarray:
        passes.append(audio.shape[1])
        return whole(audio, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(jobs.vocal, "_stretch_whole", counted)
    source, target = 120.0, 126.0
    beats = 16
    clicks = np.zeros((1, 8 * SR), dtype=np.float32)
    for beat in range(beats):
        start = round(beat * 60 / source * SR)
        clicks[0, start : start + 200] = np.hanning(200)
    out = stretch_to_tempo(clicks, sample_rate=SR, source_bpm=source, target_bpm=target)
    assert out.shape[1] == round(clicks.shape[1] * source / target)
    assert len(passes) == 2 and max(passes) < clicks.shape[1]  # it was stretched in pieces
    onsets = librosa.onset.onset_detect(y=out[0], sr=SR, hop_length=128, units="time",
                                        backtrack=False)
    for t in np.arange(1, beats - 1) * 60 / target:
        assert np.min(np.abs(onsets - t)) < 0.012, t
    voice = _voice(220.0, 8.0)
    sung = stretch_to_tempo(voice, sample_rate=SR, source_bpm=source, target_bpm=target)
    assert 1200 * np.log2(_median_f0(sung) / 220.0) == pytest.approx(0, abs=10)


@pytest.mark.parametrize("semitones", [-5, 3, 5, 7])
def test_a_moved_vocal_keeps_its_phrase_levels(semitones: int) -> None:
    """A note sung higher after the move is not quieter than the song sang it: every 10 ms of
    the sung line keeps its level (median within 0.5 dB, 95 % of it within 3.5 dB)."""
    from jobs.demo_song import render_demo_stems

    vocal = render_demo_stems(duration_s=12.0)["vocals"]
    moved = shift_and_stretch(vocal, sample_rate=SR, semitones=semitones, source_bpm=118,
                              target_bpm=126)

    def levels(x: np.ndarray) -> np.ndarray:
        mono = x.mean(axis=0)
        hop = SR // 100
        frames = mono[: mono.size // hop * hop].reshape(-1, hop)
        return 10 * np.log10(np.maximum(np.mean(frames**2, axis=1), 1e-12))

    before, after = levels(vocal), levels(moved)
    before_at = np.interp(np.arange(after.size) * 126 / 118, np.arange(before.size), before)
    inner = slice(40, after.size - 40)  # the edges hold the engine's settling
    sung = before_at[inner] > before_at[inner].max() - 30
    difference = after[inner][sung] - before_at[inner][sung]
    assert abs(np.median(difference)) < 0.5
    assert np.percentile(difference, 5) > -3.5 and np.percentile(difference, 95) < 3.5

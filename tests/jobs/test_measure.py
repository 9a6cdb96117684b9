"""Measurements read what a musician hears: level, ducking, brightness per bar, bands, width."""

from __future__ import annotations

import numpy as np
import pytest

from core.music import Key, Mode
from core.spec import ProductionSpec, Section
from jobs.measure import (
    BANDS_HZ,
    band_energy_db,
    band_levels_db,
    ducking_depth_db,
    low_end_db,
    measure_render,
    spectral_centroid_by_bar,
    spectral_centroid_hz,
    stereo_width,
    track_level_db,
)

SR = 44100


def _sine(freq_hz: float, seconds: float, *, level: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * SR)) / SR
    return np.tile(level * np.sin(2 * np.pi * freq_hz * t), (2, 1)).astype(np.float32)


def test_track_level_is_gated_so_silent_sections_do_not_count() -> None:
    tone = _sine(1000.0, 8.0, level=10 ** (-20 / 20))
    half_silent = np.concatenate([tone, np.zeros_like(tone)], axis=1)
    assert track_level_db(tone, sample_rate=SR) == pytest.approx(-20.0, abs=0.1)  # Tech 3341 case 1
    assert track_level_db(half_silent, sample_rate=SR) == pytest.approx(
        track_level_db(tone, sample_rate=SR), abs=0.1)
    assert track_level_db(0.5 * tone, sample_rate=SR) == pytest.approx(
        track_level_db(tone, sample_rate=SR) - 6.02, abs=0.05)


def test_ducking_depth_ignores_the_tracks_own_envelope_given_the_dry_render() -> None:
    rng = np.random.default_rng(0)
    n = 8 * SR
    hits = np.arange(0.0, 7.5, 0.5)
    # a plucky track whose own notes fall on the hits, ducked by a known 8 dB square dip
    pluck = np.zeros(n)
    for start in np.round(hits * SR).astype(int):
        pluck[start : start + SR // 2] += np.exp(-np.arange(min(SR // 2, n - start)) / (0.1 * SR))
    dry = np.tile(pluck * rng.standard_normal(n) * 0.2 + 0.01 * rng.standard_normal(n), (2, 1))
    gain = np.ones(n)
    for start in np.round(hits * SR).astype(int):
        gain[start + 200 : start + 200 + round(0.05 * SR)] = 10 ** (-8 / 20)
    ducked = (dry * gain).astype(np.float32)
    with_reference = ducking_depth_db(ducked, sample_rate=SR, hit_times_s=hits,
                                      reference=dry.astype(np.float32))
    assert with_reference == pytest.approx(8.0, abs=0.5)
    assert ducking_depth_db(dry.astype(np.float32), sample_rate=SR, hit_times_s=hits,
                            reference=dry.astype(np.float32)) == pytest.approx(0.0, abs=0.2)
    assert ducking_depth_db(ducked, sample_rate=SR, hit_times_s=hits[:1]) == 0.0


def test_centroid_by_bar_follows_the_pitch_of_each_bar() -> None:
    spec = ProductionSpec(title="t", genre="house", tempo_bpm=120,
                          key=Key(tonic=0, mode=Mode.MAJOR),
                          sections=[Section(name="a", kind="intro", bars=4)])
    bars = np.concatenate([_sine(f, 2.0) for f in (200.0, 400.0, 800.0, 1600.0)], axis=1)
    centroids = spectral_centroid_by_bar(bars, spec=spec, sample_rate=SR, bars=range(1, 6))
    for measured, expected in zip(centroids[:4], (200, 400, 800, 1600), strict=True):
        assert measured == pytest.approx(expected, rel=0.05)
    assert centroids[4] == 0.0  # past the end of the audio
    assert spectral_centroid_hz(_sine(3000.0, 1.0), sample_rate=SR) == pytest.approx(3000, rel=0.02)


def test_band_energies_put_a_tone_in_its_band() -> None:
    sub = _sine(45.0, 2.0, level=1.0)
    levels = band_levels_db(sub, sample_rate=SR)
    assert set(levels) == set(BANDS_HZ)
    assert levels["sub"] == pytest.approx(-3.0, abs=0.3)  # full-scale sine: mean power 1/2
    assert max(v for k, v in levels.items() if k != "sub") < levels["sub"] - 25
    assert low_end_db(sub, sample_rate=SR) == pytest.approx(levels["sub"], abs=0.1)
    assert band_energy_db(np.zeros((2, SR), dtype=np.float32), sample_rate=SR, low_hz=20,
                          high_hz=200) == -120.0


def test_stereo_width_reads_mono_as_zero_and_unrelated_channels_as_one() -> None:
    rng = np.random.default_rng(1)
    mono = np.tile(rng.standard_normal(SR), (2, 1)).astype(np.float32)
    wide = rng.standard_normal((2, SR)).astype(np.float32)
    assert stereo_width(mono) == 0.0
    assert stereo_width(wide) == pytest.approx(1.0, abs=0.05)


def test_measure_render_names_every_metric_the_change_card_reads() -> None:
    song = _sine(220.0, 4.0, level=0.3)
    bass = _sine(55.0, 4.0, level=0.3)
    numbers = measure_render(song, sample_rate=SR, tracks={"bass": bass},
                             hit_times_s=np.arange(0, 3.5, 0.5), unducked={"bass": bass})
    for key in ("integrated_lufs", "true_peak_dbtp", "loudness_range_lu", "spectral_centroid_hz",
                "low_end_db", "stereo_width", "bands_db", "tracks"):
        assert key in numbers
    assert numbers["true_peak_dbtp"] == pytest.approx(20 * np.log10(0.3), abs=0.1)
    track = numbers["tracks"]["bass"]  # type: ignore[index]
    assert set(track) == {"track_level_db", "spectral_centroid_hz", "low_end_db",
                          "ducking_depth_db"}
    assert track["ducking_depth_db"] == pytest.approx(0.0, abs=0.1)


# --- sends, width, swing, transitions and chops, measured on the engine's own audio ---------

_SPEC = ProductionSpec(title="t", genre="house", tempo_bpm=124.0, key=Key(tonic=9, mode=Mode.MINOR),
                       sections=[Section(name="drop", kind="drop", bars=4,
                                         layers=["music", "percussion", "vocals", "transitions"])])


def _chords(seconds: float = 4.0) -> np.ndarray:
    """A pad-like part through the engine's stereo unison, as the render plays chords."""
    from jobs.mix import stereo_unison

    t = np.arange(round(seconds * SR)) / SR
    tone = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6, 880.0)) * 0.1
    return stereo_unison(np.tile(tone, (2, 1)).astype(np.float32), sample_rate=SR)


def _through_chain(part: np.ndarray, **track: object) -> dict[str, object]:
    """``part`` through a music track's real chain (``jobs.mix``), measured as a render does."""
    from core.spec import TrackRole, TrackSpec
    from jobs.measure import measure_track
    from jobs.mix import process_track

    spec = TrackSpec(name="music", role=TrackRole.MUSIC, source="pattern", **track)  # type: ignore[arg-type]
    processed = process_track(part, spec, spec=_SPEC, sample_rate=SR)
    return measure_track(processed.dry, sample_rate=SR, sends=processed.sends, spec=_SPEC)


def test_more_reverb_send_measures_that_much_more_reverb_re_the_dry_track() -> None:
    part = _chords()
    dry = _through_chain(part)
    low = _through_chain(part, sends_db={"reverb": -14.0, "delay": -22.0})
    high = _through_chain(part, sends_db={"reverb": -9.0, "delay": -17.0})
    assert dry["reverb_wet_db"] == dry["delay_wet_db"] == -120.0  # sends nothing
    assert float(high["reverb_wet_db"]) - float(low["reverb_wet_db"]) == pytest.approx(5.0, abs=0.05)  # type: ignore[arg-type]
    assert float(high["delay_wet_db"]) - float(low["delay_wet_db"]) == pytest.approx(5.0, abs=0.05)  # type: ignore[arg-type]
    # a reverb return's width reaches the track: heard wider with more of it
    assert float(high["side_mid_ratio"]) > float(low["side_mid_ratio"]) > float(dry["side_mid_ratio"])  # type: ignore[arg-type]


def test_the_share_of_a_return_agrees_with_running_the_return_itself() -> None:
    """The estimate (send power through the return's response) against the real return run on
    the track's send: within a dB, for the reverb and the tempo-synced delay."""
    from core.spec import TrackRole, TrackSpec
    from jobs.measure import return_levels
    from jobs.mix import _return_chain, process_track

    track = TrackSpec(name="music", role=TrackRole.MUSIC, source="pattern",
                      sends_db={"reverb": -10.0, "delay": -12.0})
    processed = process_track(_chords(6.0), track, spec=_SPEC, sample_rate=SR)
    estimate = return_levels(processed.dry, processed.sends, spec=_SPEC, sample_rate=SR)
    dry_power = float(np.sum(processed.dry.astype(np.float64) ** 2))
    for name in ("reverb", "delay"):
        wet = _return_chain(name, spec=_SPEC)(processed.sends[name], SR)
        real = 10 * np.log10(float(np.sum(wet.astype(np.float64) ** 2)) / dry_power)
        assert estimate[f"{name}_wet_db"] == pytest.approx(real, abs=1.0), name


def test_swing_reads_how_late_the_off_beat_sixteenths_of_a_rendered_pattern_land() -> None:
    from core.spec import PatternSpec, TrackRole, TrackSpec, VoiceSpec
    from jobs.instruments import render_instrument
    from jobs.measure import swing_16ths
    from jobs.patterns import generate_track

    def measured(swing: float) -> float | None:
        track = TrackSpec(name="percussion", role=TrackRole.PERCUSSION, source="pattern",
                          pattern=PatternSpec(style="offbeat_hats", seed=4, swing=swing,
                                              density=0.8),
                          voice=VoiceSpec(name="percussion_kit"))
        assert track.voice is not None
        audio = render_instrument(generate_track(_SPEC, track), track.voice,
                                  duration_s=_SPEC.total_bars * _SPEC.bar_s, sample_rate=SR,
                                  seed=4, tonic=_SPEC.key.tonic)
        return swing_16ths(audio, spec=_SPEC, sample_rate=SR)

    straight, swung, more = measured(0.1), measured(0.16), measured(0.3)
    assert straight is not None and swung is not None and more is not None
    assert swung - straight == pytest.approx(0.06, abs=0.015)  # the card's ±25 %
    assert more - straight == pytest.approx(0.2, abs=0.05)
    # a part with nothing on the off-beat sixteenths has no swing to read
    kick = np.zeros((2, round(_SPEC.total_bars * _SPEC.bar_s * SR)), dtype=np.float32)
    for beat in range(_SPEC.total_bars * 4):
        at = round(beat * _SPEC.bar_s / 4 * SR)
        kick[:, at:at + 2000] = np.sin(2 * np.pi * 55 * np.arange(2000) / SR) * 0.5
    assert swing_16ths(kick, spec=_SPEC, sample_rate=SR) is None


def test_a_riser_lifts_the_level_of_its_bars_and_only_those() -> None:
    from core.spec import Transition
    from jobs.instruments import render_transitions
    from jobs.measure import level_by_bar_db

    bed = _chords(_SPEC.total_bars * _SPEC.bar_s) * 0.5
    with_riser = _SPEC.model_copy(update={"transitions": [Transition(kind="riser", start_bar=3,
                                                                     bars=2)]})
    fx = render_transitions(with_riser, sample_rate=SR) * 10 ** (-8 / 20)  # its track's fader
    before = level_by_bar_db(bed, spec=_SPEC, sample_rate=SR)
    after = level_by_bar_db(bed + fx[:, : bed.shape[1]], spec=_SPEC, sample_rate=SR)
    assert len(before) == len(after) == _SPEC.total_bars
    assert after[0] == pytest.approx(before[0], abs=0.05)
    assert after[1] == pytest.approx(before[1], abs=0.05)
    assert after[3] - before[3] > 1.0  # it swells into the next bar
    assert after[3] - before[3] > after[2] - before[2] > 0.0


def test_vocal_chops_count_as_more_onsets_per_bar() -> None:
    from jobs.demo_song import render_demo_stems
    from jobs.measure import onsets_by_bar
    from jobs.vocal import chop

    vocal = render_demo_stems(duration_s=8.0)["vocals"]
    vocal = vocal if vocal.ndim == 2 else vocal[np.newaxis, :]
    length = round(_SPEC.total_bars * _SPEC.bar_s * SR)
    sung = np.zeros((vocal.shape[0], length), dtype=np.float32)
    sung[:, : min(length, vocal.shape[1])] = vocal[:, :length]
    sings_from = round(2 * _SPEC.bar_s * SR)  # the demo's vocal comes in at bar 3
    chopped, _ = chop(sung[:, sings_from:], sample_rate=SR,
                      tempo_bpm=_SPEC.tempo_bpm, steps=32, seed=1)
    chops = np.zeros_like(sung)
    for bar in range(0, _SPEC.total_bars, 2):
        at = round(bar * _SPEC.bar_s * SR)
        n = min(chopped.shape[1], length - at)
        chops[:, at:at + n] = chopped[:, :n]
    plain = onsets_by_bar(sung, spec=_SPEC, sample_rate=SR)
    chopped_onsets = onsets_by_bar(chops, spec=_SPEC, sample_rate=SR)
    assert len(plain) == _SPEC.total_bars
    assert sum(chopped_onsets) > 1.5 * sum(plain) > 0

"""Mixing: sidechain depth as heard, filter sweeps bar by bar, headroom, and chain moves."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from core.music import Key, Mode
from core.spec import Automation, EQBand, ProductionSpec, Section, Sidechain, TrackSpec
from jobs.measure import (
    band_energy_db,
    ducking_depth_db,
    low_end_db,
    spectral_centroid_by_bar,
    spectral_centroid_hz,
    track_level_db,
)
from jobs.mix import (
    MIX_PEAK_DBFS,
    ProcessedTrack,
    automation_values,
    mix_down,
    process_track,
    sidechain_gain,
)

SR = 44100


def _spec(bars: int = 8, tempo_bpm: float = 124.0, tracks: list[TrackSpec] | None = None
          ) -> ProductionSpec:
    return ProductionSpec(
        title="test", genre="house", tempo_bpm=tempo_bpm, key=Key(tonic=9, mode=Mode.MINOR),
        sections=[Section(name="all", kind="drop", bars=bars)], tracks=tracks or [])


def _pad(seconds: float, *, level: float = 0.05) -> np.ndarray:
    """A sustained detuned-saw A minor chord: steady level, rich harmonics."""
    t = np.arange(round(seconds * SR)) / SR
    pad = np.zeros_like(t)
    for freq in (220.0, 261.6, 329.6):
        for cents in (-6.0, 6.0):
            f = freq * 2 ** (cents / 1200)
            pad += 2 * ((t * f) % 1.0) - 1
    return np.tile(level * pad, (2, 1)).astype(np.float32)


def _noise(seconds: float, *, seed: int = 0, level: float = 0.1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (level * rng.standard_normal((2, round(seconds * SR)))).astype(np.float32)


def _track(**chain: object) -> TrackSpec:
    return TrackSpec(name="pad", role="music", source="pattern", **chain)


def test_bar_start_follows_tempo_and_time_signature() -> None:
    spec = _spec(tempo_bpm=120)
    assert spec.bar_start_s(1) == 0.0
    assert spec.bar_start_s(33) == pytest.approx(64.0)
    six_eight = spec.model_copy(update={"time_signature": (6, 8)})
    assert six_eight.bar_s == pytest.approx(1.5)  # six eighths at 120 quarter BPM


@pytest.mark.parametrize("depth_db", [3.0, 6.0, 9.0, 12.0])
@pytest.mark.parametrize(("attack_ms", "release_ms", "curve"),
                         [(5.0, 180.0, 1.5), (1.0, 100.0, 1.0), (10.0, 300.0, 2.5)])
def test_ducked_pad_dips_by_the_requested_depth_on_kick_hits(
    depth_db: float, attack_ms: float, release_ms: float, curve: float
) -> None:
    spec = _spec()
    beat_s = 60.0 / spec.tempo_bpm
    hits = np.arange(0.0, 8 * 4 * beat_s, beat_s)  # four on the floor
    pad = _pad(8 * 4 * beat_s + 0.2)
    sidechain = Sidechain(depth_db=depth_db, attack_ms=attack_ms, release_ms=release_ms,
                          curve=curve)
    ducked = process_track(pad, _track(sidechain=sidechain), spec=spec, sample_rate=SR,
                           sidechain_hits_s=hits).dry
    on_sustained = ducking_depth_db(ducked, sample_rate=SR, hit_times_s=hits)
    against_dry = ducking_depth_db(ducked, sample_rate=SR, hit_times_s=hits, reference=pad)
    assert on_sustained == pytest.approx(depth_db, abs=1.0)
    assert against_dry == pytest.approx(depth_db, abs=1.0)


def test_sidechain_recovers_between_hits_and_leaves_unducked_tracks_alone() -> None:
    hits = np.array([0.0, 0.5, 1.0])
    gain = sidechain_gain(SR * 2, sample_rate=SR, hit_times_s=hits,
                          sidechain=Sidechain(depth_db=9, attack_ms=5, release_ms=200))
    assert 20 * np.log10(gain.min()) == pytest.approx(-9.0, abs=0.05)
    assert gain[round(0.45 * SR)] == pytest.approx(1.0, abs=1e-6)  # recovered before the next
    assert np.all(gain[round(1.3 * SR):] == 1.0)
    spec = _spec()
    pad = _pad(4.0)
    no_hits = process_track(pad, _track(sidechain=Sidechain(depth_db=9)), spec=spec,
                            sample_rate=SR, sidechain_hits_s=None).dry
    np.testing.assert_allclose(no_hits, pad, atol=1e-6)


def test_filter_sweep_opens_bar_by_bar_and_leaves_other_bars_untouched() -> None:
    spec = _spec(bars=52, tempo_bpm=128)
    noise = _noise(spec.bar_start_s(53) + 0.1)
    sweep = Automation(parameter="filter_cutoff_hz", start_bar=33, end_bar=48, start_value=200,
                       end_value=20000, curve="exponential")
    swept = process_track(noise, _track(automation=[sweep]), spec=spec, sample_rate=SR).dry
    centroids = spectral_centroid_by_bar(swept, spec=spec, sample_rate=SR, bars=range(33, 49))
    assert all(b > a for a, b in itertools.pairwise(centroids)), centroids
    assert centroids[0] < 400 and centroids[-1] > 5000
    start, stop = round(spec.bar_start_s(33) * SR), round(spec.bar_start_s(49) * SR)
    ahead = start - round(0.010 * SR)  # the filter fades in over the 10 ms before its bar
    np.testing.assert_array_equal(swept[:, :ahead], noise[:, :ahead])
    np.testing.assert_array_equal(swept[:, stop + round(0.011 * SR):],
                                  noise[:, stop + round(0.011 * SR):])
    # no click where the sweep starts: the largest step stays that of the noise itself
    edge = swept[:, start - 2000 : start + 2000]
    assert np.max(np.abs(np.diff(edge))) <= np.max(np.abs(np.diff(noise))) + 1e-6


def test_linear_and_exponential_curves_differ_as_documented() -> None:
    spec = _spec(bars=4, tempo_bpm=120)
    exp = Automation(parameter="filter_cutoff_hz", start_bar=1, end_bar=2, start_value=100,
                     end_value=10000, curve="exponential")
    start, stop, values = automation_values(exp, spec=spec, sample_rate=1000, n=10000)
    assert (start, stop) == (0, 4000)
    assert values[2000] == pytest.approx(1000, rel=0.01)  # halfway is the geometric mean
    lin = exp.model_copy(update={"curve": "linear"})
    assert automation_values(lin, spec=spec, sample_rate=1000, n=10000)[2][2000] == \
        pytest.approx(5050, rel=0.01)


def test_gain_and_gain_automation_move_the_measured_level() -> None:
    spec = _spec(bars=8, tempo_bpm=120)
    pad = _pad(16.0)
    before = track_level_db(process_track(pad, _track(), spec=spec, sample_rate=SR).dry,
                            sample_rate=SR)
    after = track_level_db(process_track(pad, _track(gain_db=-3), spec=spec, sample_rate=SR).dry,
                           sample_rate=SR)
    assert after - before == pytest.approx(-3.0, abs=0.2)
    fade = Automation(parameter="gain_db", start_bar=5, end_bar=8, start_value=-6, end_value=-6)
    moved = process_track(pad, _track(automation=[fade]), spec=spec, sample_rate=SR).dry
    first, second = moved[:, : 8 * SR], moved[:, 8 * SR + 1000 :]
    assert track_level_db(second, sample_rate=SR) - track_level_db(first, sample_rate=SR) == \
        pytest.approx(-6.0, abs=0.2)


def test_eq_highpass_and_saturation_move_band_energy_the_expected_way() -> None:
    spec = _spec()
    noise = _noise(6.0)
    dry = process_track(noise, _track(), spec=spec, sample_rate=SR).dry

    def low(track: TrackSpec) -> float:
        out = process_track(noise, track, spec=spec, sample_rate=SR).dry
        return low_end_db(out, sample_rate=SR) - low_end_db(dry, sample_rate=SR)

    assert low(_track(eq=[EQBand(kind="low_shelf", freq_hz=150, gain_db=6)])) > 2.0
    assert low(_track(eq=[EQBand(kind="peak", freq_hz=300, gain_db=-6, q=1.2)])) < -1.0
    highpassed = process_track(noise, _track(highpass_hz=300), spec=spec, sample_rate=SR).dry
    assert band_energy_db(highpassed, sample_rate=SR, low_hz=20, high_hz=100) < \
        band_energy_db(dry, sample_rate=SR, low_hz=20, high_hz=100) - 15
    assert band_energy_db(highpassed, sample_rate=SR, low_hz=2000, high_hz=8000) == \
        pytest.approx(band_energy_db(dry, sample_rate=SR, low_hz=2000, high_hz=8000), abs=0.2)
    brighter = process_track(noise, _track(eq=[EQBand(kind="high_shelf", freq_hz=8000,
                                                       gain_db=6)]), spec=spec, sample_rate=SR)
    assert spectral_centroid_hz(brighter.dry, sample_rate=SR) > \
        spectral_centroid_hz(dry, sample_rate=SR) + 500
    sine = np.tile(0.8 * np.sin(2 * np.pi * 110 * np.arange(SR) / SR), (2, 1)).astype(np.float32)
    driven = process_track(sine, _track(saturation_db=12), spec=spec, sample_rate=SR).dry
    assert band_energy_db(driven, sample_rate=SR, low_hz=300, high_hz=400) > \
        band_energy_db(sine, sample_rate=SR, low_hz=300, high_hz=400) + 20  # odd harmonics


def test_pan_moves_the_track_between_channels_at_constant_power() -> None:
    spec = _spec()
    noise = _noise(2.0)
    right = process_track(noise, _track(pan=1.0), spec=spec, sample_rate=SR).dry
    assert np.max(np.abs(right[0])) < 1e-6
    power = np.mean(right.astype(np.float64) ** 2) * 2
    assert power == pytest.approx(np.mean(noise.astype(np.float64) ** 2) * 2, rel=0.01)


def test_mix_peaks_under_minus_six_dbfs_and_reports_the_trim() -> None:
    loud = [TrackSpec(name=f"t{i}", role="music", source="pattern") for i in range(4)]
    spec = _spec(tracks=loud)
    tracks = {t.name: process_track(_pad(4.0, level=0.15), t, spec=spec, sample_rate=SR)
              for t in loud}
    raw_peak = 20 * np.log10(np.max(np.abs(sum(t.dry for t in tracks.values()))))
    result = mix_down(tracks, spec=spec, sample_rate=SR)
    peak = 20 * np.log10(np.max(np.abs(result.audio)))
    assert peak <= MIX_PEAK_DBFS + 1e-3
    assert result.peak_dbfs == pytest.approx(peak, abs=0.01)
    assert result.trim_db == pytest.approx(MIX_PEAK_DBFS - raw_peak, abs=0.05)
    quiet = mix_down({"t0": ProcessedTrack(dry=_pad(2.0, level=0.001))}, spec=spec,
                     sample_rate=SR)
    assert quiet.trim_db == 0.0  # a quiet mix is left for the master to raise


def test_muted_tracks_contribute_nothing() -> None:
    kick = TrackSpec(name="kick", role="kick", source="pattern")
    muted = TrackSpec(name="pad", role="music", source="pattern", muted=True)
    spec = _spec(tracks=[kick, muted])
    noise = _noise(2.0)
    tracks = {"kick": process_track(noise, kick, spec=spec, sample_rate=SR),
              "pad": ProcessedTrack(dry=_pad(2.0, level=0.2))}
    alone = mix_down({"kick": tracks["kick"]}, spec=spec, sample_rate=SR)
    np.testing.assert_array_equal(mix_down(tracks, spec=spec, sample_rate=SR).audio, alone.audio)
    assert not np.any(process_track(noise, muted, spec=spec, sample_rate=SR).dry)


def test_sends_feed_reverb_and_delay_returns_with_tails() -> None:
    spec = _spec(tempo_bpm=120)
    burst = np.zeros((2, 3 * SR), dtype=np.float32)
    burst[:, : SR // 10] = _noise(0.1, level=0.3)
    wet = _track(sends_db={"reverb": -6.0, "delay": -6.0})
    processed = process_track(burst, wet, spec=spec, sample_rate=SR)
    assert set(processed.sends) == {"reverb", "delay"}
    spec = spec.model_copy(update={"tracks": [wet]})
    mixed = mix_down({"pad": processed}, spec=spec, sample_rate=SR).audio
    dry = mix_down({"pad": ProcessedTrack(dry=processed.dry)}, spec=spec, sample_rate=SR).audio
    after = slice(round(0.2 * SR), None)  # the dry burst is over here: only the returns ring
    assert np.sqrt(np.mean(dry[:, after] ** 2)) == 0.0
    assert 20 * np.log10(np.sqrt(np.mean(mixed[:, after] ** 2))) > -60
    # the delay alone repeats the burst a dotted eighth (0.375 s at 120 BPM) later
    echo_only = _track(sends_db={"delay": -6.0})
    delayed = mix_down({"pad": process_track(burst, echo_only, spec=spec, sample_rate=SR)},
                       spec=spec, sample_rate=SR).audio
    env = np.abs(delayed[0]).astype(np.float64)
    echo = env[round(0.38 * SR) : round(0.47 * SR)].mean()
    gap = env[round(0.25 * SR) : round(0.35 * SR)].mean()
    assert echo > 10 * gap


def test_reverb_send_automation_only_sends_inside_its_bars() -> None:
    spec = _spec(bars=4, tempo_bpm=120)
    noise = _noise(8.0)
    throw = Automation(parameter="reverb_send_db", start_bar=3, end_bar=3, start_value=-3,
                       end_value=-3)
    send = process_track(noise, _track(automation=[throw]), spec=spec,
                         sample_rate=SR).sends["reverb"]
    inside = send[:, round(4.1 * SR) : round(5.9 * SR)]
    assert 20 * np.log10(np.sqrt(np.mean(inside**2)) / 0.1) == pytest.approx(-3.0, abs=0.2)
    assert np.max(np.abs(send[:, : round(3.9 * SR)])) < 1e-4

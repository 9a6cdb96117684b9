"""A generated Sound Vault for tests: one-shots and loops made from the synth vault and plain DSP.

Nothing here is committed audio: every file is synthesised into a temporary folder. Names are
neutral (``s07.wav``) so the classifier must judge by sound; the truth is returned beside them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from core.music import Key, Mode
from core.spec import VoiceSpec
from jobs.synth import add_at
from jobs.vault import one_shot, tone

SR = 44100


@dataclass(frozen=True)
class FixtureSample:
    """One generated file and what it really is."""

    path: Path
    kind: str
    tempo_bpm: float | None = None
    key: Key | None = None


def _hit(name: str, *, brightness: float = 0.0, decay: float = 0.0, drive: float = 0.0,
         variant: int = 0) -> np.ndarray:
    voice = VoiceSpec(name=name, brightness=brightness, decay=decay, drive=drive)
    return one_shot(name, voice, velocity=1.0, sample_rate=SR, variant=variant)


def _dsp_kick(f_start_hz: float, f_end_hz: float, decay_s: float) -> np.ndarray:
    t = np.arange(int(0.8 * SR)) / SR
    freq = f_end_hz + (f_start_hz - f_end_hz) * np.exp(-t / 0.03)
    return (0.9 * np.sin(2 * np.pi * np.cumsum(freq) / SR) * np.exp(-t / decay_s)).astype(np.float32)


def _dsp_snare(seed: int, body_hz: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(0.35 * SR)) / SR
    noise = rng.standard_normal(t.size) * np.exp(-t / 0.06)
    body = np.sin(2 * np.pi * body_hz * t) * np.exp(-t / 0.04)
    x = 0.5 * noise + 0.6 * body
    return (0.8 * x / np.abs(x).max()).astype(np.float32)


def _dsp_clap(seed: int, gaps_ms: tuple[float, ...]) -> np.ndarray:
    from scipy import signal

    rng = np.random.default_rng(seed)
    t = np.arange(int(0.4 * SR)) / SR
    noise = signal.sosfilt(signal.butter(2, (800.0, 6000.0), "bandpass", fs=SR, output="sos"),
                           rng.standard_normal(t.size))
    env = sum(np.where(t >= g / 1000, np.exp(-(t - g / 1000) / 0.005), 0.0) for g in gaps_ms)
    env = env + np.where(t >= gaps_ms[-1] / 1000, 0.7 * np.exp(-(t - gaps_ms[-1] / 1000) / 0.08), 0)
    x = noise * env
    return (0.8 * x / np.abs(x).max()).astype(np.float32)


def _loop(*, tempo_bpm: float, key: Key, bars: int, seed: int) -> np.ndarray:
    """Drums, a bass line and a cadence (I–IV–V–I or i–iv–V–i) in ``key``, ``bars`` bars long."""
    beat_s = 60.0 / tempo_bpm
    n = round(bars * 4 * beat_s * SR)
    out = np.zeros(n, dtype=np.float32)
    kick, hat = _hit("kick_house", variant=seed), _hit("hat_closed", variant=seed)
    for beat in range(bars * 4):
        add_at(out, kick, round(beat * beat_s * SR), 0.8)
        add_at(out, hat, round((beat + 0.5) * beat_s * SR), 0.5)
    minor = key.mode is Mode.MINOR
    third = 3 if minor else 4
    chords = [(0, third), (5, 3 if minor else 4), (7, 4), (0, third)]
    keys_voice, bass_voice = VoiceSpec(name="keys"), VoiceSpec(name="sub")
    chord_s = bars * 4 * beat_s / len(chords)
    for i, (root, third_st) in enumerate(chords):
        at = round(i * chord_s * SR)
        base = 60 + (key.tonic + root) % 12
        for pitch in (base, base + third_st, base + 7):
            add_at(out, tone(keys_voice, pitch=pitch, duration_s=0.9 * chord_s, velocity=0.6,
                             sample_rate=SR), at)
        add_at(out, tone(bass_voice, pitch=36 + (key.tonic + root) % 12, duration_s=0.9 * chord_s,
                         velocity=0.7, sample_rate=SR), at)
    return (0.9 * out / np.abs(out).max()).astype(np.float32)


def make_sound_vault(folder: Path) -> list[FixtureSample]:
    """Write 34 generated samples into ``folder`` (about 1 MB of short audio) and say what each is."""
    folder.mkdir(parents=True, exist_ok=True)
    one_shots: list[tuple[str, np.ndarray]] = [
        ("kick", _hit("kick_house")), ("kick", _hit("kick_hard", brightness=0.5)),
        ("kick", _hit("kick_deep", decay=0.5)), ("kick", _hit("kick_punchy", brightness=-0.6)),
        ("kick", _hit("kick_soft", drive=0.5)), ("kick", _dsp_kick(160.0, 50.0, 0.18)),
        ("snare", _hit("snare")), ("snare", _hit("snare", brightness=0.6, decay=-0.4)),
        ("snare", _hit("snare", brightness=-0.4, variant=2)), ("snare", _dsp_snare(1, 190.0)),
        ("snare", _dsp_snare(2, 230.0)),
        ("clap", _hit("clap")), ("clap", _hit("clap", brightness=0.5, variant=1)),
        ("clap", _hit("clap", decay=0.5, variant=2)), ("clap", _dsp_clap(3, (0.0, 9.0, 19.0, 28.0))),
        ("hat", _hit("hat_closed")), ("hat", _hit("hat_closed", brightness=0.5, variant=1)),
        ("hat", _hit("hat_pedal")), ("hat", _hit("hat_open")),
        ("hat", _hit("hat_open", decay=-0.5, variant=2)),
        ("percussion", _hit("conga_high")), ("percussion", _hit("conga_low", decay=0.3)),
        ("percussion", _hit("bongo")), ("percussion", _hit("agogo_high")),
        ("percussion", _hit("clave")), ("percussion", _hit("cowbell")),
        ("percussion", _hit("shaker")), ("percussion", _hit("tamborim")),
        ("percussion", _hit("tom_high")),
    ]
    samples = []
    for i, (kind, audio) in enumerate(one_shots):
        path = folder / f"s{i:02d}.wav"
        sf.write(path, audio, SR, subtype="PCM_16")
        samples.append(FixtureSample(path, kind))
    loops = [(96.0, Key(tonic=9, mode=Mode.MINOR), 2), (110.0, Key(tonic=0, mode=Mode.MAJOR), 2),
             (124.0, Key(tonic=5, mode=Mode.MINOR), 4), (128.0, Key(tonic=2, mode=Mode.MAJOR), 4),
             (140.0, Key(tonic=7, mode=Mode.MINOR), 4)]
    for j, (bpm, key, bars) in enumerate(loops):
        path = folder / f"s{len(samples):02d}.wav"
        stereo = np.stack([_loop(tempo_bpm=bpm, key=key, bars=bars, seed=j)] * 2, axis=1)
        sf.write(path, stereo, SR, subtype="PCM_16")
        samples.append(FixtureSample(path, "loop", bpm, key))
    return samples

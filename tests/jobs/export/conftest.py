"""Fixtures for the export tests: small hand-made specs, stems and MIDI (no renderer needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pretty_midi
import pytest

from core.music import Key, Mode
from core.spec import (
    Automation,
    Compression,
    EQBand,
    PatternSpec,
    ProductionSpec,
    Section,
    Sidechain,
    TrackRole,
    TrackSpec,
)
from jobs.audio_io import ENGINE_SAMPLE_RATE, write_wav


def tiny_spec(title: str = "Tiny Afro Remix") -> ProductionSpec:
    """Four bars at 120 BPM in F minor: kick, bass (ducked, swept, EQ'd) and a vocal stem."""
    return ProductionSpec(
        title=title, genre="afro_house", tempo_bpm=120, key=Key(tonic=5, mode=Mode.MINOR),
        sections=[Section(name="intro", kind="intro", bars=2, layers=["kick", "vocals"]),
                  Section(name="drop", kind="drop", bars=2, layers=["kick", "bass", "vocals"])],
        tracks=[
            TrackSpec(name="kick", role=TrackRole.KICK, source="pattern",
                      pattern=PatternSpec(style="afro_house_drums_kick")),
            TrackSpec(name="bass", role=TrackRole.BASS, source="pattern", gain_db=-4, pan=-0.2,
                      pattern=PatternSpec(style="offbeat_bass"), highpass_hz=30,
                      eq=[EQBand(kind="peak", freq_hz=250, gain_db=-3, q=1.2)],
                      compression=Compression(threshold_db=-20, ratio=4),
                      sidechain=Sidechain(depth_db=8), sends_db={"reverb": -18},
                      automation=[Automation(parameter="filter_cutoff_hz", start_bar=1,
                                             end_bar=2, start_value=200, end_value=20000)]),
            TrackSpec(name="vocals", role=TrackRole.VOCALS, source="stem", stem="vocals",
                      gain_db=-2, sends_db={"reverb": -16, "delay": -20}),
        ],
    )


def tiny_midi() -> pretty_midi.PrettyMIDI:
    """Four-on-the-floor kick for 4 bars and an off-beat bass in the drop (bars 3–4)."""
    midi = pretty_midi.PrettyMIDI(initial_tempo=120)
    kick = pretty_midi.Instrument(program=0, is_drum=True, name="kick")
    for beat in range(16):
        kick.notes.append(pretty_midi.Note(velocity=110, pitch=36, start=beat * 0.5,
                                           end=beat * 0.5 + 0.125))
    bass = pretty_midi.Instrument(program=38, name="bass")
    for beat in range(8, 16):
        start = beat * 0.5 + 0.25
        bass.notes.append(pretty_midi.Note(velocity=90 + beat, pitch=41 if beat < 12 else 44,
                                           start=start, end=start + 0.2))
    midi.instruments += [kick, bass]
    return midi


def write_stems(folder: Path, names: list[str], *, seconds: float) -> dict[str, Path]:
    """A quiet, distinct tone per track (stereo float32 WAV at the engine rate)."""
    t = np.arange(int(seconds * ENGINE_SAMPLE_RATE)) / ENGINE_SAMPLE_RATE
    paths = {}
    for i, name in enumerate(names):
        tone = 0.1 * np.sin(2 * np.pi * (110 * (i + 1)) * t).astype(np.float32)
        paths[name] = write_wav(folder / f"{name}.wav", np.stack([tone, tone]),
                                sample_rate=ENGINE_SAMPLE_RATE)
    return paths


@pytest.fixture
def stems(tmp_path: Path) -> dict[str, Path]:
    return write_stems(tmp_path / "render" / "tracks", ["kick", "bass", "vocals"], seconds=8.0)

"""Export benchmark: the project zip of a 3-minute remix (target < 10 s on 2 cores).

Six stereo float32 stems of the full length (what the renderer leaves), a master, and
dense MIDI patterns for five pattern tracks, all generated, so the number is reproducible.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from bench._table import Table

__all__ = ["run"]

_SR = 44100


def _remix_spec():
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

    names = ["kick", "drums", "percussion", "bass", "music", "vocals"]
    sections = [Section(name=n, kind=k, bars=b, layers=names) for n, k, b in (
        ("intro", "intro", 16), ("build", "build", 16), ("drop", "drop", 16),
        ("breakdown", "breakdown", 16), ("drop 2", "drop", 16), ("outro", "outro", 16))]
    roles = [TrackRole.KICK, TrackRole.DRUMS, TrackRole.PERCUSSION, TrackRole.BASS,
             TrackRole.MUSIC, TrackRole.VOCALS]
    tracks = []
    for name, role in zip(names, roles, strict=True):
        pattern = PatternSpec(style=f"{name}_pattern") if name != "vocals" else None
        tracks.append(TrackSpec(
            name=name, role=role, source="stem" if name == "vocals" else "pattern",
            stem="vocals" if name == "vocals" else "", pattern=pattern, gain_db=-3,
            eq=[EQBand(kind="peak", freq_hz=300, gain_db=-2)], compression=Compression(),
            sidechain=Sidechain() if name in ("bass", "music") else None,
            sends_db={"reverb": -16, "delay": -22},
            automation=[Automation(parameter="filter_cutoff_hz", start_bar=17, end_bar=32,
                                   start_value=200, end_value=20000)] if name == "music" else []))
    return ProductionSpec(title="Madonna Afro Circuit Remix", genre="afro_house", tempo_bpm=122,
                          key=Key(tonic=5, mode=Mode.MINOR), sections=sections, tracks=tracks)


def _midi(spec, seconds: float):
    import pretty_midi

    midi = pretty_midi.PrettyMIDI(initial_tempo=spec.tempo_bpm)
    step = 60.0 / spec.tempo_bpm / 4  # sixteenths
    rng = np.random.default_rng(0)
    for track in spec.tracks:
        if track.pattern is None:
            continue
        inst = pretty_midi.Instrument(program=0, is_drum=track.name != "bass" and
                                      track.name != "music", name=track.name)
        for i in range(int(seconds / step)):
            if rng.random() < 0.5:
                start = i * step
                inst.notes.append(pretty_midi.Note(velocity=int(rng.integers(60, 127)),
                                                   pitch=int(rng.integers(36, 84)),
                                                   start=start, end=start + step * 0.9))
        midi.instruments.append(inst)
    return midi


def run() -> list[Table]:
    from jobs.audio_io import write_wav
    from jobs.export import export_project

    spec = _remix_spec()
    seconds = spec.total_bars * 4 * 60.0 / spec.tempo_bpm
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rng = np.random.default_rng(1)
        audio = (0.05 * rng.standard_normal((2, int(seconds * _SR)))).astype(np.float32)
        stems = {t.name: write_wav(folder / "tracks" / f"{t.name}.wav", audio, sample_rate=_SR)
                 for t in spec.tracks}
        master = write_wav(folder / "master.wav", audio, sample_rate=_SR)
        midi = _midi(spec, seconds)
        notes = sum(len(i.notes) for i in midi.instruments)
        times = []
        for attempt in range(2):
            start = time.perf_counter()
            result = export_project(spec, tracks=stems, midi=midi, master=master,
                                    out_dir=folder / f"out{attempt}", provenance={})
            times.append(time.perf_counter() - start)
        size_mb = result.size_bytes / 1e6
    return [Table(
        f"Export of a 3-minute remix ({spec.total_bars} bars at 122 BPM, {seconds:.0f} s)",
        ["measure", "value"],
        [["wall time (best of 2)", f"{min(times):.2f} s"],
         ["target", "< 10 s on 2 cores"],
         ["stems", f"{len(stems)} × stereo float32 + master"],
         ["MIDI notes", str(notes)],
         ["zip size", f"{size_mb:.0f} MB"],
         ["checker", "passed" if result.report.ok else "FAILED"]],
    )]

"""The *reproduce* workflow's master side by side with Matchering 2.0 (the ``bench`` extra).

Both masters start from the same unmastered mix (our render's staged mix bus, caught as it
enters the master) and aim at the same reference; both are measured the same way: octave-band
distance to the reference (RMS over the 63 Hz–8 kHz octaves of the mid signal, levels re
1 kHz, in dB) and loudness error (integrated LUFS minus the reference's).

Our render is given the reference's octave balance as its tonal target (``MasterSpec.
tonal_target``), with the reference's loudness as its target, as the planner sets it for
*reproduce*. Matchering is GPL-3 and is only ever imported here.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from bench._table import Table

__all__ = ["comparison_table"]

_SR = 44100
_REFERENCE_S = 60.0


def _octave_distance_db(audio: np.ndarray, reference: dict[int, float]) -> float:
    """RMS difference (dB) of the octave levels re 1 kHz, 63 Hz–8 kHz."""
    from jobs.measure import octave_levels_db

    ours = octave_levels_db(audio, sample_rate=_SR)
    return math.sqrt(float(np.mean([(ours[c] - reference[c]) ** 2 for c in reference])))


def _reference_target(reference: dict[int, float]) -> Any:
    from core.tonal import TonalTarget

    return TonalTarget(bands_db=dict(reference),
                       tolerance_db={c: (6.0 if c < 250 else 4.0) for c in reference},
                       side_mid_min=0.0, side_mid_max=2.0,
                       sources=["the reference track's own octave balance (reproduce)"])


def reproduce_both(folder: Path) -> dict[str, Any]:
    """Render *reproduce* of the demo song (house) and master its mix with Matchering too."""
    import matchering

    import jobs.master
    from bench.sound import _brief, _render, scaled_spec
    from core.brief import Param, Provenance, Workflow
    from jobs.analysis import analyze
    from jobs.audio_io import read_audio, write_wav
    from jobs.demo_song import render_demo_song
    from jobs.loudness import integrated_loudness
    from jobs.measure import octave_levels_db

    reference_audio = render_demo_song(duration_s=_REFERENCE_S)
    if reference_audio.ndim == 1:
        reference_audio = np.stack([reference_audio, reference_audio])
    reference_path = write_wav(folder / "reference.wav", reference_audio, sample_rate=_SR)
    report = analyze(reference_audio, sample_rate=_SR)
    reference_octaves = octave_levels_db(reference_audio, sample_rate=_SR)
    reference_lufs = integrated_loudness(reference_audio, sample_rate=_SR)
    detected = Provenance.DETECTED
    brief = _brief(Workflow.REPRODUCE, "house", key=Param(value=report.key.key, source=detected),
                   bpm=Param(value=round(report.tempo.bpm, 1), source=detected))
    spec = scaled_spec(brief, genre_id="house", reference=report,
                       production_id="bench:reproduce")
    spec.master.tonal_target = _reference_target(reference_octaves)

    caught: dict[str, np.ndarray] = {}
    inner = jobs.master.master

    def catching(mix: np.ndarray, *args: Any, **kwargs: Any) -> Any:
        caught["mix"] = np.array(mix, copy=True)
        return inner(mix, *args, **kwargs)

    jobs.master.master = catching  # render_spec imports it when it runs
    try:
        result = _render(spec, folder, "reproduce")
    finally:
        jobs.master.master = inner
    master = next(p for n, p in result["artifacts"].items() if n.startswith("master."))
    ours = read_audio(Path(master), max_duration_s=900,
                      max_size_bytes=10**9).audio
    mix_path = write_wav(folder / "unmastered.wav", caught["mix"], sample_rate=_SR)
    theirs_path = folder / "matchering.wav"
    matchering.log(lambda text: None)
    matchering.process(target=str(mix_path), reference=str(reference_path),
                       results=[matchering.pcm24(str(theirs_path))])
    theirs = read_audio(theirs_path, max_duration_s=900, max_size_bytes=10**9).audio
    unmastered = caught["mix"]
    return {"reference_octaves": reference_octaves, "reference_lufs": reference_lufs,
            "ours": ours, "theirs": theirs, "unmastered": unmastered, "spec": spec}


def comparison_table(folder: Path) -> Table:
    """Octave distance to the reference and loudness error: the unmastered mix, ours, Matchering."""
    from jobs.loudness import integrated_loudness, true_peak_dbtp
    from jobs.measure import side_mid_ratio

    both = reproduce_both(folder)
    reference, lufs = both["reference_octaves"], both["reference_lufs"]
    rows = []
    for label, audio in (("unmastered mix (same input for both)", both["unmastered"]),
                         ("ours (Vyke Produce master)", both["ours"]),
                         ("Matchering 2.0", both["theirs"])):
        loudness = integrated_loudness(audio, sample_rate=_SR)
        rows.append([label, f"{_octave_distance_db(audio, reference):.2f}",
                     f"{loudness - lufs:+.2f}", f"{loudness:.1f}",
                     f"{true_peak_dbtp(audio, sample_rate=_SR):.1f}",
                     f"{side_mid_ratio(audio):.2f}"])
    spec = both["spec"]
    return Table(
        "Reproduce: the same unmastered mix mastered toward the same reference",
        ["master", "octave distance to reference (RMS dB, 63 Hz–8 kHz)", "loudness error (LU)",
         "integrated LUFS", "true peak dBTP", "side/mid"],
        rows,
        [f"Reference: the demo song ({_REFERENCE_S:.0f} s, {lufs:.1f} LUFS); reproduce as House "
         f"at {spec.tempo_bpm:g} BPM in {spec.key}, {spec.total_bars} bars following the "
         "reference's sections.",
         "The unmastered mix is our render's mix bus after gain staging, caught as it enters "
         "the master; Matchering 2.0 (default settings) masters that file against the "
         "reference file.",
         "Octave distance: RMS over the 63 Hz–8 kHz octaves of the difference in octave levels "
         "(mid signal, dB re 1 kHz) from the reference's."],
    )

"""Sound benchmark: does each master sit in its genre's tonal, stereo and dynamic range?

Renders text-to-track in all 14 genres and the seed remix of the demo song (Afro House, Fm,
126 BPM, the vocal kept), each on its genre's own arrangement scaled to about 40 bars (the
full 120-bar songs take minutes each on 2 cores), and prints one row per master: octave levels
of the mid signal re 1 kHz against the genre's target (``chefs/genres/*.toml``), side/mid
ratio, low-band (< 120 Hz) correlation, PLR, share of power below 80 Hz, and whether every
number is in range.

Then the *reproduce* workflow side by side with Matchering 2.0 (the ``bench`` extra): the same
reference and the same unmastered mix, mastered by our chain (the reference's octave balance as
the tonal target) and by Matchering; octave-band distance to the reference (RMS dB over
63 Hz–8 kHz, levels re 1 kHz) and loudness error for both.

The results are also written to ``bench/RESULTS-sound.md`` with a description of the machine.

While tuning, ``VYKE_BENCH_GENRES=techno,afro_house python -m bench sound`` renders only those
genres (``seed`` for the seed remix), skips the Matchering comparison and writes no results file.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench._table import Table

__all__ = ["render_genre", "render_seed_remix", "run", "scaled_spec"]

_SR = 44100
_BARS = 40
"""Bars per benchmark render: each genre's sections scaled to about this many."""
_RESULTS = Path(__file__).with_name("RESULTS-sound.md")


def _brief(workflow: Any, genre: str, **extra: Any) -> Any:
    from core.brief import Brief, Param, Provenance

    user = Provenance.USER
    return Brief(workflow=Param(value=workflow, source=user),
                 genre=Param(value=genre, source=user), **extra)


def scaled_spec(brief: Any, *, genre_id: str, bars: int = _BARS, production_id: str = "",
                source_key: str | None = None, source_bpm: float | None = None,
                stems: dict[str, str] | None = None, reference: Any = None) -> Any:
    """The spec the Maestro would plan, with the genre's sections scaled to about ``bars``.

    The sections are scaled before the Chefs plan, so their transitions land on the shorter
    arrangement.
    """
    from chefs import all_chefs
    from chefs.genre import genre_by_id
    from core.music import parse_key
    from core.patch import apply_patch
    from core.planner import base_spec

    genre = genre_by_id(genre_id)
    spec = base_spec(production_id=production_id or f"bench:{genre_id}", brief=brief, genre=genre,
                     source_key=parse_key(source_key) if source_key else None,
                     source_tempo_bpm=source_bpm, stems=stems or {}, reference=reference)
    total = sum(s.bars for s in spec.sections)
    if reference is None and total > bars:
        spec = spec.model_copy(update={"sections": [
            s.model_copy(update={"bars": max(2, round(s.bars * bars / total))})
            for s in spec.sections]})
    for chef in all_chefs():
        patch = chef.plan(brief=brief, spec=spec, genre=genre)
        if patch is not None:
            spec = apply_patch(spec, patch)
    return spec


def _render(spec: Any, folder: Path, name: str, **payload: Any) -> dict[str, Any]:
    from jobs.render import RenderPayload, render_spec

    return render_spec(RenderPayload(spec=spec, out_dir=str(folder / name),
                                     cache_dir=str(folder / "cache"), **payload),
                       lambda fraction, step: None)


def render_genre(genre_id: str, folder: Path, *, bars: int = _BARS) -> dict[str, Any]:
    """Text-to-track in ``genre_id`` at its default tempo and key; the render's result."""
    from core.brief import Workflow

    spec = scaled_spec(_brief(Workflow.TEXT_TO_TRACK, genre_id), genre_id=genre_id, bars=bars)
    return {"spec": spec, **_render(spec, folder, genre_id)}


def render_seed_remix(folder: Path, *, bars: int = _BARS) -> dict[str, Any]:
    """The seed remix: the demo song's stems remixed as Afro House in Fm at 126 BPM."""
    from core.brief import Param, Provenance, VocalTreatment, Workflow
    from core.music import parse_key
    from jobs.audio_io import write_wav
    from jobs.demo_song import DEMO_TEMPO_BPM, render_demo_stems

    stems = {name: str(write_wav(folder / "stems" / f"{name}.wav",
                                 audio if audio.ndim == 2 else audio[np.newaxis, :],
                                 sample_rate=_SR))
             for name, audio in render_demo_stems().items()}
    user = Provenance.USER
    brief = _brief(Workflow.REMIX, "afro_house", key=Param(value=parse_key("Fm"), source=user),
                   bpm=Param(value=126.0, source=user),
                   vocal=Param(value=VocalTreatment(stutter_sections=["build"]), source=user))
    spec = scaled_spec(brief, genre_id="afro_house", bars=bars, production_id="bench:seed",
                       source_key="C", source_bpm=DEMO_TEMPO_BPM, stems=stems)
    return {"spec": spec, **_render(spec, folder, "seed_remix", stems=stems)}


def _row(label: str, genre_id: str, result: dict[str, Any]) -> tuple[list[str], bool]:
    """One table row for a master, and whether it is in range everywhere."""
    from chefs.genre import genre_by_id
    from core.tonal import OCTAVE_CENTRES_HZ

    target = genre_by_id(genre_id).tonal
    m = result["measurements"]
    octaves = {int(c): float(v) for c, v in m["octaves_db"].items()}
    misses = target.out_of_range(octaves)
    cells = []
    for centre in OCTAVE_CENTRES_HZ:
        mark = "" if centre not in misses else " ✗"
        cells.append(f"{octaves[centre]:+.1f} ({target.bands_db[centre]:+.1f}±"
                     f"{target.tolerance_db[centre]:g}){mark}")
    width_ok = target.side_mid_min <= m["side_mid_ratio"] <= target.side_mid_max
    corr_ok = m["low_band_correlation"] >= target.low_correlation_min
    ok = not misses and width_ok and corr_ok
    cells += [f"{m['side_mid_ratio']:.2f}{'' if width_ok else ' ✗'}",
              f"{m['low_band_correlation']:.2f}{'' if corr_ok else ' ✗'}",
              f"{m['plr_db']:.1f}", f"{100 * m['share_below_80_hz']:.0f} %",
              "yes" if ok else "no"]
    return [label, *cells], ok


def _machine() -> str:
    from bench.audio_engine import _machine as machine

    return str(machine())


def _only() -> set[str] | None:
    """The genres ``VYKE_BENCH_GENRES`` names (``seed``: the seed remix), or ``None`` for all."""
    names = {n.strip() for n in os.environ.get("VYKE_BENCH_GENRES", "").split(",") if n.strip()}
    return names or None


def genre_table(folder: Path, only: set[str] | None = None) -> Table:
    """Every genre's text-to-track master and the seed remix against their targets (``only``:
    just those genres, ``seed`` for the seed remix)."""
    from chefs import load_genres
    from core.tonal import BAND_LABELS

    rows, passed, seconds = [], 0, []
    for genre in load_genres():
        if only is not None and genre.id not in only:
            continue
        start = time.perf_counter()
        result = render_genre(genre.id, folder)
        seconds.append(time.perf_counter() - start)
        row, ok = _row(genre.id, genre.id, result)
        rows.append(row)
        passed += ok
    if only is None or "seed" in only:
        seed = render_seed_remix(folder)
        row, ok = _row("seed remix (afro_house)", "afro_house", seed)
        rows.append(row)
        passed += ok
    return Table(
        f"Masters against their genre's range: {passed} of {len(rows)} in range everywhere",
        ["master", *[f"{b} (target)" for b in BAND_LABELS], "side/mid", "corr < 120 Hz",
         "PLR dB", "< 80 Hz", "in range"],
        rows,
        [f"Each render is the genre's arrangement scaled to about {_BARS} bars (full songs take "
         "minutes each on 2 cores), text-to-track at the genre's default tempo and key; the seed "
         "remix is the demo song's stems remixed as Afro House in Fm at 126 BPM.",
         "Octave levels: mid signal, dB re the 1 kHz octave, over the whole master; the target "
         "and its tolerance in brackets; ✗ marks a value out of range.",
         "side/mid: RMS amplitude ratio (0.16 ≈ correlation 0.95); corr < 120 Hz: left/right "
         "correlation below 120 Hz; PLR: true peak minus integrated loudness; < 80 Hz: share "
         "of the mid signal's power below 80 Hz.",
         f"Mean render time {np.mean(seconds) if seconds else 0:.0f} s per genre."],
    )


def run() -> list[Table]:
    """Render every genre and the seed remix, then the Matchering comparison; write the results."""
    at_start = os.getloadavg()[0]
    only = _only()
    with tempfile.TemporaryDirectory(prefix="bench-sound-") as tmp:
        folder = Path(tmp)
        tables = [genre_table(folder, only)]
        if only is not None:  # tuning a few genres: no comparison, no results file
            return tables
        from bench import _matchering

        tables.append(_matchering.comparison_table(folder))
    text = ["# Sound benchmark results", "", f"Machine: {_machine()}.", "",
            "Produced by `python -m bench sound`.", "",
            f"1-minute load average when the run started: {at_start:.1f}.", ""]
    text += [table.to_markdown() for table in tables]
    _RESULTS.write_text("\n".join(text), encoding="utf-8")
    return tables

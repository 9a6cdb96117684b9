"""Render benchmark: the first render of a 3-minute remix, a mix-only re-render and the
changed bars a director hears first.

Targets (on 2 CPU cores): the first render of a 3-minute remix whose stems are already
separated in at most 30 s, a mix-only re-render in at most 5 s, the changed bars' clip (the
preview job) in at most 3 s, each reported with its peak memory.

The spec is built the way ``tests/jobs/test_render.py`` builds the seed remix (the planner's
base spec refined by every Chef's plan: Afro House, F minor, 126 BPM, the vocal kept with a
stutter in the build, the demo song's stems standing in for separated ones), with the genre's
sections scaled to 96 bars (about 3 minutes) before the Chefs plan, so their transitions and
the build's stutter land on the scaled arrangement. The mix-only change is the Mixing Chef's
answer to "Bass too loud, needs more sidechain".

Each measured render runs in a fresh process (imports and the numba warm-up done before the
clock starts), so its peak RSS is its own. The results are also written to
``bench/RESULTS-render.md`` with a description of the machine.
"""

from __future__ import annotations

import importlib
import itertools
import multiprocessing as mp
import os
import resource
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

from bench._table import Table

__all__ = ["run"]

_SR = 44100
_RESULTS = Path(__file__).with_name("RESULTS-render.md")
_TEMPO_BPM = 126.0
_BARS = (16, 8, 24, 16, 24, 8)
"""Afro House's intro, build, drop 1, breakdown, drop 2, outro scaled to 96 bars (~183 s)."""
_STEM_S = 180.0  # the source song's stems: a 3-minute song, already separated
_FEEDBACK = "Bass too loud, needs more sidechain"
_TIMEOUT_S = 600.0
_TIMED = (
    ("jobs.mix", "process_track", "track chains, incl. the measurement variants"),
    ("jobs.measure", "measure_render", "per-track and master measurements"),
    ("jobs.analysis", "tempo_and_key", "tempo/key analysis of the master"),
    ("jobs.master", "master", "mastering passes"),
)
"""Functions whose total time inside a render is reported (wrapped in the render's process)."""


def _brief() -> Any:
    from core.brief import Brief, Param, Provenance, VocalTreatment, Workflow
    from core.music import parse_key

    user = Provenance.USER
    return Brief(workflow=Param(value=Workflow.REMIX, source=user),
                 genre=Param(value="afro_house", source=user),
                 key=Param(value=parse_key("Fm"), source=user),
                 bpm=Param(value=_TEMPO_BPM, source=user),
                 vocal=Param(value=VocalTreatment(stutter_sections=["build"]), source=user))


def _remix_spec(stems: dict[str, str]) -> Any:
    """The seed remix as the Maestro would plan it, on a 96-bar arrangement."""
    from chefs import all_chefs, load_genres
    from core.music import parse_key
    from core.patch import apply_patch
    from core.planner import base_spec
    from jobs.demo_song import DEMO_TEMPO_BPM

    genre = {g.id: g for g in load_genres()}["afro_house"]
    brief = _brief()
    spec = base_spec(production_id="bench:afro_house", brief=brief, genre=genre,
                     source_key=parse_key("C"), source_tempo_bpm=DEMO_TEMPO_BPM, stems=stems)
    if len(spec.sections) != len(_BARS):
        raise RuntimeError(f"afro_house has {len(spec.sections)} sections, expected {len(_BARS)}")
    spec = spec.model_copy(update={"sections": [
        s.model_copy(update={"bars": b}) for s, b in zip(spec.sections, _BARS, strict=True)]})
    for chef in all_chefs():
        patch = chef.plan(brief=brief, spec=spec, genre=genre)
        if patch is not None:
            spec = apply_patch(spec, patch)
    return spec


def _mix_only_change(spec: Any, measurements: dict[str, Any]) -> Any:
    """The Mixing Chef's patch for "Bass too loud, needs more sidechain" (level and ducking)."""
    from chefs import all_chefs, load_genres
    from core.brain import Aspect, Domain, Feedback
    from core.patch import apply_patch

    genre = {g.id: g for g in load_genres()}["afro_house"]
    mixing = next(chef for chef in all_chefs() if chef.domain is Domain.MIXING)
    for aspect in (Aspect.LEVEL, Aspect.SIDECHAIN):
        patch = mixing.consult(
            spec=spec, request=Feedback(domain=Domain.MIXING, aspect=aspect, target="bass",
                                        direction="down" if aspect is Aspect.LEVEL else "up",
                                        text=_FEEDBACK),
            measurements=measurements, genre=genre)
        spec = apply_patch(spec, patch)
    return spec


def _timed(module: Any, name: str, totals: dict[str, float], *, key: str) -> None:
    """Replace ``module.name`` with a wrapper that adds its wall time to ``totals[key]``.

    ``render_spec`` imports its helpers when it runs, so it picks up the wrapper.
    """
    inner = getattr(module, name)
    totals[key] = 0.0

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            totals[key] += time.perf_counter() - start

    setattr(module, name, wrapper)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # all threads of this process
    return usage.ru_utime + usage.ru_stime


def _render_worker(payload: dict[str, Any], queue: mp.Queue,
                   section: dict[str, Any] | None = None) -> None:
    """In a fresh process: warm up, render once (the version, or with ``section`` only those
    bars, as the preview job does), report wall time, steps and peak RSS."""
    try:
        start = time.perf_counter()
        import jobs.analysis
        import jobs.instruments
        import jobs.mix
        import jobs.patterns
        import jobs.picture
        from jobs.worker import PRELOAD

        for name in PRELOAD:  # what a worker's forkserver has imported before any job
            importlib.import_module(name)
        from jobs.demo_song import render_demo_song
        from jobs.render import RenderPayload, SectionPayload, render_section, render_spec

        # numba compiles librosa's kernels on their first call: a worker pays that once
        jobs.analysis.analyze(render_demo_song(duration_s=10.0), sample_rate=_SR)
        warm_up_s = time.perf_counter() - start
        warm_rss_mb = _peak_rss_mb()

        totals: dict[str, float] = {}
        for module, name, _ in _TIMED:
            _timed(importlib.import_module(module), name, totals, key=f"{module}.{name}")
        marks: list[tuple[float, str]] = []
        request = RenderPayload.model_validate(payload)
        cpu_start = _cpu_s()
        start = time.perf_counter()
        def mark(fraction: float, step: str) -> None:
            marks.append((time.perf_counter(), step))

        if section is not None:
            clip = render_section(SectionPayload.model_validate({**section, "render": request}),
                                  mark)
            elapsed = time.perf_counter() - start
            queue.put({"elapsed_s": elapsed, "cpu_s": _cpu_s() - cpu_start,
                       "peak_rss_mb": _peak_rss_mb(), "lufs": clip.lufs,
                       "bars": (clip.start_bar, clip.end_bar), "label": clip.label})
            return
        result = render_spec(request, mark)
        elapsed = time.perf_counter() - start
        cpu = _cpu_s() - cpu_start
        steps = [(step, later - at) for (at, step), (later, _) in itertools.pairwise(marks)]
        if marks and marks[0][0] > start:
            steps.insert(0, ("setup (kick times, stem hashes)", marks[0][0] - start))
        queue.put({"elapsed_s": elapsed, "cpu_s": cpu, "peak_rss_mb": _peak_rss_mb(),
                   "warm_up_s": warm_up_s, "warm_rss_mb": warm_rss_mb, "steps": steps,
                   "totals": totals, "cache": result["cache"],
                   "measurements": result["measurements"], "mismatches": result["mismatches"],
                   "duration_s": result["duration_s"]})
    except BaseException:
        queue.put({"error": traceback.format_exc()})
        raise


def _render_in_child(payload: dict[str, Any],
                     section: dict[str, Any] | None = None) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    queue: mp.Queue = ctx.Queue()
    proc = ctx.Process(target=_render_worker, args=(payload, queue, section))
    proc.start()
    try:
        out = queue.get(timeout=_TIMEOUT_S)
    finally:
        proc.join(timeout=30)
        if proc.is_alive():
            proc.kill()
            proc.join()
    if "error" in out:
        raise RuntimeError(f"render failed in the child process:\n{out['error']}")
    return out


def _busy_note(loads: list[float], at_start: float) -> str:
    """How busy the machine was: the load before the run is other work; during it, ours too."""
    cores = os.cpu_count() or 1
    seen = " → ".join(f"{x:.1f}" for x in loads)
    text = (f"1-minute load average before the run / after the first render / after the "
            f"re-render: {seen} on {cores} cores.")
    if at_start >= 0.5:
        return (text + " The machine was shared with other work during the run (the load "
                "before it started is not ours), so treat the wall times as pessimistic; "
                "peak memory does not depend on it.")
    return text + " The machine looked idle when the run started."


def _step_rows(first: dict[str, Any], second: dict[str, Any]) -> list[list[str]]:
    """Time by step (between progress callbacks) for both renders, first render's order."""
    def grouped(result: dict[str, Any]) -> dict[str, float]:
        out: dict[str, float] = {}
        for step, seconds in result["steps"]:
            out[step] = out.get(step, 0.0) + seconds
        return out

    a, b = grouped(first), grouped(second)
    rows = []
    for step, seconds in a.items():
        other = b.get(step)
        rows.append([step, f"{seconds:.2f} s", f"{seconds / first['elapsed_s']:.0%}",
                     "–" if other is None else f"{other:.2f} s",
                     "–" if other is None else f"{other / second['elapsed_s']:.0%}"])
    for step, seconds in b.items():  # steps only the re-render has (its one chain)
        if step not in a:
            rows.append([step, "–", "–", f"{seconds:.2f} s",
                         f"{seconds / second['elapsed_s']:.0%}"])
    for module, name, label in _TIMED:
        x, y = first["totals"][f"{module}.{name}"], second["totals"][f"{module}.{name}"]
        rows.append([f"of which: {label} (`{module}.{name}`)", f"{x:.2f} s",
                     f"{x / first['elapsed_s']:.0%}", f"{y:.2f} s",
                     f"{y / second['elapsed_s']:.0%}"])
    return rows


def _largest(result: dict[str, Any]) -> str:
    step, seconds = max(result["steps"], key=lambda item: item[1])
    return f"{step} ({seconds:.1f} s, {seconds / result['elapsed_s']:.0%})"


def run() -> list[Table]:
    """Render the 3-minute remix twice (first, then mix-only) and write the results file."""
    from bench.audio_engine import _machine
    from core.maestro.preview import heard_bars
    from jobs.audio_io import write_wav
    from jobs.demo_song import render_demo_stems

    loads = [os.getloadavg()[0]]
    at_start = max(os.getloadavg()[:2])
    with tempfile.TemporaryDirectory(prefix="bench-render-") as tmp:
        folder = Path(tmp)
        stems = {name: str(write_wav(folder / "stems" / f"{name}.wav",
                                     audio if audio.ndim == 2 else audio[np.newaxis, :],
                                     sample_rate=_SR))
                 for name, audio in render_demo_stems(duration_s=_STEM_S).items()}
        spec = _remix_spec(stems)
        cache = folder / "cache"  # empty: nothing rendered yet
        first = _render_in_child({"spec": spec.model_dump(mode="json"), "stems": stems,
                                  "out_dir": str(folder / "v1"), "cache_dir": str(cache)})
        loads.append(os.getloadavg()[0])
        changed = _mix_only_change(spec, first["measurements"])
        second = _render_in_child({"spec": changed.model_dump(mode="json"), "stems": stems,
                                   "out_dir": str(folder / "v2"), "cache_dir": str(cache)})
        loads.append(os.getloadavg()[0])
        # the same words again: the bars a director hears first, as the preview job makes them
        again = _mix_only_change(changed, second["measurements"])
        start, end, label = heard_bars(again, None)
        clip = _render_in_child(
            {"spec": again.model_dump(mode="json"), "stems": stems,
             "out_dir": str(folder / "v3"), "cache_dir": str(cache)},
            section={"start_bar": start, "end_bar": end, "label": label, "parent": 2,
                     "match_master": str(next((folder / "v2").glob("master.*"))),
                     "tonal_eq_db": second["measurements"].get("tonal_eq_db", {})})

    seconds = spec.total_bars * spec.time_signature[0] * 60.0 / spec.tempo_bpm
    tracks = len(first["cache"]["rendered"]) + len(first["cache"]["raw_cached"])

    def verdict(result: dict[str, Any]) -> str:
        return "on spec" if not result["mismatches"] else "; ".join(result["mismatches"])

    def bass(result: dict[str, Any]) -> str:
        m = result["measurements"]["tracks"]["bass"]
        return f"{m['track_level_db']:.1f} dB, ducks {m['ducking_depth_db']:.1f} dB"

    summary = Table(
        f"Render of a 3-minute remix: Afro House, Fm, {spec.tempo_bpm:g} BPM, "
        f"{spec.total_bars} bars ({seconds:.0f} s + tail), {tracks} tracks, stems cached",
        ["measure", "first render (empty render cache)", f"mix-only re-render (\"{_FEEDBACK}\")"],
        [["wall time", f"{first['elapsed_s']:.1f} s", f"{second['elapsed_s']:.1f} s"],
         ["target (2 cores)", "≤ 30 s", "≤ 5 s"],
         ["CPU time of the process (user + sys)", f"{first['cpu_s']:.1f} s",
          f"{second['cpu_s']:.1f} s"],
         ["peak RSS of the process", f"{first['peak_rss_mb']:.0f} MB",
          f"{second['peak_rss_mb']:.0f} MB"],
         ["RSS after imports and warm-up (before the clock)", f"{first['warm_rss_mb']:.0f} MB",
          f"{second['warm_rss_mb']:.0f} MB"],
         ["tracks synthesised / processed (raw)", str(len(first["cache"]["rendered"])),
          str(len(second["cache"]["rendered"]))],
         ["chains run", ", ".join(first["cache"]["mixed"]) or "none",
          ", ".join(second["cache"]["mixed"]) or "none"],
         ["bass level / ducking", bass(first), bass(second)],
         ["master", verdict(first), verdict(second)],
         ["changed bars first (the same words again)",
          "–", f"{clip['elapsed_s']:.1f} s for {clip['label']} (bars {clip['bars'][0]}–"
               f"{clip['bars'][1]}), {clip['lufs']:.1f} LUFS, peak RSS "
               f"{clip['peak_rss_mb']:.0f} MB; target < 3 s"]],
        [f"Each render runs in a fresh process; the imports a worker's forkserver makes before "
         f"any job (`jobs.worker.PRELOAD`, matplotlib included) and a numba warm-up "
         f"({first['warm_up_s']:.0f} s) happen before the clock starts, as in a long-running "
         "worker.",
         f"The vocal stem is a {_STEM_S:.0f} s demo-song stem (118 BPM, C), moved to Fm and "
         f"{spec.tempo_bpm:g} BPM with a 1/16 stutter in the build.",
         "CPU time counts every thread of the render's process (the preview's encoders "
         "included) and depends much less on other "
         "work on the machine than wall time does.",
         "Both renders also write master.flac and preview.mp3 (320 kbps, encoded in one piece "
         "per core and joined, in threads beside the render's measuring), draw "
         "arrangement.png and tonal.png and measure the master (loudness, true peak, "
         "per-track levels and ducking; tempo and key are analysed when the raw tracks "
         "changed, so only in the first render).",
         "The changed-bars clip is what the preview job posts before the version: the same "
         "Mixing Chef answer given again, the first drop, level-matched to the re-render's "
         "master; its chain is the version's, so the render after it would not run it again."],
    )
    split = Table(
        "Where the time goes, by progress step (a track's step covers its raw audio, its chain "
        "and its measurement variants; the vocal is made in a thread of its own from the "
        "start, beside the other tracks, and its step is the wait for what is left of it)",
        ["step", "first render", "share", "mix-only re-render", "share"],
        _step_rows(first, second),
        [f"Largest step of the first render: {_largest(first)}; of the mix-only re-render: "
         f"{_largest(second)}.",
         "The re-render reads only the changed track's raw audio and runs only its chain, but "
         "stages and mixes every track, masters, writes and measures the whole song again."],
    )
    tables = [summary, split]
    text = ["# Render benchmark results", "",
            f"Machine: {_machine()}.", "",
            "Produced by `python -m bench render` (about 2–3 minutes).", "",
            _busy_note(loads, at_start), ""]
    text += [table.to_markdown() for table in tables]
    _RESULTS.write_text("\n".join(text), encoding="utf-8")
    return tables

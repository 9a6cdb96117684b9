"""Key and tempo on music the analysis was not tuned on (``python -m bench analysis``).

The corpus is :mod:`bench.corpus` (Bach chorales from ``music21`` and electronic loops in all
24 keys, rendered by FluidSynth through three General MIDI sound fonts). The estimators were
tuned on its development half only; this benchmark reports the **test half** unless
``VYKE_BENCH_SPLIT=dev`` (or ``python -m bench.analysis --split dev``) says otherwise.

Reported beside the plain librosa baselines on the same files:

- key: MIREX weighted score (``mir_eval.key``: 1 exact, 0.5 fifth, 0.3 relative, 0.2
  parallel) and exact accuracy; baseline: Krumhansl–Kessler on librosa's mean ``chroma_cqt``;
- tempo: Acc1 (within ±4 % of the written tempo) and Acc2 (also at ×2, ×½, ×3, ×⅓);
  baseline: plain ``librosa.beat.beat_track``;
- calibration: accuracy per confidence bin, and among pieces at or above the asking
  threshold (:data:`core.analysis.ASK_BELOW_CONFIDENCE`) the share that is right; below it
  the Maestro asks;
- speed: ``jobs.analysis.analyze`` on a 3-minute stereo song at 44.1 kHz.

Results are also written to ``bench/RESULTS-analysis.md`` with a description of the machine.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench._table import Table, machine

__all__ = ["run"]

_RESULTS = Path(__file__).with_name("RESULTS-analysis.md")
_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_WORKERS = 2


@dataclass(frozen=True)
class Reading:
    """What each method read on one piece."""

    name: str
    family: str
    truth_key: str
    truth_bpm: float
    key: str
    key_confidence: float
    key_runner_up: str
    key_ambiguous: bool
    bpm: float
    bpm_alternative: float | None
    tempo_confidence: float
    tempo_ambiguous: bool
    base_key: str
    base_bpm: float
    seconds: float


def _label(key: object) -> str:
    from core.music import Key

    assert isinstance(key, Key)
    return f"{_NAMES[key.tonic]} {key.mode.value}"


def _read(piece: object) -> Reading:
    import librosa

    from bench.corpus import Piece, load_audio
    from jobs.analysis import analyze
    from jobs.key import baseline_key

    assert isinstance(piece, Piece)
    audio, rate = load_audio(piece)
    start = time.perf_counter()
    report = analyze(audio[np.newaxis, :], sample_rate=rate)
    seconds = time.perf_counter() - start
    base_bpm, _ = librosa.beat.beat_track(y=audio, sr=rate)
    return Reading(
        name=piece.name, family=piece.family, truth_key=piece.key_label, truth_bpm=piece.bpm,
        key=_label(report.key.key), key_confidence=report.key.confidence,
        key_runner_up=_label(report.key.runner_up) if report.key.runner_up else "",
        key_ambiguous=report.key.ambiguous, tempo_ambiguous=report.tempo.ambiguous,
        bpm=report.tempo.bpm, bpm_alternative=report.tempo.alternative_bpm,
        tempo_confidence=report.tempo.confidence,
        base_key=_label(baseline_key(audio, sample_rate=rate)),
        base_bpm=float(np.atleast_1d(base_bpm)[0]), seconds=seconds,
    )


def _acc1(bpm: float, truth: float) -> bool:
    return abs(bpm / truth - 1.0) <= 0.04


def _acc2(bpm: float, truth: float) -> bool:
    return any(_acc1(bpm, truth * f) for f in (1.0, 2.0, 0.5, 3.0, 1.0 / 3.0))


def _weighted(ref: str, est: str) -> float:
    import mir_eval

    return float(mir_eval.key.weighted_score(ref, est))


def readings(split: str) -> list[Reading]:
    """Analyse every piece of ``split`` (two processes) and return what was read."""
    from bench.corpus import build_corpus

    pieces = [p for p in build_corpus() if split == "all" or p.split == split]
    with mp.get_context("spawn").Pool(_WORKERS) as pool:
        return pool.map(_read, pieces, chunksize=4)


def _score_tables(rows: list[Reading], split: str) -> list[Table]:
    from core.analysis import ASK_BELOW_CONFIDENCE

    groups: dict[str, list[Reading]] = defaultdict(list)
    for r in rows:
        groups["all"].append(r)
        groups[r.family.split("/")[0] + "s"].append(r)
        if r.family == "loop/halftime":
            groups["loops, half-time drums"].append(r)
    accuracy = []
    for group, members in sorted(groups.items(), key=lambda kv: (kv[0] != "all", kv[0])):
        accuracy.append([
            group, str(len(members)),
            f"{np.mean([_weighted(r.truth_key, r.base_key) for r in members]):.3f}",
            f"{np.mean([_weighted(r.truth_key, r.key) for r in members]):.3f}",
            f"{np.mean([r.key == r.truth_key for r in members]):.0%}",
            f"{np.mean([_acc1(r.base_bpm, r.truth_bpm) for r in members]):.3f}",
            f"{np.mean([_acc1(r.bpm, r.truth_bpm) for r in members]):.3f}",
            f"{np.mean([_acc2(r.bpm, r.truth_bpm) for r in members]):.3f}",
        ])
    tables = [Table(
        f"Key and tempo on the corpus's {split} half ({len(rows)} pieces)",
        ["pieces", "n", "key MIREX, librosa+KK", "key MIREX, ours", "key exact, ours",
         "tempo Acc1, librosa beat_track", "tempo Acc1, ours", "tempo Acc2, ours"],
        accuracy,
        ["Acc1: within ±4 % of the written tempo; Acc2: also at ×2, ×½, ×3, ×⅓.",
         "Key MIREX weighted: 1 exact, 0.5 fifth, 0.3 relative, 0.2 parallel (mir_eval)."],
    )]
    bins = [(0.0, 0.2), (0.2, 0.4), (0.4, 0.6), (0.6, 0.8), (0.8, 0.9), (0.9, 1.01)]
    calibration = []
    for lo, hi in bins:
        keys = [r for r in rows if lo <= r.key_confidence < hi]
        tempi = [r for r in rows if lo <= r.tempo_confidence < hi]
        calibration.append([
            f"{lo:.1f}–{min(hi, 1.0):.1f}",
            str(len(keys)), f"{np.mean([r.key == r.truth_key for r in keys]):.0%}" if keys else "–",
            str(len(tempi)),
            f"{np.mean([_acc1(r.bpm, r.truth_bpm) for r in tempi]):.0%}" if tempi else "–",
        ])
    # the Maestro states a reading that is not ambiguous (confidence at or above the threshold
    # and, for tempo, no octave tie or half-time groove) and asks about the others
    sure_keys = [r for r in rows if not r.key_ambiguous]
    sure_tempi = [r for r in rows if not r.tempo_ambiguous]
    asked_keys = [r for r in rows if r.key_ambiguous]
    asked_tempi = [r for r in rows if r.tempo_ambiguous]
    in_question_key = [r for r in asked_keys if r.truth_key in (r.key, r.key_runner_up)]
    in_question_bpm = [r for r in asked_tempi if _acc1(r.bpm, r.truth_bpm) or (
        r.bpm_alternative is not None and _acc1(r.bpm_alternative, r.truth_bpm))]
    calibration += [
        ["**stated** (not ambiguous)", str(len(sure_keys)),
         f"**{np.mean([r.key == r.truth_key for r in sure_keys]):.1%}**" if sure_keys else "–",
         str(len(sure_tempi)),
         f"**{np.mean([_acc1(r.bpm, r.truth_bpm) for r in sure_tempi]):.1%}**"
         if sure_tempi else "–"],
        ["asked (ambiguous)", str(len(asked_keys)),
         f"{len(in_question_key)}/{len(asked_keys)} offer the truth" if asked_keys else "–",
         str(len(asked_tempi)),
         f"{len(in_question_bpm)}/{len(asked_tempi)} offer the truth" if asked_tempi else "–"],
    ]
    tables.append(Table(
        "Calibration: right answers per confidence bin (key exact; tempo Acc1)",
        ["confidence", "key n", "key right", "tempo n", "tempo right"],
        calibration,
        [f"Below {ASK_BELOW_CONFIDENCE:g} (and, for tempo, when both octaves are plausible) a "
         "reading is ambiguous and the Maestro asks (the two readings as buttons); otherwise it "
         "states the reading and how sure it is.",
         "\"offer the truth\": the right answer is one of the two buttons."],
    ))
    misses = [r for r in rows if r.key != r.truth_key or not _acc1(r.bpm, r.truth_bpm)]
    tables.append(Table(
        f"Misses on the {split} half (truth → read, confidence)",
        ["piece", "key", "tempo"],
        [[f"{r.name} ({r.family})",
          f"{r.truth_key} → {r.key} ({r.key_confidence:.2f})" if r.key != r.truth_key else "✓",
          f"{r.truth_bpm:g} → {r.bpm:g}/{r.bpm_alternative or 0:g} ({r.tempo_confidence:.2f})"
          if not _acc1(r.bpm, r.truth_bpm) else "✓"]
         for r in misses[:40]],
    ))
    return tables


def _speed() -> Table:
    """``analyze`` on a 3-minute stereo song (the demo song), best of two, torch on 2 threads."""
    import torch

    from jobs.analysis import analyze
    from jobs.demo_song import render_demo_song

    torch.set_num_threads(2)
    rate = 44100
    song = render_demo_song(duration_s=180.0)
    analyze(song[:, : rate * 10], sample_rate=rate)  # warm up (numba JIT in librosa)
    times, cpu = [], []
    for _ in range(2):
        start, start_cpu = time.perf_counter(), time.process_time()
        analyze(song, sample_rate=rate)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return Table("Analysis of a 3-minute song (demo song at 180 s, stereo 44.1 kHz)",
                 ["measure", "value"],
                 [["wall time (best of 2)", f"{min(times):.2f} s"],
                  ["CPU time, all threads (best of 2)", f"{min(cpu):.2f} s"],
                  ["load average (1 min) after", f"{os.getloadavg()[0]:.1f}"],
                  ["target", "< 5 s on 2 cores"]])


def run(split: str | None = None) -> list[Table]:
    """Score the estimators on one half of the corpus; write ``bench/RESULTS-analysis.md``."""
    split = split or os.environ.get("VYKE_BENCH_SPLIT", "test")
    start = time.perf_counter()
    rows = readings(split)
    tables = [*_score_tables(rows, split), _speed()]
    if split == "test":
        text = ["# Analysis benchmark results", "",
                f"Machine: {machine()}. Corpus analysed in {time.perf_counter() - start:.0f} s.",
                "", "Produced by `python -m bench analysis` (the test half of `bench.corpus`).", ""]
        text += [table.to_markdown() for table in tables]
        _RESULTS.write_text("\n".join(text), encoding="utf-8")
    return tables


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Key and tempo benchmark on bench.corpus")
    parser.add_argument("--split", choices=("dev", "test", "all"), default="dev")
    args = parser.parse_args(argv)
    for table in run(args.split):
        print(table.to_markdown(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

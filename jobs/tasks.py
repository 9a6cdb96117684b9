"""The job functions workers run, registered by :class:`core.jobs.JobKind` in :data:`TASKS`.

Each job is thin: it validates its payload (a pydantic model), serves the result from the
content-addressed cache when it can, otherwise calls the synchronous engine code, writes its
files atomically and returns its kind's result model from :mod:`core.jobs` (``RESULTS``), so
nothing crosses to the Maestro as a bag of string keys. Bad uploads raise
:class:`core.errors.AudioError` subclasses whose message is the sentence for the thread.

Jobs are top-level functions so a ``ProcessPoolExecutor`` can pickle them.

Cache layout (under the payload's ``cache_dir``)::

    analysis/<engine version>/<sha256 of the file>.json
    stems/<engine version>/<sha256 of the file>-<model>/{vocals,drums,bass,other}.flac + meta.json

(a stem louder than full scale stays a float ``.wav``). Both are kept to the configured size,
least recently used first (:mod:`jobs.cache_limit`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.analysis import AnalysisReport
from core.errors import AudioTooLarge, AudioTooLong
from core.jobs import (
    AnalyzeRequest,
    AnalyzeResult,
    CompareResult,
    ExportResult,
    JobKind,
    JobRequest,
    JobResult,
    ProgressFn,
    RenderResult,
    SectionResult,
    SeparateRequest,
    SeparateResult,
    payload_of,
)

__all__ = [
    "ANALYSIS_VERSION",
    "SEPARATION_VERSION",
    "TASKS",
    "analyze_task",
    "compare_task",
    "export_task",
    "render_task",
    "section_task",
    "separate_task",
]

logger = logging.getLogger(__name__)

ANALYSIS_VERSION = "analysis-v2"
"""Bumped when analysis changes its results, so old cache entries are not served."""

SEPARATION_VERSION = "stems-v1"
"""Bumped when separation changes its results."""


def _check_size(path: Path, *, max_size_bytes: int) -> None:
    """Refuse an oversized file before hashing it (hashing reads every byte)."""
    size = path.stat().st_size
    if size > max_size_bytes:
        raise AudioTooLarge(filename=path.name, size_bytes=size, max_size_bytes=max_size_bytes)


def analyze_task(request: JobRequest, progress: ProgressFn) -> AnalyzeResult:
    """Analyse an upload (tempo, key, loudness, bar grid), served from the cache when seen before."""
    from jobs.analysis import analyze_file
    from jobs.audio_io import file_sha256, write_json_atomic

    payload = payload_of(request, AnalyzeRequest)
    path = Path(payload.audio_path)
    _check_size(path, max_size_bytes=payload.max_size_bytes)
    progress(0.0, "checking the file")
    entry = Path(payload.cache_dir) / "analysis" / ANALYSIS_VERSION / f"{file_sha256(path)}.json"
    if entry.is_file():
        try:
            report = AnalysisReport.model_validate_json(entry.read_text(encoding="utf-8"))
        except ValueError:
            logger.warning("ignoring an unreadable analysis cache entry %s", entry)
        else:
            if report.duration_s > payload.max_duration_s:  # the limit may have been lowered
                raise AudioTooLong(filename=path.name, duration_s=report.duration_s,
                                   max_duration_s=payload.max_duration_s)
            progress(1.0, "analysis (from the cache)")
            return AnalyzeResult(report=report, cached=True)
    progress(0.1, "analysing tempo, key and loudness")
    report = analyze_file(
        path, max_duration_s=payload.max_duration_s, max_size_bytes=payload.max_size_bytes
    )
    write_json_atomic(entry, report.model_dump(mode="json"))
    progress(1.0, "analysis")
    return AnalyzeResult(report=report, cached=False)


def separate_task(request: JobRequest, progress: ProgressFn) -> SeparateResult:
    """Separate an upload into four stems, served from the cache for the same file and model.

    A cached result from the DSP fallback is redone once the model's weights are available.
    The stems are hard-linked (copied where links fail) into ``out_dir``, so the production
    and the cache share their bytes.
    """
    from jobs.audio_io import file_sha256, publish_file, read_audio, write_json_atomic
    from jobs.cache_limit import touch, trim_cache
    from jobs.separation import STEM_NAMES, separate_to_files, weights_available

    payload = payload_of(request, SeparateRequest)
    path = Path(payload.audio_path)
    weights_dir = Path(payload.weights_dir) if payload.weights_dir else None
    _check_size(path, max_size_bytes=payload.max_size_bytes)
    progress(0.0, "checking the file")
    digest = file_sha256(path)
    entry = Path(payload.cache_dir) / "stems" / SEPARATION_VERSION / f"{digest}-{payload.model}"
    meta_path = entry / "meta.json"
    meta = _read_meta(meta_path, STEM_NAMES)
    if meta is not None and meta["fallback"] and weights_available(
        payload.model, weights_dir=weights_dir
    ):
        meta = None  # the real model can run now: redo the rough stems
    cached = meta is not None
    if meta is None:
        decoded = read_audio(
            path, max_duration_s=payload.max_duration_s, max_size_bytes=payload.max_size_bytes
        )
        progress(0.05, "separating stems")
        _, model_name, fallback = separate_to_files(
            decoded.audio, sample_rate=decoded.sample_rate, out_dir=entry, model=payload.model,
            weights_dir=weights_dir, segment_s=payload.segment_s, overlap=payload.overlap,
            shifts=payload.shifts, device=payload.device,
            progress=lambda fraction, step: progress(0.05 + 0.9 * fraction, step),
        )
        meta = {"model": model_name, "fallback": fallback, "source_sha256": digest}
        write_json_atomic(meta_path, meta)
    else:
        touch(entry)
    out_dir = Path(payload.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stems = {}
    for stem in STEM_NAMES:
        stored = _stem_file(entry, stem)
        if stored is None:  # removed since it was read (it was just touched: not by a trim)
            raise FileNotFoundError(f"the cached {stem} stem vanished; run the job again")
        stems[stem] = str(publish_file(stored, out_dir / stored.name))
    if payload.cache_max_bytes:
        trim_cache(Path(payload.cache_dir), max_bytes=payload.cache_max_bytes)
    progress(1.0, "stems ready" if not cached else "stems (from the cache)")
    return SeparateResult(stems=stems, model=meta["model"], fallback=bool(meta["fallback"]),
                          cached=cached)


def _stem_file(entry: Path, stem: str) -> Path | None:
    """A cached stem's file: its FLAC, or the float WAV of a stem louder than full scale."""
    return next((path for path in (entry / f"{stem}.flac", entry / f"{stem}.wav")
                 if path.is_file()), None)


def _read_meta(meta_path: Path, stems: tuple[str, ...]) -> dict[str, Any] | None:
    """A cache entry's metadata when the entry is complete, else ``None``."""
    if not meta_path.is_file():
        return None
    if not all(_stem_file(meta_path.parent, stem) is not None for stem in stems):
        return None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except ValueError:
        return None
    return meta if isinstance(meta, dict) and "model" in meta and "fallback" in meta else None


def render_task(request: JobRequest, progress: ProgressFn) -> RenderResult:
    """Render a version (``jobs.render``): tracks, mix, master, preview, picture, measurements."""
    from jobs.render import render_task as run

    return run(request, progress)


def section_task(request: JobRequest, progress: ProgressFn) -> SectionResult:
    """A change's bars ahead of the whole version (``jobs.render.render_section``)."""
    from jobs.render import section_task as run

    return run(request, progress)


def export_task(request: JobRequest, progress: ProgressFn) -> ExportResult:
    """Export a rendered version as a project zip (``jobs.export``)."""
    from jobs.export.task import export_task as run

    return run(request, progress)


def compare_task(request: JobRequest, progress: ProgressFn) -> CompareResult:
    """Two versions' same section, loudness-matched, as clips (``jobs.compare``)."""
    from jobs.compare import compare_task as run

    return run(request, progress)


TASKS: dict[JobKind, Callable[[JobRequest, ProgressFn], JobResult]] = {
    JobKind.ANALYZE: analyze_task,
    JobKind.SEPARATE: separate_task,
    JobKind.RENDER: render_task,
    JobKind.EXPORT: export_task,
    JobKind.COMPARE: compare_task,
    JobKind.PREVIEW: section_task,
}
"""Job functions by kind, imported lazily so a worker loads only the engine it runs."""

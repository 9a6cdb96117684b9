"""The job functions workers run, registered by :class:`core.jobs.JobKind` in :data:`TASKS`.

Each job is thin: it validates its payload (a pydantic model), fetches the artifacts it names
through :class:`jobs.files.JobFiles`, serves the result from the content-addressed cache when
it can, otherwise calls the synchronous engine code, writes its files atomically, publishes
them to the artifact store and returns its kind's result model from :mod:`core.jobs`
(``RESULTS``) with their keys, so nothing crosses to the Maestro as a bag of string keys or a
path of this host. Bad uploads raise :class:`core.errors.AudioError` subclasses whose message
is the sentence for the thread.

Jobs are top-level functions so a ``ProcessPoolExecutor`` can pickle them.

Cache layout (under this host's ``cache_dir``; disposable, rebuilt from the store)::

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
from core.artifacts import safe_file_name
from core.errors import AudioError, AudioTooLarge, AudioTooLong
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
from jobs.files import JobFiles

__all__ = [
    "ANALYSIS_VERSION",
    "SEPARATION_VERSION",
    "TASKS",
    "Task",
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


def _upload(files: JobFiles, key: str, name: str, work: Path, *,
            max_size_bytes: int) -> tuple[Path, str]:
    """The upload as a local file named as the director named it (the engine's sentences say
    that name), and its SHA-256; an oversized one is refused before it is fetched.

    The key is the content's hash, so the file is not read again to hash it.
    """
    if not key:
        raise AudioError("I couldn't find your song's file any more; please upload it again.")
    name = safe_file_name(name or Path(key).name)
    size = files.store.size(key)
    if size > max_size_bytes:
        raise AudioTooLarge(filename=name, size_bytes=size, max_size_bytes=max_size_bytes)
    return files.gather({name: key}, work) / name, Path(key).name.split(".", 1)[0]


def analyze_task(request: JobRequest, progress: ProgressFn, files: JobFiles) -> AnalyzeResult:
    """Analyse an upload (tempo, key, loudness, bar grid), served from the cache when seen before."""
    payload = payload_of(request, AnalyzeRequest)
    progress(0.0, "checking the file")
    with files.scratch(request.production_id, request.job_id) as work:
        path, digest = _upload(files, payload.audio, payload.name, work,
                               max_size_bytes=payload.max_size_bytes)
        return _analyze(path, digest, payload, files, progress)


def _analyze(path: Path, digest: str, payload: AnalyzeRequest, files: JobFiles,
             progress: ProgressFn) -> AnalyzeResult:
    from jobs.analysis import analyze_file
    from jobs.audio_io import write_json_atomic

    entry = files.cache_dir / "analysis" / ANALYSIS_VERSION / f"{digest}.json"
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


def separate_task(request: JobRequest, progress: ProgressFn, files: JobFiles) -> SeparateResult:
    """Separate an upload into four stems, served from the cache for the same file and model.

    A cached result from the DSP fallback is redone once the model's weights are available.
    The stems (FLAC; a stem louder than full scale stays a float WAV) are published to the
    artifact store (the local store hard-links them, so the store and the cache share their
    bytes).
    """
    payload = payload_of(request, SeparateRequest)
    progress(0.0, "checking the file")
    with files.scratch(request.production_id, request.job_id) as work:
        path, digest = _upload(files, payload.audio, payload.name, work,
                               max_size_bytes=payload.max_size_bytes)
        return _separate(path, digest, payload, request.production_id, files, progress)


def _separate(path: Path, digest: str, payload: SeparateRequest, production_id: str,
              files: JobFiles, progress: ProgressFn) -> SeparateResult:
    from jobs.audio_io import read_audio, write_json_atomic
    from jobs.cache_limit import touch
    from jobs.separation import STEM_NAMES, separate_to_files, weights_available

    weights_dir = files.weights_dir
    entry = files.cache_dir / "stems" / SEPARATION_VERSION / f"{digest}-{payload.model}"
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
            shifts=payload.shifts, device=files.device,
            progress=lambda fraction, step: progress(0.05 + 0.9 * fraction, step),
        )
        meta = {"model": model_name, "fallback": fallback, "source_sha256": digest}
        write_json_atomic(meta_path, meta)
    else:
        touch(entry)
    stems = {}
    for stem in STEM_NAMES:
        stored = _stem_file(entry, stem)
        if stored is None:  # removed since it was read (it was just touched: not by a trim)
            raise FileNotFoundError(f"the cached {stem} stem vanished; run the job again")
        stems[stem] = files.publish(production_id, f"stems/{stored.name}", stored)
    files.trim_cache()
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


def render_task(request: JobRequest, progress: ProgressFn, files: JobFiles) -> RenderResult:
    """Render a version (``jobs.render``): tracks, mix, master, preview, picture, measurements."""
    from jobs.render import render_task as run

    return run(request, progress, files)


def section_task(request: JobRequest, progress: ProgressFn, files: JobFiles) -> SectionResult:
    """A change's bars ahead of the whole version (``jobs.render.render_section``)."""
    from jobs.render import section_task as run

    return run(request, progress, files)


def export_task(request: JobRequest, progress: ProgressFn, files: JobFiles) -> ExportResult:
    """Export a rendered version as a project zip (``jobs.export``)."""
    from jobs.export.task import export_task as run

    return run(request, progress, files)


def compare_task(request: JobRequest, progress: ProgressFn, files: JobFiles) -> CompareResult:
    """Two versions' same section, loudness-matched, as clips (``jobs.compare``)."""
    from jobs.compare import compare_task as run

    return run(request, progress, files)


Task = Callable[[JobRequest, ProgressFn, JobFiles], JobResult]
"""A job function: the request, a progress callback, and the artifact store with this host's
folders."""

TASKS: dict[JobKind, Task] = {
    JobKind.ANALYZE: analyze_task,
    JobKind.SEPARATE: separate_task,
    JobKind.RENDER: render_task,
    JobKind.EXPORT: export_task,
    JobKind.COMPARE: compare_task,
    JobKind.PREVIEW: section_task,
}
"""Job functions by kind, imported lazily so a worker loads only the engine it runs."""

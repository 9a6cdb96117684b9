"""The export job: a rendered version's files in, the project zip out (checked before it is offered).

The render job publishes, per version, ``tracks/<track name>.flac`` (a float ``.wav`` for a
track louder than full scale; the local store shares their bytes with the render cache),
``master.flac`` (``master.wav`` for older versions) and ``samples.json``; this job lays
those artifacts out in a scratch folder, reads only files it finds there (never a path built
from a name), makes the MIDI from the spec, and publishes the zip. A production keeps one project zip: once this one is stored,
the zips it replaces (the production's other versions', named by the Maestro by key) are
forgotten by the store; each can be built again from its version's parts, which stay.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pretty_midi

from core.artifacts import is_key
from core.jobs import ExportRequest, ExportResult, JobRequest, ProgressFn, payload_of
from core.production import MASTER_NAMES
from core.spec import ProductionSpec
from jobs.export.project import ExportResult as ProjectExport
from jobs.export.project import export_project
from jobs.files import JobFiles

__all__ = ["MidiSource", "export_task", "find_track_files"]

logger = logging.getLogger(__name__)

MidiSource = Callable[[ProductionSpec], pretty_midi.PrettyMIDI]
"""Makes a spec's patterns as MIDI (``jobs.patterns.generate_midi``)."""


_AUDIO_SUFFIXES = (".flac", ".wav")
"""What a render leaves per track: FLAC, or float WAV for a track louder than full scale."""


def find_track_files(spec: ProductionSpec, render_dir: Path) -> dict[str, Path]:
    """The spec's tracks whose audio the render wrote, matched against the folder's listing.

    Only files that are really in ``render_dir/tracks`` are used, so a track name such as
    ``../../etc/passwd`` matches nothing instead of reaching outside the folder.
    """
    folder = render_dir / "tracks"
    listing = {p.name: p for p in folder.iterdir() if p.is_file()} if folder.is_dir() else {}
    found: dict[str, Path] = {}
    for track in spec.tracks:
        path = next((listing[f"{track.name}{suffix}"] for suffix in _AUDIO_SUFFIXES
                     if f"{track.name}{suffix}" in listing), None)
        if path is not None and path.resolve().parent == folder.resolve():
            found[track.name] = path
    return found


def _named(stems: dict[str, str]) -> dict[str, dict[str, str]]:
    """The separated stems as artifacts (file name and content hash), never server paths:
    a key names the content's SHA-256 and its format (``blobs/ab/ab12….flac``)."""
    named = {}
    for stem, key in stems.items():
        if not is_key(key):
            continue  # not a stored file: nothing to name
        named[stem] = {"file": f"{stem}{Path(key).suffix}", "sha256": Path(key).name.split(".")[0]}
    return named


def _replaced(keys: list[str], keep: str) -> list[str]:
    """The project zips this export replaces: zips only, never the one just stored."""
    return [key for key in keys if key != keep and Path(key).suffix.lower() == ".zip"]


def _instruments(render_dir: Path) -> dict[str, Any] | None:
    """The render's ``samples.json`` (which vault played, every sample and its licence), if any."""
    try:
        data = json.loads((render_dir / "samples.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _generate_midi(spec: ProductionSpec) -> pretty_midi.PrettyMIDI:
    from jobs.patterns import generate_midi  # the pattern engine loads only when exporting

    return generate_midi(spec)


def export_task(request: JobRequest, progress: ProgressFn, files: JobFiles, *,
                midi_source: MidiSource | None = None) -> ExportResult:
    """Export a rendered version as ``<Title> Project.zip``.

    The result's ``checks`` list each checker rule and whether it passed.
    """
    payload = payload_of(request, ExportRequest)
    with files.scratch(request.production_id, request.job_id) as work:
        render_dir = files.gather(payload.rendered, work / "render")
        result = _export(request, payload, render_dir, work / "export", progress, midi_source)
        key = files.publish(request.production_id, f"v{request.version}/project.zip",
                            result.zip_path)
    replaced = _replaced(payload.replaces, keep=key)
    if replaced:
        files.store.forget(request.production_id, replaced)
        logger.info("dropped %d earlier project zip(s) of %s", len(replaced),
                    request.production_id)
    files.trim_cache()  # an S3 store's copy of the zip is in this host's cache
    return ExportResult.model_validate(
        {"artifacts": {"project.zip": key}, "checks": result.report.as_checks(),
         "size_bytes": result.size_bytes, "skipped": list(result.skipped)})


def _export(request: JobRequest, payload: ExportRequest, render_dir: Path, out_dir: Path,
            progress: ProgressFn, midi_source: MidiSource | None) -> ProjectExport:
    spec = payload.spec
    progress(0.0, "collecting the rendered tracks")
    tracks = find_track_files(spec, render_dir)
    has_patterns = any(t.source == "pattern" for t in spec.tracks)
    progress(0.2, "writing the MIDI patterns")
    midi = (midi_source or _generate_midi)(spec) if has_patterns else None
    master = next((render_dir / name for name in MASTER_NAMES if (render_dir / name).is_file()),
                  render_dir / MASTER_NAMES[0])
    progress(0.4, "writing the Live set and DAWproject")
    provenance = {"production_id": request.production_id, "version": request.version,
                  **payload.provenance.model_dump(mode="json"),
                  "stems": _named(payload.provenance.stems)}
    result = export_project(spec, tracks=tracks, midi=midi,
                            master=master if master.is_file() else None,
                            out_dir=out_dir, provenance=provenance,
                            instruments=_instruments(render_dir))
    progress(1.0, "project ready")
    return result

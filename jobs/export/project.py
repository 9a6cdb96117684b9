"""The download: one zip holding a Live project folder, checked before it is offered.

Layout (``<Name>`` is the sanitised title)::

    <Name> Project/
        <Name>.als                 Live set (gzip XML)
        <Name>.dawproject          DAWproject, referencing the same stems
        Ableton Project Info/      marks the folder as a Live project
        Samples/Imported/*.flac    every track's rendered audio (24-bit FLAC)
        MIDI/*.mid                 every pattern
        master.flac                the mastered mix (24-bit FLAC)
        README.txt                 what is inside, tempo, key
        manifest.json              what was made from what (provenance)

Every path inside the zip is built from sanitised names and checked again before it is
written, so nothing in a title, track name or file name can leave the project folder.

The audio goes in as FLAC (Live 11+ and DAWproject hosts read it), stored as it is: the render
cache keeps each track as FLAC already, so building a version's zip encodes nothing but its
master, and a track the version did not change is the same bytes as in the version before.
Audio louder than full scale, which FLAC's integers cannot hold, goes in as float WAV.
"""

from __future__ import annotations

import json
import logging
import posixpath
import re
import shutil
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pretty_midi
import soundfile as sf

from core.artifacts import atomic_target
from core.spec import ProductionSpec
from core.units import seconds_to_timestamp
from jobs.audio_io import fits_flac, write_flac
from jobs.export._xml import fmt, safe_name
from jobs.export.als import build_live_set, live_set_bytes
from jobs.export.checker import CheckReport, SampleInfo, check_live_set
from jobs.export.dawproject import dawproject_bytes, project_xml, referenced_files
from jobs.export.midi import midi_file_bytes
from jobs.export.model import ExportModel, build_model

__all__ = ["ExportCheckFailed", "ExportResult", "export_project", "safe_arcname"]

logger = logging.getLogger(__name__)

_WIN_ILLEGAL = re.compile(r'[<>:"\\|?*\x00-\x1f]')
_FIXED_TIME = (2020, 1, 1, 0, 0, 0)


class ExportCheckFailed(RuntimeError):
    """The export broke a rule Live enforces: a bug in the writer, so nothing is offered."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"the Live set failed {len(problems)} checks: " + "; ".join(problems[:5]))


@dataclass(frozen=True)
class ExportResult:
    """What an export produced."""

    zip_path: Path
    size_bytes: int
    report: CheckReport
    files: dict[str, int] = field(default_factory=dict)  #: path in the zip -> bytes
    skipped: tuple[str, ...] = ()


def safe_arcname(*parts: str) -> str:
    """Join sanitised parts into a zip path, refusing anything that could leave the folder."""
    path = posixpath.join(*parts)
    pieces = path.split("/")
    if (path.startswith("/") or any(p in ("", ".", "..") for p in pieces)
            or any(_WIN_ILLEGAL.search(p) for p in pieces) or re.match(r"^[A-Za-z]:", path)):
        raise ValueError(f"unsafe path in the project zip: {path!r}")
    return path


def export_project(
    spec: ProductionSpec,
    *,
    tracks: Mapping[str, Path],
    midi: pretty_midi.PrettyMIDI | None,
    master: Path | None,
    out_dir: Path,
    provenance: Mapping[str, Any],
    instruments: Mapping[str, Any] | None = None,
) -> ExportResult:
    """Write ``<Name> Project.zip`` into ``out_dir`` and return it with the checker's report.

    Parameters
    ----------
    spec : ProductionSpec
        The version being exported (tempo, key, sections, tracks and their mix).
    tracks : mapping of track name to audio file
        Each track's audio before the mix chain, full length from bar 1, at the spec tempo:
        FLAC goes in as it is, a WAV is encoded to FLAC when it fits.
    midi : pretty_midi.PrettyMIDI or None
        The patterns, one instrument per pattern track named after it.
    master : Path or None
        The mastered mix (encoded to FLAC when it is a WAV that fits).
    out_dir : Path
        Where the zip goes; nothing is written anywhere else.
    provenance : mapping
        What the export was made from (production, version, models, settings); stored in
        ``manifest.json``.
    instruments : mapping, optional
        The render's account of its instruments (``samples.json``: which vault played and every
        sample with its licence); the README credits each sample and the manifest lists them.

    Raises
    ------
    ExportCheckFailed
        When the Live set breaks one of the checker's rules; no zip is left behind.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".export-", dir=out_dir))
    try:
        flac_tracks = {name: _as_flac(Path(path), scratch) for name, path in tracks.items()}
        flac_master = _as_flac(Path(master), scratch) if master is not None else None
        return _write_zip(spec, tracks=flac_tracks, midi=midi, master=flac_master,
                          out_dir=out_dir, provenance=provenance, instruments=instruments)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _as_flac(source: Path, scratch: Path) -> Path:
    """``source`` as 24-bit FLAC: itself when it is one, else encoded into ``scratch`` (audio
    louder than full scale stays the float WAV it is: FLAC would clip it)."""
    if source.suffix.lower() == ".flac":
        return source
    audio, rate = sf.read(str(source), dtype="float32", always_2d=True)
    if not fits_flac(audio):
        return source
    target = scratch / source.with_suffix(".flac").name
    if target.exists():  # two sources of one name in different folders
        target = Path(tempfile.mkstemp(prefix=source.stem, suffix=".flac", dir=scratch)[1])
    return write_flac(target, audio.T, sample_rate=int(rate))


def _write_zip(spec: ProductionSpec, *, tracks: Mapping[str, Path],
               midi: pretty_midi.PrettyMIDI | None, master: Path | None, out_dir: Path,
               provenance: Mapping[str, Any],
               instruments: Mapping[str, Any] | None) -> ExportResult:
    model = build_model(spec, tracks=tracks, midi=midi)
    name = safe_name(spec.title, fallback="Vyke Production")
    folder = f"{name} Project"
    root = build_live_set(model)
    samples = {s.relative_path: SampleInfo(s.frames, s.sample_rate) for s in model.stems}
    report = check_live_set(root, samples=samples)
    project = project_xml(model)
    report.rule("dawproject files", [f"{path!r} is not a project sample"
                                     for path, _ in referenced_files(project)
                                     if path not in samples])
    if not report.ok:
        raise ExportCheckFailed(report.problems)
    target = out_dir / f"{folder}.zip"
    if target.resolve().parent != out_dir.resolve():
        raise ValueError(f"the zip would be written outside {out_dir}")
    master_name = f"master{master.suffix.lower()}" if master is not None else None
    files: dict[str, int] = {}
    with atomic_target(target, suffix=".zip") as tmp, \
            zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        def put(data: bytes, *parts: str, compress: bool = True) -> None:
            arc = safe_arcname(folder, *parts)
            info = zipfile.ZipInfo(arc, date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
            archive.writestr(info, data)
            files[arc] = len(data)

        def put_file(source: Path, *parts: str) -> None:
            arc = safe_arcname(folder, *parts)
            archive.write(source, arc, compress_type=zipfile.ZIP_STORED)
            files[arc] = source.stat().st_size

        put(live_set_bytes(root), f"{name}.als", compress=False)
        put(dawproject_bytes(model), f"{name}.dawproject", compress=False)
        put(b"", "Ableton Project Info", ".keep")
        for stem in model.stems:
            put_file(stem.source, "Samples", "Imported", stem.file_name)
        for part in model.midi:
            put(midi_file_bytes(model, part), "MIDI", part.file_name)
        if master is not None and master_name is not None:
            put_file(master, master_name)
        put(_readme(model, name=name, master_name=master_name,
                    instruments=instruments).encode(), "README.txt")
        put(json.dumps(_manifest(model, provenance, master_name=master_name,
                                 instruments=instruments),
                       indent=1, sort_keys=True).encode(), "manifest.json")
    size = target.stat().st_size
    logger.info("exported %s: %d files, %d bytes", target.name, len(files), size)
    return ExportResult(zip_path=target, size_bytes=size, report=report, files=files,
                        skipped=model.skipped)


def _readme(model: ExportModel, *, name: str, master_name: str | None,
            instruments: Mapping[str, Any] | None = None) -> str:
    spec = model.spec
    num, den = spec.time_signature
    length_s = model.length_beats * 60.0 / spec.tempo_bpm
    lines = [
        f"{spec.title}",
        "",
        f"Tempo {fmt(spec.tempo_bpm)} BPM, key {spec.key.long_name}, {num}/{den}, "
        f"{spec.total_bars} bars ({seconds_to_timestamp(length_s)}).",
        "",
        "Unzip first, then open:",
        f"  {name}.als          Ableton Live 11.3 or 12: every track's audio warped on the grid,",
        "                       the patterns as MIDI clips, a locator per section, the mix as",
        "                       Live devices (EQ Eight, Compressor with kick sidechain, Auto",
        "                       Filter sweeps, Utility gain), returns A-Reverb and B-Delay",
        "                       (add your reverb and delay there).",
        f"  {name}.dawproject   Bitwig, Studio One, Cubase and other DAWproject hosts.",
        "  Samples/Imported/   each track's audio before its mix chain (FLAC, 24-bit).",
        "  MIDI/               each pattern as a standard MIDI file.",
    ]
    if master_name is not None:
        lines.append(f"  {master_name:<20}the mastered mix, for reference.")
    lines += ["  manifest.json       what this was made from.", "", "Sections:"]
    lines += [f"  bar {int(m.start_beats // model.beats_per_bar) + 1:>3}  {m.name}"
              for m in model.markers]
    if model.skipped:
        lines += ["", "Not included:"] + [f"  {s}" for s in model.skipped]
    lines += _credits(instruments)
    return "\n".join(lines) + "\n"


def _credits(instruments: Mapping[str, Any] | None) -> list[str]:
    """The README's account of the recorded samples in the music, each with its licence."""
    if not instruments:
        return []
    samples = list(instruments.get("samples", []))
    if not samples:
        return ["", "Instruments: every drum and percussion sound is synthesised (no samples)."]
    lines = ["", "Samples in this music (each licence allows its use in your music):"]
    for row in samples:
        lines.append(f"  {row['file']}  ({row['role']}): {row['attribution']}"
                     + (f"; Debian package {row['package']}" if row.get("package") not in
                        (None, "", "Sound Vault") else ""))
    synth = list(instruments.get("synth_roles", []))
    if synth:
        lines.append(f"  Synthesised, not sampled: {', '.join(synth)}.")
    return lines


def _manifest(model: ExportModel, provenance: Mapping[str, Any], *, master_name: str | None,
              instruments: Mapping[str, Any] | None = None) -> dict[str, Any]:
    spec = model.spec
    extra = {} if instruments is None else {"instruments": dict(instruments)}
    return {
        **extra,
        "format": "vyke-export-1",
        "title": spec.title,
        "spec_fingerprint": spec.fingerprint(),
        "tempo_bpm": spec.tempo_bpm,
        "key": spec.key.long_name,
        "time_signature": list(spec.time_signature),
        "provenance": dict(provenance),
        "stems": {s.relative_path: {"track": s.track.name, "role": s.track.role.value,
                                    "source": s.track.source, "stem": s.track.stem or None,
                                    "frames": s.frames, "sample_rate": s.sample_rate}
                  for s in model.stems},
        "midi": {f"MIDI/{p.file_name}": {"track": p.name,
                                         "notes": sum(len(c.notes) for c in p.clips),
                                         "pattern": p.track.pattern.model_dump(mode="json")
                                         if p.track and p.track.pattern else None}
                 for p in model.midi},
        "master": master_name,
        "skipped": list(model.skipped),
    }

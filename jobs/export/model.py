"""The arrangement every exporter writes: one pure description built once from spec, stems and MIDI.

Times here are quarter-note beats from bar 1 (what Live, DAWproject and MIDI files share);
seconds from the renderer and pretty_midi are converted once, on entry, at the spec tempo.
The Live set, the DAWproject and the MIDI files are all written from this value, so they
list the same tracks, clips and notes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pretty_midi
import soundfile as sf

from core.spec import ProductionSpec, TrackSpec
from jobs.export._xml import unique_names

__all__ = [
    "ArrangedNote",
    "ExportModel",
    "MidiClipPart",
    "MidiPart",
    "SectionMarker",
    "StemFile",
    "beats_per_bar",
    "build_model",
]

_BEAT_DECIMALS = 6  # 1 µbeat: stable text in golden files, far below any audible difference


@dataclass(frozen=True, slots=True)
class StemFile:
    """A rendered track's audio file, as it will sit in ``Samples/Imported``."""

    track: TrackSpec
    source: Path  #: the renderer's file (FLAC; a float WAV when louder than full scale)
    file_name: str  #: sanitised, unique, with the source's extension (``.flac`` or ``.wav``)
    frames: int
    sample_rate: int  #: Hz
    channels: int
    size_bytes: int
    mtime_s: int  #: whole seconds since the epoch (Live's ``LastModDate``)

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate

    @property
    def relative_path(self) -> str:
        """Path from the project folder, forward slashes, as Live writes it."""
        return f"Samples/Imported/{self.file_name}"


@dataclass(frozen=True, slots=True)
class ArrangedNote:
    """A note in beats; ``start_beats`` is relative to the clip that holds it."""

    start_beats: float
    duration_beats: float
    pitch: int  #: MIDI 0–127
    velocity: int  #: 1–127


@dataclass(frozen=True, slots=True)
class MidiClipPart:
    """One arrangement clip: a section's worth of a pattern."""

    name: str
    start_beats: float
    end_beats: float
    notes: tuple[ArrangedNote, ...]


@dataclass(frozen=True, slots=True)
class MidiPart:
    """A pattern track's MIDI, cut into clips at section boundaries."""

    track: TrackSpec | None  #: the spec track it plays, when the names match
    name: str  #: the instrument's name (the spec track's name)
    file_name: str  #: sanitised ``.mid`` name
    is_drum: bool
    program: int
    clips: tuple[MidiClipPart, ...]

    def absolute_notes(self) -> list[ArrangedNote]:
        """Every note with its start in beats from bar 1, in time order."""
        notes = [ArrangedNote(round(c.start_beats + n.start_beats, _BEAT_DECIMALS),
                              n.duration_beats, n.pitch, n.velocity)
                 for c in self.clips for n in c.notes]
        return sorted(notes, key=lambda n: (n.start_beats, n.pitch))


@dataclass(frozen=True, slots=True)
class SectionMarker:
    """A locator at a section's first beat."""

    name: str
    start_beats: float
    end_beats: float


@dataclass(frozen=True)
class ExportModel:
    """Everything the writers need, in beats, with sanitised file names."""

    spec: ProductionSpec
    beats_per_bar: float
    length_beats: float  #: the arrangement's length (sections, or the longest stem)
    stems: tuple[StemFile, ...]
    midi: tuple[MidiPart, ...]
    markers: tuple[SectionMarker, ...]
    skipped: tuple[str, ...] = field(default=())  #: what could not be exported, in words

    def seconds_to_beats(self, seconds: float) -> float:
        return round(seconds * self.spec.tempo_bpm / 60.0, _BEAT_DECIMALS)


def beats_per_bar(spec: ProductionSpec) -> float:
    """Quarter-note beats in one bar: ``numerator · 4 / denominator`` (6/8 → 3)."""
    num, den = spec.time_signature
    return num * 4.0 / den


def build_model(
    spec: ProductionSpec,
    *,
    tracks: Mapping[str, Path],
    midi: pretty_midi.PrettyMIDI | None,
) -> ExportModel:
    """Read the stems' headers and cut the MIDI into section clips.

    Parameters
    ----------
    spec : ProductionSpec
    tracks : mapping of track name to audio file (FLAC or WAV)
        Only names of the spec's tracks are used; others are listed in ``skipped``.
    midi : pretty_midi.PrettyMIDI or None
        One instrument per pattern track, named after it, times in seconds from bar 1.
    """
    bpb = beats_per_bar(spec)
    spb = 60.0 / spec.tempo_bpm
    skipped: list[str] = []
    known = [t for t in spec.tracks if t.name in tracks]
    skipped += [f"the file for unknown track {name!r} was left out"
                for name in tracks if spec.track(name) is None]
    skipped += [f"track {t.name!r} has no rendered audio" for t in spec.tracks
                if t.name not in tracks]
    stems: list[StemFile] = []
    for track, file_stem in zip(known, unique_names(t.name for t in known), strict=True):
        path = Path(tracks[track.name])
        info = sf.info(str(path))
        stat = path.stat()
        stems.append(StemFile(track=track, source=path,
                              file_name=f"{file_stem}{path.suffix.lower()}",
                              frames=int(info.frames), sample_rate=int(info.samplerate),
                              channels=int(info.channels), size_bytes=stat.st_size,
                              mtime_s=int(stat.st_mtime)))
    markers: list[SectionMarker] = []
    for section, first, last in spec.section_bars():
        markers.append(SectionMarker(section.name, (first - 1) * bpb, last * bpb))
    stem_beats = max((s.duration_s / spb for s in stems), default=0.0)
    length = markers[-1].end_beats if markers else math.ceil(stem_beats / bpb) * bpb
    parts = _midi_parts(spec, midi, markers, length_beats=length, bpb=bpb) if midi else []
    if parts:
        last_note = max(n.start_beats + n.duration_beats for p in parts
                        for n in p.absolute_notes()) if any(p.clips for p in parts) else 0.0
        if last_note > length:
            length = math.ceil(last_note / bpb) * bpb
    return ExportModel(spec=spec, beats_per_bar=bpb, length_beats=max(length, bpb),
                       stems=tuple(stems), midi=tuple(parts), markers=tuple(markers),
                       skipped=tuple(skipped))


def _midi_parts(spec: ProductionSpec, midi: pretty_midi.PrettyMIDI,
                markers: list[SectionMarker], *, length_beats: float,
                bpb: float) -> list[MidiPart]:
    """Each instrument's notes, converted to beats and cut at section boundaries.

    A note belongs to the section its start falls in; one that rings past the section's
    end is shortened to it (Live stops a clip's notes at the clip end anyway).
    """
    bounds = [(m.name, m.start_beats, m.end_beats) for m in markers]
    names = unique_names(inst.name or f"midi {i + 1}" for i, inst in enumerate(midi.instruments))
    parts: list[MidiPart] = []
    for inst, file_stem in zip(midi.instruments, names, strict=True):
        notes = sorted(
            ((round(n.start * spec.tempo_bpm / 60.0, _BEAT_DECIMALS),
              round((n.end - n.start) * spec.tempo_bpm / 60.0, _BEAT_DECIMALS),
              int(n.pitch), int(n.velocity)) for n in inst.notes),
            key=lambda n: (n[0], n[2]),
        )
        spans = bounds or [("", 0.0, max(length_beats, max((n[0] + n[1] for n in notes),
                                                          default=bpb)))]
        clips: list[MidiClipPart] = []
        for index, (section, start, end) in enumerate(spans):
            is_last = index == len(spans) - 1  # notes past the last section stay in its clip
            inside = [n for n in notes if start <= n[0] and (is_last or n[0] < end)]
            if not inside:
                continue
            if is_last:
                end = max(end, math.ceil(max(t + d for t, d, _, _ in inside) / bpb) * bpb)
            clip_notes = tuple(
                ArrangedNote(round(t - start, _BEAT_DECIMALS),
                             round(max(min(d, end - t), 1e-3), _BEAT_DECIMALS),
                             min(max(p, 0), 127), min(max(v, 1), 127))
                for t, d, p, v in inside
            )
            label = section or inst.name
            clips.append(MidiClipPart(label, start, end, _without_overlaps(clip_notes)))
        parts.append(MidiPart(track=spec.track(inst.name), name=inst.name or file_stem,
                              file_name=f"{file_stem}.mid", is_drum=bool(inst.is_drum),
                              program=int(inst.program), clips=tuple(clips)))
    return parts


def _without_overlaps(notes: tuple[ArrangedNote, ...]) -> tuple[ArrangedNote, ...]:
    """Shorten a note that rings into the next one of the same pitch (Live refuses overlaps)."""
    out: list[ArrangedNote] = []
    last: dict[int, int] = {}
    for note in notes:
        prev_index = last.get(note.pitch)
        if prev_index is not None:
            prev = out[prev_index]
            if prev.start_beats + prev.duration_beats > note.start_beats:
                gap = round(note.start_beats - prev.start_beats, _BEAT_DECIMALS)
                if gap <= 0:
                    continue  # the same pitch struck twice at once: keep the first
                out[prev_index] = ArrangedNote(prev.start_beats, gap, prev.pitch, prev.velocity)
        last[note.pitch] = len(out)
        out.append(note)
    return tuple(out)

"""The DAWproject export (Bitwig, Studio One, Cubase …): the same tracks, tempo and clips as the set.

A ``.dawproject`` is a zip with ``project.xml`` and ``metadata.xml`` (schemas: the open
DAWproject 1.0 format). Audio is referenced ``external`` (relative to the ``.dawproject``
file, which sits beside the Live set), so the stems are stored once in the download.
Track gain, pan, sends, EQ and compression map to the format's generic devices; the
sidechain and filter sweeps have no generic form and stay in the Live set.
"""

from __future__ import annotations

import io
import zipfile

from lxml import etree

from core.spec import TrackSpec
from core.units import db_to_gain
from jobs.export._xml import fmt, sub
from jobs.export.model import ExportModel, MidiPart, StemFile

__all__ = ["dawproject_bytes", "metadata_xml", "project_xml", "referenced_files"]

_Element = etree._Element
_ROLE_COLORS = {"kick": "#d94c4c", "drums": "#e0803a", "percussion": "#e0b23a",
                "bass": "#4c7fd9", "music": "#3ab27f", "vocals": "#b24cd9", "fx": "#8a8a8a"}
_EQ_TYPES = {"low_shelf": "lowShelf", "peak": "bell", "high_shelf": "highShelf"}
_RETURNS = ("reverb", "delay")


class _Ids:
    """Document-unique XML ids (``id0``, ``id1`` …)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> str:
        self.count += 1
        return f"id{self.count}"


def _real(parent: _Element, tag: str, ids: _Ids, *, unit: str, val: float,
          low: float | None = None, high: float | None = None, name: str = "") -> _Element:
    attrs: dict[str, float | str] = {"id": ids(), "unit": unit, "value": val}
    if name:
        attrs["name"] = name
    if low is not None and high is not None:
        attrs.update(min=low, max=high)
    return sub(parent, tag, **attrs)


def _channel(track: _Element, ids: _Ids, *, role: str, destination: str | None,
             spec: TrackSpec | None, returns: dict[str, str], channel_id: str | None = None
             ) -> None:
    attrs: dict[str, str | int] = {"audioChannels": 2, "role": role, "id": channel_id or ids()}
    if destination:
        attrs["destination"] = destination
    channel = sub(track, "Channel", **attrs)
    if spec is not None and (spec.eq or spec.highpass_hz or spec.compression):
        devices = etree.SubElement(channel, "Devices")
        if spec.eq or spec.highpass_hz:
            eq = sub(devices, "Equalizer", id=ids(), deviceName="EQ", deviceRole="audioFX")
            bands = [("highPass", spec.highpass_hz, 0.0, 0.71)] if spec.highpass_hz else []
            bands += [(_EQ_TYPES[b.kind], b.freq_hz, b.gain_db, b.q) for b in spec.eq]
            for kind, freq, gain, q in bands:
                band = sub(eq, "Band", type=kind)
                _real(band, "Freq", ids, unit="hertz", val=freq)
                _real(band, "Gain", ids, unit="decibel", val=gain)
                _real(band, "Q", ids, unit="linear", val=q)
        if spec.compression is not None:
            c = spec.compression
            comp = sub(devices, "Compressor", id=ids(), deviceName="Compressor",
                       deviceRole="audioFX")
            _real(comp, "Attack", ids, unit="seconds", val=c.attack_ms / 1000.0)
            _real(comp, "Ratio", ids, unit="linear", val=c.ratio)
            _real(comp, "Release", ids, unit="seconds", val=c.release_ms / 1000.0)
            _real(comp, "Threshold", ids, unit="decibel", val=c.threshold_db)
    sub(channel, "Mute", id=ids(), value=bool(spec and spec.muted))
    _real(channel, "Pan", ids, unit="normalized", val=((spec.pan if spec else 0.0) + 1) / 2,
          low=0, high=1)
    if spec is not None and returns:
        sends = etree.SubElement(channel, "Sends")
        for name, target in returns.items():
            level = spec.sends_db.get(name)  # type: ignore[call-overload]
            send = sub(sends, "Send", id=ids(), destination=target, type="post")
            _real(send, "Volume", ids, unit="linear",
                  val=0.0 if level is None else db_to_gain(level), low=0, high=2)
    _real(channel, "Volume", ids, unit="linear",
          val=db_to_gain(spec.gain_db) if spec else 1.0, low=0, high=2)


def project_xml(model: ExportModel, *, app_version: str = "1") -> bytes:
    """``project.xml``: transport, tracks with mixer and devices, arrangement, markers."""
    ids = _Ids()
    spec = model.spec
    root = etree.Element("Project", version="1.0")
    sub(root, "Application", name="Vyke Produce", version=app_version)
    transport = etree.SubElement(root, "Transport")
    _real(transport, "Tempo", ids, unit="bpm", val=spec.tempo_bpm, low=20, high=999,
          name="Tempo")
    num, den = spec.time_signature
    sub(transport, "TimeSignature", id=ids(), numerator=num, denominator=den)
    structure = etree.SubElement(root, "Structure")
    master_id = ids()
    return_ids = {name: ids() for name in _RETURNS}
    lanes_for: list[tuple[str, StemFile | MidiPart]] = []
    for stem in model.stems:
        track_id = ids()
        track = sub(structure, "Track", id=track_id, name=stem.track.name, contentType="audio",
                    loaded=True, color=_ROLE_COLORS.get(stem.track.role.value, "#8a8a8a"))
        _channel(track, ids, role="regular", destination=master_id, spec=stem.track,
                 returns=return_ids)
        lanes_for.append((track_id, stem))
    for part in model.midi:
        track_id = ids()
        name = f"{part.name} MIDI" if any(s.track.name == part.name for s in model.stems) \
            else part.name
        track = sub(structure, "Track", id=track_id, name=name, contentType="notes",
                    loaded=True)
        _channel(track, ids, role="regular", destination=master_id, spec=None, returns={})
        lanes_for.append((track_id, part))
    for index, name in enumerate(_RETURNS):
        track = sub(structure, "Track", id=ids(), name=f"{chr(65 + index)}-{name.title()}",
                    contentType="audio", loaded=True)
        _channel(track, ids, role="effect", destination=master_id, spec=None, returns={},
                 channel_id=return_ids[name])
    master = sub(structure, "Track", id=ids(), name="Master", contentType="audio", loaded=True)
    _channel(master, ids, role="master", destination=None, spec=None, returns={},
             channel_id=master_id)
    arrangement = sub(root, "Arrangement", id=ids())
    lanes = sub(arrangement, "Lanes", id=ids(), timeUnit="beats")
    for track_id, content in lanes_for:
        lane = sub(lanes, "Lanes", id=ids(), track=track_id)
        clips = sub(lane, "Clips", id=ids())
        if isinstance(content, StemFile):
            _audio_clip(clips, ids, model, content)
        else:
            for part_clip in content.clips:
                clip = sub(clips, "Clip", time=part_clip.start_beats,
                           duration=part_clip.end_beats - part_clip.start_beats, playStart=0,
                           name=part_clip.name)
                notes = sub(clip, "Notes", id=ids())
                for note in part_clip.notes:
                    sub(notes, "Note", time=note.start_beats, duration=note.duration_beats,
                        channel=9 if content.is_drum else 0, key=note.pitch,
                        vel=round(note.velocity / 127.0, 6), rel=0.5)
    if model.markers:
        markers = sub(arrangement, "Markers", id=ids())
        for marker in model.markers:
            sub(markers, "Marker", time=marker.start_beats, name=marker.name)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True,
                          pretty_print=True)


def _audio_clip(clips: _Element, ids: _Ids, model: ExportModel, stem: StemFile) -> None:
    """The whole stem from bar 1, warped so its seconds land on the tempo's beats."""
    beats = model.seconds_to_beats(stem.duration_s)
    clip = sub(clips, "Clip", time=0, duration=beats, playStart=0, name=stem.track.name)
    warps = sub(clip, "Warps", id=ids(), contentTimeUnit="seconds", timeUnit="beats")
    audio = sub(warps, "Audio", id=ids(), channels=stem.channels, sampleRate=stem.sample_rate,
                duration=round(stem.duration_s, 9))
    sub(audio, "File", path=stem.relative_path, external=True)
    sub(warps, "Warp", time=0, contentTime=0)
    sub(warps, "Warp", time=beats, contentTime=round(stem.duration_s, 9))


def metadata_xml(model: ExportModel, *, comment: str = "") -> bytes:
    """``metadata.xml``: title, genre and a comment (the key and tempo)."""
    root = etree.Element("MetaData")
    etree.SubElement(root, "Title").text = model.spec.title
    etree.SubElement(root, "Producer").text = "Vyke Produce"
    etree.SubElement(root, "Genre").text = model.spec.genre
    etree.SubElement(root, "Comment").text = comment or (
        f"{model.spec.key.long_name}, {fmt(model.spec.tempo_bpm)} BPM")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True,
                          pretty_print=True)


def dawproject_bytes(model: ExportModel) -> bytes:
    """The ``.dawproject`` container: ``project.xml`` and ``metadata.xml`` in a zip."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in (("project.xml", project_xml(model)),
                           ("metadata.xml", metadata_xml(model))):
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()


def referenced_files(project: bytes) -> list[tuple[str, bool]]:
    """Every ``File`` a ``project.xml`` names, as ``(path, external)``."""
    root = etree.fromstring(project)
    return [(el.get("path", ""), el.get("external") == "true") for el in root.iter("File")]


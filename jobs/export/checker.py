"""A strict checker of the rules Live enforces on a set, run on every export before it is offered.

Live refuses, crashes on or silently damages sets that break these rules (duplicate pointee
ids, ``NextPointeeId`` not above them, more send knobs than return tracks, clip slots that do
not match the scenes, a value element without ``Value`` …). The checker reads the XML as
written, independently of the writer, so a writer bug cannot hide from it.
"""

from __future__ import annotations

import gzip
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import pairwise

from lxml import etree

__all__ = ["CheckReport", "SampleInfo", "check_live_set"]

_Element = etree._Element

CONTAINERS = frozenset({
    "Value", "LockedScripts", "Envelopes", "Events", "Devices", "SignalModulations",
    "TakeLanes", "Tracks", "Scenes", "SendsPre", "Sends", "ExpressionLanes", "ContentLanes",
    "Locators", "DetailClipKeyMidis", "Grooves", "LinkedTrackGroups", "UserOnsets",
    "SavedWarpMarkersForStretched", "EventLists", "TimeAndValueTransforms", "SourceContext",
    "KeyTracks", "Notes", "ClipSlotList", "WarpMarkers", "AutomationLanes", "MidiControllers",
})
"""Elements that may be empty: lists and holders, never values."""

_BEFORE_SONG_START = -63072000.0
_EXPONENT = re.compile(r"^-?\d+(\.\d+)?[eE][-+]?\d+$")
_TRACK_REF = re.compile(r"Track\.(\d+)")
_WIN_ILLEGAL = re.compile(r'[<>:"\\|?*\x00-\x1f]')


@dataclass(frozen=True, slots=True)
class SampleInfo:
    """What the project folder holds at a sample's relative path."""

    frames: int
    sample_rate: int


@dataclass
class CheckReport:
    """The checker's findings: each rule checked, and every problem in words."""

    rules: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def rule(self, name: str, problems: list[str]) -> None:
        self.rules.append(name)
        self.problems += [f"{name}: {p}" for p in problems]

    def as_checks(self) -> list[dict[str, object]]:
        """One ``{"name", "passed", "problems"}`` per rule, for a job result."""
        return [{"name": r, "passed": not [p for p in self.problems if p.startswith(f"{r}:")],
                 "problems": [p for p in self.problems if p.startswith(f"{r}:")]}
                for r in self.rules]


def _is_pointee(tag: str) -> bool:
    """Pool members, by suffix as Live names them (routing ``Target``s are strings, not ids)."""
    if tag in ("Target", "EnvelopeTarget"):
        return False
    return tag.endswith("Target") or tag == "Pointee" or tag.startswith("ControllerTargets.")


def _val(el: _Element | None) -> str | None:
    return None if el is None else el.get("Value")


def check_live_set(data: bytes | _Element, *,
                   samples: Mapping[str, SampleInfo] | None = None) -> CheckReport:
    """Check a Live set (``.als`` bytes, plain XML bytes or a parsed root).

    Parameters
    ----------
    data : bytes or lxml element
        The set; gzip is detected from its magic bytes.
    samples : mapping of relative path to SampleInfo, optional
        The project folder's WAVs; when given, every sample reference must name one of them
        with the same frame count and rate.
    """
    report = CheckReport()
    if isinstance(data, bytes):
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        try:
            root = etree.fromstring(data)
        except etree.XMLSyntaxError as exc:
            report.rule("xml", [str(exc)])
            return report
    else:
        root = data
    report.rule("header", _header(root))
    live = root.find("LiveSet")
    if live is None:
        return report
    report.rule("pointee ids", _pointees(live))
    report.rule("tracks", _tracks(live))
    report.rule("sends and returns", _sends(live))
    report.rule("clip slots and scenes", _slots(live))
    report.rule("list ids", _list_ids(live))
    report.rule("values", _values(root))
    report.rule("clips", _clips(live))
    report.rule("notes", _notes(live))
    report.rule("tempo and time signature", _tempo(live))
    report.rule("samples", _samples(live, samples))
    return report


def _header(root: _Element) -> list[str]:
    problems = []
    if root.tag != "Ableton":
        problems.append(f"root is <{root.tag}>, not <Ableton>")
    if root.get("MajorVersion") != "5" or not (root.get("MinorVersion") or "").startswith("11."):
        problems.append(f"not a Live 11 header: {dict(root.attrib)}")
    for name in ("SchemaChangeCount", "Creator", "Revision"):
        if name not in root.attrib:
            problems.append(f"header lacks {name}")
    if len(root.findall("LiveSet")) != 1 or len(root) != 1:
        problems.append("the root must hold exactly one <LiveSet>")
    return problems


def _pointees(live: _Element) -> list[str]:
    ids = [int(el.get("Id", "-1")) for el in live.iter() if _is_pointee(el.tag)]
    problems = [f"pointee id {i} used {n} times" for i, n in Counter(ids).items() if n > 1]
    problems += ["a pointee has no Id"] if -1 in ids else []
    next_id = _val(live.find("NextPointeeId"))
    if next_id is None or not next_id.lstrip("-").isdigit():
        problems.append("NextPointeeId is missing")
    elif ids and int(next_id) <= max(ids):
        problems.append(f"NextPointeeId {next_id} is not above the largest id {max(ids)}")
    known = set(ids)
    for ref in live.iter("PointeeId"):
        if int(ref.get("Value", "-1")) not in known:
            problems.append(f"an envelope targets unknown pointee {ref.get('Value')}")
    return problems


def _player_and_return_tracks(live: _Element) -> list[_Element]:
    tracks = live.find("Tracks")
    return [] if tracks is None else list(tracks)


def _tracks(live: _Element) -> list[str]:
    problems: list[str] = []
    tracks = _player_and_return_tracks(live)
    allowed = {"AudioTrack", "MidiTrack", "GroupTrack", "ReturnTrack"}
    problems += [f"unknown track kind <{t.tag}>" for t in tracks if t.tag not in allowed]
    ids = [t.get("Id") for t in tracks]
    problems += [f"track id {i} used {n} times" for i, n in Counter(ids).items() if n > 1]
    kinds = [t.tag for t in tracks]
    if "ReturnTrack" in kinds:
        first_return = kinds.index("ReturnTrack")
        if any(k != "ReturnTrack" for k in kinds[first_return:]):
            problems.append("return tracks must come after every other track")
    seen_groups: set[str | None] = set()
    for track in tracks:
        group = _val(track.find("TrackGroupId"))
        if group not in (None, "-1") and group not in seen_groups:
            problems.append(f"track {track.get('Id')} is in group {group}, which is not "
                            "defined before it")
        if track.tag == "GroupTrack":
            seen_groups.add(track.get("Id"))
    known = {i for i in ids if i is not None}
    for el in live.iter("Target"):
        for ref in _TRACK_REF.findall(el.get("Value", "")):
            if ref not in known:
                problems.append(f"routing {el.get('Value')!r} names no track")
    if live.find("MasterTrack") is None:
        problems.append("no MasterTrack")
    return problems


def _sends(live: _Element) -> list[str]:
    tracks = _player_and_return_tracks(live)
    returns = sum(1 for t in tracks if t.tag == "ReturnTrack")
    problems = []
    for track in tracks:
        holders = track.findall("DeviceChain/Mixer/Sends/TrackSendHolder")
        if len(holders) != returns:
            problems.append(f"track {track.get('Id')} has {len(holders)} sends for "
                            f"{returns} return tracks")
    pre = live.findall("SendsPre/SendPreBool")
    if len(pre) != returns:
        problems.append(f"SendsPre has {len(pre)} entries for {returns} return tracks")
    return problems


def _slots(live: _Element) -> list[str]:
    scenes = len(live.findall("Scenes/Scene"))
    problems = [] if scenes >= 1 else ["the set has no scene"]
    for track in _player_and_return_tracks(live):
        for seq in ("MainSequencer", "FreezeSequencer"):
            lists = track.findall(f"DeviceChain/{seq}/ClipSlotList")
            for slots in lists:
                if len(slots) != scenes:
                    problems.append(f"track {track.get('Id')} {seq} has {len(slots)} clip slots "
                                    f"for {scenes} scenes")
        group_slots = track.findall("Slots/GroupTrackSlot")
        if track.tag == "GroupTrack" and len(group_slots) != scenes:
            problems.append(f"group {track.get('Id')} has {len(group_slots)} slots")
    return problems


def _list_ids(live: _Element) -> list[str]:
    """Per-parent list ids run 0..n-1 (clip slots, scenes, sends, envelopes, key tracks …)."""
    tags = {"ClipSlot", "Scene", "TrackSendHolder", "SendPreBool", "AutomationEnvelope",
            "KeyTrack", "RemoteableTimeSignature", "AutomationLane", "GroupTrackSlot",
            "Locator", "AudioClip", "MidiClip", "FloatEvent", "EnumEvent", "BoolEvent"}
    problems = []
    for parent in live.iter():
        children = [c for c in parent if c.tag in tags and c.get("Id") is not None]
        if children and [c.get("Id") for c in children] != [str(i) for i in
                                                           range(len(children))]:
            problems.append(f"<{parent.tag}> list ids are {[c.get('Id') for c in children]}")
    return problems


def _values(root: _Element) -> list[str]:
    """Every leaf carries a value; booleans are lowercase; numbers have no exponent."""
    problems = []
    for el in root.iter():
        if len(el) == 0 and not el.attrib and el.tag not in CONTAINERS:
            problems.append(f"<{el.tag}> (line {el.sourceline}) has no Value")
        for name, text in el.attrib.items():
            if text in ("True", "False", "TRUE", "FALSE"):
                problems.append(f"<{el.tag} {name}={text!r}>: booleans must be lowercase")
            if _EXPONENT.match(text) or text.lower() in ("nan", "inf", "-inf"):
                problems.append(f"<{el.tag} {name}={text!r}>: not a plain decimal")
    return problems


def _clips(live: _Element) -> list[str]:
    problems = []
    for events in live.iter("Events"):
        clips = [c for c in events if c.tag in ("AudioClip", "MidiClip")]
        previous_end = None
        for clip in clips:
            time = float(clip.get("Time", "nan"))
            start = float(_val(clip.find("CurrentStart")) or "nan")
            end = float(_val(clip.find("CurrentEnd")) or "nan")
            if not start == time < end:
                problems.append(f"{clip.tag} at {time}: CurrentStart {start}, CurrentEnd {end}")
            if previous_end is not None and time < previous_end - 1e-9:
                problems.append(f"{clip.tag} at {time} overlaps the clip before it")
            previous_end = end
            if _val(clip.find("IsWarped")) == "true" and clip.tag == "AudioClip":
                markers = clip.findall("WarpMarkers/WarpMarker")
                beats = [float(m.get("BeatTime", "nan")) for m in markers]
                secs = [float(m.get("SecTime", "nan")) for m in markers]
                if len(markers) < 2 or beats != sorted(beats) or secs != sorted(secs):
                    problems.append(f"warped clip at {time} needs two or more ordered markers")
    return problems


def _notes(live: _Element) -> list[str]:
    problems = []
    for clip in live.iter("MidiClip"):
        where = f"clip at {clip.get('Time')}"
        next_id = int(_val(clip.find("Notes/NoteIdGenerator/NextId")) or 0)
        note_ids = []
        for key_track in clip.findall("Notes/KeyTracks/KeyTrack"):
            key = int(_val(key_track.find("MidiKey")) or -1)
            if not 0 <= key <= 127:
                problems.append(f"{where}: pitch {key} outside 0–127")
            notes = sorted(((float(n.get("Time", "nan")), float(n.get("Duration", "nan")), n)
                            for n in key_track.findall("Notes/MidiNoteEvent")),
                           key=lambda x: x[0])
            for (t0, d0, _), (t1, _, _) in pairwise(notes):
                if t0 + d0 > t1 + 1e-9:
                    problems.append(f"{where}: pitch {key} notes at {t0} and {t1} overlap")
            for _, duration, note in notes:
                note_ids.append(int(note.get("NoteId", "0")))
                velocity = float(note.get("Velocity", "0"))
                if duration <= 0 or not 1 <= velocity <= 127:
                    problems.append(f"{where}: note at {note.get('Time')} has duration "
                                    f"{duration}, velocity {velocity}")
        if len(set(note_ids)) != len(note_ids):
            problems.append(f"{where}: note ids repeat")
        if note_ids and (max(note_ids) >= next_id or min(note_ids) < 1):
            problems.append(f"{where}: note ids {min(note_ids)}–{max(note_ids)} not below the "
                            f"clip's next id {next_id}")
    return problems


def _tempo(live: _Element) -> list[str]:
    problems = []
    mixer = live.find("MasterTrack/DeviceChain/Mixer")
    if mixer is None:
        return ["the master track has no mixer"]
    tempo = _val(mixer.find("Tempo/Manual"))
    timesig = _val(mixer.find("TimeSignature/Manual"))
    if mixer.find("Tempo/AutomationTarget") is None or \
            mixer.find("Tempo/AutomationTarget").get("Id") != "8":
        problems.append("the tempo's automation target must be Live's fixed id 8")
    envelopes = {_val(e.find("EnvelopeTarget/PointeeId")): e
                 for e in live.findall("MasterTrack/AutomationEnvelopes/Envelopes/"
                                       "AutomationEnvelope")}
    for target, manual, name in (("8", tempo, "tempo"), ("10", timesig, "time signature")):
        envelope = envelopes.get(target)
        first = None if envelope is None else envelope.find("Automation/Events")
        event = None if first is None or len(first) == 0 else first[0]
        if event is None or float(event.get("Time", "0")) != _BEFORE_SONG_START:
            problems.append(f"no initial {name} event before the song start")
        elif manual is None or float(event.get("Value", "nan")) != float(manual):
            problems.append(f"{name} {manual} disagrees with its envelope "
                            f"({event.get('Value')})")
    if timesig is not None:
        v = int(timesig)
        numerator, denominator = v % 99 + 1, 2 ** (v // 99)
        if not 1 <= numerator <= 99 or denominator not in (1, 2, 4, 8, 16):
            problems.append(f"time signature value {v} does not decode")
    if tempo is None or not 20 <= float(tempo) <= 999:
        problems.append(f"tempo {tempo} outside Live's 20–999 BPM")
    return problems


def _samples(live: _Element, samples: Mapping[str, SampleInfo] | None) -> list[str]:
    problems = []
    for ref in live.iter("SampleRef"):
        rel = _val(ref.find("FileRef/RelativePath")) or ""
        if _val(ref.find("FileRef/RelativePathType")) != "3":
            problems.append(f"{rel!r}: not relative to the project (RelativePathType 3)")
        parts = rel.split("/")
        if (not rel.startswith("Samples/Imported/") or ".." in parts or "\\" in rel
                or any(_WIN_ILLEGAL.search(p) for p in parts)):
            problems.append(f"{rel!r}: sample paths must stay in Samples/Imported")
        if _val(ref.find("FileRef/Path")) not in ("", None):
            problems.append(f"{rel!r}: an absolute path from the export machine leaks in")
        mod = _val(ref.find("LastModDate")) or ""
        if not (mod.isdigit() and len(mod) == 10):
            problems.append(f"{rel!r}: LastModDate {mod!r} is not 10-digit seconds")
        if samples is not None:
            info = samples.get(rel)
            frames = _val(ref.find("DefaultDuration"))
            rate = _val(ref.find("DefaultSampleRate"))
            if info is None:
                problems.append(f"{rel!r} is not in the project")
            elif (str(info.frames), str(info.sample_rate)) != (frames, rate):
                problems.append(f"{rel!r}: set says {frames} frames at {rate} Hz, the file has "
                                f"{info.frames} at {info.sample_rate}")
    return problems

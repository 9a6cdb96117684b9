"""The Ableton Live set writer: Live 11 vocabulary, built from scratch with lxml, one id allocator.

The set holds, in this order: for each spec track its audio track (the rendered stem, warped
on the grid, with the mix as native devices) followed by its MIDI track when it has a
pattern; then the two return tracks (A Reverb, B Delay); the master track (tempo, time
signature, master chain); a locator per section. Element names and order follow sets
saved by Live 11.3 (``MinorVersion 11.0_11300``), so Live 11.3 and 12 open it; Live 12
upgrades it on load.
"""

from __future__ import annotations

import gzip
import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from lxml import etree

from core.spec import Automation, TrackRole, TrackSpec
from jobs.export._devices import (
    MIN_GAIN,
    Param,
    auto_filter,
    compressor,
    cutoff_to_live,
    device_header,
    eq_eight,
    gain_to_live,
    param,
    utility,
)
from jobs.export._xml import IdAllocator, sub, value, values
from jobs.export.model import ExportModel, MidiClipPart, MidiPart, StemFile

__all__ = [
    "CREATOR",
    "MINOR_VERSION",
    "RETURNS",
    "SCENE_COUNT",
    "build_live_set",
    "live_set_bytes",
    "live_set_xml",
    "time_signature_value",
]

_Element = etree._Element

MINOR_VERSION = "11.0_11300"
"""Live 11.3's schema: the newest that Live 11.3 opens; Live 12 upgrades it."""
SCHEMA_CHANGE_COUNT = 3
CREATOR = "Vyke Produce"
RETURNS = ("Reverb", "Delay")
"""Return tracks, in send order: ``sends_db["reverb"]`` feeds A, ``["delay"]`` feeds B."""
SCENE_COUNT = 8
"""Live's default; every track gets this many clip slots."""
BEFORE_SONG_START = -63072000
"""The time of an envelope's initial value ("before the song starts"), in beats."""
OVERWRITE_PROTECTION = 2816
SIDECHAIN_RATIO = 4.0
SIDECHAIN_KICK_PEAK_DB = -6.0
"""Assumed kick level at the compressor's side input when setting the ducking threshold."""

_TEMPO_TARGET, _TEMPO_MODULATION, _TIMESIG_TARGET = 8, 9, 10
_COLORS = {TrackRole.KICK: 1, TrackRole.DRUMS: 2, TrackRole.PERCUSSION: 3, TrackRole.BASS: 13,
           TrackRole.MUSIC: 20, TrackRole.VOCALS: 26, TrackRole.FX: 16}
_WARP_MODES = {TrackRole.KICK: 0, TrackRole.DRUMS: 0, TrackRole.PERCUSSION: 0}  # Beats
_COMPLEX = 4
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_AUTOMATION_STEPS = 16


def _text(raw: str) -> str:
    """A name with the characters XML cannot hold removed."""
    return _XML_ILLEGAL.sub("", raw)


def time_signature_value(numerator: int, denominator: int) -> int:
    """Live's time-signature enum: ``99·log2(denominator) + numerator − 1`` (4/4 → 201)."""
    return 99 * round(math.log2(denominator)) + numerator - 1


@dataclass
class _Track:
    """What later steps need to know about a written track."""

    element: _Element
    envelopes: _Element
    track_id: int


class _Writer:
    """Builds one Live set; holds the single :class:`IdAllocator`."""

    def __init__(self, model: ExportModel) -> None:
        self.model = model
        self.spec = model.spec
        self.ids = IdAllocator()
        num, den = self.spec.time_signature
        self.num, self.den = num, den

    # ------------------------------------------------------------ document
    def build(self) -> _Element:
        root = etree.Element("Ableton", {
            "MajorVersion": "5", "MinorVersion": MINOR_VERSION,
            "SchemaChangeCount": str(SCHEMA_CHANGE_COUNT), "Creator": CREATOR, "Revision": ""})
        live = etree.SubElement(root, "LiveSet")
        next_pointee = value(live, "NextPointeeId", 0)
        values(live, OverwriteProtectionNumber=OVERWRITE_PROTECTION, LomId=0, LomIdView=0)
        tracks = etree.SubElement(live, "Tracks")
        self._player_tracks(tracks)
        for index, name in enumerate(RETURNS):
            self._return_track(tracks, name, index)
        self._master(live)
        self._prehear(live)
        sends_pre = etree.SubElement(live, "SendsPre")
        for index in range(len(RETURNS)):
            value(sub(sends_pre, "SendPreBool", Id=index), "Value", False)
        self._scenes(live)
        self._transport(live)
        self._view_state(live)
        next_pointee.set("Value", str(self.ids.next_pointee_id))
        return root

    def _player_tracks(self, tracks: _Element) -> None:
        """Audio tracks (with a MIDI track after each pattern track), in spec order."""
        stems = {s.track.name: s for s in self.model.stems}
        parts = {p.name: p for p in self.model.midi}
        order = [t.name for t in self.spec.tracks if t.name in stems or t.name in parts]
        order += [p.name for p in self.model.midi if p.name not in order]
        # ids first, so a sidechain can name a track written later
        self.audio_ids = {name: self.ids.track() for name in order if name in stems}
        self.midi_ids = {name: self.ids.track() for name in order if name in parts}
        for name in order:
            if name in stems:
                self._audio_track(tracks, stems[name])
            if name in parts:
                self._midi_track(tracks, parts[name])

    # ------------------------------------------------------------ track skeleton
    def _track_header(self, parent: _Element, tag: str, *, track_id: int | None, name: str,
                      color: int) -> _Track:
        el = etree.SubElement(parent, tag) if track_id is None else sub(parent, tag, Id=track_id)
        values(el, LomId=0, LomIdView=0, IsContentSelectedInDocument=False,
               PreferredContentViewMode=0)
        delay = etree.SubElement(el, "TrackDelay")
        value(delay, "Value", 0)
        value(delay, "IsValueSampleBased", False)
        names = etree.SubElement(el, "Name")
        values(names, EffectiveName=_text(name),
               UserName=_text(name) if tag != "MasterTrack" else "", Annotation="",
               MemorizedFirstClipName="")
        value(el, "Color", color)
        envelopes = etree.SubElement(etree.SubElement(el, "AutomationEnvelopes"), "Envelopes")
        value(el, "TrackGroupId", -1)
        value(el, "TrackUnfolded", tag != "MasterTrack")
        sub(el, "DevicesListWrapper", LomId=0)
        sub(el, "ClipSlotsListWrapper", LomId=0)
        value(el, "ViewData", "{}")
        lanes = etree.SubElement(el, "TakeLanes")
        etree.SubElement(lanes, "TakeLanes")
        value(lanes, "AreTakeLanesFolded", True)
        value(el, "LinkedTrackGroupId", -1)
        if tag in ("AudioTrack", "MidiTrack"):
            values(el, SavedPlayingSlot=-1, SavedPlayingOffset=0, Freeze=False, VelocityDetail=0,
                   NeedArrangerRefreeze=True, PostProcessFreezeClips=0)
        return _Track(el, envelopes, track_id if track_id is not None else -1)

    def _routing(self, chain: _Element, tag: str, target: str, upper: str,
                 lower: str = "") -> None:
        node = etree.SubElement(chain, tag)
        values(node, Target=target, UpperDisplayString=upper, LowerDisplayString=lower)
        mpe = etree.SubElement(node, "MpeSettings")
        values(mpe, ZoneType=0, FirstNoteChannel=1, LastNoteChannel=15)

    def _chain_start(self, track: _Track, *, audio_in: tuple[str, str, str],
                     audio_out: tuple[str, str, str]) -> _Element:
        chain = etree.SubElement(track.element, "DeviceChain")
        lanes = etree.SubElement(chain, "AutomationLanes")
        inner = etree.SubElement(lanes, "AutomationLanes")
        lane = sub(inner, "AutomationLane", Id=0)
        values(lane, SelectedDevice=0, SelectedEnvelope=0, IsContentSelectedInDocument=False,
               LaneHeight=68)
        value(lanes, "AreAdditionalAutomationLanesFolded", False)
        chooser = etree.SubElement(chain, "ClipEnvelopeChooserViewState")
        values(chooser, SelectedDevice=0, SelectedEnvelope=0, PreferModulationVisible=False)
        self._routing(chain, "AudioInputRouting", *audio_in)
        self._routing(chain, "MidiInputRouting", "MidiIn/External.All/-1", "Ext: All Ins")
        self._routing(chain, "AudioOutputRouting", *audio_out)
        self._routing(chain, "MidiOutputRouting", "MidiOut/None", "None")
        return chain

    def _mixer(self, chain: _Element, *, sends_db: dict[str, float] | None, pan: float = 0.0,
               on: bool = True, volume: float = 1.0, master: bool = False) -> dict[str, int]:
        mixer = etree.SubElement(chain, "Mixer")
        device_header(mixer, self.ids, is_device=False)
        sends = etree.SubElement(mixer, "Sends")
        targets: dict[str, int] = {}
        if sends_db is not None:
            for index, name in enumerate(RETURNS):
                holder = sub(sends, "TrackSendHolder", Id=index)
                level = sends_db.get(name.lower())
                targets[f"send.{name.lower()}"] = param(
                    holder, Param("Send", "float", MIN_GAIN, MIN_GAIN, 1.0), self.ids,
                    manual=MIN_GAIN if level is None else gain_to_live(level, high=1.0))
                value(holder, "Active", True)
        param(mixer, Param("Speaker", "bool", True), self.ids, manual=on)
        value(mixer, "SoloSink", False)
        value(mixer, "PanMode", 0)
        param(mixer, Param("Pan", "float", 0.0, -1.0, 1.0), self.ids, manual=pan)
        param(mixer, Param("SplitStereoPanL", "float", -1.0, -1.0, 1.0), self.ids)
        param(mixer, Param("SplitStereoPanR", "float", 1.0, -1.0, 1.0), self.ids)
        param(mixer, Param("Volume", "float", 1.0, MIN_GAIN, 1.99526238), self.ids,
              manual=volume)
        value(mixer, "ViewStateSesstionTrackWidth", 93)
        param(mixer, Param("CrossFadeState", "enum", 1), self.ids)
        sub(mixer, "SendsListWrapper", LomId=0)
        if master:
            self._tempo_nodes(mixer)
        return targets

    def _tempo_nodes(self, mixer: _Element) -> None:
        tempo = etree.SubElement(mixer, "Tempo")
        value(tempo, "LomId", 0)
        value(tempo, "Manual", self.spec.tempo_bpm)
        rng = etree.SubElement(tempo, "MidiControllerRange")
        value(rng, "Min", 60)
        value(rng, "Max", 200)
        value(sub(tempo, "AutomationTarget", Id=self.ids.fixed(_TEMPO_TARGET)), "LockEnvelope", 0)
        value(sub(tempo, "ModulationTarget", Id=self.ids.fixed(_TEMPO_MODULATION)),
              "LockEnvelope", 0)
        timesig = etree.SubElement(mixer, "TimeSignature")
        value(timesig, "LomId", 0)
        value(timesig, "Manual", time_signature_value(self.num, self.den))
        value(sub(timesig, "AutomationTarget", Id=self.ids.fixed(_TIMESIG_TARGET)),
              "LockEnvelope", 0)
        param(mixer, Param("GlobalGrooveAmount", "float", 100.0, 0.0, 131.25), self.ids)
        param(mixer, Param("CrossFade", "float", 0.0, -1.0, 1.0), self.ids)
        value(mixer, "TempoAutomationViewBottom", 60)
        value(mixer, "TempoAutomationViewTop", 200)

    def _sequencer_header(self, seq: _Element) -> None:
        device_header(seq, self.ids, is_device=False)
        slots = etree.SubElement(seq, "ClipSlotList")
        for index in range(SCENE_COUNT):
            slot = sub(slots, "ClipSlot", Id=index)
            value(slot, "LomId", 0)
            etree.SubElement(etree.SubElement(slot, "ClipSlot"), "Value")
            value(slot, "HasStop", True)
            value(slot, "NeedRefreeze", True)
        value(seq, "MonitoringEnum", 1)

    def _arranger(self, parent: _Element) -> _Element:
        return _automation_events(parent, "ArrangerAutomation")

    def _audio_sequencer(self, chain: _Element, tag: str) -> _Element:
        seq = etree.SubElement(chain, tag)
        self._sequencer_header(seq)
        events = self._arranger(etree.SubElement(seq, "Sample"))
        for name in ("Volume", "Transposition", "GrainSize", "Flux", "SampleOffset"):
            value(sub(seq, f"{name}ModulationTarget", Id=self.ids.pointee()), "LockEnvelope", 0)
        value(seq, "PitchViewScrollPosition", -1073741824)
        value(seq, "SampleOffsetModulationScrollPosition", -1073741824)
        recorder = etree.SubElement(seq, "Recorder")
        value(recorder, "IsArmed", False)
        value(recorder, "TakeCounter", 1)
        return events

    def _chain_end(self, chain: _Element) -> _Element:
        inner = etree.SubElement(chain, "DeviceChain")
        devices = etree.SubElement(inner, "Devices")
        etree.SubElement(inner, "SignalModulations")
        return devices

    # ------------------------------------------------------------ audio tracks
    def _audio_track(self, tracks: _Element, stem: StemFile) -> None:
        spec = stem.track
        track = self._track_header(tracks, "AudioTrack", track_id=self.audio_ids[spec.name],
                                   name=spec.name, color=_COLORS.get(spec.role, 0))
        chain = self._chain_start(track, audio_in=("AudioIn/External/S0", "Ext. In", "1/2"),
                                  audio_out=("AudioOut/Master", "Master", ""))
        sends = dict(spec.sends_db)
        mixer_targets = self._mixer(chain, sends_db=sends, pan=spec.pan, on=not spec.muted)
        events = self._audio_sequencer(chain, "MainSequencer")
        self._audio_clip(events, stem)
        self._audio_sequencer(chain, "FreezeSequencer")
        devices = self._chain_end(chain)
        targets = self._track_devices(devices, spec)
        targets.update(mixer_targets)
        self._automation(track.envelopes, spec, targets)

    def _track_devices(self, devices: _Element, spec: TrackSpec) -> dict[str, int]:
        """EQ Eight, Compressor, Auto Filter, sidechain Compressor, Utility: the track's mix."""
        targets: dict[str, int] = {}
        index = 0
        automated = {a.parameter for a in spec.automation}
        bands: list[tuple[str, float, float, float]] = []
        if spec.highpass_hz > 0 or "highpass_hz" in automated:
            bands.append(("highpass", max(spec.highpass_hz, 10.0), 0.0, 0.71))
        bands += [(b.kind, b.freq_hz, min(max(b.gain_db, -15.0), 15.0), b.q) for b in spec.eq]
        if bands:
            eq = eq_eight(devices, index, self.ids, bands[:8])
            index += 1
            if "band0.freq" in eq and bands[0][0] == "highpass":
                targets["highpass_hz"] = eq["band0.freq"]
        if spec.compression is not None:
            c = spec.compression
            compressor(devices, index, self.ids, threshold_db=c.threshold_db, ratio=c.ratio,
                       attack_ms=c.attack_ms, release_ms=c.release_ms)
            index += 1
        if "filter_cutoff_hz" in automated:
            targets["filter_cutoff_hz"] = auto_filter(devices, index, self.ids,
                                                      cutoff_hz=20000.0)["Cutoff"]
            index += 1
        source = self._sidechain_source(spec)
        if spec.sidechain is not None and source is not None:
            sc = spec.sidechain
            threshold = SIDECHAIN_KICK_PEAK_DB - sc.depth_db / (1.0 - 1.0 / SIDECHAIN_RATIO)
            compressor(devices, index, self.ids, threshold_db=threshold, ratio=SIDECHAIN_RATIO,
                       attack_ms=sc.attack_ms, release_ms=sc.release_ms, sidechain=source)
            index += 1
        targets["gain_db"] = utility(devices, index, self.ids, gain_db=spec.gain_db)["Gain"]
        return targets

    def _sidechain_source(self, spec: TrackSpec) -> tuple[int, str] | None:
        """The audio track the ducking listens to: the named track, else the kick."""
        if spec.sidechain is None:
            return None
        wanted = spec.sidechain.source
        candidates = [t for t in self.spec.tracks if t.name == wanted]
        candidates += [t for t in self.spec.tracks if t.role.value == wanted]
        candidates += self.spec.tracks_with_role(TrackRole.KICK)
        for track in candidates:
            if track.name in self.audio_ids and track.name != spec.name:
                return self.audio_ids[track.name], _text(track.name)
        return None

    def _clip_common(self, clip: _Element, *, start: float, end: float, loop_end: float,
                     name: str, color: int) -> None:
        values(clip, LomId=0, LomIdView=0, CurrentStart=start, CurrentEnd=end)
        loop = etree.SubElement(clip, "Loop")
        values(loop, LoopStart=0, LoopEnd=loop_end, StartRelative=0, LoopOn=False,
               OutMarker=loop_end, HiddenLoopStart=0, HiddenLoopEnd=loop_end)
        values(clip, Name=_text(name), Annotation="", Color=color, LaunchMode=0,
               LaunchQuantisation=0)
        signatures = etree.SubElement(etree.SubElement(clip, "TimeSignature"), "TimeSignatures")
        remoteable = sub(signatures, "RemoteableTimeSignature", Id=0)
        values(remoteable, Numerator=self.num, Denominator=self.den, Time=0)
        etree.SubElement(etree.SubElement(clip, "Envelopes"), "Envelopes")
        scroller = etree.SubElement(clip, "ScrollerTimePreserver")
        value(scroller, "LeftTime", 0)
        value(scroller, "RightTime", loop_end)
        selection = etree.SubElement(clip, "TimeSelection")
        value(selection, "AnchorTime", 0)
        value(selection, "OtherTime", 0)
        value(clip, "Legato", False)
        value(clip, "Ram", False)
        value(etree.SubElement(clip, "GrooveSettings"), "GrooveId", -1)
        value(clip, "Disabled", False)
        value(clip, "VelocityAmount", 0)
        _follow_action(etree.SubElement(clip, "FollowAction"))
        _grid(etree.SubElement(clip, "Grid"), snap=True)
        values(clip, FreezeStart=0, FreezeEnd=0, IsWarped=True, TakeId=1)

    def _audio_clip(self, events: _Element, stem: StemFile) -> None:
        """The whole stem from bar 1, warped: beat = seconds · tempo / 60 (markers at both ends)."""
        beats = self.model.seconds_to_beats(stem.duration_s)
        clip = sub(events, "AudioClip", Id=0, Time=0)
        self._clip_common(clip, start=0, end=beats, loop_end=beats, name=stem.track.name,
                          color=_COLORS.get(stem.track.role, 0))
        ref = etree.SubElement(clip, "SampleRef")
        file_ref = etree.SubElement(ref, "FileRef")
        values(file_ref, RelativePathType=3, RelativePath=stem.relative_path, Path="", Type=2,
               LivePackName="", LivePackId="", OriginalFileSize=stem.size_bytes, OriginalCrc=0)
        value(ref, "LastModDate", stem.mtime_s)
        etree.SubElement(ref, "SourceContext")
        values(ref, SampleUsageHint=0, DefaultDuration=stem.frames,
               DefaultSampleRate=stem.sample_rate)
        onsets = etree.SubElement(clip, "Onsets")
        etree.SubElement(onsets, "UserOnsets")
        value(onsets, "HasUserOnsets", False)
        value(clip, "WarpMode", _WARP_MODES.get(stem.track.role, _COMPLEX))
        for name, val in (("GranularityTones", 30), ("GranularityTexture", 65),
                          ("FluctuationTexture", 25), ("TransientResolution", 6),
                          ("TransientLoopMode", 2), ("TransientEnvelope", 100),
                          ("ComplexProFormants", 100), ("ComplexProEnvelope", 128)):
            value(clip, name, val)
        values(clip, Sync=True, HiQ=True, Fade=True)
        fades = etree.SubElement(clip, "Fades")
        for name, val in (("FadeInLength", 0), ("FadeOutLength", 0),
                          ("ClipFadesAreInitialized", True), ("CrossfadeInState", 0),
                          ("FadeInCurveSkew", 0), ("FadeInCurveSlope", 0),
                          ("FadeOutCurveSkew", 0), ("FadeOutCurveSlope", 0),
                          ("IsDefaultFadeIn", True), ("IsDefaultFadeOut", True)):
            value(fades, name, val)
        values(clip, PitchCoarse=0, PitchFine=0, SampleVolume=1, MarkerDensity=2,
               AutoWarpTolerance=4)
        markers = etree.SubElement(clip, "WarpMarkers")
        sub(markers, "WarpMarker", Id=0, SecTime=0, BeatTime=0)
        sub(markers, "WarpMarker", Id=1, SecTime=round(stem.duration_s, 9), BeatTime=beats)
        etree.SubElement(clip, "SavedWarpMarkersForStretched")
        value(clip, "MarkersGenerated", False)
        value(clip, "IsSongTempoMaster", False)

    # ------------------------------------------------------------ MIDI tracks
    def _midi_track(self, tracks: _Element, part: MidiPart) -> None:
        role = part.track.role if part.track else TrackRole.MUSIC
        name = f"{part.name} MIDI" if part.name in self.audio_ids else part.name
        track = self._track_header(tracks, "MidiTrack", track_id=self.midi_ids[part.name],
                                   name=name, color=_COLORS.get(role, 0))
        chain = self._chain_start(track, audio_in=("AudioIn/External/S0", "Ext. In", "1/2"),
                                  audio_out=("AudioOut/Master", "Master", ""))
        self._mixer(chain, sends_db={})
        seq = etree.SubElement(chain, "MainSequencer")
        self._sequencer_header(seq)
        events = self._arranger(etree.SubElement(seq, "ClipTimeable"))
        for index, clip in enumerate(part.clips):
            self._midi_clip(events, index, clip, color=_COLORS.get(role, 0))
        recorder = etree.SubElement(seq, "Recorder")
        value(recorder, "IsArmed", False)
        value(recorder, "TakeCounter", 1)
        controllers = etree.SubElement(seq, "MidiControllers")
        for index in range(131):
            value(sub(controllers, f"ControllerTargets.{index}", Id=self.ids.pointee()),
                  "LockEnvelope", 0)
        self._audio_sequencer(chain, "FreezeSequencer")
        self._chain_end(chain)
        value(track.element, "ReWireSlaveMidiTargetId", 0)
        value(track.element, "PitchbendRange", 96)

    def _midi_clip(self, events: _Element, index: int, part: MidiClipPart, *, color: int) -> None:
        length = part.end_beats - part.start_beats
        clip = sub(events, "MidiClip", Id=index, Time=part.start_beats)
        self._clip_common(clip, start=part.start_beats, end=part.end_beats, loop_end=length,
                          name=part.name, color=color)
        notes = etree.SubElement(clip, "Notes")
        key_tracks = etree.SubElement(notes, "KeyTracks")
        note_ids = {id(n): i + 1 for i, n in enumerate(part.notes)}  # time order, from 1
        by_pitch: dict[int, list] = {}
        for note in part.notes:
            by_pitch.setdefault(note.pitch, []).append(note)
        for k, pitch in enumerate(sorted(by_pitch)):
            key_track = sub(key_tracks, "KeyTrack", Id=k)
            holder = etree.SubElement(key_track, "Notes")
            for note in by_pitch[pitch]:
                sub(holder, "MidiNoteEvent", Time=note.start_beats, Duration=note.duration_beats,
                    Velocity=note.velocity, VelocityDeviation=0, OffVelocity=64, Probability=1,
                    IsEnabled=True, NoteId=note_ids[id(note)])
            value(key_track, "MidiKey", pitch)
        etree.SubElement(etree.SubElement(notes, "PerNoteEventStore"), "EventLists")
        value(etree.SubElement(notes, "NoteIdGenerator"), "NextId", len(part.notes) + 1)
        for name, val in (("BankSelectCoarse", -1), ("BankSelectFine", -1),
                          ("ProgramChange", -1), ("NoteEditorFoldInZoom", -1),
                          ("NoteEditorFoldInScroll", 0), ("NoteEditorFoldOutZoom", -1),
                          ("NoteEditorFoldOutScroll", 0), ("NoteEditorFoldScaleZoom", -1),
                          ("NoteEditorFoldScaleScroll", 0)):
            value(clip, name, val)
        self._scale(clip)
        values(clip, IsInKey=True, NoteSpellingPreference=0, PreferFlatRootNote=False)
        _grid(etree.SubElement(clip, "ExpressionGrid"), snap=False)

    def _scale(self, parent: _Element) -> None:
        scale = etree.SubElement(parent, "ScaleInformation")
        value(scale, "RootNote", self.spec.key.tonic)
        value(scale, "Name", "Minor" if self.spec.key.mode.value == "minor" else "Major")

    # ------------------------------------------------------------ returns, master
    def _return_track(self, tracks: _Element, name: str, index: int) -> None:
        letter = chr(ord("A") + index)
        track = self._track_header(tracks, "ReturnTrack", track_id=self.ids.track(),
                                   name=f"{letter}-{name}", color=17 + index)
        chain = self._chain_start(track, audio_in=("AudioIn/None", "No Input", ""),
                                  audio_out=("AudioOut/Master", "Master", ""))
        self._mixer(chain, sends_db={})
        self._audio_sequencer(chain, "FreezeSequencer")
        self._chain_end(chain)

    def _master(self, live: _Element) -> None:
        track = self._track_header(live, "MasterTrack", track_id=None, name="Master", color=-1)
        self._master_envelopes(track.envelopes)
        chain = self._chain_start(track, audio_in=("AudioIn/External/S0", "Ext. In", "1/2"),
                                  audio_out=("AudioOut/External/S0", "Ext. Out", "1/2"))
        self._mixer(chain, sends_db=None, master=True)
        self._audio_sequencer(chain, "FreezeSequencer")
        devices = self._chain_end(chain)
        master = self.spec.master
        index = 0
        if master.tilt_db:
            half = min(max(master.tilt_db / 2.0, -15.0), 15.0)
            eq_eight(devices, index, self.ids,
                     [("low_shelf", 250.0, -half, 0.71), ("high_shelf", 4000.0, half, 0.71)])
            index += 1
        glue = master.glue
        compressor(devices, index, self.ids, threshold_db=glue.threshold_db, ratio=glue.ratio,
                   attack_ms=glue.attack_ms, release_ms=glue.release_ms)
        utility(devices, index + 1, self.ids, width=master.width)

    def _master_envelopes(self, envelopes: _Element) -> None:
        """Time signature (Id 0) and tempo (Id 1): initial values "before the song starts"."""
        for index, (target, tag, val) in enumerate((
                (_TIMESIG_TARGET, "EnumEvent", time_signature_value(self.num, self.den)),
                (_TEMPO_TARGET, "FloatEvent", self.spec.tempo_bpm))):
            events = _envelope(envelopes, index, target)
            sub(events, tag, Id=0, Time=BEFORE_SONG_START, Value=val)

    def _prehear(self, live: _Element) -> None:
        track = self._track_header(live, "PreHearTrack", track_id=None, name="Master", color=-1)
        chain = self._chain_start(track, audio_in=("AudioIn/External/S0", "Ext. In", "1/2"),
                                  audio_out=("AudioOut/External/S0", "Ext. Out", "1/2"))
        self._mixer(chain, sends_db=None)
        self._audio_sequencer(chain, "FreezeSequencer")
        self._chain_end(chain)

    # ------------------------------------------------------------ automation
    def _automation(self, envelopes: _Element, spec: TrackSpec, targets: dict[str, int]) -> None:
        """One envelope per automated parameter, on the track that owns the device."""
        by_param: dict[str, list[Automation]] = {}
        for automation in spec.automation:
            by_param.setdefault(automation.parameter, []).append(automation)
        index = 0
        for parameter in ("filter_cutoff_hz", "highpass_hz", "gain_db", "reverb_send_db"):
            items = by_param.get(parameter)
            target = targets.get("send.reverb" if parameter == "reverb_send_db" else parameter)
            if not items or target is None:
                continue
            native, initial, log_native = self._parameter_units(spec, parameter)
            events = _envelope(envelopes, index, target)
            index += 1
            points = self._points(sorted(items, key=lambda a: a.start_bar), native=native,
                                  initial=initial, log_native=log_native, parameter=parameter)
            for event_id, (time, val) in enumerate([(BEFORE_SONG_START, native(initial)),
                                                    *points]):
                sub(events, "FloatEvent", Id=event_id, Time=time, Value=round(val, 9))

    def _parameter_units(self, spec: TrackSpec, parameter: str
                         ) -> tuple[Callable[[float], float], float, bool]:
        """(spec value → Live value, the value outside any automation, Live scale is log?)."""
        if parameter == "filter_cutoff_hz":
            return cutoff_to_live, 20000.0, True
        if parameter == "highpass_hz":
            return (lambda hz: min(max(hz, 10.0), 22000.0)), max(spec.highpass_hz, 10.0), False
        if parameter == "gain_db":
            return (lambda db: gain_to_live(db, high=56.2341327)), spec.gain_db, False
        level = spec.sends_db.get("reverb", -70.0)
        return (lambda db: gain_to_live(db, high=1.0)), level, False

    def _points(self, items: list[Automation], *, native: Callable[[float], float],
                initial: float, log_native: bool, parameter: str) -> list[tuple[float, float]]:
        """Breakpoints in beats: a jump to the start value, the curve, then the end value holds.

        Frequencies follow the spec's curve (exponential = even steps in pitch); levels in
        dB move evenly in dB. Where Live's own scale already matches the curve two points
        are exact; otherwise the curve is sampled in 16 steps.
        """
        bpb = self.model.beats_per_bar
        is_freq = parameter.endswith("_hz")
        out: list[tuple[float, float]] = []
        current = initial
        for n, auto in enumerate(items):
            start = (auto.start_bar - 1) * bpb
            end = auto.end_bar * bpb
            if n + 1 < len(items):
                end = min(end, (items[n + 1].start_bar - 1) * bpb)
            if end <= start:
                continue
            geometric = is_freq and auto.curve == "exponential"
            exact = (geometric and log_native) or (is_freq and not geometric and not log_native)
            steps = 1 if exact else _AUTOMATION_STEPS
            out.append((start, native(current)))
            for k in range(steps + 1):
                frac = k / steps
                if geometric:
                    lo, hi = max(auto.start_value, 1.0), max(auto.end_value, 1.0)
                    val = lo * (hi / lo) ** frac
                else:
                    val = auto.start_value + (auto.end_value - auto.start_value) * frac
                out.append((round(start + (end - start) * frac, 6), native(val)))
            current = auto.end_value
        return out

    # ------------------------------------------------------------ scenes, transport, view
    def _scenes(self, live: _Element) -> None:
        scenes = etree.SubElement(live, "Scenes")
        for index in range(SCENE_COUNT):
            scene = sub(scenes, "Scene", Id=index)
            _follow_action(etree.SubElement(scene, "FollowAction"))
            values(scene, Name="", Annotation="", Color=-1, Tempo=round(self.spec.tempo_bpm),
                   IsTempoEnabled=False, TimeSignatureId=time_signature_value(self.num, self.den),
                   IsTimeSignatureEnabled=False, LomId=0)
            sub(scene, "ClipSlotsListWrapper", LomId=0)

    def _transport(self, live: _Element) -> None:
        transport = etree.SubElement(live, "Transport")
        loop_len = int(self.model.beats_per_bar * 4) or 16
        for name, val in (("PhaseNudgeTempo", 10), ("LoopOn", False), ("LoopStart", 0),
                          ("LoopLength", loop_len), ("LoopIsSongStart", False),
                          ("CurrentTime", 0), ("PunchIn", False), ("PunchOut", False),
                          ("MetronomeTickDuration", 0), ("DrawMode", False)):
            value(transport, name, val)

    def _view_state(self, live: _Element) -> None:
        """Everything after ``Transport``: Live's defaults, the key, and the locators."""
        master_values = etree.SubElement(live, "SongMasterValues")
        sub(master_values, "SessionScrollerPos", X=0, Y=0)
        etree.SubElement(live, "SignalModulations")
        value(live, "GlobalQuantisation", 4)
        value(live, "AutoQuantisation", 0)
        _grid(etree.SubElement(live, "Grid"), snap=True)
        self._scale(live)
        value(live, "InKey", True)
        value(live, "SmpteFormat", 0)
        selection = etree.SubElement(live, "TimeSelection")
        value(selection, "AnchorTime", 0)
        value(selection, "OtherTime", 0)
        navigator = etree.SubElement(live, "SequencerNavigator")
        value(etree.SubElement(navigator, "BeatTimeHelper"), "CurrentZoom", 0.1)
        sub(navigator, "ScrollerPos", X=0, Y=0)
        sub(navigator, "ClientSize", X=880, Y=505)
        value(live, "IsContentSplitterOpen", True)
        value(live, "IsExpressionSplitterOpen", False)
        etree.SubElement(live, "ExpressionLanes")
        etree.SubElement(live, "ContentLanes")
        value(live, "ViewStateFxSlotCount", 4)
        value(live, "ViewStateSessionMixerHeight", 120)
        locators = etree.SubElement(etree.SubElement(live, "Locators"), "Locators")
        for index, marker in enumerate(self.model.markers):
            locator = sub(locators, "Locator", Id=index)
            values(locator, LomId=0, Time=marker.start_beats, Name=_text(marker.name),
                   Annotation="", IsSongStart=False)
        etree.SubElement(live, "DetailClipKeyMidis")
        for name in ("TracksListWrapper", "VisibleTracksListWrapper", "ReturnTracksListWrapper",
                     "ScenesListWrapper", "CuePointsListWrapper"):
            sub(live, name, LomId=0)
        values(live, ChooserBar=0, Annotation="", SoloOrPflSavedValue=True, SoloInPlace=True,
               CrossfadeCurve=2, LatencyCompensation=2, HighlightedTrackIndex=0)
        groove = etree.SubElement(live, "GroovePool")
        value(groove, "LomId", 0)
        etree.SubElement(groove, "Grooves")
        values(live, AutomationMode=False, SnapAutomationToGrid=True, ArrangementOverdub=False,
               ColorSequenceIndex=0)
        value(etree.SubElement(live, "AutoColorPickerForPlayerAndGroupTracks"),
              "NextColorIndex", 0)
        value(etree.SubElement(live, "AutoColorPickerForReturnAndMasterTracks"),
              "NextColorIndex", 0)
        value(live, "ViewData", "{}")
        for name, val in (("ResetNonautomatedMidiControllersOnClipStarts", False),
                          ("MidiFoldIn", False), ("MidiFoldMode", 0),
                          ("MultiClipFocusMode", False), ("MultiClipLoopBarHeight", 0),
                          ("MidiPrelisten", False)):
            value(live, name, val)
        etree.SubElement(live, "LinkedTrackGroups")
        values(live, AccidentalSpellingPreference=3, PreferFlatRootNote=False,
               UseWarperLegacyHiQMode=False)
        sub(live, "VideoWindowRect", Top=-2147483648, Left=-2147483648, Bottom=-2147483648,
            Right=-2147483648)
        values(live, ShowVideoWindow=True, TrackHeaderWidth=93, ViewStateArrangerHasDetail=True,
               ViewStateSessionHasDetail=True, ViewStateDetailIsSample=False)
        views = etree.SubElement(live, "ViewStates")
        for name, val in (("SessionIO", 1), ("SessionSends", 1), ("SessionReturns", 1),
                          ("SessionMixer", 1), ("SessionTrackDelay", 0),
                          ("SessionCrossFade", 0), ("SessionShowOverView", 0),
                          ("ArrangerIO", 1), ("ArrangerReturns", 1), ("ArrangerMixer", 1),
                          ("ArrangerTrackDelay", 0), ("ArrangerShowOverView", 1)):
            value(views, name, val)


def _envelope(envelopes: _Element, index: int, target: int) -> _Element:
    """An ``AutomationEnvelope`` for ``target``; returns its ``Events`` element."""
    envelope = sub(envelopes, "AutomationEnvelope", Id=index)
    value(etree.SubElement(envelope, "EnvelopeTarget"), "PointeeId", target)
    return _automation_events(envelope, "Automation")


def _automation_events(parent: _Element, tag: str) -> _Element:
    """``<tag>`` with its ``Events`` (returned) and the view state Live writes beside them."""
    node = etree.SubElement(parent, tag)
    events = etree.SubElement(node, "Events")
    view = etree.SubElement(node, "AutomationTransformViewState")
    value(view, "IsTransformPending", False)
    etree.SubElement(view, "TimeAndValueTransforms")
    return events


def _follow_action(node: _Element) -> None:
    for name, val in (("FollowTime", 4), ("IsLinked", True), ("LoopIterations", 1),
                      ("FollowActionA", 4), ("FollowActionB", 0), ("FollowChanceA", 100),
                      ("FollowChanceB", 0), ("JumpIndexA", 1), ("JumpIndexB", 1),
                      ("FollowActionEnabled", False)):
        value(node, name, val)


def _grid(node: _Element, *, snap: bool) -> None:
    for name, val in (("FixedNumerator", 1), ("FixedDenominator", 16),
                      ("GridIntervalPixel", 20), ("Ntoles", 2), ("SnapToGrid", snap),
                      ("Fixed", False)):
        value(node, name, val)


def build_live_set(model: ExportModel) -> _Element:
    """The ``<Ableton>`` root of a Live set for ``model``."""
    return _Writer(model).build()


def live_set_xml(model: ExportModel) -> bytes:
    """The set as indented UTF-8 XML (what the golden files hold)."""
    return etree.tostring(build_live_set(model), xml_declaration=True, encoding="UTF-8",
                          pretty_print=True)


def live_set_bytes(root: _Element) -> bytes:
    """A built set as a ``.als`` file's bytes: gzip-compressed XML."""
    xml = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return gzip.compress(xml, compresslevel=6, mtime=0)


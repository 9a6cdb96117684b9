"""The ProductionSpec: one declarative, serialisable value that describes a whole production.

Everything else is a function of it: rendering (stems, mix, master, preview, picture), export
(Live set, DAWproject, MIDI) and change (a Chef's :class:`core.patch.SpecPatch` makes a new
spec). Versions are successive specs, so revert and compare are cheap.
"""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from core.music import Key
from core.tonal import TonalTarget
from core.units import bar_seconds

__all__ = [
    "VOCAL_PART_BY_KIND",
    "VOCAL_PART_WORDS",
    "Automation",
    "AutomationParameter",
    "Compression",
    "EQBand",
    "MasterSpec",
    "PatternSpec",
    "ProductionSpec",
    "Section",
    "Sidechain",
    "Stutter",
    "TrackRole",
    "TrackSpec",
    "Transition",
    "VocalPart",
    "VocalProcessing",
    "VoiceSpec",
]


class TrackRole(StrEnum):
    """What a track does in the mix; Chefs find tracks by role as well as by name."""

    VOCALS = "vocals"
    KICK = "kick"
    DRUMS = "drums"
    PERCUSSION = "percussion"
    BASS = "bass"
    MUSIC = "music"  #: chords, pads, leads, the original "other" stem
    FX = "fx"  #: risers, impacts, downlifters


class EQBand(BaseModel):
    """One EQ band. Cuts clean up, boosts colour; keep boosts gentle."""

    kind: Literal["low_shelf", "peak", "high_shelf"]
    freq_hz: float = Field(ge=20, le=20_000)
    gain_db: float = Field(ge=-18, le=18)
    q: float = Field(default=0.7, ge=0.1, le=10)


class Compression(BaseModel):
    """A compressor: lower threshold and higher ratio squash more; slow attack keeps punch."""

    threshold_db: float = Field(default=-18, ge=-60, le=0)
    ratio: float = Field(default=3, ge=1, le=20)
    attack_ms: float = Field(default=10, ge=0.1, le=200)
    release_ms: float = Field(default=120, ge=10, le=2000)


class Sidechain(BaseModel):
    """Ducking keyed to another track's hits (the kick): the "pump" of house music.

    ``depth_db`` is how far the track dips on each hit; ``curve`` > 1 makes the recovery
    snap back later (a more obvious pump).
    """

    source: str = "kick"
    depth_db: float = Field(default=6, ge=0, le=24)
    attack_ms: float = Field(default=5, ge=0.1, le=100)
    release_ms: float = Field(default=180, ge=10, le=1000)
    curve: float = Field(default=1.5, ge=0.5, le=4)


AutomationParameter = Literal["filter_cutoff_hz", "gain_db", "highpass_hz", "reverb_send_db"]


class Automation(BaseModel):
    """A parameter moving over a bar range (bars are 1-based and inclusive)."""

    parameter: AutomationParameter
    start_bar: int = Field(ge=1)
    end_bar: int = Field(ge=1)
    start_value: float
    end_value: float
    curve: Literal["linear", "exponential"] = "exponential"

    @model_validator(mode="after")
    def _ordered(self) -> Automation:
        if self.end_bar < self.start_bar:
            raise ValueError("automation must end at or after the bar it starts on")
        return self


class VoiceSpec(BaseModel):
    """A synthesised instrument from the sound vault, with a few musical controls."""

    name: str  #: vault voice, e.g. "kick_deep", "sub", "reese", "conga"
    brightness: float = Field(default=0, ge=-1, le=1)  #: −1 dark … +1 bright
    decay: float = Field(default=0, ge=-1, le=1)  #: −1 short … +1 long
    drive: float = Field(default=0, ge=0, le=1)  #: saturation


class PatternSpec(BaseModel):
    """A generated MIDI pattern: the genre grammar plus humanisation, deterministic per seed."""

    style: str  #: grammar name, e.g. "afro_house_drums", "telecoteco", "offbeat_bass"
    seed: int = 0
    swing: float = Field(default=0, ge=0, le=0.5)  #: 0 straight … 0.5 heavy shuffle
    velocity_humanize: float = Field(default=0.1, ge=0, le=1)
    timing_humanize_ms: float = Field(default=4, ge=0, le=30)
    density: float = Field(default=0.5, ge=0, le=1)


class TrackSpec(BaseModel):
    """One track: where its audio comes from and its mix chain."""

    name: str
    role: TrackRole
    source: Literal["stem", "pattern"]
    stem: str = ""  #: separated stem name when ``source == "stem"``
    pattern: PatternSpec | None = None
    voice: VoiceSpec | None = None
    gain_db: float = Field(default=0, ge=-60, le=12)
    pan: float = Field(default=0, ge=-1, le=1)
    highpass_hz: float = Field(default=0, ge=0, le=2000)
    eq: list[EQBand] = Field(default_factory=list)
    compression: Compression | None = None
    saturation_db: float = Field(default=0, ge=0, le=24)
    sends_db: dict[Literal["reverb", "delay"], float] = Field(default_factory=dict)
    sidechain: Sidechain | None = None
    automation: list[Automation] = Field(default_factory=list)
    muted: bool = False


VocalPart = Literal["hook", "verse", "chops", "tag"]
"""What the song's vocal sings in a section, the way a remixer arranges it:

* ``hook``: the song's hook (its most repeated line, sung over its fullest part), looped;
* ``verse``: the song's other phrases in order, carrying on from section to section;
* ``chops``: the hook sliced at its syllables and replayed on the grid, rolling into a
  stutter on the section's last bar (a build's tension);
* ``tag``: the hook once at the section's start, then nothing (an intro's tease, an outro's
  farewell that leaves the DJ a clean tail)."""

VOCAL_PART_BY_KIND: dict[str, VocalPart] = {
    "drop": "hook", "chorus": "hook", "verse": "verse", "breakdown": "verse",
    "bridge": "verse", "build": "chops", "intro": "tag", "outro": "tag",
}
"""What the vocal sings in each kind of section unless the section says otherwise."""

VOCAL_PART_WORDS: dict[str, str] = {
    "hook": "the hook", "verse": "the verse phrases", "chops": "chops of the hook",
    "tag": "a tag of the hook",
}
"""Each part as the thread says it ("the hook in drop 1 and drop 2")."""


class Section(BaseModel):
    """A section of the arrangement and which tracks play in it."""

    name: str  #: unique, e.g. "drop 2"
    kind: Literal["intro", "build", "drop", "breakdown", "outro", "verse", "chorus", "bridge"]
    bars: int = Field(ge=1, le=256)
    layers: list[str] = Field(default_factory=list)  #: track names that play
    energy: float = Field(default=0.5, ge=0, le=1)
    #: what the vocal sings here when it is among the layers; ``None``: the kind's usual part
    #: (:data:`VOCAL_PART_BY_KIND`)
    vocal: VocalPart | None = None

    @property
    def vocal_part(self) -> VocalPart:
        """What the vocal sings in this section when it plays here."""
        return self.vocal or VOCAL_PART_BY_KIND[self.kind]


class Transition(BaseModel):
    """An ear-candy event at a bar: riser into a drop, impact on the one, fill, downlifter."""

    kind: Literal["riser", "impact", "downlifter", "fill", "reverse_cymbal"]
    start_bar: int = Field(ge=1)
    bars: int = Field(default=1, ge=1, le=32)


class Stutter(BaseModel):
    """A vocal stutter: the bars' vocal re-triggered on a grid."""

    start_bar: int = Field(ge=1)
    end_bar: int = Field(ge=1)
    grid: Literal["1/8", "1/16", "1/32"] = "1/16"


class VocalProcessing(BaseModel):
    """How the separated vocal is moved to the new key and tempo."""

    semitones: int = Field(default=0, ge=-12, le=12)
    preserve_formants: bool = True
    chops: bool = False  #: chops instead of the hook wherever the hook would be sung
    stutters: list[Stutter] = Field(default_factory=list)
    #: after the shift the render reads the vocal's own key and, when it does not sit in the
    #: production's notes, shifts it to where it does (a misread song key); off once the
    #: director has set the shift themselves
    recheck_key: bool = True


class MasterSpec(BaseModel):
    """The master bus: tonal balance, glue, width, and the loudness it is limited to."""

    target_lufs: float = Field(default=-14, ge=-30, le=-4)
    ceiling_dbtp: float = Field(default=-1, ge=-6, le=0)
    width: float = Field(default=1, ge=0, le=2)  #: 1 = as mixed, 0 = mono
    tilt_db: float = Field(default=0, ge=-6, le=6)  #: + brighter, − darker
    glue: Compression = Field(default_factory=lambda: Compression(threshold_db=-10, ratio=2))
    #: the genre's tonal balance, width and dynamics the mix is staged toward (from the genre
    #: file, set by the planner); ``None``: nothing is staged
    tonal_target: TonalTarget | None = None


class ProductionSpec(BaseModel):
    """The whole production as data."""

    title: str
    genre: str
    tempo_bpm: float = Field(ge=40, le=220)
    key: Key
    time_signature: tuple[int, int] = (4, 4)
    seed: int = 0
    source_tempo_bpm: float | None = None  #: the uploaded song's tempo, when remixing
    source_key: Key | None = None
    sources: dict[str, str] = Field(default_factory=dict)  #: stem name -> artifact id
    sections: list[Section] = Field(default_factory=list)
    tracks: list[TrackSpec] = Field(default_factory=list)
    transitions: list[Transition] = Field(default_factory=list)
    vocal: VocalProcessing | None = None
    master: MasterSpec = Field(default_factory=MasterSpec)

    @property
    def total_bars(self) -> int:
        return sum(section.bars for section in self.sections)

    @property
    def bar_s(self) -> float:
        """Length of one bar in seconds at this tempo and time signature (:func:`bar_seconds`)."""
        return bar_seconds(self.tempo_bpm, self.time_signature)

    def bar_start_s(self, bar: int) -> float:
        """Time in seconds at which 1-based ``bar`` starts: ``(bar - 1) · bar_s``.

        >>> spec = ProductionSpec(title="t", genre="house", tempo_bpm=120,
        ...                       key=Key(tonic=9, mode="minor"))
        >>> spec.bar_start_s(33)
        64.0
        """
        return (bar - 1) * self.bar_s

    def track(self, name: str) -> TrackSpec | None:
        """The track called ``name``, or ``None``."""
        return next((t for t in self.tracks if t.name == name), None)

    def tracks_with_role(self, role: TrackRole) -> list[TrackSpec]:
        return [t for t in self.tracks if t.role is role]

    def section_bars(self) -> list[tuple[Section, int, int]]:
        """Each section with its first and last bar (1-based, inclusive)."""
        spans: list[tuple[Section, int, int]] = []
        start = 1
        for section in self.sections:
            spans.append((section, start, start + section.bars - 1))
            start += section.bars
        return spans

    def section_named(self, name_or_kind: str) -> tuple[Section, int, int] | None:
        """First section whose name or kind is ``name_or_kind``, with its bar span."""
        wanted = name_or_kind.lower()
        return next(
            (span for span in self.section_bars() if wanted in (span[0].name, span[0].kind)), None
        )

    def listening_section(self, name_or_kind: str = "") -> tuple[Section, int, int] | None:
        """The section to listen to: the one named, else the first drop or chorus (where a mix
        change is easiest to hear), else the first; ``None`` for a spec without sections."""
        sections = self.section_bars()
        named = self.section_named(name_or_kind) if name_or_kind else None
        return named or next((s for s in sections if s[0].kind in ("drop", "chorus")),
                             sections[0] if sections else None)

    def fingerprint(self, *parts: str) -> str:
        """A hash of this spec (or of the named top-level fields), for the render cache."""
        data = self.model_dump(mode="json", include=set(parts) if parts else None)
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:20]

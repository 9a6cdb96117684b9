"""SpecPatch: a Chef's change to a production, as typed, bounded operations plus a rationale.

Chefs (rule-based or Claude-assisted) can only return these operations, each validated against
its bounds, so a prompt-injected message can at worst pick a bad EQ value: it can never run an
arbitrary action, touch a file or reveal a setting.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from core.errors import RequestError, UnknownTrack
from core.music import Key
from core.spec import (
    VOCAL_PART_WORDS,
    Automation,
    Compression,
    EQBand,
    ProductionSpec,
    Sidechain,
    Stutter,
    TrackRole,
    TrackSpec,
    Transition,
    VocalPart,
    VocalProcessing,
)

__all__ = [
    "AddAutomation",
    "AddStutter",
    "AddTransition",
    "AdjustGain",
    "ExpectedEffect",
    "Operation",
    "SetCompression",
    "SetEQBand",
    "SetHighpass",
    "SetKey",
    "SetMaster",
    "SetPattern",
    "SetSend",
    "SetSidechain",
    "SetTempo",
    "SetVocalMode",
    "SetVocalParts",
    "SetVocalShift",
    "SetVoice",
    "SpecPatch",
    "apply_patch",
    "spoken_list",
]


def _track(spec: ProductionSpec, name: str) -> TrackSpec:
    track = spec.track(name)
    if track is None:
        raise UnknownTrack(name, available=[t.name for t in spec.tracks])
    return track


class AdjustGain(BaseModel):
    """Raise or lower one track's level."""

    op: Literal["adjust_gain"] = "adjust_gain"
    track: str
    delta_db: float = Field(ge=-12, le=12)

    def apply(self, spec: ProductionSpec) -> None:
        track = _track(spec, self.track)
        track.gain_db = max(-60.0, min(12.0, track.gain_db + self.delta_db))

    def describe(self) -> str:
        return f"{self.track} {self.delta_db:+.1f} dB"


class SetSidechain(BaseModel):
    """Set how far a track ducks under the kick (depth, attack, release)."""

    op: Literal["set_sidechain"] = "set_sidechain"
    track: str
    depth_db: float = Field(ge=0, le=24)
    release_ms: float | None = Field(default=None, ge=10, le=1000)

    def apply(self, spec: ProductionSpec) -> None:
        track = _track(spec, self.track)
        current = track.sidechain or Sidechain()
        update: dict[str, float] = {"depth_db": self.depth_db}
        if self.release_ms is not None:
            update["release_ms"] = self.release_ms
        track.sidechain = current.model_copy(update=update)

    def describe(self) -> str:
        return f"{self.track} ducking depth {self.depth_db:.1f} dB on kick hits"


class SetEQBand(BaseModel):
    """Set one EQ band on a track, replacing a band of the same kind near the same frequency."""

    op: Literal["set_eq_band"] = "set_eq_band"
    track: str
    band: EQBand

    def apply(self, spec: ProductionSpec) -> None:
        track = _track(spec, self.track)
        kept = [
            b
            for b in track.eq
            if not (b.kind == self.band.kind and 0.7 < b.freq_hz / self.band.freq_hz < 1.4)
        ]
        track.eq = [*kept, self.band]

    def describe(self) -> str:
        b = self.band
        return f"{self.track} EQ {b.kind.replace('_', ' ')} {b.gain_db:+.1f} dB at {b.freq_hz:.0f} Hz"


class SetHighpass(BaseModel):
    """Cut a track's low end below a frequency (clears rumble and mud)."""

    op: Literal["set_highpass"] = "set_highpass"
    track: str
    cutoff_hz: float = Field(ge=0, le=2000)

    def apply(self, spec: ProductionSpec) -> None:
        _track(spec, self.track).highpass_hz = self.cutoff_hz

    def describe(self) -> str:
        return f"{self.track} high-pass at {self.cutoff_hz:.0f} Hz"


class SetCompression(BaseModel):
    """Set a track's compressor."""

    op: Literal["set_compression"] = "set_compression"
    track: str
    compression: Compression

    def apply(self, spec: ProductionSpec) -> None:
        _track(spec, self.track).compression = self.compression

    def describe(self) -> str:
        c = self.compression
        return (
            f"{self.track} compressor {c.ratio:.1f}:1 at {c.threshold_db:.0f} dB, "
            f"attack {c.attack_ms:.0f} ms"
        )


class SetSend(BaseModel):
    """Set how much of a track goes to the reverb or delay return."""

    op: Literal["set_send"] = "set_send"
    track: str
    bus: Literal["reverb", "delay"]
    level_db: float = Field(ge=-60, le=0)

    def apply(self, spec: ProductionSpec) -> None:
        _track(spec, self.track).sends_db[self.bus] = self.level_db

    def describe(self) -> str:
        return f"{self.track} {self.bus} send {self.level_db:.0f} dB"


class AddAutomation(BaseModel):
    """Automate a parameter of a track over a bar range (a filter sweep, say)."""

    op: Literal["add_automation"] = "add_automation"
    track: str
    automation: Automation

    def apply(self, spec: ProductionSpec) -> None:
        if self.automation.end_bar > spec.total_bars:
            raise RequestError(
                f"Bars {self.automation.start_bar}-{self.automation.end_bar} run past the end "
                f"of the arrangement ({spec.total_bars} bars)."
            )
        track = _track(spec, self.track)
        a = self.automation
        track.automation = [
            x
            for x in track.automation
            if not (x.parameter == a.parameter and x.start_bar <= a.end_bar and a.start_bar <= x.end_bar)
        ] + [a]

    def describe(self) -> str:
        a = self.automation
        if a.parameter == "filter_cutoff_hz":
            what = f"filter sweep {_hz(a.start_value)} → {_hz(a.end_value)}"
        else:
            what = f"{a.parameter} {a.start_value:g} → {a.end_value:g}"
        return f"{self.track} {what} over bars {a.start_bar}–{a.end_bar}"


def _given(op: BaseModel) -> dict[str, Any]:
    """The settings an operation changes: its fields that were given, less ``op`` and ``track``."""
    return op.model_dump(exclude={"op", "track"}, exclude_none=True)


def _hz(value: float) -> str:
    return f"{value / 1000:g} kHz" if value >= 1000 else f"{value:g} Hz"


class AddTransition(BaseModel):
    """Add a riser, impact, fill or downlifter at a bar."""

    op: Literal["add_transition"] = "add_transition"
    transition: Transition

    def apply(self, spec: ProductionSpec) -> None:
        t = self.transition
        if t.start_bar + t.bars - 1 > spec.total_bars:
            raise RequestError(f"A {t.kind} at bar {t.start_bar} would run past the end.")
        spec.transitions = [
            x for x in spec.transitions if not (x.kind == t.kind and x.start_bar == t.start_bar)
        ] + [t]

    def describe(self) -> str:
        t = self.transition
        return f"{t.kind} over bars {t.start_bar}–{t.start_bar + t.bars - 1}"

    def expected(self) -> ExpectedEffect:
        """How it shows in the render: its bars of the master louder, with the sweep or hit in
        them (a downlifter too: it adds a falling sweep, however calm the section it leads to)."""
        t = self.transition
        end = t.start_bar + t.bars - 1
        where = f"bar {t.start_bar}" if end == t.start_bar else f"bars {t.start_bar}–{end}"
        heard = {"riser": "a rising sweep", "downlifter": "a falling sweep",
                 "impact": "a hit", "reverse_cymbal": "a swell", "fill": "a fill"}.get(t.kind, t.kind)
        return ExpectedEffect(metric="level_by_bar_db", start_bar=t.start_bar, end_bar=end,
                              direction="up", text=f"{t.kind} over {where}: {heard} lifts the "
                                                   f"level of {where}")


class AddStutter(BaseModel):
    """Stutter the vocal over a bar range on a grid."""

    op: Literal["add_stutter"] = "add_stutter"
    stutter: Stutter

    def apply(self, spec: ProductionSpec) -> None:
        vocal = spec.vocal or VocalProcessing()
        vocal.stutters = [*vocal.stutters, self.stutter]
        spec.vocal = vocal

    def describe(self) -> str:
        s = self.stutter
        return f"vocal stutter on a {s.grid} grid over bars {s.start_bar}–{s.end_bar}"


class SetVocalMode(BaseModel):
    """Switch vocal chops on or off, or formant preservation."""

    op: Literal["set_vocal_mode"] = "set_vocal_mode"
    chops: bool | None = None
    preserve_formants: bool | None = None

    def apply(self, spec: ProductionSpec) -> None:
        if spec.vocal is None:
            raise RequestError("This production has no vocal to change.")
        changes = _given(self)
        spec.vocal = spec.vocal.model_copy(update=changes)

    def describe(self) -> str:
        parts = []
        if self.chops is not None:
            parts.append("vocal chops on" if self.chops else "vocal chops off")
        if self.preserve_formants is not None:
            parts.append("formants preserved" if self.preserve_formants else "formants shifted")
        return ", ".join(parts)


class SetVocalParts(BaseModel):
    """Say what the vocal sings in named sections, or that it is out of them (``none``)."""

    op: Literal["set_vocal_parts"] = "set_vocal_parts"
    parts: dict[str, VocalPart | Literal["none"]] = Field(min_length=1, max_length=32)

    def apply(self, spec: ProductionSpec) -> None:
        vocals = spec.tracks_with_role(TrackRole.VOCALS)
        if spec.vocal is None or not vocals:
            raise RequestError("This production has no vocal to place.")
        track = vocals[0].name
        by_name = {section.name: section for section in spec.sections}
        unknown = [name for name in self.parts if name not in by_name]
        if unknown:
            raise RequestError(f"There is no section called '{unknown[0]}' "
                               f"(the sections are {', '.join(by_name)}).")
        for name, part in self.parts.items():
            section = by_name[name]
            if part == "none":
                section.layers = [layer for layer in section.layers if layer != track]
                continue
            if track not in section.layers:
                section.layers.append(track)
            section.vocal = part

    def describe(self) -> str:
        groups: dict[str, list[str]] = {}
        for name, part in self.parts.items():
            groups.setdefault(part, []).append(name)
        said = [f"out of the {spoken_list(names)}" if part == "none"
                else f"{VOCAL_PART_WORDS[part]} in the {spoken_list(names)}"
                for part, names in groups.items()]
        return "vocal " + "; ".join(said)


def spoken_list(names: list[str]) -> str:
    """``["build", "drop 1", "outro"]`` → "build, drop 1 and outro": names as a sentence says
    them (operations describe themselves, and Chefs explain them, in these words)."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"




class SetVocalShift(BaseModel):
    """Shift the vocal by a number of semitones, by hand: the render keeps this shift (it
    reads and reports the vocal's key but no longer re-shifts it)."""

    op: Literal["set_vocal_shift"] = "set_vocal_shift"
    semitones: int = Field(ge=-12, le=12)

    def apply(self, spec: ProductionSpec) -> None:
        if spec.vocal is None:
            raise RequestError("This production has no vocal to shift.")
        spec.vocal = spec.vocal.model_copy(update={"semitones": self.semitones,
                                                   "recheck_key": False})

    def describe(self) -> str:
        unit = "semitone" if abs(self.semitones) == 1 else "semitones"
        return f"vocal shifted {self.semitones:+d} {unit} from the song's pitch"


class SetMaster(BaseModel):
    """Change the master: loudness target, ceiling, width, tonal tilt."""

    op: Literal["set_master"] = "set_master"
    target_lufs: float | None = Field(default=None, ge=-30, le=-4)
    ceiling_dbtp: float | None = Field(default=None, ge=-6, le=0)
    width: float | None = Field(default=None, ge=0, le=2)
    tilt_db: float | None = Field(default=None, ge=-6, le=6)

    def apply(self, spec: ProductionSpec) -> None:
        changes = _given(self)
        spec.master = spec.master.model_copy(update=changes)

    def describe(self) -> str:
        parts = []
        if self.target_lufs is not None:
            parts.append(f"loudness target {self.target_lufs:.1f} LUFS")
        if self.ceiling_dbtp is not None:
            parts.append(f"ceiling {self.ceiling_dbtp:.1f} dBTP")
        if self.width is not None:
            parts.append(f"width {self.width:.0%}")
        if self.tilt_db is not None:
            parts.append(f"tilt {self.tilt_db:+.1f} dB")
        return "master " + ", ".join(parts)


class SetTempo(BaseModel):
    """Change the production's tempo."""

    op: Literal["set_tempo"] = "set_tempo"
    tempo_bpm: float = Field(ge=40, le=220)

    def apply(self, spec: ProductionSpec) -> None:
        spec.tempo_bpm = self.tempo_bpm

    def describe(self) -> str:
        return f"tempo {self.tempo_bpm:g} BPM"


class SetKey(BaseModel):
    """Change the production's key (the vocal is re-shifted to it)."""

    op: Literal["set_key"] = "set_key"
    key: Key

    def apply(self, spec: ProductionSpec) -> None:
        spec.key = self.key
        if spec.vocal is not None and spec.source_key is not None:
            spec.vocal.semitones = spec.source_key.transposition_to(self.key)
            spec.vocal.recheck_key = True  # a new key: the render checks the vocal again

    def describe(self) -> str:
        return f"key {self.key}"


class SetPattern(BaseModel):
    """Change a generated pattern's groove: swing, humanisation, density or style."""

    op: Literal["set_pattern"] = "set_pattern"
    track: str
    swing: float | None = Field(default=None, ge=0, le=0.5)
    velocity_humanize: float | None = Field(default=None, ge=0, le=1)
    density: float | None = Field(default=None, ge=0, le=1)

    def apply(self, spec: ProductionSpec) -> None:
        track = _track(spec, self.track)
        if track.pattern is None:
            raise RequestError(f"'{self.track}' plays audio from the song, not a pattern I wrote.")
        changes = _given(self)
        track.pattern = track.pattern.model_copy(update=changes)

    def describe(self) -> str:
        changes = _given(self)
        return f"{self.track} pattern " + ", ".join(f"{k} {v:g}" for k, v in changes.items())


class SetVoice(BaseModel):
    """Change a synthesised instrument's tone (a darker kick, a longer bass)."""

    op: Literal["set_voice"] = "set_voice"
    track: str
    brightness: float | None = Field(default=None, ge=-1, le=1)
    decay: float | None = Field(default=None, ge=-1, le=1)
    drive: float | None = Field(default=None, ge=0, le=1)

    def apply(self, spec: ProductionSpec) -> None:
        track = _track(spec, self.track)
        if track.voice is None:
            raise RequestError(f"'{self.track}' is not one of my synthesised instruments.")
        changes = _given(self)
        track.voice = track.voice.model_copy(update=changes)

    def describe(self) -> str:
        changes = _given(self)
        return f"{self.track} sound " + ", ".join(f"{k} {v:+g}" for k, v in changes.items())


Operation = Annotated[
    AdjustGain
    | SetSidechain
    | SetEQBand
    | SetHighpass
    | SetCompression
    | SetSend
    | AddAutomation
    | AddTransition
    | AddStutter
    | SetVocalMode
    | SetVocalParts
    | SetVocalShift
    | SetMaster
    | SetTempo
    | SetKey
    | SetPattern
    | SetVoice,
    Field(discriminator="op"),
]


class ExpectedEffect(BaseModel):
    """What a patch should measurably do, checked on the new render."""

    metric: Literal[
        "track_level_db",
        "ducking_depth_db",
        "integrated_lufs",
        "spectral_centroid_hz",
        "low_end_db",
        "tempo_bpm",
        "stereo_width",
        "low_between_kicks_db",  #: the master's 40–160 Hz band between the kicks, re its LUFS
        "reverb_wet_db",  #: a track's reverb return re its dry signal
        "delay_wet_db",  #: a track's delay return re its dry signal
        "side_mid_ratio",  #: a track's width with its returns (the master's without a track)
        "swing_16ths",  #: how late a track's off-beat 16ths land, in 16ths
        "level_by_bar_db",  #: the master's (or a track's) level over bars ``start_bar``–``end_bar``
        "onsets_by_bar",  #: a track's onsets per bar over bars ``start_bar``–``end_bar``
        "hook_by_bar",  #: 1 in each bar where the vocal is heard singing the song's hook
        "in_key_share",  #: a vocal's share of sung time on the production key's notes
        "sung_pitch",  #: a vocal's median sung pitch, MIDI semitones
    ]
    track: str = ""
    change: float = 0.0  #: signed, in the metric's unit; 0 = "rises/falls" given by ``direction``
    direction: Literal["up", "down", "rises_across_bars"] = "up"
    text: str  #: "bass −3 dB", "ducking depth 6 → 9 dB on kick hits"
    start_bar: int = Field(default=0, ge=0)  #: the bars a per-bar metric is read over (1-based,
    end_bar: int = Field(default=0, ge=0)  #: inclusive); 0 for a metric of the whole render


class SpecPatch(BaseModel):
    """A Chef's answer: operations, a one-paragraph rationale and the effects to measure."""

    chef: str
    request: str = ""  #: the feedback it answers, as the director said it
    ops: list[Operation] = Field(default_factory=list, max_length=24)
    rationale: str = ""
    expected: list[ExpectedEffect] = Field(default_factory=list)
    offer: str = ""  #: a follow-up the Maestro may suggest ("Want me to add a riser too?")

    def describe(self) -> list[str]:
        return [op.describe() for op in self.ops]


def apply_patch(spec: ProductionSpec, patch: SpecPatch) -> ProductionSpec:
    """A new spec with every operation of ``patch`` applied; ``spec`` is not changed.

    Raises :class:`core.errors.RequestError` (nothing applied) when an operation cannot apply.
    """
    new = spec.model_copy(deep=True)
    for op in patch.ops:
        op.apply(new)
    return ProductionSpec.model_validate(new.model_dump())

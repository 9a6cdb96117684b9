"""What a render measured, as one typed record the render job writes and the Maestro reads.

``jobs/measure.py`` and the render job produce these numbers; the change card, the Chefs, the
replies, the version page and the Claude advisor read them. Every field is optional: a render
from an older engine, a test's stand-in engine or a production stored before a number existed
still loads, and a number a newer engine adds is kept (``extra="allow"``) until this model
names it. A record serialises back to exactly the keys it was given, so a stored production
reads and writes the same JSON it always did.

Metrics are also looked up by name (:meth:`Measurements.value`), because a patch's
:class:`core.patch.ExpectedEffect` names the metric it expects to move.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, SerializerFunctionWrapHandler, model_serializer

__all__ = [
    "ExportCheck",
    "Instruments",
    "Measurements",
    "SampleCredit",
    "Staging",
    "TonalTargetReading",
    "TrackMeasurements",
    "VocalPlacement",
    "VocalReading",
]


class _Measured(BaseModel):
    """A record of measured numbers: unknown keys kept, and only the keys it was given written."""

    model_config = ConfigDict(extra="allow")

    @model_serializer(mode="wrap")
    def _as_given(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """The keys that were measured (set), not a ``null`` for every number never taken."""
        data: dict[str, Any] = handler(self)
        given = self.model_fields_set | set(self.model_extra or {})
        return {key: value for key, value in data.items() if key in given}

    def __getitem__(self, name: str) -> Any:
        """A measured value by its name, as ``measurements.json`` spells it (KeyError if absent)."""
        if name in self.model_fields_set:
            return getattr(self, name)
        extra = self.model_extra or {}
        if name in extra:
            return extra[name]
        raise KeyError(name)

    def __bool__(self) -> bool:
        """Whether anything was measured (a version not yet rendered has nothing)."""
        return bool(self.model_fields_set or self.model_extra)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (name in self.model_fields_set
                                          or name in (self.model_extra or {}))


class TrackMeasurements(_Measured):
    """One track after its chain (``jobs.measure.measure_track``)."""

    track_level_db: float | None = None  #: integrated loudness of the track, LUFS
    spectral_centroid_hz: float | None = None
    low_end_db: float | None = None  #: energy below 500 Hz
    ducking_depth_db: float | None = None  #: only for a track ducked on the kick
    reverb_wet_db: float | None = None  #: its reverb return's power re the dry track, dB
    delay_wet_db: float | None = None  #: its delay return's power re the dry track, dB
    side_mid_ratio: float | None = None  #: side/mid RMS with its returns: the width it is heard at
    swing_16ths: float | None = None  #: how late its off-beat 16ths land, in 16ths (0 straight)
    onsets_by_bar: list[float] = []  #: notes or slices starting in each bar
    level_by_bar_db: list[float] = []  #: its level in each bar (mean power, dBFS; −120 silent)
    hook_by_bar: list[float] = []  #: a vocal: 1 in each bar heard singing the song's hook
    in_key_share: float | None = None  #: a vocal: share of its sung time on the key's notes
    sung_pitch: float | None = None  #: a vocal: the median pitch it sings (MIDI semitones)


class Staging(_Measured):
    """The gain and tilt gain staging gave one track on the way to the genre's tonal target."""

    gain_db: float = 0.0
    tilt_db_per_oct: float = 0.0


class TonalTargetReading(_Measured):
    """The genre's tonal target the master was judged against (octave centres as strings)."""

    bands_db: dict[str, float] = {}
    tolerance_db: dict[str, float] = {}
    side_mid_min: float | None = None
    side_mid_max: float | None = None
    low_correlation_min: float | None = None


class SampleCredit(_Measured):
    """One recorded sample that sounded in the render, with its licence."""

    file: str = ""
    kit: str = ""
    role: str = ""
    licence: str | None = None
    author: str | None = None
    attribution: str | None = None
    package: str | None = None
    reason: str | None = None


class Instruments(_Measured):
    """Which vault played the drums and percussion, and every sample used."""

    vault: str = ""  #: ``samples`` or ``synth``
    note: str = ""  #: why the synthesised vault played, when it did
    kits: list[str] = []
    synth_roles: list[str] = []
    samples: list[SampleCredit] = []


class VocalPlacement(_Measured):
    """Where the render put a piece of the song's vocal (bars 1-based)."""

    bar: int = 0  #: the arrangement's bar it starts on
    bars: int = 0
    part: str = ""  #: ``hook``, ``verse``, ``chops`` or ``tag`` (:data:`core.spec.VocalPart`)
    source_bar: int = 0  #: the song's bar it comes from (1 = the song's first downbeat)


class VocalReading(_Measured):
    """The vocal as rendered: the key it reads in, the shift it took, its phrases and where
    they went (``jobs.vocal_track``)."""

    key: str | None = None  #: the processed vocal's own key reading (its melody)
    runner_up: str | None = None
    margin: float | None = None  #: how far the reading leads the best key it does not fit
    sure: bool | None = None  #: the margin is enough to act on
    fits: bool | None = None  #: in the production's key or its relative (None: too unsure to say)
    planned_shift: int | None = None  #: semitones the spec planned
    applied_shift: int | None = None  #: semitones the render applied
    planned_reading: str | None = None  #: the key it read as with the planned shift, if moved
    hook: list[int] = []  #: the hook's first and last bar in the song
    phrases: list[list[int]] = []  #: the other phrases, each [first bar, last bar] in the song
    placements: list[VocalPlacement] = []


class Measurements(_Measured):
    """Every number a render measured on its master and tracks (``measurements.json``)."""

    # the master (jobs.measure.measure_render)
    integrated_lufs: float | None = None
    true_peak_dbtp: float | None = None
    loudness_range_lu: float | None = None
    spectral_centroid_hz: float | None = None
    low_end_db: float | None = None  #: energy below 500 Hz
    stereo_width: float | None = None
    bands_db: dict[str, float] = {}  #: named band -> dB
    octaves_db: dict[str, float] = {}  #: octave centre (Hz, as a string) -> dB re 1 kHz
    side_mid_ratio: float | None = None
    low_band_correlation: float | None = None
    share_below_80_hz: float | None = None
    plr_db: float | None = None
    tracks: dict[str, TrackMeasurements] = {}
    # what the master reads as (the analysis of the render)
    tempo_bpm: float | None = None
    tempo_alternative_bpm: float | None = None  #: when the tempo reading is ambiguous
    key: str | None = None
    key_alternative: str | None = None  #: the other key, when the reading is unsure
    # a filter sweep, bar by bar: the swept track's centroid, and the filter's alone
    centroid_by_bar: dict[str, list[float]] = {}
    brightness_by_bar: dict[str, list[float]] = {}
    level_by_bar_db: list[float] = []  #: the master's mid level in each bar, dBFS
    # mixing and mastering
    mix_trim_db: float | None = None
    low_between_kicks_db: float | None = None  #: the bass region between kicks, re LUFS
    staging: dict[str, Staging] = {}
    tonal_eq_db: dict[str, float] = {}
    tonal_out_of_range_db: dict[str, float] = {}
    tonal_target: TonalTargetReading | None = None
    tonal_note: str = ""
    master_note: str = ""  #: why the master missed its loudness target, when it did
    instruments: Instruments | None = None
    vocal: VocalReading | None = None  #: a remix's vocal as rendered
    mismatches: list[str] = []  #: how the render missed its spec (added by the Maestro)

    def value(self, metric: str, track: str = "") -> float | None:
        """A number by metric name: the track's when ``track`` is given, else the master's.

        ``None`` when it was not measured or is not a number.
        """
        source: _Measured | None = self.tracks.get(track) if track else self
        if source is None or metric not in source:
            return None
        value = source[metric]
        return float(value) if isinstance(value, int | float) else None

    def over_bars(self, metric: str, track: str = "", *, start_bar: int,
                  end_bar: int) -> list[float]:
        """A per-bar metric (``level_by_bar_db``, ``onsets_by_bar``) for bars ``start_bar`` to
        ``end_bar`` (1-based, inclusive); empty when not measured or the bars are past its end."""
        source: _Measured | None = self.tracks.get(track) if track else self
        if source is None or metric not in source or not isinstance(source[metric], list):
            return []
        values = source[metric][max(0, start_bar - 1):max(0, end_bar)]
        return [float(v) for v in values] if len(values) == end_bar - start_bar + 1 else []


class ExportCheck(BaseModel):
    """One rule of the project checker and whether the exported Live set passed it."""

    name: str
    passed: bool
    problems: list[str] = []

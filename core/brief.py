"""The brief: what the director wants, each value remembering where it came from.

A value the director said outranks one analysis detected, which outranks one the Maestro
suggested; the Maestro asks about whatever is still missing or unsure.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, Field

from core.music import Key

__all__ = [
    "DESTINATIONS",
    "Brief",
    "Destination",
    "Param",
    "Provenance",
    "VocalMode",
    "VocalTreatment",
    "Workflow",
]

T = TypeVar("T")


class Provenance(StrEnum):
    """Where a brief value came from."""

    USER = "user"  #: the director said it
    DETECTED = "detected"  #: analysis measured it
    SUGGESTED = "suggested"  #: the Maestro suggested it (from genre knowledge)
    DEFAULT = "default"  #: nobody said anything; the genre's default


class Param(BaseModel, Generic[T]):
    """One brief value with its provenance, confidence (0–1) and who said it."""

    value: T
    source: Provenance
    confidence: float = Field(default=1.0, ge=0, le=1)
    author: str = ""  #: author id when ``source`` is ``USER``
    note: str = ""  #: why, e.g. "dark tribal energy"


class Workflow(StrEnum):
    """The three recipes."""

    REMIX = "remix"  #: an uploaded song, re-produced in another genre
    TEXT_TO_TRACK = "text_to_track"  #: an original track from a description
    REPRODUCE = "reproduce"  #: an original track matching a reference upload


class VocalMode(StrEnum):
    """What happens to the original vocal."""

    KEEP_LYRICS = "keep_lyrics"  #: the whole vocal, moved to the new key and tempo
    CHOPS = "chops"  #: onset-sliced phrases re-sequenced on the grid
    INSTRUMENTAL = "instrumental"  #: no vocal


StutterGrid = Literal["1/8", "1/16", "1/32"]


class VocalTreatment(BaseModel):
    """How the vocal is treated; ``describe`` gives the seed's compact notation."""

    mode: VocalMode = VocalMode.KEEP_LYRICS
    pitch_shift: bool = True
    preserve_formants: bool = True
    stutter_sections: list[str] = Field(default_factory=list)  #: section kinds, e.g. ["build"]
    stutter_grid: StutterGrid = "1/16"

    def describe(self) -> str:
        """``pitch_shift + formant_preserve + stutter_build``."""
        parts: list[str] = []
        if self.mode is VocalMode.INSTRUMENTAL:
            return "instrumental"
        if self.mode is VocalMode.CHOPS:
            parts.append("chops")
        if self.pitch_shift:
            parts.append("pitch_shift")
        if self.preserve_formants:
            parts.append("formant_preserve")
        parts.extend(f"stutter_{section}" for section in self.stutter_sections)
        return " + ".join(parts) or "untouched"


class Destination(BaseModel):
    """Where the master is going, and so its loudness target and true-peak ceiling."""

    name: str
    target_lufs: float = Field(ge=-30, le=-4)
    ceiling_dbtp: float = Field(ge=-6, le=0)


DESTINATIONS: dict[str, Destination] = {
    d.name: d
    for d in (
        Destination(name="streaming", target_lufs=-14.0, ceiling_dbtp=-1.0),
        Destination(name="club", target_lufs=-8.0, ceiling_dbtp=-1.0),
        Destination(name="apple_music", target_lufs=-16.0, ceiling_dbtp=-1.0),
        Destination(name="youtube", target_lufs=-14.0, ceiling_dbtp=-1.0),
        Destination(name="soundcloud", target_lufs=-10.0, ceiling_dbtp=-1.0),
    )
}
"""Loudness presets (streaming −14 LUFS / −1 dBTP is the default)."""


class Brief(BaseModel):
    """The director's intent for one production."""

    prompt: str = ""  #: the request as first said
    source_description: str = ""  #: "Madonna", the reference or song named in the prompt
    workflow: Param[Workflow] | None = None
    genre: Param[str] | None = None  #: genre id from the genre knowledge files
    genre_label: str = ""  #: the genre as the director named it ("Afro Circuit")
    key: Param[Key] | None = None
    bpm: Param[float] | None = None
    vocal: Param[VocalTreatment] | None = None
    destination: Param[Destination] | None = None
    structure: Param[list[tuple[str, int]]] | None = None  #: (section kind, bars) when asked for
    #: the uploaded song's own key and tempo, when analysis was unsure and the director said
    #: which reading is right (otherwise the analysis report's reading is used)
    source_key: Param[Key] | None = None
    source_bpm: Param[float] | None = None

    def is_settled(self, name: str) -> bool:
        """Whether ``name`` has a value the director agreed to or analysis is sure of."""
        param = getattr(self, name)
        if param is None:
            return False
        if param.source is Provenance.USER:
            return True
        return param.source is Provenance.DETECTED and param.confidence >= 0.7

"""Understanding what a director said: one interface, two brains, the same validated types.

:class:`RuleBrain` (``core/rule_brain.py``) is offline and deterministic; ``ClaudeBrain``
(``core/claude_brain.py``) asks Claude for the same :class:`Understanding` and falls back to
the rules on any error. Brains only *parse*; the Maestro decides what to do.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, Protocol

from pydantic import BaseModel, Field

from core.brief import VocalMode, Workflow
from core.music import Key

__all__ = [
    "Aspect",
    "BpmChange",
    "Brain",
    "BrainContext",
    "Domain",
    "Feedback",
    "Intent",
    "Understanding",
    "VocalAnswer",
]


class Intent(StrEnum):
    """What a message is for; one message may carry several (``Perfect! Add a sweep``)."""

    REQUEST = "request"  #: start a production ("Remix this to Afro Circuit")
    ANSWER = "answer"  #: answers the pending question
    FEEDBACK = "feedback"  #: change something in the current version
    APPROVE = "approve"  #: "perfect", "love it"
    REVERT = "revert"  #: "go back to v2"
    COMPARE = "compare"  #: "compare v2 and v3"
    MERGE = "merge"  #: "drums from v2 with the vocal of v4"
    VERSIONS = "versions"  #: list the versions
    STOP = "stop"  #: stop / cancel the running job
    STATUS = "status"
    HELP = "help"
    START_OVER = "start_over"
    SET_LEVEL = "set_level"  #: "explain like I'm a beginner"
    UNKNOWN = "unknown"


class Domain(StrEnum):
    """A Chef's area; feedback is routed to the Chef of its domain."""

    MIXING = "mixing"
    MASTERING = "mastering"
    VOCAL = "vocal"
    DRUMS = "drums"
    BASS = "bass"
    ARRANGEMENT = "arrangement"
    SOUND_DESIGN = "sound_design"
    GENRE = "genre"


class Aspect(StrEnum):
    """What the feedback is about."""

    LEVEL = "level"  #: too loud / too quiet
    SIDECHAIN = "sidechain"  #: more / less pump
    THIN = "thin"  #: needs body
    MUDDY = "muddy"  #: low-mid build-up
    HARSH = "harsh"  #: upper-mid bite
    BRIGHTNESS = "brightness"  #: brighter / darker
    PUNCH = "punch"  #: punchier
    WIDTH = "width"  #: wider / narrower
    LOUDNESS = "loudness"  #: master louder / quieter
    REVERB = "reverb"
    DELAY = "delay"
    FILTER_SWEEP = "filter_sweep"
    RISER = "riser"
    IMPACT = "impact"
    STUTTER = "stutter"
    CHOPS = "chops"
    SWING = "swing"
    BUSIER = "busier"  #: more / fewer notes
    TEMPO = "tempo"
    KEY = "key"
    ENERGY = "energy"
    VOCAL_PLACEMENT = "vocal_placement"  #: the vocal in / out of a section ("no vocal in the intro")
    VOCAL_ONLY = "vocal_only"  #: the vocal in one kind of section and nowhere else
    HOOK = "hook"  #: more / less of the song's hook ("more of the hook")
    VOCAL_SHIFT = "vocal_shift"  #: move the vocal's pitch ("vocal is out of key", "up a semitone")


class Feedback(BaseModel):
    """One requested change, as parsed (not yet decided)."""

    domain: Domain
    aspect: Aspect
    direction: Literal["up", "down", "add", "remove"]
    target: str = ""  #: track role or name ("bass", "vocals", "kick", "master")
    amount: float | None = None  #: dB, BPM or (a vocal shift) semitones when a number was given
    start_bar: int | None = Field(default=None, ge=1)
    end_bar: int | None = Field(default=None, ge=1)
    section: str = ""  #: section kind ("build", "drop") when named
    more_sections: list[str] = Field(default_factory=list)
    """Further section kinds named with ``section``: "no vocal in the intro or the outro" is
    section intro, more_sections [outro]."""
    text: str = ""  #: the words it came from


class BpmChange(BaseModel):
    """A tempo the director asked for, absolute or relative."""

    kind: Literal["absolute", "relative", "half", "double", "keep"]
    value: float = 0.0  #: BPM (absolute) or BPM delta (relative)


class VocalAnswer(BaseModel):
    """What the director said about the vocal (only the parts they mentioned)."""

    mode: VocalMode | None = None
    stutter_sections: list[str] = Field(default_factory=list)
    stutter_grid: Literal["1/8", "1/16", "1/32"] | None = None
    preserve_formants: bool | None = None


class Understanding(BaseModel):
    """Everything a brain understood in one message."""

    intents: list[Intent] = Field(default_factory=list)
    workflow: Workflow | None = None
    genre: str | None = None  #: genre id
    genre_label: str = ""  #: as the director wrote it
    source_description: str = ""  #: "Madonna" in "Remix Madonna to Afro Circuit"
    key: Key | None = None
    keep_key: bool = False  #: "keep the original key"
    bpm: BpmChange | None = None
    agree: bool | None = None  #: yes / no to the pending suggestion
    option_id: str | None = None  #: an option of the pending question, picked by text
    vocal: VocalAnswer | None = None
    destination: str | None = None
    target_lufs: float | None = Field(default=None, ge=-30, le=-4)
    feedback: list[Feedback] = Field(default_factory=list)
    versions: list[int] = Field(default_factory=list)
    merge: dict[str, int] = Field(default_factory=dict)  #: track role -> version
    level: Literal["beginner", "intermediate", "pro"] | None = None

    def has(self, intent: Intent) -> bool:
        return intent in self.intents


class BrainContext(BaseModel):
    """What a brain needs to read a message in context."""

    pending_topic: str | None = None  #: topic of the question waiting for an answer
    option_ids: list[str] = Field(default_factory=list)
    option_labels: list[str] = Field(default_factory=list)
    has_song: bool = False
    has_version: bool = False
    track_names: list[str] = Field(default_factory=list)
    section_names: list[str] = Field(default_factory=list)


class Brain(Protocol):
    """Turns a message into an :class:`Understanding`; never raises on odd input."""

    name: str

    async def understand(self, text: str, *, context: BrainContext) -> Understanding:
        """Parse ``text``; anything not understood yields ``Intent.UNKNOWN``."""

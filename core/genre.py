"""What the product knows about a genre, as data (the files live in ``chefs/genres/``)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from core.music import Key, parse_key
from core.tonal import TonalTarget

__all__ = ["GenreProfile", "SectionTemplate"]


class SectionTemplate(BaseModel):
    """One section of a genre's arrangement template."""

    kind: str
    bars: int = Field(ge=1, le=256)
    energy: float = Field(ge=0, le=1)
    layers: list[str]  #: track roles that play: kick, drums, percussion, bass, music, vocals


class GenreProfile(BaseModel):
    """A genre's tempo range, keys, mood, grooves, structure, mix and loudness habits."""

    id: str
    name: str
    aliases: list[str] = Field(default_factory=list)
    bpm_min: float = Field(gt=0)
    bpm_max: float = Field(gt=0)
    default_bpm: float = Field(gt=0)
    keys: list[str]  #: typical keys, first is the default suggestion
    mood: str  #: "dark tribal energy": the reason given with a suggestion
    drum_grammar: str
    percussion: str = ""
    bass_style: str
    bass_voice: str = "sub"
    kick_voice: str = "kick_house"
    swing: float = Field(default=0, ge=0, le=0.5)
    sidechain_depth_db: float = Field(ge=0, le=24)
    destination: str = "streaming"
    signature: list[str] = Field(default_factory=list)
    structure: list[SectionTemplate]
    tonal: TonalTarget  #: the master's target tonal balance, width and dynamics

    @property
    def default_key(self) -> Key:
        key = parse_key(self.keys[0])
        if key is None:  # validated when the knowledge files load
            raise ValueError(f"genre {self.id}: bad key {self.keys[0]!r}")
        return key

    def key_near(self, song: Key | None) -> Key:
        """The genre's key that moves a vocal in ``song`` the least (the default without one).

        Every key the genre lists is a candidate; the smallest shift into its notes wins
        (:meth:`core.music.Key.transposition_to`), the genre's more typical key (listed first)
        on a tie. A song whose key, or its relative, the genre lists keeps its own notes: a
        formant-preserving shift sounds cleaner the smaller it is, and none is cleanest.
        """
        if song is None:
            return self.default_key
        keys = [key for key in (parse_key(k) for k in self.keys) if key is not None]
        return min(keys, key=lambda key: abs(song.transposition_to(key)))

    def names(self) -> list[str]:
        """Every way a director might name this genre, lower-case."""
        return [self.name.lower(), self.id.replace("_", " "), *(a.lower() for a in self.aliases)]

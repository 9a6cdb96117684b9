"""Musical values that cross every boundary: keys and modes, spelled the way musicians write them."""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Key", "Mode", "parse_key", "pitch_class_name"]


class Mode(StrEnum):
    """Major or (natural) minor."""

    MAJOR = "major"  #: Ionian
    MINOR = "minor"  #: Aeolian, natural minor


_SHARP_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_FLAT_NAMES = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")
# The conventional spelling of each tonic, per mode (fewest accidentals in the signature).
_MAJOR_SPELLING = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_MINOR_SPELLING = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B")
_LETTER_PC = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}


def pitch_class_name(pitch_class: int, *, prefer_flats: bool = False) -> str:
    """Name of a pitch class 0–11 (0 = C)."""
    names = _FLAT_NAMES if prefer_flats else _SHARP_NAMES
    return names[pitch_class % 12]


class Key(BaseModel):
    """A musical key: tonic pitch class (0 = C … 11 = B) and mode.

    >>> str(Key(tonic=5, mode=Mode.MINOR))
    'Fm'
    """

    model_config = ConfigDict(frozen=True)

    tonic: int = Field(ge=0, le=11)
    mode: Mode

    def __str__(self) -> str:
        return self.short_name

    @property
    def short_name(self) -> str:
        """``Fm``, ``Bb``: the chord-chart spelling."""
        if self.mode is Mode.MINOR:
            return f"{_MINOR_SPELLING[self.tonic]}m"
        return _MAJOR_SPELLING[self.tonic]

    @property
    def long_name(self) -> str:
        """``F minor``, ``Bb major``."""
        spelling = _MINOR_SPELLING if self.mode is Mode.MINOR else _MAJOR_SPELLING
        return f"{spelling[self.tonic]} {self.mode.value}"

    @property
    def relative(self) -> Key:
        """The relative major or minor (same notes, other tonic)."""
        if self.mode is Mode.MINOR:
            return Key(tonic=(self.tonic + 3) % 12, mode=Mode.MAJOR)
        return Key(tonic=(self.tonic + 9) % 12, mode=Mode.MINOR)

    def semitones_to(self, other: Key) -> int:
        """Smallest transposition (−6…+5 semitones) that moves this key's tonic to ``other``'s.

        The modes may differ: the vocal then keeps its melody's intervals and lands on the
        new tonic, which is what a remixer means by "pitch-shift to Fm".
        """
        shift = (other.tonic - self.tonic) % 12
        return shift - 12 if shift > 5 else shift

    def transposition_to(self, other: Key) -> int:
        """The shift (−6…+5 semitones) that makes music in this key sit in ``other``'s notes.

        With the same mode that is the tonic-to-tonic shift. With a different mode it is the
        shift to ``other``'s relative key: a C major vocal over an F minor track goes to A♭
        major (−4), so every note it sings is in F minor; moving it to F (+5) would put its
        major third and sixth against the track's minor chords.
        """
        target = other if other.mode is self.mode else other.relative
        return self.semitones_to(target)

    def transposed(self, semitones: int) -> Key:
        """This key moved by ``semitones`` (same mode): where a vocal in it lands after a shift."""
        return Key(tonic=(self.tonic + semitones) % 12, mode=self.mode)

    def fits(self, other: Key) -> bool:
        """Whether music in this key sits in ``other``'s notes: the same key or its relative."""
        return self == other or self == other.relative

    def move_in_words(self, target: Key) -> str:
        """How a vocal in this key is moved into ``target``'s notes, the way a musician says it.

        The shift is :meth:`transposition_to`'s, so what is said is what is applied.

        >>> Key(tonic=6, mode=Mode.MAJOR).move_in_words(Key(tonic=5, mode=Mode.MINOR))
        'F# major → Ab major, the relative major of F minor: +2 semitones'
        >>> Key(tonic=0, mode=Mode.MAJOR).move_in_words(Key(tonic=9, mode=Mode.MINOR))
        'C major is the relative major of A minor: no shift'
        """
        shift = self.transposition_to(target)
        lands = self.transposed(shift)
        relative = "" if lands == target else \
            f"the relative {lands.mode.value} of {target.long_name}"
        if shift == 0:
            return (f"{self.long_name} is {relative}: no shift" if relative
                    else f"already in {target.long_name}: no shift")
        moved = f"{self.long_name} → {lands.long_name}" + (f", {relative}" if relative else "")
        unit = "semitone" if abs(shift) == 1 else "semitones"
        return f"{moved}: {shift:+d} {unit}"


_KEY_RE = re.compile(
    r"""^\s*
    (?P<letter>[a-g])
    (?P<accidental>\#|♯|b|♭|\s*sharp|\s*flat)?
    \s*
    (?P<mode>m(?:in(?:or)?)?|maj(?:or)?|M|-)?
    \s*$""",
    re.IGNORECASE | re.VERBOSE,
)


def parse_key(text: str) -> Key | None:
    """Parse a key name as musicians write it: ``Fm``, ``F minor``, ``f#m``, ``Bb major``, ``C``.

    Returns ``None`` when ``text`` is not a key. A bare letter means major.
    """
    match = _KEY_RE.match(text)
    if match is None:
        return None
    pitch = _LETTER_PC[match["letter"].lower()]
    accidental = (match["accidental"] or "").strip().lower()
    if accidental in {"#", "♯", "sharp"}:
        pitch += 1
    elif accidental in {"b", "♭", "flat"}:
        pitch -= 1
    raw_mode = match["mode"] or ""
    is_minor = raw_mode == "-" or (raw_mode.lower().startswith("m") and raw_mode != "M"
                                   and not raw_mode.lower().startswith("maj"))
    return Key(tonic=pitch % 12, mode=Mode.MINOR if is_minor else Mode.MAJOR)

"""Requests no Chef can do yet, each with the closest things that are possible.

A director who asks for vinyl crackle should hear "not yet, but this is close — want it?",
not "I didn't understand". Each entry names the wish as a musician would, and the changes
the Chefs *can* make that come nearest, as ready-made feedback the Maestro applies on "yes".
Kept as data: adding a wish is adding a row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from core.brain import Aspect, Domain, Feedback

__all__ = ["NOT_YET", "NotYet", "not_yet_in"]


@dataclass(frozen=True, slots=True)
class NotYet:
    """One thing directors ask for that the product cannot make yet."""

    pattern: re.Pattern[str]  #: matched against the lower-cased message
    wish: str  #: what they asked for, as a musician says it
    closest: str  #: the nearest possible change, in words
    alternatives: tuple[Feedback, ...]  #: that change, as the Chefs take it


def _fb(domain: Domain, aspect: Aspect, direction: Literal["up", "down", "add", "remove"],
        target: str, text: str) -> Feedback:
    return Feedback(domain=domain, aspect=aspect, direction=direction,
                    target=target, text=text)


_DARKER = _fb(Domain.MASTERING, Aspect.BRIGHTNESS, "down", "master", "darker, rolled-off highs")
_SWING = _fb(Domain.DRUMS, Aspect.SWING, "up", "drums", "more swing")
_WIDER = _fb(Domain.MIXING, Aspect.WIDTH, "up", "music", "wider chords and pads")
_REVERB = _fb(Domain.MIXING, Aspect.REVERB, "up", "music", "more reverb on the music")
_CHOPS = _fb(Domain.VOCAL, Aspect.CHOPS, "add", "vocals", "vocal chops")
_STUTTER = _fb(Domain.VOCAL, Aspect.STUTTER, "add", "vocals", "a stutter in the build")
_BUSIER = _fb(Domain.ARRANGEMENT, Aspect.BUSIER, "up", "music", "a busier arrangement")
_RISER = _fb(Domain.SOUND_DESIGN, Aspect.RISER, "add", "fx", "a riser into the drop")
_PUNCH = _fb(Domain.DRUMS, Aspect.PUNCH, "up", "drums", "punchier drums")
_IMPACT = _fb(Domain.SOUND_DESIGN, Aspect.IMPACT, "add", "fx", "an impact on the drop")
_ENERGY = _fb(Domain.ARRANGEMENT, Aspect.ENERGY, "up", "", "more energy in the drop")
_SWEEP = _fb(Domain.SOUND_DESIGN, Aspect.FILTER_SWEEP, "add", "", "a filter sweep on the build")
_PERC = _fb(Domain.DRUMS, Aspect.BUSIER, "up", "percussion", "busier percussion")

NOT_YET: tuple[NotYet, ...] = (
    NotYet(re.compile(r"\b(vinyl|crackle|record (?:noise|hiss)|tape hiss|lo-?fi noise|"
                      r"old (?:record|tape|cassette)|cassette|dusty record)\b"),
           "vinyl crackle", "darker, rolled-off highs and more swing for that dusty feel",
           (_DARKER, _SWING)),
    NotYet(re.compile(r"\b(auto-?tune|pitch[- ]correct\w*|t-?pain|vocoder|talk ?box)\b"),
           "a tuned or vocoded vocal", "vocal chops: the vocal sliced and replayed on the grid",
           (_CHOPS,)),
    NotYet(re.compile(r"\b(guitar|saxophone|sax|trumpet|violin|cello|flute|piano solo|live (?:bass|drums))\b"),
           "a live instrument part", "a busier arrangement of the chords and leads",
           (_BUSIER,)),
    NotYet(re.compile(r"\b(choir|orchestra\w*|strings section|string section)\b"),
           "a choir or orchestra", "wider chords and pads with more reverb",
           (_WIDER, _REVERB)),
    NotYet(re.compile(r"\b(new lyrics|write (?:me )?(?:some )?lyrics|rap (?:verse|over)|add a (?:rap|verse|feature)|sing (?:it|this))\b"),
           "new lyrics or a new vocal", "the song's own vocal as chops, or a stutter in the build",
           (_CHOPS, _STUTTER)),
    NotYet(re.compile(r"\b(reverse (?:the )?(?:whole|entire) (?:song|track)|play it backwards)\b"),
           "the whole track reversed", "a riser into the drop (built from reversed sounds)",
           (_RISER,)),
    NotYet(re.compile(r"\b(key change (?:in|at|for|on|partway|halfway|near|before)|modulat(?:e|es|ion)|"
                      r"truck ?driver)\b"),
           "a key change partway through", "a riser and more energy into the drop (a key change "
           "for the whole track is possible: say \"change the key to G minor\")",
           (_RISER, _ENERGY)),
    NotYet(re.compile(r"\b(?:add|insert|put in|put) (?:a|an|another|a new|an extra|one more) "
                      r"(?:drop|break(?:down)?|build(?:-?up)?|verse|chorus|bridge|intro|outro|"
                      r"section|part)\b"),
           "a new section at a time you choose", "a riser and an impact into the drop that is there",
           (_RISER, _IMPACT)),
    NotYet(re.compile(r"\b(?:extend|lengthen|shorten|cut down)\b.{0,20}\b(?:intro|outro|drop|build"
                      r"(?:-?up)?|breakdown|break|section|verse|chorus)s?\b|\b(?:intro|outro|drop|"
                      r"breakdown|build|section)s? (?:longer|shorter)\b"),
           "a longer or shorter section", "more movement in the sections that are there: a "
           "filter sweep on the build and a busier arrangement",
           (_SWEEP, _BUSIER)),
    NotYet(re.compile(r"\b(?:\d+|one|two|three|four|five|six|seven|eight|ten) ?(?:-| )?min(?:ute)?s? "
                      r"(?:long|track|version|mix)\b|\b(?:extended|radio|club) (?:mix|edit)\b|"
                      r"\bmake it (?:longer|shorter)\b"),
           "a different length", "a busier arrangement so it feels fuller (a slower tempo also "
           "makes it longer: say \"slower\")",
           (_BUSIER,)),
    NotYet(re.compile(r"\b(cowbells?|bells?|marimba|kalimba|steel drums?|tabla|harp|banjo|"
                      r"accordion|bagpipes?|horns?|brass|organ|glockenspiel)\b"),
           "a new instrument", "busier percussion and a busier arrangement of the parts there are",
           (_PERC, _BUSIER)),
    NotYet(re.compile(r"\b(birds?|bird ?song|rain|ocean|waves|nature sounds?|field recordings?|"
                      r"crowd noise|city sounds?|foley)\b"),
           "field recordings", "wider pads with more reverb, for an open, outdoor space",
           (_WIDER, _REVERB)),
    NotYet(re.compile(r"\b(?:vocals?|vox|voice)\b.{0,25}\boctaves?\b|"
                      r"\boctaves?\b.{0,25}\b(?:vocals?|vox|voice)\b"),
           "a vocal moved by octaves", "vocal chops, which sit higher and brighter in the mix",
           (_CHOPS,)),
    NotYet(re.compile(r"\boctaves?\b"),
           "a part moved by octaves", "a busier arrangement of that part (a key change for the "
           "whole track is possible: say \"change the key to G minor\")",
           (_BUSIER,)),
    NotYet(re.compile(r"\b(sound like|in the style of|make it like) (?!a |an |the |this\b|that\b|it\b)[a-z]+"),
           "a copy of a named artist's sound", "punchier drums and a busier arrangement in the "
           "genre (send a reference track and say \"reproduce\" to match its balance)",
           (_PUNCH, _BUSIER)),
)
"""What directors ask for that no Chef does yet; first match wins."""


def not_yet_in(text: str) -> NotYet | None:
    """The not-yet-possible wish ``text`` asks for, if any."""
    lowered = text.lower()
    return next((entry for entry in NOT_YET if entry.pattern.search(lowered)), None)

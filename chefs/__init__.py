"""Domain experts: each Chef turns a request into a typed SpecPatch and never touches audio."""

from __future__ import annotations

from chefs.arrangement import ArrangementChef
from chefs.genre import GenreChef, load_genres
from chefs.mastering import MasteringChef
from chefs.mixing import MixingChef
from chefs.rhythm import BassChef, DrumChef
from chefs.sound_design import SoundDesignChef
from chefs.vocal import VocalChef
from core.chef import Chef

__all__ = [
    "ArrangementChef",
    "BassChef",
    "DrumChef",
    "GenreChef",
    "MasteringChef",
    "MixingChef",
    "SoundDesignChef",
    "VocalChef",
    "all_chefs",
    "load_genres",
]


def all_chefs() -> list[Chef]:
    """One of each Chef, in the order they contribute to a first version's plan."""
    return [GenreChef(), ArrangementChef(), VocalChef(), DrumChef(), BassChef(), SoundDesignChef(),
            MixingChef(), MasteringChef()]

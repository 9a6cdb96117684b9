"""Genre knowledge: loads the data files in ``chefs/genres/`` and answers genre questions."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

from core.brain import Aspect, Domain, Feedback
from core.chef import Chef
from core.genre import GenreProfile
from core.measurements import Measurements
from core.music import parse_key
from core.patch import ExpectedEffect, SetKey, SetTempo, SpecPatch
from core.spec import ProductionSpec
from core.tonal import honesty_problems

__all__ = ["GENRE_DIR", "GenreChef", "genre_by_id", "load_genres"]

GENRE_DIR = Path(__file__).with_name("genres")


@cache
def load_genres(directory: Path = GENRE_DIR) -> tuple[GenreProfile, ...]:
    """Every genre profile in ``directory``, validated (keys parse, default BPM in range, tonal
    target within the limits of :func:`core.tonal.honesty_problems`)."""
    genres = []
    for path in sorted(directory.glob("*.toml")):
        genre = GenreProfile.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
        for key in genre.keys:
            if parse_key(key) is None:
                raise ValueError(f"{path.name}: {key!r} is not a key")
        if not genre.bpm_min <= genre.default_bpm <= genre.bpm_max:
            raise ValueError(f"{path.name}: default_bpm outside bpm_min..bpm_max")
        problems = honesty_problems(genre.tonal)
        if problems:
            raise ValueError(f"{path.name}: tonal target strays too far: {'; '.join(problems)}")
        genres.append(genre)
    return tuple(genres)


def genre_by_id(genre_id: str) -> GenreProfile:
    """The profile with ``genre_id``; raises ``KeyError`` for an unknown id."""
    for genre in load_genres():
        if genre.id == genre_id:
            return genre
    raise KeyError(genre_id)


class GenreChef(Chef):
    """Knows each genre's tempo and key habits; suggests, and moves tempo and key on request."""

    name = "GenreChef"
    domain = Domain.GENRE

    def consult(self, *, spec: ProductionSpec, request: Feedback, measurements: Measurements,
                genre: GenreProfile) -> SpecPatch:
        if request.aspect is Aspect.TEMPO and request.amount is not None:
            tempo = max(40.0, min(220.0, request.amount))
            outside = not genre.bpm_min <= tempo <= genre.bpm_max
            note = (f" That is outside {genre.name}'s usual {genre.bpm_min:g}–{genre.bpm_max:g} BPM."
                    if outside else "")
            return SpecPatch(chef=self.name, request=request.text, ops=[SetTempo(tempo_bpm=tempo)],
                             rationale=f"Tempo {spec.tempo_bpm:g} → {tempo:g} BPM; the vocal is "
                                       f"re-stretched on the grid.{note}",
                             expected=[ExpectedEffect(metric="tempo_bpm", change=tempo - spec.tempo_bpm,
                                                      direction="up" if tempo > spec.tempo_bpm else "down",
                                                      text=f"tempo {tempo:g} BPM")])
        if request.aspect is Aspect.KEY and request.target:
            key = parse_key(request.target)
            if key is not None:
                return SpecPatch(chef=self.name, request=request.text, ops=[SetKey(key=key)],
                                 rationale=f"Key {spec.key} → {key}; the vocal is re-shifted with "
                                           "formants preserved.")
        return super().consult(spec=spec, request=request, measurements=measurements, genre=genre)

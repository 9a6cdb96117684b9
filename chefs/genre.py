"""Genre knowledge: loads the data files in ``chefs/genres/`` and answers genre questions."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

from core.genre import GenreProfile
from core.music import parse_key

__all__ = ["GENRE_DIR", "genre_by_id", "load_genres"]

GENRE_DIR = Path(__file__).with_name("genres")


@cache
def load_genres(directory: Path = GENRE_DIR) -> tuple[GenreProfile, ...]:
    """Every genre profile in ``directory``, validated (keys parse, default BPM in range)."""
    genres = []
    for path in sorted(directory.glob("*.toml")):
        genre = GenreProfile.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
        for key in genre.keys:
            if parse_key(key) is None:
                raise ValueError(f"{path.name}: {key!r} is not a key")
        if not genre.bpm_min <= genre.default_bpm <= genre.bpm_max:
            raise ValueError(f"{path.name}: default_bpm outside bpm_min..bpm_max")
        genres.append(genre)
    return tuple(genres)


def genre_by_id(genre_id: str) -> GenreProfile:
    """The profile with ``genre_id``; raises ``KeyError`` for an unknown id."""
    for genre in load_genres():
        if genre.id == genre_id:
            return genre
    raise KeyError(genre_id)

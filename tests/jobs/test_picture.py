"""The arrangement picture: right size, and the sections, lanes and curves are really drawn."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

from core.music import Key, Mode
from core.spec import Automation, ProductionSpec, Section, TrackSpec, Transition
from jobs.picture import PICTURE_SIZE_PX, arrangement_png


def _spec(*, with_pad: bool = True) -> ProductionSpec:
    tracks = [TrackSpec(name="kick", role="kick", source="pattern"),
              TrackSpec(name="bass", role="bass", source="pattern")]
    if with_pad:
        tracks.append(TrackSpec(name="pad", role="music", source="pattern", automation=[
            Automation(parameter="filter_cutoff_hz", start_bar=9, end_bar=16, start_value=200,
                       end_value=20000)]))
    return ProductionSpec(
        title="Afro Circuit", genre="afro_house", tempo_bpm=122,
        key=Key(tonic=9, mode=Mode.MINOR), tracks=tracks,
        sections=[Section(name="intro", kind="intro", bars=8, layers=["kick"], energy=0.3),
                  Section(name="build", kind="build", bars=8, layers=["kick", "bass", "pad"],
                          energy=0.6),
                  Section(name="drop", kind="drop", bars=16, layers=["kick", "bass", "pad"],
                          energy=1.0)],
        transitions=[Transition(kind="riser", start_bar=13, bars=4),
                     Transition(kind="impact", start_bar=17)])


def _read(path: Path) -> np.ndarray:
    return matplotlib.image.imread(str(path))[:, :, :3]


def test_picture_has_the_thumbnail_size_and_is_not_blank(tmp_path: Path) -> None:
    times = np.arange(0.0, 60.0, 0.1)
    path = arrangement_png(_spec(), tmp_path / "art" / "arrangement.png", energy=None,
                           loudness=(times, -14 + 3 * np.sin(times / 5)))
    assert path.exists() and not list(path.parent.glob(".*tmp*"))
    image = _read(path)
    assert image.shape[:2] == (PICTURE_SIZE_PX[1], PICTURE_SIZE_PX[0])
    assert image.std() > 0.1  # high contrast, not a flat fill
    assert len(np.unique((image * 255).astype(np.uint8).reshape(-1, 3), axis=0)) > 50


def _bar_column(bar: float) -> int:
    """Pixel column of a bar (the axes run from 15 % to 93 % of the width, bars 1 to 33)."""
    return round((0.15 + 0.78 * (bar - 1) / 32) * PICTURE_SIZE_PX[0])


def test_each_track_gets_a_lane_filled_only_where_it_plays(tmp_path: Path) -> None:
    image = _read(arrangement_png(_spec(), tmp_path / "a.png", energy=None, loudness=None))
    r, g, b = image[..., 0], image[..., 1], image[..., 2]
    pad_green = (g - r > 0.3) & (g - b > 0.15)  # the music role's colour
    per_column = pad_green.sum(axis=0)
    intro = per_column[_bar_column(1.5) : _bar_column(8.5)]
    drop = per_column[_bar_column(17.5) : _bar_column(32.5)]
    assert intro.max() == 0  # the pad does not play in the intro
    assert np.median(drop) > 20  # a lane's worth of pixels in every drop column
    without = _read(arrangement_png(_spec(with_pad=False), tmp_path / "b.png", energy=None,
                                    loudness=None))
    r, g, b = without[..., 0], without[..., 1], without[..., 2]
    assert not np.any((g - r > 0.3) & (g - b > 0.15))


@pytest.mark.parametrize("energy", [[0.2, 0.5, 1.0], list(np.linspace(0, 1, 32))])
def test_energy_given_per_section_or_per_bar_changes_the_curve(tmp_path: Path,
                                                               energy: list[float]) -> None:
    default = _read(arrangement_png(_spec(), tmp_path / "d.png", energy=None, loudness=None))
    given = _read(arrangement_png(_spec(), tmp_path / "e.png", energy=energy, loudness=None))
    assert np.any(np.abs(default - given) > 0.1)

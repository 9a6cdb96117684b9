"""One bar-length rule: ``ProductionSpec.bar_s`` gives the numbers the renders always used."""

from __future__ import annotations

import pytest

from core.music import Key
from core.spec import ProductionSpec
from core.units import bar_seconds, bars_to_seconds

TEMPOS = [40.0, 87.5, 120.0, 123.7, 128.0, 140.0, 160.0, 174.0, 219.9]
SIGNATURES = [(4, 4), (3, 4), (6, 8), (7, 8), (5, 4), (12, 8)]


def _spec(tempo_bpm: float, time_signature: tuple[int, int]) -> ProductionSpec:
    return ProductionSpec(title="t", genre="house", tempo_bpm=tempo_bpm,
                          key=Key(tonic=9, mode="minor"), time_signature=time_signature)


@pytest.mark.parametrize("tempo_bpm", TEMPOS)
@pytest.mark.parametrize("time_signature", SIGNATURES)
def test_bar_length_is_bit_for_bit_the_earlier_computations(
        tempo_bpm: float, time_signature: tuple[int, int]) -> None:
    spec = _spec(tempo_bpm, time_signature)
    numerator, denominator = time_signature
    # the mixer's, the FX track's (sixteenth steps) and, in 4/4, the planner's 240 / tempo
    mixer = bars_to_seconds(1, tempo_bpm=tempo_bpm * denominator / 4, beats_per_bar=numerator)
    fx_track = max(1, numerator * 16 // denominator) * 60.0 / tempo_bpm / 4.0
    assert spec.bar_s == mixer == fx_track == bar_seconds(tempo_bpm, time_signature)
    if time_signature == (4, 4):
        assert spec.bar_s == 240.0 / tempo_bpm == bar_seconds(tempo_bpm)
    assert spec.bar_start_s(1) == 0.0
    assert spec.bar_start_s(33) == 32 * mixer

"""The change card's verdicts: within ±0.5 dB or ±25 % of what was asked, per-bar metrics over
their bars, and two operations on the same number checked as one."""

from __future__ import annotations

from core.change_card import card_lines
from core.measurements import Measurements
from core.patch import ExpectedEffect


def _track(**numbers: object) -> Measurements:
    return Measurements.model_validate({"tracks": {"drums": numbers}})


def test_a_level_change_is_met_only_within_half_a_db() -> None:
    asked = [ExpectedEffect(metric="track_level_db", track="drums", change=1.5, text="drums +1.5 dB")]
    before = _track(track_level_db=-20.0)
    assert card_lines(asked, before=before, after=_track(track_level_db=-18.1))[0].met is True
    missed = card_lines(asked, before=before, after=_track(track_level_db=-19.3))[0]
    assert missed.met is False  # +0.7 dB for +1.5 asked
    assert card_lines(asked, before=before, after=_track(track_level_db=-17.9))[0].met is False


def test_other_units_are_met_within_a_quarter_of_the_change_asked() -> None:
    asked = [ExpectedEffect(metric="swing_16ths", track="drums", change=0.06,
                            text="drums swing 0.1 → 0.16 of a 16th")]
    before = _track(swing_16ths=0.10)
    line = card_lines(asked, before=before, after=_track(swing_16ths=0.17))[0]
    assert line.met is True and "0.10 → 0.17" in line.detail and "aim +0.06" in line.detail
    assert card_lines(asked, before=before, after=_track(swing_16ths=0.13))[0].met is False


def test_a_send_change_reads_the_tracks_return_in_db() -> None:
    asked = [ExpectedEffect(metric="reverb_wet_db", track="drums", change=5.0, text="reverb")]
    line = card_lines(asked, before=_track(reverb_wet_db=-8.3), after=_track(reverb_wet_db=-3.3))[0]
    assert line.met is True and line.unit == "dB"


def test_a_transition_is_read_over_its_bars() -> None:
    asked = [ExpectedEffect(metric="level_by_bar_db", start_bar=2, end_bar=3, direction="up",
                            text="riser over bars 2–3")]
    before = Measurements.model_validate({"level_by_bar_db": [-20.0, -20.0, -20.0, -12.0]})
    after = Measurements.model_validate({"level_by_bar_db": [-20.1, -19.0, -15.0, -12.1]})
    line = card_lines(asked, before=before, after=after)[0]
    assert line.met is True and line.before == -20.0 and "over bars 2–3" in line.detail
    past_the_end = asked[0].model_copy(update={"start_bar": 4, "end_bar": 6})
    assert card_lines([past_the_end], before=before, after=after)[0].met is None


def test_two_operations_on_the_same_number_are_checked_together() -> None:
    asked = [ExpectedEffect(metric="reverb_wet_db", track="drums", change=5.0, text="+5"),
             ExpectedEffect(metric="reverb_wet_db", track="drums", change=5.0, text="+5 more")]
    lines = card_lines(asked, before=_track(reverb_wet_db=-14.0), after=_track(reverb_wet_db=-4.0))
    assert len(lines) == 1 and lines[0].met is True


def test_a_missed_change_says_to_ask_again_in_the_directors_own_words() -> None:
    from core.conversation import replies_text
    from core.music import parse_key
    from core.patch import SpecPatch
    from core.production import Production, Version
    from core.replies import rendered
    from core.spec import ProductionSpec

    spec = ProductionSpec(title="t", genre="house", tempo_bpm=124, key=parse_key("Am"))
    patch = SpecPatch(chef="MixingChef", request="the hats are too harsh", expected=[
        ExpectedEffect(metric="track_level_db", track="hats", change=-3.0, direction="down",
                       text="hats -3 dB")])
    v1 = Version(number=1, spec=spec, rendered=True, measurements=Measurements.model_validate(
        {"tracks": {"hats": {"track_level_db": -12.0}}}))
    v2 = Version(number=2, spec=spec, parent=1, patch=patch, rendered=True,
                 measurements=Measurements.model_validate(
                     {"tracks": {"hats": {"track_level_db": -12.5}}}))
    said = replies_text(rendered(Production(id="local:t", versions=[v1, v2]), v2, previous=v1))
    assert "hats -3 dB" in said and "✗ missed" in said
    assert 'Ask for it again ("the hats are too harsh" again)' in said
    assert "sidechain" not in said

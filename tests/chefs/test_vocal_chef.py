"""The Vocal Chef places the vocal by the director's words, and moves it into the key.

Each case is a director's message on a planned remix, read by the rule brain and answered by
the Vocal Chef; the patch is applied and checked on the spec (which sections sing what) and on
what it promises the change card. No audio: ``tests/jobs/test_vocal_arrangement.py`` renders.
"""

from __future__ import annotations

import pytest

from chefs import load_genres
from chefs.vocal import VocalChef
from core.brain import BrainContext, Domain
from core.brief import Brief, Param, Provenance, VocalTreatment, Workflow
from core.measurements import Measurements
from core.music import parse_key
from core.patch import SetVocalParts, SetVocalShift, SpecPatch, apply_patch
from core.planner import base_spec
from core.rule_brain import RuleBrain
from core.spec import ProductionSpec

GENRES = {g.id: g for g in load_genres()}
BRAIN = RuleBrain(genres=load_genres())
CHEF = VocalChef()


@pytest.fixture
def spec() -> ProductionSpec:
    """Deep house remix of a C major song in A minor: intro, build, drop, breakdown, drop,
    outro; the vocal sings chops in the build, the hook in the drops, the verse phrases in
    the breakdown and a tag in the outro."""
    genre = GENRES["deep_house"]
    user = Provenance.USER
    brief = Brief(workflow=Param(value=Workflow.REMIX, source=user),
                  genre=Param(value="deep_house", source=user),
                  key=Param(value=parse_key("Am"), source=user),
                  bpm=Param(value=122.0, source=user),
                  vocal=Param(value=VocalTreatment(), source=user))
    return base_spec(production_id="p", brief=brief, genre=genre, source_key=parse_key("C"),
                     source_tempo_bpm=118.0, stems={})


def _consult(text: str, spec: ProductionSpec, measurements: Measurements | None = None,
             ) -> SpecPatch:
    context = BrainContext(has_song=True, has_version=True,
                           track_names=[t.name for t in spec.tracks],
                           section_names=[s.name for s in spec.sections])
    u = BRAIN.parse(text, context=context)
    assert len(u.feedback) == 1 and u.feedback[0].domain is Domain.VOCAL, u
    return CHEF.consult(spec=spec, request=u.feedback[0], measurements=measurements
                        or Measurements(), genre=GENRES["deep_house"])


def _sings(spec: ProductionSpec) -> dict[str, str]:
    return {s.name: s.vocal_part if "vocals" in s.layers else "-" for s in spec.sections}


def test_the_plan_places_the_vocal_like_a_remix(spec: ProductionSpec) -> None:
    assert _sings(spec) == {"intro": "-", "build": "chops", "drop 1": "hook",
                            "breakdown": "verse", "drop 2": "hook", "outro": "tag"}


def test_vocal_only_in_the_drops(spec: ProductionSpec) -> None:
    patch = _consult("vocal only in the drops", spec)
    assert [type(op) for op in patch.ops] == [SetVocalParts]
    after = apply_patch(spec, patch)
    assert _sings(after) == {"intro": "-", "build": "-", "drop 1": "hook", "breakdown": "-",
                             "drop 2": "hook", "outro": "-"}
    # each section it leaves is promised quieter on the vocal track, over that section's bars
    spans = {s.name: (first, last) for s, first, last in spec.section_bars()}
    assert sorted((e.metric, e.track, e.direction, e.start_bar, e.end_bar)
                  for e in patch.expected) == sorted(
        ("level_by_bar_db", "vocals", "down", *spans[name])
        for name in ("build", "breakdown", "outro"))


def test_no_vocal_in_the_outro_and_back_in_it(spec: ProductionSpec) -> None:
    out = apply_patch(spec, _consult("no vocal in the outro", spec))
    assert _sings(out)["outro"] == "-"
    patch = _consult("put the vocal in the outro too", out)
    assert _sings(apply_patch(out, patch))["outro"] == "tag"
    assert [e.direction for e in patch.expected] == ["up"]


def test_nothing_to_move_is_said_not_faked(spec: ProductionSpec) -> None:
    patch = _consult("no vocal in the intro", spec)  # it does not sing there
    assert patch.ops == [] and "didn't change anything" in patch.rationale


def test_more_and_less_of_the_hook(spec: ProductionSpec) -> None:
    more = _consult("more of the hook", spec)
    after = apply_patch(spec, more)
    assert _sings(after)["breakdown"] == "hook" and _sings(after)["outro"] == "hook"
    assert [(e.metric, e.direction, e.start_bar, e.end_bar) for e in more.expected] == [
        ("hook_by_bar", "up", 1, spec.total_bars)]
    less = _consult("less of the hook, its too repetitive", spec)
    after = apply_patch(spec, less)
    assert _sings(after)["drop 1"] == "hook" and _sings(after)["drop 2"] == "verse"
    assert [e.direction for e in less.expected] == ["down"]
    into = _consult("put the hook in the breakdown", spec)
    assert _sings(apply_patch(spec, into)) == {**_sings(spec), "breakdown": "hook"}


def test_an_off_key_vocal_moves_from_where_it_was_heard(spec: ProductionSpec) -> None:
    """The render read the vocal as D♭ major after a +2 shift over A minor: moving it from
    there into A minor's notes (D♭ → C, the relative major: −1) means +1 from the song."""
    heard = Measurements.model_validate({"vocal": {"key": "Db", "applied_shift": 2,
                                                   "planned_shift": 2, "fits": False}})
    patch = _consult("the vocal is out of key", spec, heard)
    assert patch.ops == [SetVocalShift(semitones=1)]
    after = apply_patch(spec, patch)
    assert after.vocal is not None and after.vocal.semitones == 1
    assert after.vocal.recheck_key is False  # the director's shift is kept as it is
    assert sorted((e.metric, e.direction, e.change) for e in patch.expected) == [
        ("in_key_share", "up", 0.0), ("sung_pitch", "down", -1.0)]
    by_hand = _consult("shift the vox up a semitone", spec, heard)
    assert by_hand.ops == [SetVocalShift(semitones=3)]  # D major: still off the key's notes
    assert [(e.metric, e.change) for e in by_hand.expected] == [("sung_pitch", 1.0)]


def test_two_sections_in_one_sentence(spec: ProductionSpec) -> None:
    after = apply_patch(spec, _consult("vocal only in the drops and the breakdown", spec))
    assert _sings(after) == {"intro": "-", "build": "-", "drop 1": "hook",
                             "breakdown": "verse", "drop 2": "hook", "outro": "-"}
    after = apply_patch(spec, _consult("drop the vocal from the build and the outro", spec))
    assert _sings(after) == {"intro": "-", "build": "-", "drop 1": "hook",
                             "breakdown": "verse", "drop 2": "hook", "outro": "-"}

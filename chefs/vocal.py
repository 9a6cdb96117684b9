"""The Vocal Chef: key and tempo moves with formants kept, stutters and chops."""

from __future__ import annotations

from core.brain import Aspect, Domain, Feedback
from core.brief import Brief
from core.chef import Chef, bar_span
from core.genre import GenreProfile
from core.measurements import Measurements
from core.patch import AddStutter, ExpectedEffect, Operation, SetVocalMode, SpecPatch
from core.spec import ProductionSpec, Stutter, TrackRole

__all__ = ["VocalChef"]


class VocalChef(Chef):
    """Keeps the vocal natural after a key or tempo move, and adds rhythmic vocal effects."""

    name = "VocalChef"
    domain = Domain.VOCAL

    def plan(self, *, brief: Brief, spec: ProductionSpec, genre: GenreProfile) -> SpecPatch | None:
        """Stutters on the sections the director named (the seed's stutter in the build)."""
        if spec.vocal is None or brief.vocal is None:
            return None
        treatment = brief.vocal.value
        ops: list[Operation] = []
        for kind in treatment.stutter_sections:
            span = spec.section_named(kind)
            if span is not None:
                ops.append(AddStutter(stutter=Stutter(start_bar=span[1], end_bar=span[2],
                                                      grid=treatment.stutter_grid)))
        shift = spec.vocal.semitones
        move = (f"shifted {shift:+d} semitones into {spec.key}" if shift
                else f"kept in pitch for {spec.key}")
        return SpecPatch(
            chef=self.name, ops=ops,
            rationale=f"The vocal is {move} with formants preserved, so it keeps the singer's "
                      "character instead of sounding like a chipmunk"
                      + (f"; it stutters on a {treatment.stutter_grid} grid in the "
                         + " and ".join(treatment.stutter_sections) + "." if ops else "."),
        )

    def consult(self, *, spec: ProductionSpec, request: Feedback, measurements: Measurements,
                genre: GenreProfile) -> SpecPatch:
        if spec.vocal is None:
            return SpecPatch(chef=self.name, request=request.text,
                             rationale="This production has no vocal, so there is nothing to "
                                       "stutter or chop.")
        vocals = spec.tracks_with_role(TrackRole.VOCALS)
        if request.aspect is Aspect.STUTTER:
            start, end = bar_span(spec, request, default_kind="build")
            stutter = Stutter(start_bar=start, end_bar=end, grid="1/16")
            return SpecPatch(chef=self.name, request=request.text, ops=[AddStutter(stutter=stutter)],
                             rationale=f"The vocal re-triggers on a 1/16 grid over bars {start}–{end}, "
                                       "a classic build-up tension trick.",
                             expected=[_onsets(t.name, start, end, up=True,
                                               text=f"{t.name} stutter over bars {start}–{end}: "
                                                    "more re-triggers per bar")
                                       for t in vocals[:1]])
        if request.aspect is Aspect.CHOPS:
            on = request.direction != "remove"
            # chops replace the vocal in the drops and choruses it sings in
            span = next(((first, last) for section, first, last in spec.section_bars()
                         if section.kind in ("drop", "chorus") and vocals
                         and vocals[0].name in section.layers), None)
            expected = [] if span is None or on == spec.vocal.chops else [
                _onsets(vocals[0].name, *span, up=on,
                        text=f"{vocals[0].name} chops {'on' if on else 'off'}: "
                             f"{'more' if on else 'fewer'} slices per bar in bars {span[0]}–{span[1]}")]
            return SpecPatch(chef=self.name, request=request.text, ops=[SetVocalMode(chops=on)],
                             rationale="Chops slice the vocal at its syllables and replay them on the "
                                       "grid as a hook." if on else "Back to the full vocal line.",
                             expected=expected)
        return super().consult(spec=spec, request=request, measurements=measurements, genre=genre)


def _onsets(track: str, start: int, end: int, *, up: bool, text: str) -> ExpectedEffect:
    """Chops and stutters are heard as a denser vocal: more onsets per bar over their bars."""
    return ExpectedEffect(metric="onsets_by_bar", track=track, start_bar=start, end_bar=end,
                          direction="up" if up else "down", text=text)

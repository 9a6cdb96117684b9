"""The Drum and Bass Chefs: grooves, density and humanisation of the generated patterns."""

from __future__ import annotations

from core.brain import Aspect, Domain, Feedback
from core.chef import Chef, tracks_for
from core.genre import GenreProfile
from core.measurements import Measurements
from core.patch import ExpectedEffect, Operation, SetPattern, SpecPatch
from core.spec import ProductionSpec

__all__ = ["BassChef", "DrumChef"]

SWING_STEP = 0.06
DENSITY_STEP = 0.2


class _PatternChef(Chef):
    default_target = "drums"

    def consult(self, *, spec: ProductionSpec, request: Feedback, measurements: Measurements,
                genre: GenreProfile) -> SpecPatch:
        tracks = [t for t in tracks_for(spec, request.target, default=self.default_target)
                  if t.pattern is not None]
        up = request.direction == "up"
        ops: list[Operation] = []
        if request.aspect is Aspect.SWING:
            for t in tracks:
                assert t.pattern is not None
                swing = min(0.5, t.pattern.swing + SWING_STEP) if up else max(0.0, t.pattern.swing - SWING_STEP)
                ops.append(SetPattern(track=t.name, swing=round(swing, 3),
                                      velocity_humanize=0.2 if up else None))
            expected: list[ExpectedEffect] = [
                ExpectedEffect(metric="swing_16ths", track=op.track, change=op.swing - t.pattern.swing,
                               direction="up" if up else "down",
                               text=f"{op.track} swing {t.pattern.swing:g} → {op.swing:g} of a 16th "
                                    "(the off-beat 16ths land later)" if up else
                                    f"{op.track} swing {t.pattern.swing:g} → {op.swing:g} of a 16th "
                                    "(the off-beat 16ths land straighter)")
                for t, op in zip(tracks, ops, strict=True)
                if isinstance(op, SetPattern) and t.pattern is not None and op.swing is not None
                and op.swing != t.pattern.swing]
            why = ("More swing pushes every second 16th late, so the groove rolls instead of "
                   "marching." if up else "Straighter timing tightens the groove.")
        elif request.aspect is Aspect.BUSIER:
            for t in tracks:
                assert t.pattern is not None
                density = min(1.0, t.pattern.density + DENSITY_STEP) if up else max(0.0, t.pattern.density - DENSITY_STEP)
                ops.append(SetPattern(track=t.name, density=round(density, 3)))
            why = ("More notes fill the gaps with ghost hits and rolls." if up
                   else "Fewer notes leave room for the vocal and the kick.")
            expected = [ExpectedEffect(metric="track_level_db", track=op.track,
                                       direction="up" if up else "down",
                                       text=f"{op.track} density {t.pattern.density:g} → "
                                            f"{op.density:g} ({'more' if up else 'fewer'} hits, "
                                            f"{'more' if up else 'less'} energy)")
                        for t, op in zip(tracks, ops, strict=True)
                        if isinstance(op, SetPattern) and t.pattern is not None
                        and op.density is not None and op.density != t.pattern.density]
        else:
            return super().consult(spec=spec, request=request, measurements=measurements,
                                   genre=genre)
        return SpecPatch(chef=self.name, request=request.text, ops=ops, rationale=why,
                         expected=expected)


class DrumChef(_PatternChef):
    """Drum and percussion patterns: groove, density, humanisation."""

    name = "DrumChef"
    domain = Domain.DRUMS
    default_target = "drums"


class BassChef(_PatternChef):
    """The bassline's groove and density."""

    name = "BassChef"
    domain = Domain.BASS
    default_target = "bass"

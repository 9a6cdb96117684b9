"""The Mastering Chef: loudness target, ceiling, width and tonal balance of the master."""

from __future__ import annotations

from core.brain import Aspect, Domain, Feedback
from core.brief import DESTINATIONS, Brief, Workflow
from core.chef import Chef
from core.genre import GenreProfile
from core.measurements import Measurements
from core.patch import ExpectedEffect, SetMaster, SpecPatch
from core.spec import ProductionSpec

__all__ = ["MasteringChef"]

LOUDNESS_STEP_LU = 2.0


class MasteringChef(Chef):
    """Finishes the master for where it is going (streaming, club, a LUFS number)."""

    name = "MasteringChef"
    domain = Domain.MASTERING

    def plan(self, *, brief: Brief, spec: ProductionSpec, genre: GenreProfile) -> SpecPatch:
        """Streaming loudness unless the director named a destination.

        A reproduction with no named destination keeps the reference's loudness, which the
        planner already put in the spec: matching it is the point.
        """
        reproduce = brief.workflow is not None and brief.workflow.value is Workflow.REPRODUCE
        if reproduce and brief.destination is None:
            target = spec.master.target_lufs
            return SpecPatch(
                chef=self.name, ops=[SetMaster(target_lufs=target)],
                rationale=f"Mastered to the reference's loudness, {target:g} LUFS, so the two "
                          "compare like for like.",
                expected=[ExpectedEffect(metric="integrated_lufs", change=target,
                                         text=f"master at {target:g} LUFS")],
            )
        destination = brief.destination.value if brief.destination else DESTINATIONS["streaming"]
        return SpecPatch(
            chef=self.name,
            ops=[SetMaster(target_lufs=destination.target_lufs,
                           ceiling_dbtp=destination.ceiling_dbtp)],
            rationale=f"Mastered for {destination.name.replace('_', ' ')}: "
                      f"{destination.target_lufs:g} LUFS with a {destination.ceiling_dbtp:g} dBTP "
                      "true-peak ceiling, so platforms don't turn it down or clip it.",
            expected=[ExpectedEffect(metric="integrated_lufs", change=destination.target_lufs,
                                     text=f"master at {destination.target_lufs:g} LUFS")],
        )

    def consult(self, *, spec: ProductionSpec, request: Feedback, measurements: Measurements,
                genre: GenreProfile) -> SpecPatch:
        master = spec.master
        if request.aspect is Aspect.LOUDNESS:
            return self._loudness(spec, request)
        if request.aspect is Aspect.WIDTH:
            width = min(2.0, master.width + 0.2) if request.direction == "up" else max(0.0, master.width - 0.2)
            return SpecPatch(chef=self.name, request=request.text, ops=[SetMaster(width=width)],
                             rationale="Widening the sides on the master spreads the mix; the "
                                       "low end stays mono so it still hits on a club system.",
                             expected=[ExpectedEffect(metric="stereo_width", text=f"width {width:.0%}",
                                                      direction="up" if request.direction == "up" else "down")])
        if request.aspect is Aspect.BRIGHTNESS:
            tilt = master.tilt_db + (1.5 if request.direction == "up" else -1.5)
            tilt = max(-6.0, min(6.0, tilt))
            return SpecPatch(chef=self.name, request=request.text, ops=[SetMaster(tilt_db=tilt)],
                             rationale="A gentle tilt EQ on the master brightens or warms everything "
                                       "together without changing the balance between tracks.",
                             expected=[ExpectedEffect(metric="spectral_centroid_hz",
                                                      direction="up" if tilt > master.tilt_db else "down",
                                                      text=f"master tilt {tilt:+g} dB")])
        return super().consult(spec=spec, request=request, measurements=measurements, genre=genre)

    def _loudness(self, spec: ProductionSpec, request: Feedback) -> SpecPatch:
        before = spec.master.target_lufs
        ceiling = spec.master.ceiling_dbtp
        destination = DESTINATIONS.get(_destination_in(request.text) or "")
        if request.amount is not None and request.amount <= 0:
            after = max(-24.0, min(-6.0, request.amount))  # a target ("-9 LUFS")
        elif request.amount is not None:  # a step ("3 dB louder"), kept to a master's range
            step = request.amount if request.direction == "up" else -request.amount
            after = max(-24.0, min(-6.0, before + step))
        elif destination is not None:
            after, ceiling = destination.target_lufs, destination.ceiling_dbtp
        elif request.direction == "up":
            after = min(-6.0, before + LOUDNESS_STEP_LU)
        else:
            after = max(-24.0, before - LOUDNESS_STEP_LU)
        note = ""
        if after > -9:
            note = " Past about −9 LUFS the limiter starts to flatten the kick; I'll tell you if it does."
        return SpecPatch(
            chef=self.name, request=request.text,
            ops=[SetMaster(target_lufs=after, ceiling_dbtp=ceiling)],
            rationale=f"Loudness target {before:g} → {after:g} LUFS, true peak held at "
                      f"{ceiling:g} dBTP.{note}",
            expected=[ExpectedEffect(metric="integrated_lufs", change=after - before,
                                     direction="up" if after > before else "down",
                                     text=f"master {before:g} → {after:g} LUFS")],
        )


def _destination_in(text: str) -> str | None:
    for name in ("club", "streaming", "apple music", "youtube", "soundcloud", "spotify"):
        if name in text:
            return {"apple music": "apple_music", "spotify": "streaming"}.get(name, name)
    return None

"""The Sound Design Chef: filter sweeps, risers and impacts, and the tone of synth voices."""

from __future__ import annotations

from core.brain import Aspect, Domain, Feedback
from core.chef import Chef, bar_span, tracks_for
from core.genre import GenreProfile
from core.measurements import Measurements
from core.patch import AddAutomation, AddTransition, ExpectedEffect, Operation, SetVoice, SpecPatch
from core.spec import Automation, ProductionSpec, Transition

__all__ = ["SoundDesignChef"]

SWEEP_FROM_HZ = 200.0
SWEEP_TO_HZ = 20_000.0


class SoundDesignChef(Chef):
    """Designs movement and ear candy: sweeps, risers, impacts, and synth tone."""

    name = "SoundDesignChef"
    domain = Domain.SOUND_DESIGN

    def consult(self, *, spec: ProductionSpec, request: Feedback, measurements: Measurements,
                genre: GenreProfile) -> SpecPatch:
        if request.aspect is Aspect.FILTER_SWEEP:
            return self._sweep(spec, request)
        if request.aspect in (Aspect.RISER, Aspect.IMPACT):
            return self._transition(spec, request)
        if request.aspect is Aspect.BRIGHTNESS:
            return self._voice(spec, request)
        return super().consult(spec=spec, request=request, measurements=measurements, genre=genre)

    def _sweep(self, spec: ProductionSpec, request: Feedback) -> SpecPatch:
        start, end = bar_span(spec, request, default_kind="build")
        tracks = tracks_for(spec, request.target if request.target != "master" else "",
                            default="music")
        automation = Automation(parameter="filter_cutoff_hz", start_bar=start, end_bar=end,
                                start_value=SWEEP_FROM_HZ, end_value=SWEEP_TO_HZ,
                                curve="exponential")
        ops: list[Operation] = [AddAutomation(track=t.name, automation=automation) for t in tracks]
        bars = end - start + 1
        return SpecPatch(
            chef=self.name, request=request.text, ops=ops,
            rationale=f"A low-pass filter opening from 200 Hz to 20 kHz over {bars} bars "
                      f"(bars {start}–{end}) builds tension as the highs creep back in; the "
                      "exponential curve makes the opening sound even to the ear.",
            expected=[ExpectedEffect(metric="spectral_centroid_hz", track=t.name,
                                     direction="rises_across_bars",
                                     text=f"filter sweep 200 Hz → 20 kHz over bars {start}–{end}")
                      for t in tracks],
            offer="Want me to add a riser sample too?",
        )

    def _transition(self, spec: ProductionSpec, request: Feedback) -> SpecPatch:
        kind = "riser" if request.aspect is Aspect.RISER else "impact"
        if request.start_bar and request.end_bar:
            start, bars = request.start_bar, request.end_bar - request.start_bar + 1
        else:
            drop = spec.section_named(request.section or "drop")
            first_drop = drop[1] if drop else spec.total_bars
            if kind == "riser":
                bars = 8 if first_drop > 8 else max(1, first_drop - 1)
                start = max(1, first_drop - bars)
            else:
                start, bars = first_drop, 1
        op = AddTransition(transition=Transition(kind=kind, start_bar=start, bars=min(bars, 32)))
        return SpecPatch(
            chef=self.name, request=request.text, ops=[op], expected=[op.expected()],
            rationale=(f"A noise riser over bars {start}–{start + bars - 1} lifts the energy into "
                       "the drop." if kind == "riser" else
                       f"An impact on bar {start} marks the drop's first downbeat."),
        )

    def _voice(self, spec: ProductionSpec, request: Feedback) -> SpecPatch:
        tracks = [t for t in tracks_for(spec, request.target, default="bass") if t.voice]
        ops: list[Operation] = [SetVoice(track=t.name, drive=min(1.0, (t.voice.drive if t.voice else 0) + 0.3))
                                for t in tracks]
        return SpecPatch(chef=self.name, request=request.text, ops=ops,
                         rationale="More drive adds harmonics, so the sound cuts through "
                                   "on small speakers.")

"""The Arrangement Chef: sections, energy and the transitions between them."""

from __future__ import annotations

from core.brain import Aspect, Domain, Feedback
from core.brief import Brief
from core.chef import Chef
from core.genre import GenreProfile
from core.measurements import Measurements
from core.patch import AddTransition, Operation, SpecPatch
from core.spec import ProductionSpec, Transition

__all__ = ["ArrangementChef"]


class ArrangementChef(Chef):
    """Shapes the energy curve: risers into drops, impacts on them, fills at section ends."""

    name = "ArrangementChef"
    domain = Domain.ARRANGEMENT

    def plan(self, *, brief: Brief, spec: ProductionSpec, genre: GenreProfile) -> SpecPatch:
        """A fill at the end of every section and an impact on every drop's first bar."""
        ops: list[Operation] = []
        for section, start, end in spec.section_bars():
            if end < spec.total_bars:
                ops.append(AddTransition(transition=Transition(kind="fill", start_bar=end)))
            if section.kind in ("drop", "chorus") and start > 1:
                ops.append(AddTransition(transition=Transition(kind="impact", start_bar=start)))
        shape = " / ".join(f"{s.kind} {s.bars}" for s in spec.sections)
        return SpecPatch(chef=self.name, ops=ops,
                         rationale=f"{genre.name} structure: {shape} bars, with a fill closing "
                                   "each section and an impact landing each drop.")

    def consult(self, *, spec: ProductionSpec, request: Feedback, measurements: Measurements,
                genre: GenreProfile) -> SpecPatch:
        if request.aspect is not Aspect.ENERGY:
            return super().consult(spec=spec, request=request, measurements=measurements,
                                   genre=genre)
        ops: list[Operation] = []
        if request.direction == "up":
            for section, start, _ in spec.section_bars():
                if section.kind in ("drop", "chorus") and start > 8:
                    ops.append(AddTransition(transition=Transition(kind="riser", start_bar=start - 8,
                                                                   bars=8)))
            why = "Risers into each drop lift the energy before it lands."
        else:
            for section, start, _ in spec.section_bars():
                if section.kind in ("drop", "chorus") and start > 2:
                    ops.append(AddTransition(transition=Transition(kind="downlifter",
                                                                   start_bar=start - 2, bars=2)))
            why = "Downlifters instead of big builds keep the transitions calmer."
        return SpecPatch(chef=self.name, request=request.text, ops=ops, rationale=why,
                         expected=[op.expected() for op in ops if isinstance(op, AddTransition)])

"""The Chef contract: domain experts that answer with SpecPatches and never touch audio.

A Chef has two hooks, each with a documented default:

- :meth:`Chef.plan` contributes to the first version (the Mixing Chef designs the sidechain,
  the Mastering Chef sets the loudness target…). Default: contributes nothing.
- :meth:`Chef.consult` answers one piece of feedback on the current version. Default: no
  operations, with a rationale saying the request is outside this Chef's craft.

Chefs are pure: no I/O, no awaiting; measurements reach them as data.
"""

from __future__ import annotations

from core.brain import Domain, Feedback
from core.brief import Brief
from core.genre import GenreProfile
from core.measurements import Measurements
from core.patch import SpecPatch
from core.spec import ProductionSpec, TrackRole, TrackSpec

__all__ = ["Chef", "bar_span", "tracks_for"]


class Chef:
    """Base class of every Chef; subclasses set ``name`` and ``domain`` and override hooks."""

    name: str = "Chef"
    domain: Domain = Domain.GENRE

    def plan(self, *, brief: Brief, spec: ProductionSpec, genre: GenreProfile) -> SpecPatch | None:
        """A patch for the first version, or ``None`` to leave the plan as it is."""
        return None

    def consult(
        self,
        *,
        spec: ProductionSpec,
        request: Feedback,
        measurements: Measurements,
        genre: GenreProfile,
    ) -> SpecPatch:
        """A patch answering ``request`` on ``spec``; empty when there is nothing to do."""
        return SpecPatch(
            chef=self.name,
            request=request.text,
            rationale=f"{request.aspect.value} is not something the {self.name} changes.",
        )


def tracks_for(spec: ProductionSpec, target: str, *, default: str = "") -> list[TrackSpec]:
    """The tracks a director means by ``target`` (a track name or role), else ``default``'s."""
    for wanted in (target, default):
        if not wanted:
            continue
        track = spec.track(wanted)
        if track is not None:
            return [track]
        if wanted in {role.value for role in TrackRole}:
            by_role = spec.tracks_with_role(TrackRole(wanted))
            if by_role:
                return by_role
    return []


def bar_span(spec: ProductionSpec, request: Feedback, *, default_kind: str) -> tuple[int, int]:
    """The bars a request means: explicit bars win, then a named section, then ``default_kind``."""
    if request.start_bar and request.end_bar:
        return request.start_bar, request.end_bar
    span = spec.section_named(request.section or default_kind)
    if span is None:
        span = spec.section_bars()[0]
    return span[1], span[2]

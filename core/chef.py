"""The Chef contract: domain experts that answer with SpecPatches and never touch audio.

A Chef has two hooks, each with a documented default:

- :meth:`Chef.plan` contributes to the first version (the Mixing Chef designs the sidechain,
  the Mastering Chef sets the loudness target…). Default: contributes nothing.
- :meth:`Chef.consult` answers one piece of feedback on the current version. Default: no
  operations, with a rationale saying the request is outside this Chef's craft.

Chefs are pure: no I/O, no awaiting; measurements reach them as data.
"""

from __future__ import annotations

from typing import Any

from core.brain import Domain, Feedback
from core.brief import Brief
from core.genre import GenreProfile
from core.patch import SpecPatch
from core.spec import ProductionSpec, TrackSpec

__all__ = ["Chef", "tracks_for"]


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
        measurements: dict[str, Any],
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
        by_name = [t for t in spec.tracks if t.name == wanted]
        if by_name:
            return by_name
        by_role = [t for t in spec.tracks if t.role.value == wanted]
        if by_role:
            return by_role
    return []

"""The changed section first: the bars where a change is heard, before the whole version.

A director who asked for "bass too loud" wants to hear the drop, not to wait for the whole
song to be mixed, mastered, measured and pictured. Before a changed version's render, the
Maestro queues a ``preview`` job for the bars the change is heard in: the same chains as the
full render (which then finds them cached), mixed and mastered on their own, at the loudness
those bars have in the version before, so the two sound alike but for the change.
"""

from __future__ import annotations

from core.jobs import SectionRequest
from core.maestro.parts import Parts
from core.maestro.queueing import render_request
from core.patch import AddAutomation, SpecPatch
from core.production import Production, Version
from core.spec import ProductionSpec

__all__ = ["heard_bars", "section_request"]

_MIN_CLIP_S = 20.0
_MAX_CLIP_S = 32.0  # 16 bars at 120 BPM and up


def heard_bars(spec: ProductionSpec, patch: SpecPatch | None) -> tuple[int, int, str]:
    """First and last bar (1-based) where ``patch`` is heard, 20–32 s of them, and a label.

    The bars the change names (an automation's or a measured effect's), else the first drop
    or chorus (where a mix change is easiest to hear), else the song's start.
    """
    named = []
    for op in patch.ops if patch else []:
        if isinstance(op, AddAutomation):
            named.append((op.automation.start_bar, op.automation.end_bar))
    named += [(e.start_bar, e.end_bar) for e in (patch.expected if patch else [])
              if e.start_bar >= 1 and e.end_bar >= e.start_bar]
    bar_s = spec.bar_s
    longest = max(1, int(_MAX_CLIP_S // bar_s))
    shortest = min(longest, max(1, round(_MIN_CLIP_S / bar_s + 0.49)))
    if named:
        start, end = min(a for a, _ in named), max(b for _, b in named)
        label = f"bars {start}–{end}" if end > start else f"bar {start}"
    else:
        span = spec.listening_section()
        if span is None:
            return 1, min(spec.total_bars, longest), "the start"
        start, end = span[1], span[2]
        label = f"the {span[0].name}"
    end = min(max(end, start + shortest - 1), start + longest - 1, spec.total_bars)
    return start, end, label


def _same_grid(a: ProductionSpec, b: ProductionSpec) -> bool:
    """Whether bar n is the same moment in both (so their sections can be heard side by side)."""
    return (a.tempo_bpm == b.tempo_bpm and a.time_signature == b.time_signature
            and [s.bars for s in a.sections] == [s.bars for s in b.sections])


def section_request(parts: Parts, production: Production,
                    version: Version) -> SectionRequest | None:
    """The preview job for ``version``, or ``None`` when there is nothing to hear it against
    (no rendered parent) or its bars moved (a new arrangement or tempo is heard whole)."""
    parent = production.version(version.parent) if version.parent else None
    master = parent.master_key if parent is not None else None
    if parent is None or master is None or version.patch is None \
            or not _same_grid(parent.spec, version.spec):
        return None
    start, end, label = heard_bars(version.spec, version.patch)
    return SectionRequest(
        render=render_request(parts, production, version), start_bar=start, end_bar=end,
        label=label, parent=parent.number, match_master=master,
        tonal_eq_db=dict(parent.measurements.tonal_eq_db))

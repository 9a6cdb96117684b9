"""From a settled brief to the first version, and from any version to the render queue."""

from __future__ import annotations

from core import replies as say
from core.conversation import Reply, TextReply
from core.errors import StepUnavailable
from core.jobs import JobKind
from core.maestro.machine import go
from core.maestro.parts import Parts, genre_of, has_vocal
from core.maestro.preview import section_request
from core.maestro.queueing import enqueue, render_request, separate_request
from core.patch import apply_patch
from core.planner import base_spec, fit_sections
from core.production import Awaiting, MaestroState, Production, Version

__all__ = ["plan", "render"]

S = MaestroState


async def plan(parts: Parts, production: Production) -> list[Reply]:
    """Make v1 from the brief: the planner's spec, then every Chef's say, then render it."""
    go(production, S.PLANNING)
    genre = genre_of(parts, production)
    analysis = production.analysis
    brief = production.brief
    spec = base_spec(
        production_id=production.id,
        brief=brief,
        genre=genre,
        # the director's word on the song's key and tempo when analysis was unsure
        source_key=(brief.source_key.value if brief.source_key
                    else analysis.key.key if analysis else None),
        source_tempo_bpm=(brief.source_bpm.value if brief.source_bpm
                          else analysis.tempo.bpm if analysis else None),
        stems=production.stems,
        reference=analysis,
    )
    notes: list[str] = []
    cap = parts.limits.max_bars
    if cap and spec.total_bars > cap:  # before the Chefs, so their fills land on the short form
        notes.append(say.arrangement_capped(spec, cap))
        spec = spec.model_copy(update={"sections": fit_sections(spec.sections, cap)})
    go(production, S.CONSULTING)
    consulted: list[str] = []
    for chef in parts.chefs.values():
        patch = chef.plan(brief=production.brief, spec=spec, genre=genre)
        if patch is None:
            continue
        spec = apply_patch(spec, patch)
        consulted.append(chef.name)
        if patch.rationale:
            notes.append(patch.rationale)
    version = Version(number=len(production.versions) + 1, spec=spec, author=production.owner)
    production.versions.append(version)
    production.current = version.number
    if production.history:
        production.history[-1].routed_to = consulted
        production.history[-1].version = version.number
    replies: list[Reply] = [TextReply(text=say.plan_summary(production, spec, consulted, notes))]
    replies += await render(parts, production, version)
    return replies


async def render(parts: Parts, production: Production, version: Version) -> list[Reply]:
    """Send ``version`` to rendering, or say plainly that this installation cannot."""
    go(production, S.EXECUTING)
    if not parts.queue.supports(JobKind.RENDER):
        version.note = "not rendered: rendering is not available in this installation"
        go(production, S.REVIEWING)
        return [TextReply(text=str(StepUnavailable(
            "rendering the audio",
            detail="This build has no audio engine for mixing and mastering yet, so there "
                   "is no preview; nothing was faked.")))]
    if production.source is not None and has_vocal(production) and not production.stems:
        production.awaiting = Awaiting.RENDER
        replies: list[Reply] = [TextReply(text=say.waiting_for_stems())]
        if not any(j.kind == JobKind.SEPARATE.value for j in production.pending_jobs):
            # separation starts from the key/tempo answer; a brief that never needed that
            # question ("remix this to techno at 128 in F minor") starts it here, or the plan
            # would wait for stems nobody is making
            replies += await enqueue(parts, production, JobKind.SEPARATE,
                                     separate_request(parts, production), required=False)
        return replies
    production.awaiting = Awaiting.NOTHING
    replies = []
    section = section_request(parts, production, version)
    if section is not None:  # the changed bars first, where a worker can make them
        replies += await enqueue(parts, production, JobKind.PREVIEW, section,
                                 version=version.number, required=False)
    return replies + await enqueue(parts, production, JobKind.RENDER,
                                   render_request(parts, production, version),
                                   version=version.number, required=True)

"""Job events: progress passes through; a finished job moves its production on.

One handler per job kind, chosen through :data:`_HANDLERS`. Progress, queued and started
events change nothing stored (they are replies only); a finished, failed or cancelled job
is removed from the production's pending jobs and its result is read through the typed
result model of its kind.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from core import replies as say
from core.brain import Aspect, Domain, Feedback
from core.conversation import Option, Reply, TextReply
from core.jobs import (
    AnalyzeResult,
    CompareResult,
    ExportResult,
    JobEvent,
    JobKind,
    JobStatus,
    RenderResult,
    SectionResult,
    SeparateResult,
    result_of,
)
from core.maestro.gathering import next_question
from core.maestro.iterating import apply_queued
from core.maestro.machine import go
from core.maestro.parts import Parts, ask
from core.maestro.queueing import enqueue, export_request, render_request
from core.music import parse_key
from core.production import Awaiting, MaestroState, Production, Topic, Version

__all__ = ["is_progress", "on_finished"]

S = MaestroState

_PROGRESS = frozenset({JobStatus.QUEUED, JobStatus.STARTED, JobStatus.PROGRESS})


def is_progress(event: JobEvent) -> bool:
    """Whether ``event`` only reports progress (nothing to store)."""
    return event.status in _PROGRESS


async def on_finished(parts: Parts, production: Production, event: JobEvent) -> list[Reply]:
    """A job of ``production`` ended: done, failed or cancelled."""
    production.pending_jobs = [j for j in production.pending_jobs if j.job_id != event.job_id]
    replies: list[Reply] = [say.progress(event)]
    if event.status is JobStatus.CANCELLED:
        return replies
    if event.status is JobStatus.FAILED:
        if event.kind is JobKind.PREVIEW:  # only a head start: the full render still comes
            return replies
        return replies + _failed(production, event)
    return replies + await _HANDLERS[event.kind](parts, production, event)


async def _analysed(parts: Parts, production: Production, event: JobEvent) -> list[Reply]:
    report = result_of(event, AnalyzeResult).report
    production.analysis = report  # informs the vocal question and the vocal shift
    replies: list[Reply] = [TextReply(text=say.analysed(report))]
    if production.awaiting is Awaiting.ANALYSIS and production.state is S.GATHERING_PARAMS:
        production.awaiting = Awaiting.NOTHING  # a reproduction waited for the reference
        replies += await next_question(parts, production)
    return replies


async def _separated(parts: Parts, production: Production, event: JobEvent) -> list[Reply]:
    result = result_of(event, SeparateResult)
    production.stems = dict(result.stems)
    production.stems_fallback = result.fallback
    replies: list[Reply] = [TextReply(text=say.separated(production))]
    if production.awaiting is Awaiting.RENDER and production.current_version is not None:
        version = production.current_version
        version.spec = version.spec.model_copy(update={"sources": production.stems})
        production.awaiting = Awaiting.NOTHING
        if production.state is S.EXECUTING:
            replies += await enqueue(parts, production, JobKind.RENDER,
                                     render_request(parts, production, version),
                                     version=version.number, required=True)
    return replies


async def _rendered(parts: Parts, production: Production, event: JobEvent) -> list[Reply]:
    result = result_of(event, RenderResult)
    rendered = production.version(event.version)
    if rendered is not None:
        rendered.rendered = True
        rendered.artifacts = dict(result.artifacts)
        rendered.measurements = result.measurements.model_copy(
            update={"mismatches": list(result.mismatches)})
    if production.state is S.EXECUTING:
        go(production, S.REVIEWING)
    previous = production.version(rendered.parent) if rendered and rendered.parent else None
    author = rendered.author if rendered else production.owner
    page = (parts.page_link(production.id, rendered.number)
            if parts.page_link is not None and rendered is not None else None)
    replies = say.rendered(production, rendered, previous=previous,
                           level=production.levels.get(author, "intermediate"), page_url=page)
    if rendered is not None:
        replies += await enqueue(parts, production, JobKind.EXPORT,
                                 export_request(parts, production, rendered),
                                 version=rendered.number, required=False)
    replies += await apply_queued(parts, production)  # changes asked while it rendered
    return replies + _vocal_question(production, rendered)


def _vocal_question(production: Production, rendered: Version | None) -> list[Reply]:
    """When the rendered vocal surely does not sit in the production's key even after the
    render tried to move it there, ask before going on (not after a shift the director set)."""
    if rendered is None or production.state is not S.REVIEWING \
            or production.pending_question is not None or rendered.number != production.current:
        return []
    heard = rendered.measurements.vocal
    reading = parse_key(heard.key) if heard is not None and heard.key else None
    by_hand = rendered.spec.vocal is not None and not rendered.spec.vocal.recheck_key
    if heard is None or heard.fits is not False or reading is None or by_hand:
        return []  # a shift the director set is theirs: the card and the line say how it reads
    production.pending_offer = [Feedback(domain=Domain.VOCAL, aspect=Aspect.VOCAL_SHIFT,
                                         direction="add", target="vocals",
                                         text="the vocal is out of key")]
    return [ask(production, Topic.OFFER, say.vocal_off_key(reading, rendered.spec.key), [
        Option(id="yes", label="Yes, move it", suggested=True),
        Option(id="no", label="No, keep it")])]


async def _previewed(parts: Parts, production: Production, event: JobEvent) -> list[Reply]:
    version = production.version(event.version)
    if version is None or version.rendered:  # the whole version got there first
        return []
    return say.section_preview(version, result_of(event, SectionResult))


async def _compared(parts: Parts, production: Production, event: JobEvent) -> list[Reply]:
    return say.comparison(result_of(event, CompareResult))


async def _exported(parts: Parts, production: Production, event: JobEvent) -> list[Reply]:
    result = result_of(event, ExportResult)
    exported = production.version(event.version)
    key = result.artifacts.get("project.zip", "")
    if exported is None or not key:
        return []
    exported.artifacts["project.zip"] = key
    for other in production.versions:  # their zips were replaced by this one (see export_request)
        if other is not exported:
            other.artifacts.pop("project.zip", None)
    return say.exported(exported, key, result.size_bytes)


_Handler = Callable[[Parts, Production, JobEvent], Awaitable[list[Reply]]]
_HANDLERS: dict[JobKind, _Handler] = {
    JobKind.ANALYZE: _analysed,
    JobKind.SEPARATE: _separated,
    JobKind.RENDER: _rendered,
    JobKind.COMPARE: _compared,
    JobKind.EXPORT: _exported,
    JobKind.PREVIEW: _previewed,
}


def _failed(production: Production, event: JobEvent) -> list[Reply]:
    replies: list[Reply] = [TextReply(text=event.message or say.job_failed(event.kind))]
    if event.kind is JobKind.ANALYZE and production.state is S.GATHERING_PARAMS:
        production.source = None  # unusable; ask for another file, keep the brief
        production.awaiting = Awaiting.SONG
        production.pending_question = None
        replies.append(TextReply(text=say.send_another_file()))
    elif production.state is S.EXECUTING:
        go(production, S.REVIEWING)
    return replies

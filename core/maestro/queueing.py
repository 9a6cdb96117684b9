"""Sending work to the queue: the typed request of each job kind, capacity, and stepping back."""

from __future__ import annotations

from core import replies as say
from core.brief import Workflow
from core.conversation import Reply
from core.errors import QueueUnavailable, StepUnavailable, VykeError
from core.jobs import (
    AnalyzeRequest,
    ClipSide,
    CompareRequest,
    ExportProvenance,
    ExportRequest,
    JobKind,
    JobPayload,
    JobRequest,
    RenderRequest,
    SampleSources,
    SeparateRequest,
    job_id_for,
)
from core.maestro.machine import go
from core.maestro.parts import Parts, upload_cap_bytes
from core.production import MASTER_NAMES, MaestroState, PendingJob, Production, Version

__all__ = [
    "analyze_request",
    "compare_request",
    "enqueue",
    "export_request",
    "not_started",
    "render_request",
    "separate_request",
]

S = MaestroState


def analyze_request(parts: Parts, production: Production) -> AnalyzeRequest:
    """Analyse the production's song (intake checks, tempo, key, loudness, bar grid)."""
    assert production.source is not None
    return AnalyzeRequest(audio=production.source.key, name=production.source.name,
                          max_duration_s=parts.limits.max_song_s,
                          max_size_bytes=parts.limits.max_upload_bytes)


def separate_request(parts: Parts, production: Production) -> SeparateRequest:
    """Separate the production's song into stems, with the installation's Demucs settings."""
    assert production.source is not None
    return SeparateRequest.model_validate({**parts.limits.separation,
                                           "audio": production.source.key,
                                           "name": production.source.name})


def render_request(parts: Parts, production: Production, version: Version) -> RenderRequest:
    """Render ``version`` with the production's stems."""
    analysis = production.analysis
    reproduce = (production.brief.workflow is not None
                 and production.brief.workflow.value is Workflow.REPRODUCE)
    return RenderRequest(
        spec=version.spec,
        stems=production.stems,
        source_downbeat_s=(analysis.downbeat_times_s[0]
                           if analysis and analysis.downbeat_times_s else 0.0),
        preview_max_bytes=upload_cap_bytes(production.id),
        reference_tilt_db_per_oct=(analysis.spectral_tilt_db_per_oct
                                   if reproduce and analysis else None),
        samples=SampleSources.model_validate(parts.limits.samples),
    )


def export_request(parts: Parts, production: Production, version: Version) -> ExportRequest:
    """Export a rendered ``version`` as a project zip, with where it came from.

    The zip replaces the production's other versions' zips (a production keeps one: its
    versions share most of their tracks, and each zip would hold them all again); a version
    whose zip went is exported again when the director goes back to it.
    """
    return ExportRequest(
        spec=version.spec,
        rendered={name: key for name, key in version.artifacts.items()
                  if name in (*MASTER_NAMES, "samples.json") or name.startswith("tracks/")},
        provenance=ExportProvenance(
            stems=production.stems,
            stems_model="dsp-fallback" if production.stems_fallback else "demucs",
            source=production.source.name if production.source else None,
            patch=version.patch.describe() if version.patch else []),
        replaces=[v.artifacts["project.zip"] for v in production.versions
                  if v.number != version.number and "project.zip" in v.artifacts],
    )


def compare_request(parts: Parts, production: Production, a: Version, b: Version,
                    section: str) -> CompareRequest:
    """The same section of two rendered versions, to be matched to equal loudness."""
    return CompareRequest(
        a=ClipSide(version=a.number, master=a.master_key or "", spec=a.spec),
        b=ClipSide(version=b.number, master=b.master_key or "", spec=b.spec),
        section=section,
    )


async def enqueue(parts: Parts, production: Production, kind: JobKind, payload: JobPayload, *,
                  version: int = 0, required: bool) -> list[Reply]:
    """Queue a job for the production and say where it is in the queue.

    A kind this installation cannot run is skipped (or refused with a sentence when
    ``required``); past the per-person or per-server limits nothing is queued and the
    production steps back, so saying the same again starts it.
    """
    if not parts.queue.supports(kind):
        if required:
            raise StepUnavailable(kind.value)
        return []
    if not production.pending_jobs:
        await _check_capacity(parts, production)
    attempt = str(len(production.history))
    request = JobRequest(job_id=job_id_for(production.id, version, kind, attempt=attempt),
                         production_id=production.id, kind=kind, version=version,
                         payload=payload)
    try:
        position = await parts.queue.enqueue(request)
    except QueueUnavailable:
        not_started(production)
        raise
    production.pending_jobs.append(PendingJob(job_id=request.job_id, kind=kind.value,
                                              version=version))
    return [say.progress_queued(request.job_id, kind, position)]


async def _check_capacity(parts: Parts, production: Production) -> None:
    """Refuse to start work past the per-person and per-server limits (nothing is lost)."""
    per_person = parts.limits.productions_per_person
    per_server = parts.limits.productions_per_server
    refusal = ""
    if per_person and await parts.store.busy(owner=production.owner,
                                             exclude=production.id) >= per_person:
        refusal = say.too_many_productions(per_person, yours=True)
    elif per_server and await parts.store.busy(exclude=production.id) >= per_server:
        refusal = say.too_many_productions(per_server, yours=False)
    if refusal:
        not_started(production)
        raise VykeError(refusal)


def not_started(production: Production) -> None:
    """Work could not be queued: step back so saying the same again starts it."""
    if production.state is S.EXECUTING and not production.pending_jobs:
        go(production, S.REVIEWING)  # the version stays, unrendered
    elif production.state is S.GATHERING_PARAMS and not production.asked \
            and not production.pending_jobs:
        go(production, S.IDLE)  # the brief stays
